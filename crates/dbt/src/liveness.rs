//! Flag liveness over a block: for each instruction, which arithmetic flags
//! someone may still observe after it. Observers are flag consumers (Jcc,
//! SETcc, CMOVcc, ADC/SBB, the CF that INC/DEC pass through), anything
//! that may fault or call out (the exception frame or the handler sees
//! EFLAGS), and the block exit. The emitter uses it to skip bringing old
//! flags into host EFLAGS when no one will read them.

use cpu_interp::decode::Decoded;
use cpu_interp::state::fl;
use iced_x86::{Mnemonic, OpKind};

pub const ALL: u32 = fl::ARITH;

/// Flags read by a condition code (the low nibble of Jcc/SETcc/CMOVcc).
pub fn cond_reads(cc: u8) -> u32 {
    match (cc >> 1) & 7 {
        0 => fl::OF,
        1 => fl::CF,
        2 => fl::ZF,
        3 => fl::CF | fl::ZF,
        4 => fl::SF,
        5 => fl::PF,
        6 => fl::SF | fl::OF,
        _ => fl::ZF | fl::SF | fl::OF,
    }
}

/// The condition nibble of a Jcc/SETcc/CMOVcc mnemonic.
pub fn cond_code(m: Mnemonic) -> Option<u8> {
    use Mnemonic::*;
    Some(match m {
        Jo | Seto | Cmovo => 0,
        Jno | Setno | Cmovno => 1,
        Jb | Setb | Cmovb => 2,
        Jae | Setae | Cmovae => 3,
        Je | Sete | Cmove => 4,
        Jne | Setne | Cmovne => 5,
        Jbe | Setbe | Cmovbe => 6,
        Ja | Seta | Cmova => 7,
        Js | Sets | Cmovs => 8,
        Jns | Setns | Cmovns => 9,
        Jp | Setp | Cmovp => 10,
        Jnp | Setnp | Cmovnp => 11,
        Jl | Setl | Cmovl => 12,
        Jge | Setge | Cmovge => 13,
        Jle | Setle | Cmovle => 14,
        Jg | Setg | Cmovg => 15,
        _ => return None,
    })
}

fn touches_memory(d: &Decoded) -> bool {
    (0..d.ins.op_count()).any(|n| {
        !matches!(
            d.ins.op_kind(n),
            OpKind::Register
                | OpKind::Immediate8
                | OpKind::Immediate16
                | OpKind::Immediate32
                | OpKind::Immediate8to16
                | OpKind::Immediate8to32
                | OpKind::NearBranch16
                | OpKind::NearBranch32
        )
    }) || d.ins.stack_pointer_increment() != 0
}

/// (flags read, flags written) by `d` as the emitter treats it.
pub fn effect(d: &Decoded) -> (u32, u32) {
    use Mnemonic::*;
    let m = d.ins.mnemonic();
    let mem = if touches_memory(d) { ALL } else { 0 };
    if let Some(cc) = cond_code(m) {
        return (cond_reads(cc) | mem, 0);
    }
    match m {
        Add | Sub | And | Or | Xor | Cmp | Test | Neg => (mem, ALL),
        Imul | Mul | Bsf | Bsr => (mem, ALL),
        Bt | Bts | Btr | Btc => (mem, fl::CF),
        Adc | Sbb => (fl::CF | mem, ALL),
        Inc | Dec => (mem, ALL & !fl::CF),
        // By CL: a zero count passes every flag through.
        Shl | Sal | Shr | Sar | Rol | Ror if d.ins.op_kind(1) == OpKind::Register => (mem, 0),
        Rol | Ror if d.ins.immediate(1) & 31 != 0 => (mem, fl::CF | fl::OF),
        Shl | Sal | Shr | Sar if d.ins.op_kind(1) != OpKind::Register => {
            if d.ins.immediate(1) & 31 != 0 {
                (mem, ALL)
            } else {
                (ALL, 0)
            }
        }
        Mov | Movzx | Movsx | Lea | Nop | Pause | Bswap | Leave | Cdq | Cwde | Cwd | Cbw | Not
        | Xchg | Push | Pop | Jmp | Call | Ret | Cld | Std | Lodsb | Lodsw | Lodsd | Stosb
        | Stosw | Stosd => (mem, 0),
        _ => (ALL, 0),
    }
}

/// `live[i]`: flags that may be observed after instruction `i`.
pub fn live_after(ops: &[Decoded]) -> Vec<u32> {
    let mut live = vec![0; ops.len()];
    let mut cur = ALL; // the block exit observes everything
    for i in (0..ops.len()).rev() {
        live[i] = cur;
        let (r, w) = effect(&ops[i]);
        cur = (cur & !w) | r;
    }
    live
}

/// `before[i]`: flags that may be observed from the start of instruction
/// `i` on (what `i` reads, plus what is live after it and `i` does not
/// write). `before[0]` is the block's live-in: 0 means the block never
/// looks at the flags it is entered with.
pub fn live_before(ops: &[Decoded], after: &[u32]) -> Vec<u32> {
    ops.iter()
        .zip(after)
        .map(|(d, &l)| {
            let (r, w) = effect(d);
            (l & !w) | r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::harness::asm32;
    use iced_x86::code_asm::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn decode(bytes: &[u8]) -> Vec<Decoded> {
        Decoder::with_ip(32, bytes, 0, DecoderOptions::NONE)
            .into_iter()
            .map(|i| Decoded::new(i, true))
            .collect()
    }

    #[test]
    fn carry_through_inc_is_dead_before_cmp() {
        let code = asm32(0, |a| {
            a.add(eax, ebx).unwrap(); // 0
            a.inc(ecx).unwrap(); // 1: CF of the add passes through...
            a.cmp(eax, 3).unwrap(); // 2: ...and dies here
            a.jne(0x100u64).unwrap(); // 3
        });
        let ops = decode(&code);
        let l = live_after(&ops);
        assert_eq!(l[0] & fl::CF, 0, "nobody reads the add's CF");
        assert_eq!(l[2], ALL, "jne and the block exit read the cmp's flags");
        assert_eq!(l[3], ALL);
        let b = live_before(&ops, &l);
        assert_eq!(b[0], 0, "the block never reads its incoming flags");
        assert_eq!(b[2], 0);
        assert_eq!(b[3], ALL, "jne reads ZF, the exit everything");
    }

    #[test]
    fn memory_operands_observe_flags() {
        let code = asm32(0, |a| {
            a.add(eax, ebx).unwrap();
            a.mov(ecx, dword_ptr(eax)).unwrap();
            a.sub(eax, 1).unwrap();
        });
        let ops = decode(&code);
        let l = live_after(&ops);
        assert_eq!(l[0], ALL, "the load may fault and push EFLAGS");
        assert_eq!(live_before(&ops, &l)[1], ALL);
        assert_eq!(effect(&decode(&[0x0F, 0x94, 0xC0])[0]).0 & fl::ZF, fl::ZF); // sete al
    }
}
