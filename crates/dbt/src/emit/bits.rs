//! BT/BTS/BTR/BTC with a register destination (register or immediate
//! bit offset, taken modulo the operand width as the host does) or a
//! memory destination with an immediate offset, and BSF/BSR. The host
//! instructions compute what the interpreter does (its choices for flags
//! the SDM leaves undefined follow the Intel host): BTx change only CF,
//! BSF/BSR set ZF/PF and clear the rest, leaving the destination alone
//! for a zero source. The bit-string memory form (register offset into
//! memory) calls out.

use cpu_interp::decode::Decoded;
use cpu_interp::state::fl;
use dynasmrt::DynasmApi;
use iced_x86::Mnemonic;

use super::mov::{operand, Op};
use super::{asm, mem, Emitter};

/// Emits `d` natively if it is a bit test or scan this module handles.
pub fn emit(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    use Mnemonic::*;
    match d.ins.mnemonic() {
        Bt | Bts | Btr | Btc => bt(e, idx, d),
        Bsf | Bsr => scan(e, idx, d),
        _ => false,
    }
}

macro_rules! bt_form {
    ($e:expr, $mn:ident, $a:expr, $b:expr, $s:expr) => {
        match ($a, $b, $s) {
            (Op::R(x, _), Op::R(y, _), 4) => asm!($e.ops ; bt Rd(x), Rd(y)),
            (Op::R(x, _), Op::R(y, _), _) => asm!($e.ops ; bt Rw(x), Rw(y)),
            (Op::R(x, _), _, 4) => asm!($e.ops ; $mn Rd(x), BYTE imm8($b)),
            (Op::R(x, _), _, _) => asm!($e.ops ; $mn Rw(x), BYTE imm8($b)),
            (_, _, 4) => asm!($e.ops ; $mn DWORD [rdi], BYTE imm8($b)),
            (_, _, _) => asm!($e.ops ; $mn WORD [rdi], BYTE imm8($b)),
        }
    };
}

/// The immediate bit offset of a memory form (the only memory form here).
fn imm8(b: Op) -> i8 {
    match b {
        Op::I(i) => i as i8,
        _ => 0,
    }
}

/// `[<check>;] [<old flags into host>;] bt/bts/btr/btc dst, off`
fn bt(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let (Some(a), Some(b)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    let size = match (a, b) {
        (Op::R(_, s), Op::R(..) | Op::I(_)) if s != 1 => s,
        (Op::M, Op::I(_)) if matches!(d.msize, 2 | 4) => d.msize,
        _ => return false,
    };
    let m = d.ins.mnemonic();
    if a == Op::M {
        mem::operand(e, idx, d, m != Mnemonic::Bt, true);
    }
    // Only CF changes: the other flags must be the guest's if anyone
    // may still look at them.
    if e.live(idx) & !fl::CF != 0 {
        e.need_host();
    }
    let b = match (a, b) {
        (Op::M, Op::I(i)) => Op::I(i & (size as u32 * 8 - 1)),
        _ => b,
    };
    match (m, a, b) {
        (Mnemonic::Bt, ..) => bt_form!(e, bt, a, b, size),
        (_, Op::R(x, _), Op::R(y, _)) => {
            // dynasm has no register form of BTS/BTR/BTC: encode
            // [66] [REX] 0F AB/B3/BB /r by hand.
            let op = match m {
                Mnemonic::Bts => 0xAB,
                Mnemonic::Btr => 0xB3,
                _ => 0xBB,
            };
            if size == 2 {
                e.ops.push(0x66);
            }
            if x >= 8 || y >= 8 {
                e.ops
                    .push(0x40 | (u8::from(y >= 8) << 2) | u8::from(x >= 8));
            }
            e.ops.extend([0x0F, op, 0xC0 | ((y & 7) << 3) | (x & 7)]);
        }
        (Mnemonic::Bts, ..) => bt_form!(e, bts, a, b, size),
        (Mnemonic::Btr, ..) => bt_form!(e, btr, a, b, size),
        _ => bt_form!(e, btc, a, b, size),
    }
    e.wrote_flags();
    true
}

/// `[<check>;] bsf/bsr dst, src`
fn scan(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let (Some(Op::R(x, s)), Some(b)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    if s == 1 || matches!(b, Op::I(_)) {
        return false;
    }
    if b == Op::M {
        mem::operand(e, idx, d, false, true);
    }
    let fwd = d.ins.mnemonic() == Mnemonic::Bsf;
    match (fwd, b, s) {
        (true, Op::R(y, _), 4) => asm!(e.ops ; bsf Rd(x), Rd(y)),
        (true, Op::R(y, _), _) => asm!(e.ops ; bsf Rw(x), Rw(y)),
        (true, _, 4) => asm!(e.ops ; bsf Rd(x), DWORD [rdi]),
        (true, _, _) => asm!(e.ops ; bsf Rw(x), WORD [rdi]),
        (false, Op::R(y, _), 4) => asm!(e.ops ; bsr Rd(x), Rd(y)),
        (false, Op::R(y, _), _) => asm!(e.ops ; bsr Rw(x), Rw(y)),
        (false, _, 4) => asm!(e.ops ; bsr Rd(x), DWORD [rdi]),
        (false, _, _) => asm!(e.ops ; bsr Rw(x), WORD [rdi]),
    }
    e.wrote_flags();
    true
}
