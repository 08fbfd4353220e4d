//! Handlers for the x87 arithmetic: FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in all
//! operand forms (ST(0),ST(i); ST(i),ST(0); popping; m32/m64 reals;
//! m16/m32 integers), FSQRT, FABS, FCHS, FRNDINT, FSCALE, FXTRACT,
//! FPREM/FPREM1. Semantics are in `arith`/`misc`/`convert`; these only move
//! operands between the stack, memory and the status word.

use iced_x86::Code;

use super::env::{Ctx, C1, C2};
use super::exec::*;
use super::f80::F80;
use super::state::SW_CC;
use super::{arith, convert, misc};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;

const ADD: u8 = 0;
const MUL: u8 = 1;
const SUB: u8 = 4;
const SUBR: u8 = 5;
const DIV: u8 = 6;
const DIVR: u8 = 7;

const M32F: u8 = 0;
const M64F: u8 = 1;
const M16I: u8 = 2;
const M32I: u8 = 3;

#[inline(always)]
fn apply(k: u8, a: F80, b: F80, c: &mut Ctx) -> F80 {
    match k {
        ADD => arith::add(a, b, c),
        MUL => arith::mul(a, b, c),
        SUB => arith::sub(a, b, c),
        SUBR => arith::sub(b, a, c),
        DIV => arith::div(a, b, c),
        _ => arith::div(b, a, c),
    }
}

/// st(dest) = st(x) op m, with underflow handling; pops if asked.
fn finish_binary(cpu: &mut Cpu, c: &mut Ctx, dest: usize, r: Option<F80>, pop: bool) {
    let r = match r {
        Some(r) if !c.blocks_store() => r,
        Some(_) => return commit(cpu, c),
        None => {
            if !underflow(c) {
                return commit(cpu, c);
            }
            F80::INDEFINITE
        }
    };
    cpu.s.fpu.set_st(dest, r);
    if pop {
        cpu.s.fpu.pop();
    }
    commit(cpu, c);
}

fn binary(cpu: &mut Cpu, k: u8, dest: usize, x: usize, y: usize, pop: bool) {
    let mut c = ctx(cpu);
    let f = &cpu.s.fpu;
    let r = (!f.is_empty(x) && !f.is_empty(y)).then(|| apply(k, f.st(x), f.st(y), &mut c));
    finish_binary(cpu, &mut c, dest, r, pop);
}

/// FOP ST(0), ST(i).
fn st0_sti<const K: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    binary(cpu, K, 0, 0, sti(d, 1), false);
    Ok(())
}

/// FOP ST(i), ST(0) and FOPP ST(i), ST(0).
fn sti_st0<const K: u8, const POP: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let i = sti(d, 0);
    binary(cpu, K, i, i, 0, POP);
    Ok(())
}

/// FOP m32fp/m64fp, FIOP m16int/m32int.
fn st0_mem<const K: u8, const M: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let mut c = ctx(cpu);
    let b = match M {
        M32F => convert::f32_operand(read_m32(cpu, d)?, &mut c),
        M64F => convert::f64_operand(read_m64(cpu, d)?, &mut c),
        M16I => convert::from_i64(read_m16(cpu, d)? as i16 as i64),
        _ => convert::from_i64(read_m32(cpu, d)? as i32 as i64),
    };
    note(cpu, d, true);
    let f = &cpu.s.fpu;
    let r = (!f.is_empty(0)).then(|| apply(K, f.st(0), b, &mut c));
    finish_binary(cpu, &mut c, 0, r, false);
    Ok(())
}

/// st(0) = f(st(0)).
fn unary(cpu: &mut Cpu, d: &Decoded, op: fn(F80, &mut Ctx) -> F80) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let f = &cpu.s.fpu;
    let r = (!f.is_empty(0)).then(|| op(f.st(0), &mut c));
    finish_binary(cpu, &mut c, 0, r, false);
    Ok(())
}

fn fsqrt(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    unary(cpu, d, arith::sqrt)
}

fn frndint(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    unary(cpu, d, convert::round_to_int)
}

fn fabs(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    unary(cpu, d, |x, _| x.abs())
}

fn fchs(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    unary(cpu, d, |x, _| x.neg())
}

fn fscale(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let f = &cpu.s.fpu;
    let r = (!f.is_empty(0) && !f.is_empty(1)).then(|| misc::scale(f.st(0), f.st(1), &mut c));
    finish_binary(cpu, &mut c, 0, r, false);
    Ok(())
}

fn fxtract(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let f = &cpu.s.fpu;
    let (sig, exp) = if f.is_empty(0) {
        if !underflow(&mut c) {
            return stop(cpu, &c);
        }
        (F80::INDEFINITE, F80::INDEFINITE)
    } else if !f.is_empty(7) {
        if !overflow(&mut c) {
            return stop(cpu, &c);
        }
        (F80::INDEFINITE, F80::INDEFINITE)
    } else {
        let r = misc::xtract(f.st(0), &mut c);
        if c.blocks_store() {
            return stop(cpu, &c);
        }
        r
    };
    cpu.s.fpu.set_st(0, exp);
    cpu.s.fpu.push(sig);
    commit(cpu, &c);
    Ok(())
}

fn prem<const IEEE: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let f = &cpu.s.fpu;
    let (r, cc) = if f.is_empty(0) || f.is_empty(1) {
        (None, None)
    } else {
        let (r, cc) = misc::prem(f.st(0), f.st(1), IEEE, &mut c);
        (Some(r), cc)
    };
    finish_binary(cpu, &mut c, 0, r, false);
    let f = &mut cpu.s.fpu;
    f.status = match cc {
        Some(cc) if !c.blocks_store() => (f.status & !SW_CC) | cc,
        _ => f.status & !(C1 | C2),
    };
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Fadd_st0_sti, st0_sti::<ADD>);
    t.set(Fmul_st0_sti, st0_sti::<MUL>);
    t.set(Fsub_st0_sti, st0_sti::<SUB>);
    t.set(Fsubr_st0_sti, st0_sti::<SUBR>);
    t.set(Fdiv_st0_sti, st0_sti::<DIV>);
    t.set(Fdivr_st0_sti, st0_sti::<DIVR>);
    t.set(Fadd_sti_st0, sti_st0::<ADD, false>);
    t.set(Fmul_sti_st0, sti_st0::<MUL, false>);
    t.set(Fsub_sti_st0, sti_st0::<SUB, false>);
    t.set(Fsubr_sti_st0, sti_st0::<SUBR, false>);
    t.set(Fdiv_sti_st0, sti_st0::<DIV, false>);
    t.set(Fdivr_sti_st0, sti_st0::<DIVR, false>);
    t.set(Faddp_sti_st0, sti_st0::<ADD, true>);
    t.set(Fmulp_sti_st0, sti_st0::<MUL, true>);
    t.set(Fsubp_sti_st0, sti_st0::<SUB, true>);
    t.set(Fsubrp_sti_st0, sti_st0::<SUBR, true>);
    t.set(Fdivp_sti_st0, sti_st0::<DIV, true>);
    t.set(Fdivrp_sti_st0, sti_st0::<DIVR, true>);
    t.set(Fadd_m32fp, st0_mem::<ADD, M32F>);
    t.set(Fmul_m32fp, st0_mem::<MUL, M32F>);
    t.set(Fsub_m32fp, st0_mem::<SUB, M32F>);
    t.set(Fsubr_m32fp, st0_mem::<SUBR, M32F>);
    t.set(Fdiv_m32fp, st0_mem::<DIV, M32F>);
    t.set(Fdivr_m32fp, st0_mem::<DIVR, M32F>);
    t.set(Fadd_m64fp, st0_mem::<ADD, M64F>);
    t.set(Fmul_m64fp, st0_mem::<MUL, M64F>);
    t.set(Fsub_m64fp, st0_mem::<SUB, M64F>);
    t.set(Fsubr_m64fp, st0_mem::<SUBR, M64F>);
    t.set(Fdiv_m64fp, st0_mem::<DIV, M64F>);
    t.set(Fdivr_m64fp, st0_mem::<DIVR, M64F>);
    t.set(Fiadd_m16int, st0_mem::<ADD, M16I>);
    t.set(Fimul_m16int, st0_mem::<MUL, M16I>);
    t.set(Fisub_m16int, st0_mem::<SUB, M16I>);
    t.set(Fisubr_m16int, st0_mem::<SUBR, M16I>);
    t.set(Fidiv_m16int, st0_mem::<DIV, M16I>);
    t.set(Fidivr_m16int, st0_mem::<DIVR, M16I>);
    t.set(Fiadd_m32int, st0_mem::<ADD, M32I>);
    t.set(Fimul_m32int, st0_mem::<MUL, M32I>);
    t.set(Fisub_m32int, st0_mem::<SUB, M32I>);
    t.set(Fisubr_m32int, st0_mem::<SUBR, M32I>);
    t.set(Fidiv_m32int, st0_mem::<DIV, M32I>);
    t.set(Fidivr_m32int, st0_mem::<DIVR, M32I>);
    t.set(Fsqrt, fsqrt);
    t.set(Frndint, frndint);
    t.set(Fabs, fabs);
    t.set(Fchs, fchs);
    t.set(Fscale, fscale);
    t.set(Fxtract, fxtract);
    t.set(Fprem, prem::<false>);
    t.set(Fprem1, prem::<true>);
}
