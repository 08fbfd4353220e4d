//! The basic arithmetic of the x87 (FADD/FSUB/FMUL/FDIV/FSQRT and their
//! reversed, popping and integer-operand forms all reduce to these): exact
//! intermediate results in 128-bit integers, rounded once under the control
//! word's precision and rounding control by `round::round_pack`.
//!
//! Special operands follow the x87: NaN propagation and unsupported
//! encodings per `unpack`, IE with the default indefinite for inf-inf,
//! 0*inf, 0/0, inf/inf and sqrt of a negative, ZE with a signed infinity for
//! x/0, DE (and the option to stop if it is unmasked) for denormal operands.

use super::env::{Ctx, Rounding, IE, ZE};
use super::f80::{Class, BIAS, F80};
use super::round::{round_pack, shr_sticky};
use super::unpack::{denormal_check, finite, screen1, screen2};

/// Round a finite non-zero operand to the current precision (x + 0).
fn round_operand(x: F80, ctx: &mut Ctx) -> F80 {
    let f = finite(x);
    round_pack(f.sign, f.exp + 64, f.sig as u128, ctx.precision(), ctx)
}

/// The sign of an exact zero sum of opposite-signed values.
fn zero_sum_sign(ctx: &Ctx) -> bool {
    ctx.rounding() == Rounding::Down
}

/// a + b.
pub fn add(a: F80, b: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen2(a, b, ctx) {
        return r;
    }
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Infinity && cb == Class::Infinity && a.sign() != b.sign() {
        ctx.raise(IE);
        return F80::INDEFINITE;
    }
    if denormal_check(&[a, b], ctx) {
        return F80::INDEFINITE;
    }
    match (ca, cb) {
        (Class::Infinity, _) => return a,
        (_, Class::Infinity) => return b,
        (Class::Zero, Class::Zero) => {
            let s = if a.sign() == b.sign() {
                a.sign()
            } else {
                zero_sum_sign(ctx)
            };
            return F80::new(s, 0, 0);
        }
        (Class::Zero, _) => return round_operand(b, ctx),
        (_, Class::Zero) => return round_operand(a, ctx),
        _ => {}
    }
    let (mut x, mut y) = (finite(a), finite(b));
    if y.exp > x.exp || (y.exp == x.exp && y.sig > x.sig) {
        std::mem::swap(&mut x, &mut y);
    }
    let big = (x.sig as u128) << 63;
    let small = shr_sticky((y.sig as u128) << 63, (x.exp - y.exp) as u32);
    let sum = if x.sign == y.sign {
        big + small
    } else {
        big - small
    };
    if sum == 0 {
        return F80::new(zero_sum_sign(ctx), 0, 0);
    }
    round_pack(x.sign, x.exp + 1, sum, ctx.precision(), ctx)
}

/// a - b.
pub fn sub(a: F80, b: F80, ctx: &mut Ctx) -> F80 {
    // NaN selection looks at the operands as given, so negate only non-NaNs.
    let nb = if b.is_nan() { b } else { b.neg() };
    add(a, nb, ctx)
}

/// a * b.
pub fn mul(a: F80, b: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen2(a, b, ctx) {
        return r;
    }
    let (ca, cb) = (a.class(), b.class());
    let sign = a.sign() != b.sign();
    if (ca == Class::Infinity && cb == Class::Zero) || (ca == Class::Zero && cb == Class::Infinity)
    {
        ctx.raise(IE);
        return F80::INDEFINITE;
    }
    if denormal_check(&[a, b], ctx) {
        return F80::INDEFINITE;
    }
    if ca == Class::Infinity || cb == Class::Infinity {
        return F80::INFINITY.with_sign(sign);
    }
    if ca == Class::Zero || cb == Class::Zero {
        return F80::new(sign, 0, 0);
    }
    let (x, y) = (finite(a), finite(b));
    let prod = x.sig as u128 * y.sig as u128;
    round_pack(sign, x.exp + y.exp - BIAS + 1, prod, ctx.precision(), ctx)
}

/// a / b.
pub fn div(a: F80, b: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen2(a, b, ctx) {
        return r;
    }
    let (ca, cb) = (a.class(), b.class());
    let sign = a.sign() != b.sign();
    if (ca == Class::Infinity && cb == Class::Infinity) || (ca == Class::Zero && cb == Class::Zero)
    {
        ctx.raise(IE);
        return F80::INDEFINITE;
    }
    if cb == Class::Zero && ca != Class::Infinity {
        // x / 0 takes precedence over a denormal dividend.
        ctx.raise(ZE);
        return F80::INFINITY.with_sign(sign);
    }
    if denormal_check(&[a, b], ctx) {
        return F80::INDEFINITE;
    }
    match (ca, cb) {
        (Class::Infinity, _) => return F80::INFINITY.with_sign(sign),
        (_, Class::Infinity) | (Class::Zero, _) => return F80::new(sign, 0, 0),
        _ => {}
    }
    let (x, y) = (finite(a), finite(b));
    let num = (x.sig as u128) << 63;
    let d = y.sig as u128;
    let q_hi = num / d;
    let r = num % d;
    let q_lo = (r << 64) / d;
    let r2 = (r << 64) % d;
    let q = (q_hi << 64) | q_lo | (r2 != 0) as u128;
    round_pack(sign, x.exp - y.exp + BIAS, q, ctx.precision(), ctx)
}

/// The square root.
pub fn sqrt(a: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen1(a, ctx) {
        return r;
    }
    match a.class() {
        Class::Zero => return a,
        Class::Infinity if !a.sign() => return a,
        _ if a.sign() => {
            ctx.raise(IE);
            return F80::INDEFINITE;
        }
        _ => {}
    }
    if denormal_check(&[a], ctx) {
        return F80::INDEFINITE;
    }
    let x = finite(a);
    // value = sig * 2^k with k = exp - BIAS - 63; make k - s even.
    let k = x.exp - BIAS - 63;
    let s: i32 = if k.rem_euclid(2) == 0 { 64 } else { 63 };
    let n = (x.sig as u128) << s;
    let root = n.isqrt();
    let rem = n - root * root;
    let guard = rem > root;
    let sig = (root << 64) | ((guard as u128) << 63) | (rem != 0) as u128;
    let e = (k - s) / 2 - 64 + BIAS + 127;
    round_pack(false, e, sig, ctx.precision(), ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x87::env::{DE, PE};

    fn f(x: f64) -> F80 {
        crate::x87::convert::from_f64(x.to_bits(), &mut Ctx::new(0x037F))
    }

    #[test]
    fn small_integers_are_exact() {
        let mut c = Ctx::new(0x037F);
        assert_eq!(add(f(1.5), f(2.25), &mut c), f(3.75));
        assert_eq!(sub(f(1.0), f(3.0), &mut c), f(-2.0));
        assert_eq!(mul(f(-3.0), f(7.0), &mut c), f(-21.0));
        assert_eq!(div(f(1.0), f(8.0), &mut c), f(0.125));
        assert_eq!(sqrt(f(144.0), &mut c), f(12.0));
        assert_eq!(c.flags, 0);
    }

    #[test]
    fn one_third_rounds_per_precision_control() {
        let mut c = Ctx::new(0x037F);
        let t = div(f(1.0), f(3.0), &mut c);
        assert_eq!(t, F80::new(false, 0x3FFD, 0xAAAA_AAAA_AAAA_AAAB));
        assert_eq!(c.flags & PE, PE);
        let mut c = Ctx::new(0x027F);
        let t = div(f(1.0), f(3.0), &mut c);
        assert_eq!(t, f(1.0 / 3.0));
    }

    #[test]
    fn specials() {
        let mut c = Ctx::new(0x037F);
        assert_eq!(sub(F80::INFINITY, F80::INFINITY, &mut c), F80::INDEFINITE);
        assert_eq!(c.flags, IE);
        let mut c = Ctx::new(0x037F);
        assert_eq!(div(f(-1.0), F80::ZERO, &mut c), F80::NEG_INFINITY);
        assert_eq!(c.flags, ZE);
        let mut c = Ctx::new(0x077F);
        assert_eq!(
            sub(f(2.0), f(2.0), &mut c),
            F80::NEG_ZERO,
            "x - x is -0 rounding down"
        );
        let mut c = Ctx::new(0x037F);
        assert_eq!(sqrt(f(-1.0), &mut c), F80::INDEFINITE);
        let mut c = Ctx::new(0x037F);
        let den = F80::new(false, 0, 1);
        assert_eq!(add(den, den, &mut c), F80::new(false, 0, 2));
        assert_eq!(c.flags, DE);
    }
}
