//! Handlers for the transcendental instructions (FSIN, FCOS, FSINCOS,
//! FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1); the numerics are in `trans`.
//! An out-of-range trigonometric operand sets C2 and changes nothing else.

use iced_x86::Code;

use super::env::{Ctx, C2};
use super::exec::*;
use super::f80::F80;
use super::trans::{self, Trig};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;

/// A trigonometric kernel: the new st(0) and the value to push, if any.
type TrigFn = fn(F80, &mut Ctx) -> Trig<(F80, Option<F80>)>;

/// Common tail: C2 from the outcome, stores unless blocked.
fn trig(cpu: &mut Cpu, d: &Decoded, f: TrigFn) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let f0 = &cpu.s.fpu;
    let out = if f0.is_empty(0) {
        if !underflow(&mut c) {
            commit(cpu, &c);
            return Ok(());
        }
        Trig::Done((F80::INDEFINITE, None))
    } else {
        f(f0.st(0), &mut c)
    };
    cpu.s.fpu.status &= !C2;
    match out {
        Trig::OutOfRange => {
            commit(cpu, &c);
            cpu.s.fpu.status |= C2;
        }
        Trig::Done((r, push)) => {
            if c.blocks_store() {
                return stop(cpu, &c);
            }
            if let Some(p) = push {
                if !cpu.s.fpu.is_empty(7) {
                    // Stack overflow: both results become the indefinite.
                    if overflow(&mut c) {
                        cpu.s.fpu.set_st(0, F80::INDEFINITE);
                        cpu.s.fpu.push(F80::INDEFINITE);
                    }
                    return stop(cpu, &c);
                }
                cpu.s.fpu.set_st(0, r);
                cpu.s.fpu.push(p);
            } else {
                cpu.s.fpu.set_st(0, r);
            }
            commit(cpu, &c);
        }
    }
    Ok(())
}

fn fsin(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    trig(cpu, d, |x, c| match trans::fsin(x, c) {
        Trig::Done(r) => Trig::Done((r, None)),
        Trig::OutOfRange => Trig::OutOfRange,
    })
}

fn fcos(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    trig(cpu, d, |x, c| match trans::fcos(x, c) {
        Trig::Done(r) => Trig::Done((r, None)),
        Trig::OutOfRange => Trig::OutOfRange,
    })
}

fn fsincos(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    trig(cpu, d, |x, c| match trans::fsincos(x, c) {
        Trig::Done((s, co)) => Trig::Done((s, Some(co))),
        Trig::OutOfRange => Trig::OutOfRange,
    })
}

fn fptan(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    trig(cpu, d, |x, c| match trans::fptan(x, c) {
        Trig::Done((t, one)) => Trig::Done((t, Some(one))),
        Trig::OutOfRange => Trig::OutOfRange,
    })
}

fn f2xm1(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let f = &cpu.s.fpu;
    let r = if f.is_empty(0) {
        if !underflow(&mut c) {
            return stop(cpu, &c);
        }
        F80::INDEFINITE
    } else {
        let r = trans::f2xm1(f.st(0), &mut c);
        if c.blocks_store() {
            return stop(cpu, &c);
        }
        r
    };
    cpu.s.fpu.set_st(0, r);
    commit(cpu, &c);
    Ok(())
}

/// st(1) = f(st(1), st(0)), then pop.
fn y_x(cpu: &mut Cpu, d: &Decoded, f: fn(F80, F80, &mut Ctx) -> F80) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    let fp = &cpu.s.fpu;
    let r = if fp.is_empty(0) || fp.is_empty(1) {
        if !underflow(&mut c) {
            return stop(cpu, &c);
        }
        F80::INDEFINITE
    } else {
        let r = f(fp.st(1), fp.st(0), &mut c);
        if c.blocks_store() {
            return stop(cpu, &c);
        }
        r
    };
    cpu.s.fpu.set_st(1, r);
    cpu.s.fpu.pop();
    commit(cpu, &c);
    Ok(())
}

fn fpatan(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    y_x(cpu, d, trans::fpatan)
}

fn fyl2x(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    y_x(cpu, d, trans::fyl2x)
}

fn fyl2xp1(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    y_x(cpu, d, trans::fyl2xp1)
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Fsin, fsin);
    t.set(Fcos, fcos);
    t.set(Fsincos, fsincos);
    t.set(Fptan, fptan);
    t.set(Fpatan, fpatan);
    t.set(F2xm1, f2xm1);
    t.set(Fyl2x, fyl2x);
    t.set(Fyl2xp1, fyl2xp1);
}
