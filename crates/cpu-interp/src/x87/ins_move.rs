//! Handlers that move values onto, off and around the register stack:
//! FLD/FST/FSTP (m32, m64, m80, ST(i)), FILD/FIST/FISTP (m16, m32, m64),
//! FBLD/FBSTP, the constants (FLD1, FLDZ, FLDPI, FLDL2E, FLDL2T, FLDLG2,
//! FLDLN2, see `consts`), FXCH, FCMOVcc, FFREE(P),
//! FINCSTP, FDECSTP. Stack underflow stores the masked-response
//! indefinite of the destination format; overflow pushes the indefinite.

use iced_x86::Code;

use super::consts::{constant, L2E, L2T, LG2, LN2, PI};
use super::env::{Ctx, IE};
use super::exec::*;
use super::f80::F80;
use super::{convert, state::TAG_EMPTY};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;

/// Pushes the value `conv` computes (with its own flags), or handles a
/// stack overflow first, in which case `conv` is not evaluated (a denormal
/// or SNaN source raises nothing). An unmasked IE from `conv` stops the
/// load; an unmasked DE does not.
fn load(cpu: &mut Cpu, c: &mut Ctx, conv: impl FnOnce(&mut Ctx) -> F80) {
    if !cpu.s.fpu.is_empty(7) {
        if overflow(c) {
            cpu.s.fpu.push(F80::INDEFINITE);
        }
    } else {
        let v = conv(c);
        if c.flags & !c.cw & IE == 0 {
            cpu.s.fpu.push(v);
        }
    }
    commit(cpu, c);
}

fn fld_m32(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let m = read_m32(cpu, d)?;
    note(cpu, d, true);
    let mut c = ctx(cpu);
    load(cpu, &mut c, |c| convert::from_f32(m, c));
    Ok(())
}

fn fld_m64(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let m = read_m64(cpu, d)?;
    note(cpu, d, true);
    let mut c = ctx(cpu);
    load(cpu, &mut c, |c| convert::from_f64(m, c));
    Ok(())
}

fn fld_m80(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let m = read_m80(cpu, d)?;
    note(cpu, d, true);
    let mut c = ctx(cpu);
    load(cpu, &mut c, |_| F80::from_bytes(m));
    Ok(())
}

fn fld_sti(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let i = sti(d, 0);
    let mut c = ctx(cpu);
    if cpu.s.fpu.is_empty(i) {
        // Underflow wins over a simultaneous overflow (C1 stays 0) and the
        // indefinite is pushed regardless.
        if underflow(&mut c) {
            cpu.s.fpu.push(F80::INDEFINITE);
        }
        return stop(cpu, &c);
    }
    let v = cpu.s.fpu.st(i);
    load(cpu, &mut c, |_| v);
    Ok(())
}

fn fild<const BYTES: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let v = match BYTES {
        2 => read_m16(cpu, d)? as i16 as i64,
        4 => read_m32(cpu, d)? as i32 as i64,
        _ => read_m64(cpu, d)? as i64,
    };
    note(cpu, d, true);
    let mut c = ctx(cpu);
    load(cpu, &mut c, |_| convert::from_i64(v));
    Ok(())
}

fn fbld(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let m = read_m80(cpu, d)?;
    note(cpu, d, true);
    let mut c = ctx(cpu);
    load(cpu, &mut c, |_| convert::from_bcd(m));
    Ok(())
}

fn fld_const(cpu: &mut Cpu, d: &Decoded, v: F80) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let mut c = ctx(cpu);
    load(cpu, &mut c, |_| v);
    Ok(())
}

fn fld1(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    fld_const(cpu, d, F80::ONE)
}
fn fldz(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    fld_const(cpu, d, F80::ZERO)
}
fn fldpi(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = constant(PI, cpu.s.fpu.control);
    fld_const(cpu, d, v)
}
fn fldl2t(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = constant(L2T, cpu.s.fpu.control);
    fld_const(cpu, d, v)
}
fn fldl2e(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = constant(L2E, cpu.s.fpu.control);
    fld_const(cpu, d, v)
}
fn fldlg2(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = constant(LG2, cpu.s.fpu.control);
    fld_const(cpu, d, v)
}
fn fldln2(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = constant(LN2, cpu.s.fpu.control);
    fld_const(cpu, d, v)
}

/// What a store of st(0) writes: `Some(bytes)` or nothing (unmasked
/// exception), computed by `conv` or the format's indefinite on underflow.
fn store<const POP: bool>(
    cpu: &mut Cpu,
    d: &Decoded,
    len: u32,
    conv: impl FnOnce(F80, &mut Ctx) -> Option<u64>,
    indefinite: u64,
) -> Result<()> {
    begin(cpu)?;
    probe_store(cpu, d, len)?;
    note(cpu, d, true);
    let mut c = ctx(cpu);
    let v = if cpu.s.fpu.is_empty(0) {
        underflow(&mut c).then_some(indefinite)
    } else {
        conv(cpu.s.fpu.st(0), &mut c)
    };
    if let Some(v) = v {
        match len {
            2 => write_m16(cpu, d, v as u16)?,
            4 => write_m32(cpu, d, v as u32)?,
            _ => write_m64(cpu, d, v)?,
        }
        if POP {
            cpu.s.fpu.pop();
        }
    }
    commit(cpu, &c);
    Ok(())
}

fn fst_m32<const POP: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    store::<POP>(
        cpu,
        d,
        4,
        |x, c| convert::to_f32(x, c).map(u64::from),
        0xFFC0_0000,
    )
}

fn fst_m64<const POP: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    store::<POP>(cpu, d, 8, convert::to_f64, 0xFFF8_0000_0000_0000)
}

fn fist<const BYTES: u8, const POP: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let bits = BYTES as u32 * 8;
    let ind = 1u64 << (bits - 1);
    store::<POP>(
        cpu,
        d,
        BYTES as u32,
        |x, c| convert::to_int(x, bits, c).map(|v| v as u64),
        ind,
    )
}

/// FSTP m80 and FBSTP m80.
fn store80(
    cpu: &mut Cpu,
    d: &Decoded,
    conv: impl FnOnce(F80, &mut Ctx) -> Option<[u8; 10]>,
    ind: [u8; 10],
) -> Result<()> {
    begin(cpu)?;
    probe_store(cpu, d, 10)?;
    note(cpu, d, true);
    let mut c = ctx(cpu);
    let v = if cpu.s.fpu.is_empty(0) {
        underflow(&mut c).then_some(ind)
    } else {
        conv(cpu.s.fpu.st(0), &mut c)
    };
    if let Some(v) = v {
        write_m80(cpu, d, v)?;
        cpu.s.fpu.pop();
    }
    commit(cpu, &c);
    Ok(())
}

fn fstp_m80(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    store80(
        cpu,
        d,
        |x, _| Some(x.to_bytes()),
        F80::INDEFINITE.to_bytes(),
    )
}

fn fbstp(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    store80(
        cpu,
        d,
        convert::to_bcd,
        [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF],
    )
}

/// FST ST(i) / FSTP ST(i).
fn fst_sti<const POP: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let i = sti(d, 0);
    let mut c = ctx(cpu);
    let v = if cpu.s.fpu.is_empty(0) {
        if !underflow(&mut c) {
            return stop(cpu, &c);
        }
        F80::INDEFINITE
    } else {
        cpu.s.fpu.st(0)
    };
    cpu.s.fpu.set_st(i, v);
    if POP {
        cpu.s.fpu.pop();
    }
    commit(cpu, &c);
    Ok(())
}

fn fxch(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let i = sti(d, 1);
    let mut c = ctx(cpu);
    let f = &cpu.s.fpu;
    let (mut a, mut b) = (f.st(0), f.st(i));
    if f.is_empty(0) || f.is_empty(i) {
        if !underflow(&mut c) {
            return stop(cpu, &c);
        }
        if f.is_empty(0) {
            a = F80::INDEFINITE;
        }
        if f.is_empty(i) {
            b = F80::INDEFINITE;
        }
    }
    cpu.s.fpu.set_st(0, b);
    cpu.s.fpu.set_st(i, a);
    commit(cpu, &c);
    Ok(())
}

/// FCMOVcc ST(0), ST(i); `CC` selects B, E, BE, U and their negations.
fn fcmov<const CC: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let i = sti(d, 1);
    let cond = match CC & 3 {
        0 => cpu.s.cf(),
        1 => cpu.s.zf(),
        2 => cpu.s.cf() || cpu.s.zf(),
        _ => cpu.s.pf(),
    } != (CC & 4 != 0);
    let mut c = ctx(cpu);
    if cpu.s.fpu.is_empty(0) || cpu.s.fpu.is_empty(i) {
        if underflow(&mut c) {
            cpu.s.fpu.set_st(0, F80::INDEFINITE);
        }
    } else {
        if cond {
            let v = cpu.s.fpu.st(i);
            cpu.s.fpu.set_st(0, v);
        }
        // Without a stack fault FCMOVcc leaves C1 alone.
        c.flags |= cpu.s.fpu.status & super::env::C1;
    }
    commit(cpu, &c);
    Ok(())
}

fn ffree<const POP: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let f = &mut cpu.s.fpu;
    let p = f.phys(sti(d, 0));
    f.set_phys_tag(p, TAG_EMPTY);
    if POP {
        f.pop();
    }
    f.status &= !super::env::C1;
    Ok(())
}

fn fincstp<const DOWN: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    let f = &mut cpu.s.fpu;
    let t = if DOWN {
        f.top().wrapping_sub(1)
    } else {
        f.top() + 1
    };
    f.set_top(t & 7);
    f.status &= !super::env::C1;
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Fld_m32fp, fld_m32);
    t.set(Fld_m64fp, fld_m64);
    t.set(Fld_m80fp, fld_m80);
    t.set(Fld_sti, fld_sti);
    t.set(Fild_m16int, fild::<2>);
    t.set(Fild_m32int, fild::<4>);
    t.set(Fild_m64int, fild::<8>);
    t.set(Fbld_m80bcd, fbld);
    t.set(Fld1, fld1);
    t.set(Fldz, fldz);
    t.set(Fldpi, fldpi);
    t.set(Fldl2t, fldl2t);
    t.set(Fldl2e, fldl2e);
    t.set(Fldlg2, fldlg2);
    t.set(Fldln2, fldln2);
    t.set(Fst_m32fp, fst_m32::<false>);
    t.set(Fstp_m32fp, fst_m32::<true>);
    t.set(Fst_m64fp, fst_m64::<false>);
    t.set(Fstp_m64fp, fst_m64::<true>);
    t.set(Fstp_m80fp, fstp_m80);
    t.set(Fist_m16int, fist::<2, false>);
    t.set(Fistp_m16int, fist::<2, true>);
    t.set(Fist_m32int, fist::<4, false>);
    t.set(Fistp_m32int, fist::<4, true>);
    t.set(Fistp_m64int, fist::<8, true>);
    t.set(Fbstp_m80bcd, fbstp);
    t.set(Fst_sti, fst_sti::<false>);
    t.set(Fstp_sti, fst_sti::<true>);
    t.set(Fstp_sti_DFD0, fst_sti::<true>);
    t.set(Fstp_sti_DFD8, fst_sti::<true>);
    t.set(Fstpnce_sti, fst_sti::<true>);
    t.set(Fxch_st0_sti, fxch);
    t.set(Fxch_st0_sti_DDC8, fxch);
    t.set(Fxch_st0_sti_DFC8, fxch);
    t.set(Fcmovb_st0_sti, fcmov::<0>);
    t.set(Fcmove_st0_sti, fcmov::<1>);
    t.set(Fcmovbe_st0_sti, fcmov::<2>);
    t.set(Fcmovu_st0_sti, fcmov::<3>);
    t.set(Fcmovnb_st0_sti, fcmov::<4>);
    t.set(Fcmovne_st0_sti, fcmov::<5>);
    t.set(Fcmovnbe_st0_sti, fcmov::<6>);
    t.set(Fcmovnu_st0_sti, fcmov::<7>);
    t.set(Ffree_sti, ffree::<false>);
    t.set(Ffreep_sti, ffree::<true>);
    t.set(Fincstp, fincstp::<false>);
    t.set(Fdecstp, fincstp::<true>);
}
