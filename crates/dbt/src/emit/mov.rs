//! Data movement: MOV, MOVZX/MOVSX, LEA, XCHG reg,reg, CBW/CWDE/CWD/CDQ,
//! NOP/PAUSE, BSWAP, PUSH reg/imm and POP reg (32- or 16-bit stack), LEAVE
//! (32-bit, flat stack). None of them touches flags.

use cpu_interp::decode::Decoded;
use dynasmrt::DynasmApi;
use iced_x86::{Mnemonic, OpKind, Register};

use super::{asm, mem, Emitter, HOST};
use cpu_interp::state::SS;

/// A translated operand: host register and size, the memory operand, or
/// an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    R(u8, u8),
    M,
    I(u32),
}

/// Classifies operand `n`; None for anything not translated natively
/// (segment and control registers, AH..BH, unsupported memory).
pub fn operand(e: &Emitter, d: &Decoded, n: u32) -> Option<Op> {
    match d.ins.op_kind(n) {
        OpKind::Register => {
            let r = d.ins.op_register(n) as usize;
            let range = |a: Register, b: Register| (a as usize..=b as usize).contains(&r);
            if range(Register::EAX, Register::EDI) {
                Some(Op::R(HOST[r - Register::EAX as usize], 4))
            } else if range(Register::AX, Register::DI) {
                Some(Op::R(HOST[r - Register::AX as usize], 2))
            } else if range(Register::AL, Register::BL) {
                Some(Op::R(HOST[r - Register::AL as usize], 1))
            } else {
                None
            }
        }
        OpKind::Memory => mem::operand_ok(e, d).then_some(Op::M),
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32 => Some(Op::I(d.ins.immediate(n) as u32)),
        _ => None,
    }
}

/// Emits `d` natively if it is a data move this module handles.
pub fn emit(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    match d.ins.mnemonic() {
        Mnemonic::Mov => mov(e, idx, d),
        Mnemonic::Movzx | Mnemonic::Movsx => movx(e, idx, d),
        Mnemonic::Lea => lea(e, d),
        // PAUSE is a spin-loop hint: nothing to do.
        Mnemonic::Nop | Mnemonic::Pause => true,
        Mnemonic::Bswap => match operand(e, d, 0) {
            Some(Op::R(x, 4)) => {
                asm!(e.ops ; bswap Rd(x));
                true
            }
            _ => false,
        },
        Mnemonic::Leave => leave(e, idx, d),
        Mnemonic::Xchg => xchg(e, d),
        Mnemonic::Cdq => {
            asm!(e.ops ; cdq);
            true
        }
        Mnemonic::Cwde => {
            asm!(e.ops ; cwde);
            true
        }
        Mnemonic::Cwd => {
            asm!(e.ops ; cwd);
            true
        }
        Mnemonic::Cbw => {
            asm!(e.ops ; cbw);
            true
        }
        Mnemonic::Push => push(e, idx, d),
        Mnemonic::Pop => pop(e, idx, d),
        _ => false,
    }
}

/// mov r, r | mov r, imm | mov r, [m] | mov [m], r | mov [m], imm
fn mov(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let (Some(a), Some(b)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    match (a, b) {
        (Op::R(x, s), Op::R(y, _)) => match s {
            4 => asm!(e.ops ; mov Rd(x), Rd(y)),
            2 => asm!(e.ops ; mov Rw(x), Rw(y)),
            _ => asm!(e.ops ; mov Rb(x), Rb(y)),
        },
        (Op::R(x, s), Op::I(i)) => match s {
            4 => asm!(e.ops ; mov Rd(x), i as i32),
            2 => asm!(e.ops ; mov Rw(x), i as i16),
            _ => asm!(e.ops ; mov Rb(x), i as i8),
        },
        (Op::R(x, s), Op::M) => {
            let pair = paired_store(e, idx, d);
            if pair.is_some() {
                e.next_slow_is_soft();
            }
            mem::operand_addend(e, idx, d, pair.is_some());
            match s {
                4 => asm!(e.ops ; mov Rd(x), DWORD [rdi + rsi]),
                2 => asm!(e.ops ; mov Rw(x), WORD [rdi + rsi]),
                _ => asm!(e.ops ; mov Rb(x), BYTE [rdi + rsi]),
            }
            if pair.is_some() {
                // The store's host address, off the load's critical path.
                asm!(e.ops ; add rdi, rsi);
            }
            e.ptr_for = pair;
        }
        (Op::M, Op::R(y, s)) => {
            if e.ptr_for.take() != Some(idx) {
                mem::operand(e, idx, d, true, false);
            }
            match s {
                4 => asm!(e.ops ; mov DWORD [rdi], Rd(y)),
                2 => asm!(e.ops ; mov WORD [rdi], Rw(y)),
                _ => asm!(e.ops ; mov BYTE [rdi], Rb(y)),
            }
        }
        (Op::M, Op::I(i)) => {
            if e.ptr_for.take() != Some(idx) {
                mem::operand(e, idx, d, true, false);
            }
            match d.msize {
                4 => asm!(e.ops ; mov DWORD [rdi], i as i32),
                2 => asm!(e.ops ; mov WORD [rdi], i as i16),
                _ => asm!(e.ops ; mov BYTE [rdi], i as i8),
            }
        }
        _ => return false,
    }
    true
}

/// A load `mov r, [m]` at `idx` whose operand a later `mov [m], r/imm`
/// of the block stores to, with only register-to-register native
/// instructions between that leave m's base and index alone: the load
/// then checks the TLB for writing and the store reuses its host address
/// in `rdi` (no second check, no slow path, no flag save). A miss of the
/// load's check (e.g. a read-only page) runs the load as a callout and
/// leaves the block for the interpreter to finish. Returns the store.
pub fn paired_store(e: &Emitter, idx: usize, d: &Decoded) -> Option<usize> {
    use cpu_interp::cpu::NO_REG;
    use Mnemonic::*;
    let ops = e.block_ops();
    let m = &d.mem;
    let addr_reg = |r: Register| {
        let r = r.full_register32();
        (Register::EAX..=Register::EDI).contains(&r) && {
            let g = (r as usize - Register::EAX as usize) as u8;
            (m.base != NO_REG && m.base & 7 == g) || (m.index != NO_REG && m.index & 7 == g)
        }
    };
    if addr_reg(d.ins.op0_register()) || !e.ends_at_branch {
        return None;
    }
    for (j, o) in ops.iter().enumerate().skip(idx + 1).take(8) {
        let plain = (0..o.ins.op_count()).all(|n| match o.ins.op_kind(n) {
            OpKind::Register => operand(e, o, n).is_some(),
            k => matches!(
                k,
                OpKind::Immediate8
                    | OpKind::Immediate16
                    | OpKind::Immediate32
                    | OpKind::Immediate8to16
                    | OpKind::Immediate8to32
            ),
        });
        let mn = o.ins.mnemonic();
        if mn == Mov
            && o.ins.op0_kind() == OpKind::Memory
            && (o.mem.seg, o.mem.base, o.mem.index, o.mem.scale, o.mem.disp)
                == (m.seg, m.base, m.index, m.scale, m.disp)
            && o.msize == d.msize
            && o.addr32 == d.addr32
            && o.ins.segment_prefix() == d.ins.segment_prefix()
            && !o.ins.has_lock_prefix()
        {
            return (operand(e, o, 1).is_some() && mem::operand_ok(e, o)).then_some(j);
        }
        let reg_only = plain
            && o.ins.op_count() >= 1
            && matches!(
                mn,
                Add | Or
                    | Adc
                    | Sbb
                    | And
                    | Sub
                    | Xor
                    | Cmp
                    | Test
                    | Inc
                    | Dec
                    | Neg
                    | Not
                    | Mov
                    | Movzx
                    | Movsx
                    | Shl
                    | Sal
                    | Shr
                    | Sar
                    | Rol
                    | Ror
                    | Imul
            )
            && !(mn == Imul && o.ins.op_count() < 2);
        if !reg_only || addr_reg(o.ins.op0_register()) {
            return None;
        }
    }
    None
}

/// movzx/movsx esi, src; mov dst, esi (or si)
fn movx(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let (Some(Op::R(x, ds)), Some(b)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    let sx = d.ins.mnemonic() == Mnemonic::Movsx;
    match b {
        Op::R(y, 1) => {
            if sx {
                asm!(e.ops ; movsx esi, Rb(y));
            } else {
                asm!(e.ops ; movzx esi, Rb(y));
            }
        }
        Op::R(y, 2) => {
            if sx {
                asm!(e.ops ; movsx esi, Rw(y));
            } else {
                asm!(e.ops ; movzx esi, Rw(y));
            }
        }
        Op::M if matches!(d.msize, 1 | 2) => {
            mem::operand(e, idx, d, false, false);
            match (d.msize, sx) {
                (1, false) => asm!(e.ops ; movzx esi, BYTE [rdi]),
                (1, true) => asm!(e.ops ; movsx esi, BYTE [rdi]),
                (_, false) => asm!(e.ops ; movzx esi, WORD [rdi]),
                (_, true) => asm!(e.ops ; movsx esi, WORD [rdi]),
            }
        }
        _ => return false,
    }
    if ds == 4 {
        asm!(e.ops ; mov Rd(x), esi);
    } else {
        asm!(e.ops ; mov Rw(x), si);
    }
    true
}

/// lea esi, [ea]; mov dst, esi (or si)
fn lea(e: &mut Emitter, d: &Decoded) -> bool {
    let Some(Op::R(x, s)) = operand(e, d, 0) else {
        return false;
    };
    if d.ins.op_kind(1) != OpKind::Memory {
        return false;
    }
    mem::ea(e, d);
    if s == 4 {
        asm!(e.ops ; mov Rd(x), esi);
    } else {
        asm!(e.ops ; mov Rw(x), si);
    }
    true
}

/// xchg r, r
fn xchg(e: &mut Emitter, d: &Decoded) -> bool {
    let (Some(Op::R(x, s)), Some(Op::R(y, _))) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    match s {
        4 => asm!(e.ops ; xchg Rd(x), Rd(y)),
        2 => asm!(e.ops ; xchg Rw(x), Rw(y)),
        _ => asm!(e.ops ; xchg Rb(x), Rb(y)),
    }
    true
}

fn stack_ok(e: &Emitter) -> bool {
    mem::seg_ok(e, SS)
}

/// `esi` = SS offset of the new top after pushing `size` bytes:
/// `lea esi, [r8 - size]` (`movzx esi, si` with a 16-bit stack).
pub fn push_offset(e: &mut Emitter, size: u8) {
    let sz = size as i32;
    asm!(e.ops ; lea esi, [r8 - sz]);
    if !e.key.stack32() {
        asm!(e.ops ; movzx esi, si);
    }
}

/// `esi` = SS offset of the top of stack: `mov esi, r8d` (`movzx esi, r8w`).
pub fn top_offset(e: &mut Emitter) {
    if e.key.stack32() {
        asm!(e.ops ; mov esi, r8d);
    } else {
        asm!(e.ops ; movzx esi, r8w);
    }
}

/// ESP += delta (SP only, wrapping, with a 16-bit stack), flags untouched:
/// `lea r8d, [r8 + delta]` or `lea ebp, [r8 + delta]; mov r8w, bp`.
pub fn adjust_sp(e: &mut Emitter, delta: i32) {
    if e.key.stack32() {
        asm!(e.ops ; lea r8d, [r8 + delta]);
    } else {
        asm!(e.ops
            ; lea ebp, [r8 + delta]
            ; mov r8w, bp
        );
    }
}

/// LEAVE with 32-bit operand and stack: `mov esi, ebp; <check SS read>;`
/// `mov ebp, [rdi]; lea esp, [rsi + 4]` (ESP = old EBP + 4; EBP popped)
fn leave(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    if !stack_ok(e) || !e.key.stack32() || !d.op32 || e.key.seg_class(SS) != crate::key::SEG_FLAT {
        return false;
    }
    let slow = e.begin_slow(idx, false, false);
    asm!(e.ops ; mov esi, r9d);
    mem::check(e, SS, 4, false, slow);
    asm!(e.ops
        ; lea r8d, [rsi + 4]
        ; mov r9d, DWORD [rdi]
    );
    true
}

/// `<esi = new top>; <check SS write>; mov [rdi], src; <ESP -= size>`
fn push(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let size = (-d.ins.stack_pointer_increment()) as u8;
    if !stack_ok(e) || !matches!(size, 2 | 4) {
        return false;
    }
    let src = match operand(e, d, 0) {
        Some(Op::R(x, s)) if s == size => Op::R(x, s),
        Some(Op::I(i)) => Op::I(i),
        _ => return false,
    };
    let slow = e.begin_slow(idx, false, false);
    push_offset(e, size);
    mem::check(e, SS, size, true, slow);
    match (src, size) {
        (Op::R(x, _), 4) => asm!(e.ops ; mov DWORD [rdi], Rd(x)),
        (Op::R(x, _), _) => asm!(e.ops ; mov WORD [rdi], Rw(x)),
        (Op::I(i), 4) => asm!(e.ops ; mov DWORD [rdi], i as i32),
        (Op::I(i), _) => asm!(e.ops ; mov WORD [rdi], i as i16),
        _ => {}
    }
    adjust_sp(e, -(size as i32));
    true
}

/// `<esi = top>; <check SS read>; mov/movzx esi, [rdi]; <ESP += size>; mov dst, esi`
fn pop(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let size = d.ins.stack_pointer_increment() as u8;
    if !stack_ok(e) || !matches!(size, 2 | 4) {
        return false;
    }
    let Some(Op::R(x, s)) = operand(e, d, 0) else {
        return false;
    };
    if s != size {
        return false;
    }
    let slow = e.begin_slow(idx, false, false);
    top_offset(e);
    mem::check(e, SS, size, false, slow);
    if size == 4 {
        asm!(e.ops ; mov esi, DWORD [rdi]);
    } else {
        asm!(e.ops ; movzx esi, WORD [rdi]);
    }
    adjust_sp(e, size as i32);
    if size == 4 {
        asm!(e.ops ; mov Rd(x), esi);
    } else {
        asm!(e.ops ; mov Rw(x), si);
    }
    true
}
