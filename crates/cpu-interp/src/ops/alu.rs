//! ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG, NOT in all
//! operand forms. Flags are recorded lazily, and only after the
//! destination write succeeded, so a faulting write leaves them intact.

use iced_x86::Mnemonic;

use super::mask;
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;
use crate::flags::{FlagOp, LazyFlags};
use crate::state::fl;

/// The eight classic ALU operations, in opcode order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AluOp {
    Add,
    Or,
    Adc,
    Sbb,
    And,
    Sub,
    Xor,
    Cmp,
}

/// Computes `a op b` at `size` bytes with carry-in `cf`; returns the result
/// and the lazy flag record it leaves.
#[inline(always)]
pub fn compute(op: AluOp, size: u8, a: u32, b: u32, cf: bool) -> (u32, LazyFlags) {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let (r, fop) = match op {
        AluOp::Add => (a.wrapping_add(b), FlagOp::Add),
        AluOp::Adc => (
            a.wrapping_add(b).wrapping_add(cf as u32),
            if cf { FlagOp::Adc } else { FlagOp::Add },
        ),
        AluOp::Sub | AluOp::Cmp => (a.wrapping_sub(b), FlagOp::Sub),
        AluOp::Sbb => (
            a.wrapping_sub(b).wrapping_sub(cf as u32),
            if cf { FlagOp::Sbb } else { FlagOp::Sub },
        ),
        AluOp::And => (a & b, FlagOp::Logic),
        AluOp::Or => (a | b, FlagOp::Logic),
        AluOp::Xor => (a ^ b, FlagOp::Logic),
    };
    let r = r & m;
    let mut lf = LazyFlags::default();
    lf.set(fop, size, a, b, r);
    (r, lf)
}

/// `op dst, src` for every ALU form: dst is operand 0, src operand 1.
/// Inlined into each operation's handler so `op` is a constant there.
#[inline(always)]
fn alu_form(cpu: &mut Cpu, d: &Decoded, op: AluOp) -> Result<()> {
    let cf = matches!(op, AluOp::Adc | AluOp::Sbb) && cpu.s.cf();
    if d.width == 4 {
        if let Some(i) = super::reg32(d, 0) {
            // Fast path: 32-bit register destination.
            let a = cpu.s.regs[i];
            let b = cpu.read_op(d, 1)?;
            let (r, lf) = compute(op, 4, a, b, cf);
            if op != AluOp::Cmp {
                cpu.s.regs[i] = r;
            }
            cpu.s.flags = lf;
            return Ok(());
        }
    }
    let a = cpu.read_op(d, 0)?;
    let b = cpu.read_op(d, 1)?;
    let (r, lf) = compute(op, d.width, a, b, cf);
    if op != AluOp::Cmp {
        cpu.write_op(d, 0, r)?;
    }
    cpu.s.flags = lf;
    Ok(())
}

fn add(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::Add)
}
fn or(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::Or)
}
fn adc(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::Adc)
}
fn sbb(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::Sbb)
}
fn and(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::And)
}
fn sub(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::Sub)
}
fn xor(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::Xor)
}
fn cmp(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_form(cpu, d, AluOp::Cmp)
}

/// TEST dst, src
fn test(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let a = cpu.read_op(d, 0)?;
    let b = cpu.read_op(d, 1)?;
    let (_, lf) = compute(AluOp::And, d.width, a, b, false);
    cpu.s.flags = lf;
    Ok(())
}

/// INC / DEC: CF is kept. Only CF is settled into `eflags`; the lazy
/// record supplies the other five flags.
#[inline(always)]
fn inc_dec(cpu: &mut Cpu, d: &Decoded, inc: bool) -> Result<()> {
    let size = d.width;
    let m = mask(size);
    let fast = if size == 4 { super::reg32(d, 0) } else { None };
    let a = match fast {
        Some(i) => cpu.s.regs[i],
        None => cpu.read_op(d, 0)? & m,
    };
    let r = if inc {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & m;
    match fast {
        Some(i) => cpu.s.regs[i] = r,
        None => cpu.write_op(d, 0, r)?,
    }
    let cf = cpu.s.cf();
    cpu.s.eflags = (cpu.s.eflags & !fl::CF) | cf as u32;
    let op = if inc { FlagOp::Inc } else { FlagOp::Dec };
    cpu.s.flags.set(op, size, a, 1, r);
    Ok(())
}

fn inc(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    inc_dec(cpu, d, true)
}
fn dec(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    inc_dec(cpu, d, false)
}

/// NEG: 0 - dst
fn neg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let a = cpu.read_op(d, 0)?;
    let (r, lf) = compute(AluOp::Sub, d.width, 0, a, false);
    cpu.write_op(d, 0, r)?;
    cpu.s.flags = lf;
    Ok(())
}

/// NOT (no flags)
fn not(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let a = cpu.read_op(d, 0)?;
    cpu.write_op(d, 0, !a & mask(d.width))
}

pub fn register(t: &mut Table) {
    for code in crate::dispatch::legacy_codes() {
        let h: crate::dispatch::Handler = match code.mnemonic() {
            Mnemonic::Add => add,
            Mnemonic::Or => or,
            Mnemonic::Adc => adc,
            Mnemonic::Sbb => sbb,
            Mnemonic::And => and,
            Mnemonic::Sub => sub,
            Mnemonic::Xor => xor,
            Mnemonic::Cmp => cmp,
            Mnemonic::Test => test,
            Mnemonic::Inc => inc,
            Mnemonic::Dec => dec,
            Mnemonic::Neg => neg,
            Mnemonic::Not => not,
            _ => continue,
        };
        t.set(code, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn expect(op: AluOp, size: u8, a: u32, b: u32, cf: bool, res: u32, flags: &str) {
        let (r, lf) = compute(op, size, a, b, cf);
        assert_eq!(r, res, "{op:?} {a:#x},{b:#x}");
        assert_eq!(
            crate::ops::flag_names(lf.arith(0)),
            flags,
            "{op:?} {a:#x},{b:#x}"
        );
    }

    #[test]
    fn add_sub() {
        expect(AluOp::Add, 1, 0x7F, 0x01, false, 0x80, "AF SF OF");
        expect(AluOp::Adc, 2, 0xFFFF, 0, true, 0, "CF PF AF ZF");
        expect(AluOp::Sub, 4, 1, 2, false, 0xFFFF_FFFF, "CF PF AF SF");
        expect(AluOp::Sbb, 1, 0, 0, true, 0xFF, "CF PF AF SF");
        expect(AluOp::Cmp, 1, 0x80, 0x01, false, 0x7F, "AF OF");
        expect(AluOp::Xor, 4, 0xF0, 0xF0, false, 0, "PF ZF");
    }
}
