//! The transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN,
//! F2XM1, FYL2X, FYL2XP1. Results are computed in `wide::W` (about 125
//! correct bits) and rounded once under the rounding control (precision
//! control does not apply to these instructions).
//!
//! Argument reduction for the trigonometric functions uses the same 66-bit
//! approximation of pi as the x87, exactly (integer arithmetic), so results
//! agree with the hardware also for large arguments, where both differ from
//! the true function. Error bound: the value before the final rounding is
//! within 2^-100 relative of the exact function of the reduced argument, so
//! the delivered result is the correctly rounded one except within 2^-36
//! ulp of a rounding boundary; against the host x87 (itself within 1 ulp)
//! the oracle accepts 1 ulp. Operands outside the documented domains (|x| >=
//! 2^63 for the trigonometric functions: C2 = 1, operand unchanged; |x| > 1
//! for F2XM1 and x <= -1 for FYL2XP1: the operand comes back with PE, as
//! the host does) behave as on the hardware; FYL2XP1 beyond its documented
//! bound (1 - sqrt(2)/2) otherwise returns the mathematical value.

use super::env::{Ctx, C2, IE, PE, ZE};
use super::f80::{Class, BIAS, F80};
use super::unpack::{denormal_check, finite, screen1, screen2};
use super::wide::W;

/// pi rounded to 66 bits, as an integer: pi66 = PI66 * 2^-64.
const PI66: u128 = (0xC90F_DAA2_2168_C234 << 2) | 3;
/// pi to 128 bits: pi = PI128 * 2^-126.
const PI128: u128 = 0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1;

fn pi() -> W {
    W::from_int(PI128, -126)
}

/// ln 2 to 128 bits (checked against the series 2 atanh(1/3) in the tests).
fn ln2() -> W {
    W::from_int(0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF, -128)
}

/// atanh(s) = s + s^3/3 + s^5/5 + ... for |s| <= 1/3.
fn atanh(s: W) -> W {
    let s2 = s.mul(s);
    let mut p = s;
    let mut sum = s;
    for n in 1..200u64 {
        p = p.mul(s2);
        let t = p.div_small(2 * n + 1);
        if t.is_zero() || t.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(t);
    }
    sum
}

/// sin and cos of |t| <= pi/4 by their Taylor series.
fn sin_cos(t: W) -> (W, W) {
    let t2 = t.mul(t);
    let (mut s, mut ts) = (t, t);
    let (mut c, mut tc) = (W::ONE, W::ONE);
    for n in 1..60u64 {
        ts = ts.mul(t2).div_small((2 * n) * (2 * n + 1)).neg();
        tc = tc.mul(t2).div_small((2 * n - 1) * (2 * n)).neg();
        let small_s = ts.is_zero() || ts.exp < s.exp - 130;
        let small_c = tc.is_zero() || tc.exp < c.exp - 130;
        if !small_s {
            s = s.add(ts);
        }
        if !small_c {
            c = c.add(tc);
        }
        if small_s && small_c {
            break;
        }
    }
    (s, c)
}

/// exp(z) - 1 for |z| <= 1.
fn expm1(z: W) -> W {
    let mut term = z;
    let mut sum = z;
    for n in 2..80u64 {
        term = term.mul(z).div_small(n);
        if term.is_zero() || term.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(term);
    }
    sum
}

/// atan(t) for 0 <= t <= 1: three argument halvings, then the series.
fn atan01(t: W) -> W {
    let mut t = t;
    for _ in 0..3 {
        t = t.div(W::ONE.add(W::ONE.add(t.mul(t)).sqrt()));
    }
    let t2 = t.mul(t);
    let mut p = t;
    let mut sum = t;
    for n in 1..200u64 {
        p = p.mul(t2).neg();
        let term = p.div_small(2 * n + 1);
        if term.is_zero() || term.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(term);
    }
    sum.scale(3)
}

/// ln(m) for m in [sqrt(1/2), sqrt(2)].
fn ln_near1(m: W) -> W {
    atanh(m.sub(W::ONE).div(m.add(W::ONE))).scale(1)
}

/// Reduces |x| (finite, < 2^63) by multiples of pi66/2: (quadrant k mod 4,
/// t in [-pi66/4, pi66/4]) with |x| = k * pi66/2 + t exactly.
fn reduce(x: F80) -> (u32, W) {
    let f = finite(x);
    let e = f.exp - BIAS; // |x| = sig * 2^(e - 63)
    if e < -1 {
        return (0, W::from_f80(x.abs()));
    }
    // Units of 2^-65: pi66/2 = PI66 units; |x| = sig << (e + 2) units.
    let shift = (e + 2) as u32; // 1..=65
    let p = PI66;
    let mut r = (f.sig as u128) % p;
    let mut q = ((f.sig as u128) / p) as u32;
    for _ in 0..shift {
        r <<= 1;
        q <<= 1;
        if r >= p {
            r -= p;
            q |= 1;
        }
    }
    if r > p / 2 {
        (q.wrapping_add(1) & 3, W::from_int(p - r, -65).neg())
    } else {
        (q & 3, W::from_int(r, -65))
    }
}

/// Outcome of a trigonometric instruction on st(0).
pub enum Trig<T> {
    /// |x| >= 2^63: C2 = 1, nothing else changes.
    OutOfRange,
    Done(T),
}

/// Common screening of FSIN/FCOS/FSINCOS/FPTAN: NaN/invalid results.
fn trig_screen(x: F80, ctx: &mut Ctx) -> Option<F80> {
    if let Some(r) = screen1(x, ctx) {
        return Some(r);
    }
    if x.class() == Class::Infinity {
        ctx.raise(IE);
        return Some(F80::INDEFINITE);
    }
    None
}

fn out_of_range(x: F80) -> bool {
    matches!(x.class(), Class::Normal) && x.exp() >= BIAS + 63
}

/// (sin x, cos x) with the quadrant applied, for finite non-zero x.
fn sin_cos_x(x: F80) -> (W, W) {
    let (k, t) = reduce(x);
    let (s, c) = sin_cos(t);
    let (s, c) = match k {
        0 => (s, c),
        1 => (c, s.neg()),
        2 => (s.neg(), c.neg()),
        _ => (c.neg(), s),
    };
    if x.sign() {
        (s.neg(), c)
    } else {
        (s, c)
    }
}

/// FSIN.
pub fn fsin(x: F80, ctx: &mut Ctx) -> Trig<F80> {
    if let Some(r) = trig_screen(x, ctx) {
        return Trig::Done(r);
    }
    if out_of_range(x) {
        return Trig::OutOfRange;
    }
    if denormal_check(&[x], ctx) {
        return Trig::Done(x);
    }
    if x.is_zero() {
        return Trig::Done(x);
    }
    Trig::Done(sin_cos_x(x).0.to_f80(ctx))
}

/// FCOS.
pub fn fcos(x: F80, ctx: &mut Ctx) -> Trig<F80> {
    if let Some(r) = trig_screen(x, ctx) {
        return Trig::Done(r);
    }
    if out_of_range(x) {
        return Trig::OutOfRange;
    }
    if denormal_check(&[x], ctx) {
        return Trig::Done(x);
    }
    if x.is_zero() {
        return Trig::Done(F80::ONE);
    }
    Trig::Done(sin_cos_x(x).1.to_f80(ctx))
}

/// FSINCOS: (sin, cos); the sine replaces st(0), the cosine is pushed.
pub fn fsincos(x: F80, ctx: &mut Ctx) -> Trig<(F80, F80)> {
    if let Some(r) = trig_screen(x, ctx) {
        return Trig::Done((r, r));
    }
    if out_of_range(x) {
        return Trig::OutOfRange;
    }
    if denormal_check(&[x], ctx) {
        return Trig::Done((x, x));
    }
    if x.is_zero() {
        return Trig::Done((x, F80::ONE));
    }
    let (s, c) = sin_cos_x(x);
    Trig::Done((s.to_f80(ctx), c.to_f80(ctx)))
}

/// FPTAN: (tan x, the value pushed after it: 1.0, or the NaN result).
pub fn fptan(x: F80, ctx: &mut Ctx) -> Trig<(F80, F80)> {
    if let Some(r) = trig_screen(x, ctx) {
        return Trig::Done((r, r));
    }
    if out_of_range(x) {
        return Trig::OutOfRange;
    }
    if denormal_check(&[x], ctx) {
        return Trig::Done((x, F80::ONE));
    }
    if x.is_zero() {
        return Trig::Done((x, F80::ONE));
    }
    let (s, c) = sin_cos_x(x);
    Trig::Done((s.div(c).to_f80(ctx), F80::ONE))
}

/// FPATAN: atan2(y = st(1), x = st(0)).
pub fn fpatan(y: F80, x: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen2(y, x, ctx) {
        return r;
    }
    if denormal_check(&[y, x], ctx) {
        return y;
    }
    let (cy, cx) = (y.class(), x.class());
    let sign = y.sign();
    let quarter = |k: u32| pi().mul(W::from_int(k as u128, -2));
    let exact = |w: W, ctx: &mut Ctx| W { neg: sign, ..w }.to_f80(ctx);
    match (cy, cx) {
        (Class::Zero, _) => {
            return if x.sign() {
                exact(pi(), ctx)
            } else {
                F80::new(sign, 0, 0)
            };
        }
        (Class::Infinity, Class::Infinity) => {
            return exact(quarter(if x.sign() { 3 } else { 1 }), ctx)
        }
        (Class::Infinity, _) | (_, Class::Zero) => return exact(quarter(2), ctx),
        (_, Class::Infinity) => {
            return if x.sign() {
                exact(pi(), ctx)
            } else {
                F80::new(sign, 0, 0)
            };
        }
        _ => {}
    }
    let (wy, wx) = (W::from_f80(y).abs(), W::from_f80(x).abs());
    let mut theta = if (wy.exp, wy.m) > (wx.exp, wx.m) {
        quarter(2).sub(atan01(wx.div(wy)))
    } else {
        atan01(wy.div(wx))
    };
    if x.sign() {
        theta = pi().sub(theta);
    }
    exact(theta, ctx)
}

/// F2XM1: 2^x - 1.
pub fn f2xm1(x: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen1(x, ctx) {
        return r;
    }
    match x.class() {
        Class::Zero => return x,
        Class::Infinity => return if x.sign() { F80::ONE.neg() } else { x },
        _ => {}
    }
    if denormal_check(&[x], ctx) {
        return x;
    }
    if x.exp() > BIAS || (x.exp() == BIAS && x.sig != 1 << 63) {
        // Outside -1..1 the result is undefined; the P6 family hands the
        // operand back with PE set, and so do we.
        ctx.raise(PE);
        return x;
    }
    expm1(W::from_f80(x).mul(ln2())).to_f80(ctx)
}

impl W {
    fn with_sign(self, neg: bool) -> W {
        W { neg, ..self }
    }
}

/// log2 of a finite positive value.
fn log2(x: F80) -> W {
    let f = finite(x);
    let mut e = f.exp - BIAS;
    let mut m = W::from_int(f.sig as u128, -63);
    // sqrt(2) ~ 0xB504F333F9DE6484 * 2^-63
    if f.sig > 0xB504_F333_F9DE_6484 {
        m = m.scale(-1);
        e += 1;
    }
    let l = ln_near1(m).div(ln2());
    W::from_int(e.unsigned_abs() as u128, 0)
        .with_sign(e < 0)
        .add(l)
}

/// FYL2X: st(1) * log2(st(0)); `y` = st(1), `x` = st(0).
pub fn fyl2x(y: F80, x: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen2(x, y, ctx) {
        return r;
    }
    let (cy, cx) = (y.class(), x.class());
    if x.sign() && cx != Class::Zero {
        ctx.raise(IE);
        return F80::INDEFINITE;
    }
    if cx == Class::Zero && matches!(cy, Class::Normal | Class::Denormal) {
        // log2(0) * y: ZE takes precedence over a denormal y.
        ctx.raise(ZE);
        return F80::INFINITY.with_sign(!y.sign());
    }
    if denormal_check(&[y, x], ctx) {
        return y;
    }
    let x_is_one = x == F80::ONE;
    match (cx, cy) {
        (Class::Zero, Class::Zero) | (Class::Infinity, Class::Zero) => {
            ctx.raise(IE);
            return F80::INDEFINITE;
        }
        (_, Class::Infinity) if x_is_one => {
            ctx.raise(IE);
            return F80::INDEFINITE;
        }
        (Class::Zero, _) => {
            if cy != Class::Infinity {
                ctx.raise(ZE);
            }
            return F80::INFINITY.with_sign(!y.sign());
        }
        (Class::Infinity, _) => return F80::INFINITY.with_sign(y.sign()),
        _ => {}
    }
    if x_is_one {
        return F80::new(y.sign(), 0, 0);
    }
    let l = log2(x);
    if cy == Class::Infinity {
        return F80::INFINITY.with_sign(y.sign() != l.neg);
    }
    if cy == Class::Zero {
        return F80::new(y.sign() != l.neg, 0, 0);
    }
    W::from_f80(y).mul(l).to_f80(ctx)
}

/// FYL2XP1: st(1) * log2(st(0) + 1).
pub fn fyl2xp1(y: F80, x: F80, ctx: &mut Ctx) -> F80 {
    if let Some(r) = screen2(x, y, ctx) {
        return r;
    }
    let (cy, cx) = (y.class(), x.class());
    if cx == Class::Infinity && x.sign() {
        ctx.raise(IE);
        return F80::INDEFINITE;
    }
    if denormal_check(&[y, x], ctx) {
        return y;
    }
    match (cx, cy) {
        (Class::Zero, Class::Infinity) | (Class::Infinity, Class::Zero) => {
            ctx.raise(IE);
            return F80::INDEFINITE;
        }
        (Class::Zero, _) | (_, Class::Zero) => return F80::new(x.sign() != y.sign(), 0, 0),
        (Class::Infinity, _) => return F80::INFINITY.with_sign(y.sign()),
        _ => {}
    }
    if x.sign() && x.exp() >= BIAS {
        // x <= -1 has no logarithm; the P6 family hands st(0) back
        // (popped into st(1)'s place) with PE set, or an infinity of the
        // opposite sign for an infinite st(1).
        if cy == Class::Infinity {
            return F80::INFINITY.with_sign(!y.sign());
        }
        ctx.raise(PE);
        return x;
    }
    let wx = W::from_f80(x);
    let one_plus = W::ONE.add(wx);
    if one_plus.neg || one_plus.is_zero() {
        ctx.raise(IE);
        return F80::INDEFINITE;
    }
    let l = if wx.below_pow2(-2) {
        atanh(wx.div(W::ONE.add(one_plus))).scale(1).div(ln2())
    } else {
        let e = one_plus.exp;
        let m = one_plus.scale(-e);
        let (m, e) = if m.m > (0xB504_F333_F9DE_6484u128 << 64) {
            (m.scale(-1), e + 1)
        } else {
            (m, e)
        };
        W::from_int(e.unsigned_abs() as u128, 0)
            .with_sign(e < 0)
            .add(ln_near1(m).div(ln2()))
    };
    if cy == Class::Infinity {
        return F80::INFINITY.with_sign(y.sign() != l.neg);
    }
    W::from_f80(y).mul(l).to_f80(ctx)
}

/// C2 for an out-of-range trigonometric operand.
pub const OUT_OF_RANGE: u16 = C2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x87::convert::from_f64;

    fn f(v: f64) -> F80 {
        from_f64(v.to_bits(), &mut Ctx::new(0x037F))
    }
    fn c() -> Ctx {
        Ctx::new(0x037F)
    }
    fn close(x: F80, v: f64) -> bool {
        (x.to_f64_lossy() - v).abs() <= v.abs() * 1e-15 + 1e-300
    }
    fn done<T>(t: Trig<T>) -> T {
        match t {
            Trig::Done(v) => v,
            Trig::OutOfRange => panic!("out of range"),
        }
    }

    #[test]
    fn constants_and_series_agree_with_known_values() {
        assert!((ln2().to_f64() - std::f64::consts::LN_2).abs() < 1e-16);
        let series = atanh(W::ONE.div_small(3)).scale(1);
        assert!(
            ln2().sub(series).below_pow2(-118),
            "series and constant agree to ~118 bits"
        );
        assert!((pi().to_f64() - std::f64::consts::PI).abs() < 1e-15);
    }

    #[test]
    fn trig_values() {
        for v in [0.5f64, 1.0, -2.0, 3.0, 10.0, 100.0, -0.1] {
            assert!(close(done(fsin(f(v), &mut c())), v.sin()), "sin {v}");
            assert!(close(done(fcos(f(v), &mut c())), v.cos()), "cos {v}");
            assert!(close(done(fptan(f(v), &mut c())).0, v.tan()), "tan {v}");
        }
        assert!(matches!(fsin(f(1e19), &mut c()), Trig::OutOfRange));
        let mut ctx = c();
        assert_eq!(done(fsin(F80::INFINITY, &mut ctx)), F80::INDEFINITE);
        assert_eq!(ctx.flags, IE);
    }

    #[test]
    fn atan_log_exp_values() {
        for (y, x) in [
            (1.0f64, 1.0f64),
            (1.0, -2.0),
            (-3.0, 0.5),
            (1e-5, 7.0),
            (5.0, 1e-3),
        ] {
            assert!(
                close(fpatan(f(y), f(x), &mut c()), y.atan2(x)),
                "atan2 {y} {x}"
            );
        }
        for x in [0.5f64, -0.5, 1e-10, 0.99, -0.99] {
            assert!(
                close(f2xm1(f(x), &mut c()), (x * std::f64::consts::LN_2).exp_m1()),
                "f2xm1 {x}"
            );
        }
        for x in [2.0f64, 10.0, 0.3, 1e100, 1.0000001] {
            assert!(
                close(fyl2x(f(1.5), f(x), &mut c()), 1.5 * x.log2()),
                "fyl2x {x}"
            );
        }
        for x in [0.1f64, -0.2, 1e-12] {
            assert!(
                close(
                    fyl2xp1(f(3.0), f(x), &mut c()),
                    3.0 * x.ln_1p() / std::f64::consts::LN_2
                ),
                "fyl2xp1 {x}"
            );
        }
        let mut ctx = c();
        assert_eq!(fyl2x(f(1.0), F80::ZERO, &mut ctx), F80::NEG_INFINITY);
        assert_eq!(ctx.flags, ZE);
        assert_eq!(
            fpatan(F80::ZERO, f(-1.0), &mut c()),
            from_f64(std::f64::consts::PI.to_bits(), &mut c()).with_sig_pi()
        );
    }

    impl F80 {
        /// The extended pi (nearest) for the test above.
        fn with_sig_pi(self) -> F80 {
            F80::new(false, 0x4000, 0xC90F_DAA2_2168_C235)
        }
    }
}
