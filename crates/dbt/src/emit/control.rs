//! Near control transfers that end a block: JMP rel (chainable direct
//! exit), Jcc (two direct exits), CALL rel (push, direct exit), and the
//! indirect ones (JMP r/m, CALL r, RET, RET imm16; 32- or 16-bit operand
//! and stack sizes) that store EIP and leave through the jump cache. Far
//! transfers, CALL [m] and LOOP/JCXZ are callouts.

use cpu_interp::decode::Decoded;
use cpu_interp::state::{fl, SS};
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi};
use iced_x86::{FlowControl, Mnemonic, OpKind};

use super::alu::cc16;
use super::mov::{adjust_sp, operand, push_offset, top_offset, Op};
use super::{asm, mem, Emitter};
use crate::liveness::cond_code;
use crate::runtime::ST_EIP;

macro_rules! jcc_one {
    ($mn:ident, $e:expr, $l:expr) => {
        asm!($e.ops ; $mn =>$l)
    };
}

/// Emits `d` natively if it is a control transfer this module handles.
pub fn emit(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let ok = match d.ins.mnemonic() {
        Mnemonic::Jmp => jmp(e, idx, d),
        Mnemonic::Call => call(e, idx, d),
        Mnemonic::Ret => ret(e, idx, d),
        m => match cond_code(m) {
            Some(cc) if d.ins.flow_control() == FlowControl::ConditionalBranch => {
                jcc(e, idx, d, cc)
            }
            _ => false,
        },
    };
    if ok {
        e.ended = true;
    }
    ok
}

fn direct_target(e: &Emitter, d: &Decoded) -> Option<u32> {
    match d.ins.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 => {
            let t = d.ins.near_branch_target() as u32;
            (t <= e.key.cs_limit).then_some(t)
        }
        _ => None,
    }
}

/// Jumps to `l` if condition `cc` holds. With the flags in host EFLAGS:
/// `jcc l`. Otherwise single-flag conditions test the saved copy
/// (`test fsave_d, mask` or `test [state+eflags], mask; jnz/jz l`); the
/// others restore host EFLAGS first.
fn branch_if(e: &mut Emitter, cc: u8, l: DynamicLabel) {
    let mask = match cc >> 1 {
        0 => Some(fl::OF),
        1 => Some(fl::CF),
        2 => Some(fl::ZF),
        3 => Some(fl::CF | fl::ZF),
        4 => Some(fl::SF),
        5 => Some(fl::PF),
        _ => None,
    };
    if crate::liveness::cond_reads(cc) & fl::OF != 0 {
        e.apply_of_fix();
    }
    match mask {
        Some(m) if !e.fl.host => {
            if e.fl.saved {
                asm!(e.ops ; test r12d, m as i32);
            } else {
                asm!(e.ops ; test DWORD [state + crate::runtime::ST_EFLAGS], m as i32);
            }
            if cc & 1 == 0 {
                asm!(e.ops ; jnz =>l);
            } else {
                asm!(e.ops ; jz =>l);
            }
        }
        _ => {
            e.need_host();
            cc16!(cc, jcc_one, [jo jno jb jae je jne jbe ja js jns jp jnp jl jge jle jg], e, l);
        }
    }
}

/// `jcc taken; <exit to next>; taken: <exit to target>`
fn jcc(e: &mut Emitter, idx: usize, d: &Decoded, cc: u8) -> bool {
    let Some(target) = direct_target(e, d) else {
        return false;
    };
    let next = e.next_eip(idx);
    let taken = e.ops.new_dynamic_label();
    branch_if(e, cc, taken);
    let (fl, fix) = (e.fl, e.of_fix);
    e.direct_exit(next, idx as u32 + 1);
    asm!(e.ops ; =>taken);
    e.fl = fl;
    e.of_fix = fix;
    e.direct_exit(target, idx as u32 + 1);
    true
}

/// Checks a run-time target against the CS limit (skipped for 4 GiB).
/// `cmp reg, limit; ja slow`
fn limit_check_esi(e: &mut Emitter, slow: DynamicLabel) {
    if e.key.cs_limit != u32::MAX {
        let lim = e.key.cs_limit as i32;
        asm!(e.ops
            ; cmp esi, lim
            ; ja =>slow
        );
    }
}

/// JMP rel: direct exit. JMP r/m (32 or 16 bits, zero-extended):
/// `mov esi, src; cmp esi, limit; ja slow; mov [state+eip], esi; <indirect exit>`
fn jmp(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    if let Some(t) = direct_target(e, d) {
        e.direct_exit(t, idx as u32 + 1);
        return true;
    }
    let size: u8 = if d.op32 { 4 } else { 2 };
    let src = match operand(e, d, 0) {
        Some(Op::R(x, s)) if s == size => Op::R(x, s),
        Some(Op::M) if d.msize == size => Op::M,
        _ => return false,
    };
    e.to_saved();
    let slow = e.begin_slow(idx, false, true);
    match (src, size) {
        (Op::M, _) => {
            mem::ea(e, d);
            mem::check(e, d.mem.seg as usize, size, false, slow);
            if size == 4 {
                asm!(e.ops ; mov esi, DWORD [rdi]);
            } else {
                asm!(e.ops ; movzx esi, WORD [rdi]);
            }
        }
        (Op::R(x, _), 4) => asm!(e.ops ; mov esi, Rd(x)),
        (Op::R(x, _), _) => asm!(e.ops ; movzx esi, Rw(x)),
        _ => {}
    }
    limit_check_esi(e, slow);
    asm!(e.ops ; mov DWORD [state + ST_EIP], esi);
    e.indirect_exit(idx as u32 + 1);
    true
}

fn stack_ok(e: &Emitter) -> bool {
    mem::seg_ok(e, SS)
}

/// CALL rel: `<esi = new top>; <check SS write>; mov [rdi], next;`
/// `<ESP -= n>; <direct exit to target>` (n = 4 or 2 by operand size).
/// CALL r: the same after `mov esi, src; <limit check>; mov [state+eip], esi`,
/// leaving through the indirect exit.
fn call(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    if !stack_ok(e) {
        return false;
    }
    let size: u8 = if d.op32 { 4 } else { 2 };
    let next = e.next_eip(idx) as i32;
    let direct = direct_target(e, d);
    let reg = match operand(e, d, 0) {
        Some(Op::R(x, s)) if s == size => Some(x),
        _ => None,
    };
    if direct.is_none() && reg.is_none() {
        return false;
    }
    e.to_saved();
    let slow = e.begin_slow(idx, false, true);
    if let Some(x) = reg {
        if size == 4 {
            asm!(e.ops ; mov esi, Rd(x));
        } else {
            asm!(e.ops ; movzx esi, Rw(x));
        }
        limit_check_esi(e, slow);
        asm!(e.ops ; mov DWORD [state + ST_EIP], esi);
    }
    push_offset(e, size);
    mem::check(e, SS, size, true, slow);
    if size == 4 {
        asm!(e.ops ; mov DWORD [rdi], next);
    } else {
        asm!(e.ops ; mov WORD [rdi], next as i16);
    }
    adjust_sp(e, -(size as i32));
    match direct {
        Some(t) => e.direct_exit(t, idx as u32 + 1),
        None => e.indirect_exit(idx as u32 + 1),
    }
    true
}

/// RET / RET imm16: `<esi = top>; <check SS read>; mov/movzx esi, [rdi];`
/// `<limit check>; mov [state+eip], esi; <ESP += n + imm>; <indirect exit>`
fn ret(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    if !stack_ok(e) {
        return false;
    }
    let size: u8 = if d.op32 { 4 } else { 2 };
    let inc = d.ins.stack_pointer_increment();
    e.to_saved();
    let slow = e.begin_slow(idx, false, true);
    top_offset(e);
    mem::check(e, SS, size, false, slow);
    if size == 4 {
        asm!(e.ops ; mov esi, DWORD [rdi]);
    } else {
        asm!(e.ops ; movzx esi, WORD [rdi]);
    }
    limit_check_esi(e, slow);
    asm!(e.ops ; mov DWORD [state + ST_EIP], esi);
    adjust_sp(e, inc);
    e.indirect_exit(idx as u32 + 1);
    true
}
