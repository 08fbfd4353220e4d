//! Disassembly of guest blocks and host code with iced (Intel syntax), for
//! the lockstep report, golden tests and debugging dumps.

use std::fmt::Write;

use cpu_interp::decode::Block;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

/// The guest instructions of a block, one per line: `eip: text`.
pub fn guest_block(block: &Block) -> String {
    let mut f = IntelFormatter::new();
    let mut out = String::new();
    for d in &block.ops {
        let mut t = String::new();
        f.format(&d.ins, &mut t);
        let _ = writeln!(out, "{:08X}: {}", d.ins.ip(), t);
    }
    out
}

/// Host x86-64 code at `base`, one instruction per line:
/// `offset: text` (offsets relative to `base`).
pub fn host_code(bytes: &[u8], base: u64) -> String {
    let mut f = IntelFormatter::new();
    f.options_mut().set_hex_prefix("0x");
    f.options_mut().set_hex_suffix("");
    f.options_mut().set_uppercase_hex(false);
    let mut dec = Decoder::with_ip(64, bytes, base, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    let mut out = String::new();
    while dec.can_decode() {
        dec.decode_out(&mut ins);
        let mut t = String::new();
        f.format(&ins, &mut t);
        let _ = writeln!(out, "{:5x}: {}", ins.ip() - base, t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_host_code() {
        let s = host_code(&[0x48, 0x89, 0xC8, 0xC3], 0x1000);
        assert_eq!(s, "    0: mov rax,rcx\n    3: ret\n");
    }
}
