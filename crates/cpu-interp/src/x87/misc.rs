//! FSCALE, FXTRACT and the partial remainders FPREM/FPREM1 (with the
//! quotient bits they leave in C0/C3/C1 and the C2 "incomplete" flag).
//! None of these is subject to precision control.

use super::convert::from_i64;
use super::env::{Ctx, Precision, C0, C1, C2, C3, IE, ZE};
use super::f80::{Class, BIAS, F80};
use super::round::round_pack;
use super::unpack::{denormal_check, finite, screen1, screen2};

/// FSCALE: st(0) * 2^trunc(st(1)).
pub fn scale(a: F80, b: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen2(a, b, ctx) {
        return r;
    }
    let (ca, cb) = (a.class(), b.class());
    if cb == Class::Infinity {
        let invalid = if b.sign() {
            ca == Class::Infinity
        } else {
            ca == Class::Zero
        };
        if invalid {
            ctx.raise(IE);
            return F80::INDEFINITE;
        }
    }
    if denormal_check(&[a, b], ctx) {
        return a;
    }
    match (ca, cb) {
        (Class::Zero | Class::Infinity, _) => return a,
        (_, Class::Infinity) => {
            return if b.sign() {
                F80::new(a.sign(), 0, 0)
            } else {
                F80::INFINITY.with_sign(a.sign())
            };
        }
        _ => {}
    }
    let n: i32 = match cb {
        Class::Zero => return a.repacked(),
        _ => {
            let f = finite(b);
            let int_bits = f.exp - BIAS + 1; // bits of sig above the binary point
            let mag = if int_bits <= 0 {
                0
            } else if int_bits > 20 {
                1 << 20
            } else {
                (f.sig >> (64 - int_bits)) as i32
            };
            if f.sign {
                -mag
            } else {
                mag
            }
        }
    };
    let x = finite(a);
    round_pack(x.sign, x.exp + n + 64, x.sig as u128, Precision::P64, ctx)
}

/// FXTRACT: (significand, exponent); the significand goes to st(0).
pub fn xtract(a: F80, ctx: &mut Ctx) -> (F80, F80) {
    if let Some(r) = screen1(a, ctx) {
        return (r, r);
    }
    match a.class() {
        Class::Zero => {
            ctx.raise(ZE);
            return (a, F80::NEG_INFINITY);
        }
        Class::Infinity => return (a, F80::INFINITY),
        _ => {}
    }
    if denormal_check(&[a], ctx) {
        return (a, a);
    }
    let f = finite(a);
    (
        F80::new(f.sign, BIAS as u16, f.sig),
        from_i64((f.exp - BIAS) as i64),
    )
}

/// FPREM (truncating, `ieee == false`) or FPREM1 (round to nearest).
/// Returns the new st(0) and the condition codes C0..C3 to replace, or
/// `None` for a NaN result or a stopped instruction, where the x87 clears
/// C1 and C2 and leaves C0 and C3 alone. (C1 is a quotient bit here, so the
/// rounding's C1 is dropped from `ctx`.)
pub fn prem(a: F80, b: F80, ieee: bool, ctx: &mut Ctx) -> (F80, Option<u16>) {
    let r = prem_inner(a, b, ieee, ctx);
    ctx.flags &= !C1;
    r
}

fn prem_inner(a: F80, b: F80, ieee: bool, ctx: &mut Ctx) -> (F80, Option<u16>) {
    if let Some(r) = screen2(a, b, ctx) {
        return (r, None);
    }
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Infinity || cb == Class::Zero {
        ctx.raise(IE);
        return (F80::INDEFINITE, None);
    }
    if denormal_check(&[a, b], ctx) {
        return (a, None);
    }
    if ca == Class::Zero {
        return (a, Some(0));
    }
    let x = finite(a);
    if cb == Class::Infinity {
        return (a.repacked(), Some(0));
    }
    let y = finite(b);
    let d = x.exp - y.exp;
    if d < -1 || (d == -1 && !ieee) {
        // The dividend is the remainder, but it goes through the rounder
        // (an unmasked UE fires for a denormal dividend).
        return (
            round_pack(x.sign, x.exp + 64, x.sig as u128, Precision::P64, ctx),
            Some(0),
        );
    }
    if d >= 64 {
        let n = 32 + (d & 31);
        let num = (x.sig as u128) << n;
        let rem = num % y.sig as u128;
        let unit = y.exp + (d - n);
        let r = round_pack(x.sign, unit + 64, rem, Precision::P64, ctx);
        return (if rem == 0 { F80::new(x.sign, 0, 0) } else { r }, Some(C2));
    }
    let (num, den, unit) = if d >= 0 {
        ((x.sig as u128) << d, y.sig as u128, y.exp)
    } else {
        (x.sig as u128, (y.sig as u128) << 1, y.exp - 1)
    };
    let mut q = num / den;
    let mut rem = num % den;
    let mut sign = x.sign;
    if ieee && (2 * rem > den || (2 * rem == den && q & 1 == 1)) {
        q += 1;
        rem = den - rem;
        sign = !sign;
    }
    let cc = if q & 4 != 0 { C0 } else { 0 }
        | if q & 2 != 0 { C3 } else { 0 }
        | if q & 1 != 0 { C1 } else { 0 };
    if rem == 0 {
        return (F80::new(x.sign, 0, 0), Some(cc));
    }
    (
        round_pack(sign, unit + 64, rem, Precision::P64, ctx),
        Some(cc),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x87::convert::from_f64;

    fn f(v: f64) -> F80 {
        from_f64(v.to_bits(), &mut Ctx::new(0x037F))
    }

    #[test]
    fn scale_by_truncated_power() {
        let mut c = Ctx::new(0x037F);
        assert_eq!(scale(f(3.0), f(2.9), &mut c), f(12.0));
        assert_eq!(scale(f(3.0), f(-1.5), &mut c), f(1.5));
        assert_eq!(scale(F80::ZERO, F80::INFINITY, &mut c), F80::INDEFINITE);
        assert_eq!(c.flags, IE);
    }

    #[test]
    fn xtract_splits_exponent_and_significand() {
        let mut c = Ctx::new(0x037F);
        assert_eq!(xtract(f(-12.0), &mut c), (f(-1.5), f(3.0)));
        assert_eq!(xtract(F80::ZERO, &mut c), (F80::ZERO, F80::NEG_INFINITY));
        assert_eq!(c.flags, ZE);
    }

    #[test]
    fn remainders_and_quotient_bits() {
        let mut c = Ctx::new(0x037F);
        assert_eq!(prem(f(7.0), f(2.0), false, &mut c), (f(1.0), Some(C3 | C1)));
        assert_eq!(prem(f(7.0), f(2.0), true, &mut c), (f(-1.0), Some(C0)));
        assert_eq!(
            prem(f(-7.5), f(2.0), false, &mut c),
            (f(-1.5), Some(C3 | C1))
        );
        assert_eq!(prem(f(1.0), f(4.0), true, &mut c), (f(1.0), Some(0)));
        assert_eq!(prem(f(3.0), f(4.0), true, &mut c), (f(-1.0), Some(C1)));
        let (_, cc) = prem(f(1e30), f(3.0), false, &mut c);
        assert_eq!(cc, Some(C2), "exponent difference >= 64 is partial");
    }
}
