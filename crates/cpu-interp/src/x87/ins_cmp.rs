//! Handlers for comparisons and classification: FCOM/FCOMP/FCOMPP,
//! FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP, FCOMI/FCOMIP/FUCOMI/FUCOMIP (to
//! EFLAGS ZF/PF/CF, clearing OF/SF/AF), FTST and FXAM. An empty operand is
//! a stack underflow reported as "unordered" when masked; pops happen
//! unless an unmasked exception stops the instruction.

use iced_x86::Code;

use super::compare::{compare, examine, examine_empty, Relation};
use super::convert;
use super::env::{Ctx, C1};
use super::exec::*;
use super::f80::F80;
use super::state::SW_CC;
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;
use crate::state::fl;

/// Compares st(0) with `b` (None = st(0) or the other register is empty).
fn relation(cpu: &Cpu, c: &mut Ctx, b: Option<F80>, quiet: bool) -> Relation {
    let f = &cpu.s.fpu;
    match b {
        Some(b) if !f.is_empty(0) => compare(f.st(0), b, quiet, c),
        _ => {
            underflow(c);
            Relation::Unordered
        }
    }
}

fn finish_cc(cpu: &mut Cpu, c: &Ctx, rel: Relation, pops: u8) {
    commit(cpu, c);
    let f = &mut cpu.s.fpu;
    f.status = (f.status & !SW_CC) | rel.condition_codes();
    if !c.unmasked() {
        for _ in 0..pops {
            f.pop();
        }
    }
}

fn reg_operand(cpu: &Cpu, i: usize) -> Option<F80> {
    (!cpu.s.fpu.is_empty(i)).then(|| cpu.s.fpu.st(i))
}

/// FCOM/FUCOM ST(i) with 0, 1 or 2 pops.
fn fcom_sti<const QUIET: bool, const POPS: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let i = if d.ins.op_count() > 1 {
        sti(d, 1)
    } else if d.ins.op_count() == 1 {
        sti(d, 0)
    } else {
        1
    };
    let mut c = ctx(cpu);
    let b = reg_operand(cpu, i);
    let rel = relation(cpu, &mut c, b, QUIET);
    finish_cc(cpu, &c, rel, POPS);
    Ok(())
}

const M32F: u8 = 0;
const M64F: u8 = 1;
const M16I: u8 = 2;
const M32I: u8 = 3;

fn fcom_mem<const M: u8, const POPS: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let mut c = ctx(cpu);
    let b = match M {
        M32F => convert::f32_operand(read_m32(cpu, d)?, &mut c),
        M64F => convert::f64_operand(read_m64(cpu, d)?, &mut c),
        M16I => convert::from_i64(read_m16(cpu, d)? as i16 as i64),
        _ => convert::from_i64(read_m32(cpu, d)? as i32 as i64),
    };
    note(cpu, d, true);
    let rel = relation(cpu, &mut c, Some(b), false);
    finish_cc(cpu, &c, rel, POPS);
    Ok(())
}

fn ftst(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let rel = relation(cpu, &mut c, Some(F80::ZERO), false);
    finish_cc(cpu, &c, rel, 0);
    Ok(())
}

/// FCOMI/FUCOMI(P) ST(0), ST(i).
fn fcomi<const QUIET: bool, const POP: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let i = sti(d, 1);
    let mut c = ctx(cpu);
    let b = reg_operand(cpu, i);
    let rel = relation(cpu, &mut c, b, QUIET);
    // FCOMI leaves C1 alone unless the stack underflowed.
    if c.flags & super::env::SF == 0 {
        c.flags = (c.flags & !C1) | (cpu.s.fpu.status & C1);
    }
    commit(cpu, &c);
    let s = &mut cpu.s;
    s.settle_flags();
    s.eflags = (s.eflags & !(fl::ZF | fl::PF | fl::CF | fl::OF | fl::SF | fl::AF)) | rel.eflags();
    if POP && !c.unmasked() {
        s.fpu.pop();
    }
    Ok(())
}

fn fxam(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let f = &mut cpu.s.fpu;
    let cc = if f.is_empty(0) {
        examine_empty(f.st(0))
    } else {
        examine(f.st(0))
    };
    f.status = (f.status & !(SW_CC | C1)) | cc;
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Fcom_st0_sti, fcom_sti::<false, 0>);
    t.set(Fcom_st0_sti_DCD0, fcom_sti::<false, 0>);
    t.set(Fcomp_st0_sti, fcom_sti::<false, 1>);
    t.set(Fcomp_st0_sti_DCD8, fcom_sti::<false, 1>);
    t.set(Fcomp_st0_sti_DED0, fcom_sti::<false, 1>);
    t.set(Fcompp, fcom_sti::<false, 2>);
    t.set(Fucom_st0_sti, fcom_sti::<true, 0>);
    t.set(Fucomp_st0_sti, fcom_sti::<true, 1>);
    t.set(Fucompp, fcom_sti::<true, 2>);
    t.set(Fcom_m32fp, fcom_mem::<M32F, 0>);
    t.set(Fcomp_m32fp, fcom_mem::<M32F, 1>);
    t.set(Fcom_m64fp, fcom_mem::<M64F, 0>);
    t.set(Fcomp_m64fp, fcom_mem::<M64F, 1>);
    t.set(Ficom_m16int, fcom_mem::<M16I, 0>);
    t.set(Ficomp_m16int, fcom_mem::<M16I, 1>);
    t.set(Ficom_m32int, fcom_mem::<M32I, 0>);
    t.set(Ficomp_m32int, fcom_mem::<M32I, 1>);
    t.set(Fcomi_st0_sti, fcomi::<false, false>);
    t.set(Fcomip_st0_sti, fcomi::<false, true>);
    t.set(Fucomi_st0_sti, fcomi::<true, false>);
    t.set(Fucomip_st0_sti, fcomi::<true, true>);
    t.set(Ftst, ftst);
    t.set(Fxam, fxam);
}
