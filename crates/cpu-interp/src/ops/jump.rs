//! Near control transfers: JMP, Jcc, CALL, RET (with imm16), LOOP, LOOPE,
//! LOOPNE, JCXZ/JECXZ. Far transfers are in the system family.

use iced_x86::{Code, FlowControl, Mnemonic, OpKind};

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

/// Target of a near branch: relative (precomputed by the decoder, already
/// wrapped to the operand size) or indirect through r/m.
#[inline(always)]
fn near_target(cpu: &mut Cpu, d: &Decoded) -> Result<u32> {
    match d.ins.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 => Ok(d.ins.near_branch_target() as u32),
        _ => {
            let v = cpu.read_op(d, 0)?;
            Ok(if d.op32 { v } else { v & 0xFFFF })
        }
    }
}

fn jmp(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let t = near_target(cpu, d)?;
    cpu.jump_near(t)
}

/// Jcc, one instance per condition (the nibble as encoded) so the
/// condition is a constant in each.
fn jcc<const CC: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    if cpu.s.cond(CC) {
        cpu.jump_near(d.ins.near_branch_target() as u32)
    } else {
        Ok(())
    }
}

/// The Jcc handler for condition nibble `cc`.
pub(crate) fn jcc_for(cc: u8) -> crate::dispatch::Handler {
    const JCC: [crate::dispatch::Handler; 16] = [
        jcc::<0>, jcc::<1>, jcc::<2>, jcc::<3>, jcc::<4>, jcc::<5>, jcc::<6>, jcc::<7>, jcc::<8>,
        jcc::<9>, jcc::<10>, jcc::<11>, jcc::<12>, jcc::<13>, jcc::<14>, jcc::<15>,
    ];
    JCC[cc as usize & 15]
}

/// CALL rel / CALL r/m (near)
fn call(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let t = near_target(cpu, d)?;
    if t > cpu.s.seg[CS].limit {
        return Err(Exception::GP(0));
    }
    let size = d.ins.stack_pointer_increment().unsigned_abs() as u8;
    cpu.push(cpu.s.eip, size)?;
    cpu.s.eip = t;
    Ok(())
}

/// RET / RET imm16 (near)
fn ret(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size: u8 = if d.op32 { 4 } else { 2 };
    let t = cpu.peek(0, size)?;
    cpu.jump_near(t)?;
    let extra = if d.ins.op_count() > 0 {
        d.ins.immediate16() as u32
    } else {
        0
    };
    let sp = cpu.sp().wrapping_add(size as u32 + extra);
    cpu.set_sp(sp);
    Ok(())
}

/// LOOP / LOOPE / LOOPNE: decrement (E)CX by address size, branch if
/// non-zero (and ZF condition).
fn loop_(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let c = cpu.addr_reg(ECX, d.addr32).wrapping_sub(1);
    let c = if d.addr32 { c } else { c & 0xFFFF };
    let take = c != 0
        && match d.ins.mnemonic() {
            Mnemonic::Loope => cpu.s.zf(),
            Mnemonic::Loopne => !cpu.s.zf(),
            _ => true,
        };
    if take {
        cpu.jump_near(d.ins.near_branch_target() as u32)?;
    }
    cpu.set_addr_reg(ECX, d.addr32, c);
    Ok(())
}

/// JCXZ / JECXZ
fn jcxz(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    if cpu.addr_reg(ECX, d.addr32) == 0 {
        cpu.jump_near(d.ins.near_branch_target() as u32)
    } else {
        Ok(())
    }
}

/// Far forms (ptr16:16/32 and m16:16/32) belong to the system family.
const FAR: [Code; 8] = [
    Code::Jmp_ptr1616,
    Code::Jmp_ptr1632,
    Code::Jmp_m1616,
    Code::Jmp_m1632,
    Code::Call_ptr1616,
    Code::Call_ptr1632,
    Code::Call_m1616,
    Code::Call_m1632,
];

pub fn register(t: &mut Table) {
    for code in crate::dispatch::legacy_codes() {
        if FAR.contains(&code) {
            continue;
        }
        let h: crate::dispatch::Handler = match code.mnemonic() {
            Mnemonic::Jmp => jmp,
            Mnemonic::Call => call,
            Mnemonic::Ret => ret,
            Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne => loop_,
            Mnemonic::Jcxz | Mnemonic::Jecxz => jcxz,
            _ if code.flow_control() == FlowControl::ConditionalBranch
                && code.condition_code() != iced_x86::ConditionCode::None =>
            {
                jcc_for(code.condition_code() as u8 - 1)
            }
            _ => continue,
        };
        t.set(code, h);
    }
}
