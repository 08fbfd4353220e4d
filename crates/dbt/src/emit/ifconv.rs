//! If-conversion of a short forward branch: a block ending in
//! `jcc skip; <one instruction>; skip:` where that instruction is a 32-bit
//! register MOV/ADD/SUB (register or immediate source) is translated as
//! one straight line: the instruction's result is computed into a scratch
//! register and written with `cmov`, icount gains the instruction only when
//! it ran (`setcc`), and the block leaves through a single direct exit to
//! `skip`. A data-dependent branch then costs no host misprediction.
//!
//! Flags: the host keeps the flags of the branch's producer (F1). Where
//! the instruction ran and writes flags (ADD/SUB), the guest flags are
//! those of the instruction (F2); they are only rebuilt on the exit's
//! flag-saving path (the one every unchained or flag-reading target
//! takes): a branch on F1 picks F1, or recomputes F2 from the result by
//! undoing and redoing the operation (`sub` then `add` of the source
//! gives exactly the ADD's flags). The exit's fast path, patched only
//! when the target never reads its incoming flags (and reached only past
//! the block's budget pre-check, so nothing can stop in between),
//! carries none.
//!
//! Budget and block boundaries: converted only in blocks whose budget
//! pre-check passed before the branch (its span counts the extra
//! instruction), so no budget stop can fall between the branch and the
//! skipped instruction, where the interpreter's blocks have a boundary.
//! The skipped instruction lies in the block's page (the engine checks),
//! whose code tracking covers it. Left out: other forms (memory operands,
//! other ALU ops, 8/16-bit operands, `add r, r` with the same register).

use cpu_interp::decode::Decoded;
use dynasmrt::{DynasmApi, DynasmLabelApi};
use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register};

use super::alu::cc16;
use super::{asm, Emitter, HOST};
use crate::liveness::cond_code;

/// The skipped instruction's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// MOV r32, r32 / imm32.
    Mov,
    Add,
    Sub,
}

/// Source operand: a guest GPR index or an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    Reg(u8),
    Imm(i32),
}

/// A convertible skipped instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skip {
    pub shape: Shape,
    /// Guest GPR index of the destination.
    pub dst: u8,
    pub src: Src,
}

fn gpr32(r: Register) -> Option<u8> {
    (Register::EAX..=Register::EDI)
        .contains(&r)
        .then(|| (r as u32 - Register::EAX as u32) as u8)
}

/// Whether `ins` is a form this module converts, and how.
pub fn classify(ins: &Instruction) -> Option<Skip> {
    if ins.has_lock_prefix() || ins.op_count() != 2 || ins.op0_kind() != OpKind::Register {
        return None;
    }
    let shape = match ins.mnemonic() {
        Mnemonic::Mov => Shape::Mov,
        Mnemonic::Add => Shape::Add,
        Mnemonic::Sub => Shape::Sub,
        _ => return None,
    };
    let dst = gpr32(ins.op0_register())?;
    let src = match ins.op1_kind() {
        OpKind::Register => Src::Reg(gpr32(ins.op1_register())?),
        OpKind::Immediate32 | OpKind::Immediate8to32 => Src::Imm(ins.immediate(1) as u32 as i32),
        _ => return None,
    };
    if shape != Shape::Mov && src == Src::Reg(dst) {
        // The operation could not be undone from the result.
        return None;
    }
    Some(Skip { shape, dst, src })
}

/// Most code bytes [`skipped`] looks at (well within the interpreter's
/// fetch window for one block, so a block that fits here is not cut by it).
pub const WINDOW: usize = 256;

/// If `last` (the block's final instruction) is a conditional branch over
/// exactly one convertible instruction, that instruction. `bytes` are the
/// code bytes from the end of `last` (at most [`WINDOW`], not past the
/// page end or the CS limit), `code32` the code size.
///
/// The interpreter's block starting at the skipped instruction must end
/// where its block at the target does, or budget stops (made at block
/// boundaries) would differ between the engines: so the code from the
/// target must reach a control transfer within `bytes` and within
/// `MAX_BLOCK_INSNS - 1` instructions.
pub fn skipped(last: &Decoded, bytes: &[u8], code32: bool) -> Option<Decoded> {
    let ins = &last.ins;
    if ins.flow_control() != FlowControl::ConditionalBranch || cond_code(ins.mnemonic()).is_none() {
        return None;
    }
    let next = ins.next_ip();
    let mut dec = Decoder::with_ip(
        if code32 { 32 } else { 16 },
        bytes,
        next,
        DecoderOptions::NONE,
    );
    let skip = dec.decode();
    if skip.is_invalid() || next + skip.len() as u64 != ins.near_branch_target() {
        return None;
    }
    classify(&skip)?;
    for _ in 1..cpu_interp::decode::MAX_BLOCK_INSNS {
        let i = dec.decode();
        if i.is_invalid() {
            return None;
        }
        if i.flow_control() != FlowControl::Next {
            return Some(Decoded::new(skip, code32));
        }
    }
    None
}

macro_rules! cmov_one {
    ($mn:ident, $e:expr, $dst:expr) => {
        asm!($e.ops ; $mn Rd($dst), esi)
    };
}
macro_rules! set_one {
    ($mn:ident, $e:expr) => {
        asm!($e.ops ; $mn bpl)
    };
}
macro_rules! jcc_fwd {
    ($mn:ident, $e:expr) => {
        asm!($e.ops ; $mn >taken)
    };
}

/// Emits branch `idx` (condition `cc`, to `target`) over `skip` (retired
/// as instruction `idx + 1` when it runs). False if the block is not in
/// a state to convert (no pre-check passed): the caller emits a plain Jcc.
/// ```text
/// <flags to host>
/// mov/lea esi, <result>; cmov!cc dst, esi
/// set!cc bpl; movzx ebp, bpl; lea icount, [icount + rbp]
/// lea icount, [icount + idx+1]; fast: nop5
/// j<cc> taken; [mov esi, dst; undo src; redo src]   ; F2 for ADD/SUB
/// taken: pushfq; pop fsave; jmp stub
/// ```
pub fn emit(e: &mut Emitter, idx: usize, cc: u8, target: u32, skip: &Decoded) -> bool {
    let Some(s) = classify(&skip.ins) else {
        return false;
    };
    if !e.prechecked() || e.of_fix.is_some() {
        return false;
    }
    e.need_host();
    // From here only host EFLAGS hold the branch's flags; copies in
    // `fsave` or memory may be stale where the instruction runs.
    e.fl = super::Fl {
        host: true,
        saved: false,
        mem: false,
    };
    let dst = HOST[s.dst as usize];
    match (s.shape, s.src) {
        (Shape::Mov, Src::Reg(r)) => asm!(e.ops ; mov esi, Rd(HOST[r as usize])),
        (Shape::Mov, Src::Imm(i)) => asm!(e.ops ; mov esi, i),
        (Shape::Add, Src::Reg(r)) => asm!(e.ops ; lea esi, [Rq(dst) + Rq(HOST[r as usize])]),
        (Shape::Add, Src::Imm(i)) => asm!(e.ops ; lea esi, [Rq(dst) + i]),
        (Shape::Sub, Src::Reg(r)) => asm!(e.ops
            ; mov esi, Rd(HOST[r as usize])
            ; not esi
            ; lea esi, [Rq(dst) + rsi + 1]
        ),
        (Shape::Sub, Src::Imm(i)) => asm!(e.ops ; lea esi, [Rq(dst) - i]),
    }
    // The instruction runs where the branch is not taken (cc ^ 1).
    let run = cc ^ 1;
    cc16!(run, cmov_one, [cmovo cmovno cmovb cmovae cmove cmovne cmovbe cmova cmovs cmovns cmovp cmovnp cmovl cmovge cmovle cmovg], e, dst);
    cc16!(run, set_one, [seto setno setb setae sete setne setbe seta sets setns setp setnp setl setge setle setg], e);
    asm!(e.ops
        ; movzx ebp, bpl
        ; lea icount, [icount + rbp]
    );
    e.native += 1;
    let recompute = move |e: &mut Emitter| {
        if s.shape == Shape::Mov {
            return;
        }
        cc16!(cc, jcc_fwd, [jo jno jb jae je jne jbe ja js jns jp jnp jl jge jle jg], e);
        asm!(e.ops ; mov esi, Rd(dst));
        match (s.shape, s.src) {
            (Shape::Add, Src::Reg(r)) => {
                let r = HOST[r as usize];
                asm!(e.ops ; sub esi, Rd(r) ; add esi, Rd(r));
            }
            (Shape::Add, Src::Imm(i)) => asm!(e.ops ; sub esi, i ; add esi, i),
            (Shape::Sub, Src::Reg(r)) => {
                let r = HOST[r as usize];
                asm!(e.ops ; add esi, Rd(r) ; sub esi, Rd(r));
            }
            (Shape::Sub, Src::Imm(i)) => asm!(e.ops ; add esi, i ; sub esi, i),
            (Shape::Mov, _) => {}
        }
        asm!(e.ops ; taken:);
    };
    e.direct_exit_with(target, idx as u32 + 1, &recompute);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::code_asm::*;

    fn decode(code: &[u8]) -> Vec<Instruction> {
        Decoder::with_ip(32, code, 0x1000, DecoderOptions::NONE)
            .into_iter()
            .collect()
    }

    fn bytes(f: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
        let mut a = CodeAssembler::new(32).unwrap();
        f(&mut a);
        a.assemble(0x1000).unwrap()
    }

    #[test]
    fn classifies_the_convertible_forms_only() {
        let code = bytes(|a| {
            a.add(edi, eax).unwrap();
            a.sub(ebx, 5).unwrap();
            a.mov(ecx, 0x1234_5678u32).unwrap();
            a.add(eax, eax).unwrap();
            a.add(ax, bx).unwrap();
            a.xor(eax, ebx).unwrap();
            a.add(eax, dword_ptr(ebx)).unwrap();
            a.sub(ebx, -0x46).unwrap();
        });
        let c: Vec<_> = decode(&code).iter().map(classify).collect();
        assert_eq!(
            c[0],
            Some(Skip {
                shape: Shape::Add,
                dst: 7,
                src: Src::Reg(0)
            })
        );
        assert_eq!(
            c[1],
            Some(Skip {
                shape: Shape::Sub,
                dst: 3,
                src: Src::Imm(5)
            })
        );
        assert_eq!(
            c[2],
            Some(Skip {
                shape: Shape::Mov,
                dst: 1,
                src: Src::Imm(0x1234_5678)
            })
        );
        assert_eq!(&c[3..7], &[None, None, None, None]);
        assert_eq!(
            c[7],
            Some(Skip {
                shape: Shape::Sub,
                dst: 3,
                src: Src::Imm(-0x46)
            }),
            "imm8 sign-extended"
        );
    }

    #[test]
    fn finds_a_branch_over_one_instruction_only() {
        let code = bytes(|a| {
            let mut skip = a.create_label();
            let mut far = a.create_label();
            a.jz(skip).unwrap();
            a.add(edi, eax).unwrap();
            a.set_label(&mut skip).unwrap();
            a.jnz(far).unwrap();
            a.add(edi, eax).unwrap();
            a.add(edi, eax).unwrap();
            a.set_label(&mut far).unwrap();
            a.nop().unwrap();
        });
        let ins = decode(&code);
        let jz = Decoded::new(ins[0], true);
        let at = ins[0].len();
        let s = skipped(&jz, &code[at..], true).expect("jz over one add converts");
        assert!(
            skipped(&jz, &code[at..at + 3], true).is_none(),
            "the target's block must end (at a control transfer) in the window"
        );
        assert_eq!(s.ins.mnemonic(), Mnemonic::Add);
        let jnz = Decoded::new(ins[2], true);
        let at = (ins[2].next_ip() - 0x1000) as usize;
        assert!(
            skipped(&jnz, &code[at..], true).is_none(),
            "two instructions"
        );
        let add = Decoded::new(ins[1], true);
        assert!(skipped(&add, &code[at..], true).is_none(), "not a branch");
    }
}
