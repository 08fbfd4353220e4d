//! Rounding an exact intermediate result to the extended format: precision
//! control (24/53/64-bit significand, always with the extended exponent
//! range), the four rounding modes, denormalisation, overflow and underflow
//! with their masked and unmasked responses (the unmasked ones rebias the
//! exponent by 24576 as the x87 does for register destinations), PE and C1
//! ("rounded up").
//!
//! Tininess is detected after rounding, like the x86 does.

use super::env::{Ctx, Precision, Rounding, C1, OE, PE, UE};
use super::f80::{EXP_MAX, F80};

/// Exponent adjustment for unmasked overflow/underflow.
pub const BIAS_ADJUST: i32 = 24576;

/// Shift right, folding every bit shifted out into bit 0 ("sticky").
pub fn shr_sticky(x: u128, n: u32) -> u128 {
    if n == 0 {
        x
    } else if n >= 128 {
        (x != 0) as u128
    } else {
        (x >> n) | ((x & ((1u128 << n) - 1)) != 0) as u128
    }
}

/// Result of rounding a significand held in the top `p` bits.
struct Rounded {
    /// The kept bits, right-aligned (at most `p + 1` bits after a carry).
    kept: u128,
    inexact: bool,
    up: bool,
}

fn round_bits(sign: bool, sig: u128, p: u32, rc: Rounding) -> Rounded {
    let drop = 128 - p;
    let kept = sig >> drop;
    let rem = sig & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let up = match rc {
        Rounding::Nearest => rem > half || (rem == half && kept & 1 == 1),
        Rounding::Zero => false,
        Rounding::Down => sign && rem != 0,
        Rounding::Up => !sign && rem != 0,
    };
    Rounded {
        kept: kept + up as u128,
        inexact: rem != 0,
        up,
    }
}

/// Round `(-1)^sign * sig * 2^(exp - 16383 - 127)` to the extended format.
///
/// `sig` may have its leading one anywhere (it is normalised here); bits
/// below those kept must already include any sticky information. `exp` is
/// the biased exponent the value would have if the leading one were bit 127.
pub fn round_pack(sign: bool, exp: i32, sig: u128, prec: Precision, ctx: &mut Ctx) -> F80 {
    if sig == 0 {
        return F80::new(sign, 0, 0);
    }
    let lz = sig.leading_zeros();
    let sig = sig << lz;
    let mut exp = exp - lz as i32;
    let p = prec.bits();
    let rc = ctx.rounding();

    if exp < 1 {
        // Tiny before rounding; after rounding with an unbounded exponent?
        let r = round_bits(sign, sig, p, rc);
        let carried = r.kept >> p != 0;
        let tiny = !(carried && exp == 0);
        if tiny && !ctx.masked(UE) {
            ctx.raise(UE);
            if exp + BIAS_ADJUST >= 1 {
                return finish(sign, exp + BIAS_ADJUST, r, p, ctx);
            }
            // Still tiny after rebiasing (only FSCALE gets here): the x87
            // delivers a signed zero whatever the rounding mode.
            ctx.raise(PE);
            return F80::new(sign, 0, 0);
        }
        let shift = (1 - exp).min(1000) as u32;
        let d = shr_sticky(sig, shift);
        let r = round_bits(sign, d, p, rc);
        if r.inexact {
            if tiny {
                ctx.raise(UE);
            }
            ctx.raise(PE);
        }
        if r.up {
            ctx.raise(C1);
        }
        let sig64 = (r.kept << (64 - p)) as u64;
        let e = (sig64 >> 63) as u16; // carried into the integer bit: exponent 1
        return F80::new(sign, e, sig64);
    }

    let mut r = round_bits(sign, sig, p, rc);
    if r.kept >> p != 0 {
        r.kept >>= 1;
        exp += 1;
    }
    if exp >= EXP_MAX {
        if !ctx.masked(OE) {
            ctx.raise(OE);
            let e = exp - BIAS_ADJUST;
            if e < EXP_MAX {
                return finish_noncarry(sign, e, r, p, ctx);
            }
            // Still too large after rebiasing (only FSCALE gets here): the
            // x87 delivers a signed infinity whatever the rounding mode.
            ctx.raise(PE | C1);
            return F80::new(sign, 0x7FFF, 1 << 63);
        }
        ctx.raise(OE | PE);
        let to_inf = match rc {
            Rounding::Nearest => true,
            Rounding::Zero => false,
            Rounding::Down => sign,
            Rounding::Up => !sign,
        };
        return if to_inf {
            ctx.raise(C1);
            F80::new(sign, 0x7FFF, 1 << 63)
        } else {
            F80::new(sign, 0x7FFE, !0u64 << (64 - p))
        };
    }
    finish_noncarry(sign, exp, r, p, ctx)
}

/// Pack a rounded result whose exponent is known to be in range; handles
/// the carry out of the top bit.
fn finish(sign: bool, exp: i32, mut r: Rounded, p: u32, ctx: &mut Ctx) -> F80 {
    let mut exp = exp;
    if r.kept >> p != 0 {
        r.kept >>= 1;
        exp += 1;
    }
    finish_noncarry(sign, exp, r, p, ctx)
}

fn finish_noncarry(sign: bool, exp: i32, r: Rounded, p: u32, ctx: &mut Ctx) -> F80 {
    if r.inexact {
        ctx.raise(PE);
    }
    if r.up {
        ctx.raise(C1);
    }
    let sig64 = (r.kept << (64 - p)) as u64;
    F80::new(sign, exp.clamp(0, EXP_MAX) as u16, sig64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x87::env::EXC_MASK;

    fn ctx(cw: u16) -> Ctx {
        Ctx::new(cw)
    }

    #[test]
    fn exact_value_is_packed_without_flags() {
        let mut c = ctx(0x037F);
        let one = round_pack(false, 16383, 1u128 << 127, Precision::P64, &mut c);
        assert_eq!(one, F80::ONE);
        assert_eq!(c.flags, 0);
        // Leading one lower down is normalised.
        let mut c = ctx(0x037F);
        assert_eq!(
            round_pack(false, 16383 + 1, 1u128 << 126, Precision::P64, &mut c),
            F80::ONE
        );
    }

    #[test]
    fn nearest_even_and_directed_modes_at_24_bits() {
        // 1 + 2^-24 is exactly half an ulp at 24 bits: ties to even (down).
        let sig = (1u128 << 127) | (1u128 << (127 - 24));
        let mut c = ctx(0x007F);
        let r = round_pack(false, 16383, sig, Precision::P24, &mut c);
        assert_eq!(r, F80::ONE);
        assert_eq!(c.flags, PE);
        let mut c = ctx(0x087F);
        let r = round_pack(false, 16383, sig, Precision::P24, &mut c);
        assert_eq!(r.sig, (1 << 63) | (1 << 40));
        assert_eq!(c.flags, PE | C1);
        let mut c = ctx(0x087F);
        let r = round_pack(true, 16383, sig, Precision::P24, &mut c);
        assert_eq!(r, F80::ONE.neg(), "up mode truncates negatives");
    }

    #[test]
    fn overflow_masked_and_unmasked() {
        let mut c = ctx(0x037F);
        let r = round_pack(false, 0x7FFF, 1u128 << 127, Precision::P64, &mut c);
        assert_eq!(r, F80::INFINITY);
        assert_eq!(c.flags & EXC_MASK, OE | PE);
        let mut c = ctx(0x0F7F);
        let r = round_pack(true, 0x7FFF, 1u128 << 127, Precision::P53, &mut c);
        assert_eq!(r, F80::new(true, 0x7FFE, !0u64 << 11));
        let mut c = ctx(0x0377);
        let r = round_pack(false, 0x7FFF, 1u128 << 127, Precision::P64, &mut c);
        assert_eq!(r, F80::new(false, (0x7FFF - BIAS_ADJUST) as u16, 1 << 63));
        assert_eq!(c.flags, OE);
    }

    #[test]
    fn underflow_denormalises_and_flags_only_when_inexact() {
        let mut c = ctx(0x037F);
        let r = round_pack(false, 0, 1u128 << 127, Precision::P64, &mut c);
        assert_eq!(r, F80::new(false, 0, 1 << 62));
        assert_eq!(c.flags, 0, "exact tiny result: no UE when masked");
        let mut c = ctx(0x037F);
        let r = round_pack(false, -70, (1u128 << 127) | 1, Precision::P64, &mut c);
        assert_eq!(r, F80::ZERO);
        assert_eq!(c.flags, UE | PE);
        let mut c = ctx(0x036F);
        let r = round_pack(false, 0, 1u128 << 127, Precision::P64, &mut c);
        assert_eq!(r, F80::new(false, BIAS_ADJUST as u16, 1 << 63));
        assert_eq!(c.flags, UE, "unmasked: tiny alone is enough");
    }

    #[test]
    fn shr_sticky_keeps_lost_bits() {
        assert_eq!(shr_sticky(0b10001, 3), 0b11);
        assert_eq!(shr_sticky(0b1000, 3), 0b1);
        assert_eq!(shr_sticky(5, 200), 1);
        assert_eq!(shr_sticky(0, 200), 0);
    }
}
