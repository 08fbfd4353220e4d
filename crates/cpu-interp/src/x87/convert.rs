//! Conversions between the extended format and the memory formats of the
//! x87: single and double reals (FLD/FST m32/m64), 16/32/64-bit integers
//! (FILD/FIST), 18-digit packed BCD (FBLD/FBSTP), and rounding to an
//! integral value (FRNDINT and the integer stores share it). Conversions to
//! memory honour the rounding control but not precision control; results
//! that an unmasked exception forbids storing come back as `None`.

use super::env::{Ctx, Rounding, C1, DE, IE, OE, PE, UE};
use super::f80::{Class, BIAS, F80, J_BIT, QUIET_BIT};
use super::round::shr_sticky;
use super::unpack::{finite, Finite};

/// Bits of a binary interchange format.
#[derive(Clone, Copy)]
struct Format {
    /// Significand bits including the hidden one.
    mant: u32,
    /// Exponent bits.
    exp_bits: u32,
}

const SINGLE: Format = Format {
    mant: 24,
    exp_bits: 8,
};
const DOUBLE: Format = Format {
    mant: 53,
    exp_bits: 11,
};

impl Format {
    fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    fn exp_all_ones(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    fn total(self) -> u32 {
        self.mant + self.exp_bits
    }
    fn pack(self, sign: bool, exp: u64, frac: u64) -> u64 {
        ((sign as u64) << (self.total() - 1))
            | (exp << (self.mant - 1))
            | (frac & ((1 << (self.mant - 1)) - 1))
    }
}

/// The exact extended value of a memory real, SNaNs left signalling, and
/// whether it was a denormal in its own format.
fn decode(bits: u64, fmt: Format) -> (F80, bool) {
    let fb = fmt.mant - 1;
    let sign = bits >> (fmt.total() - 1) & 1 != 0;
    let e = (bits >> fb) & fmt.exp_all_ones();
    let frac = bits & ((1 << fb) - 1);
    if e == fmt.exp_all_ones() {
        if frac == 0 {
            return (F80::INFINITY.with_sign(sign), false);
        }
        return (F80::new(sign, 0x7FFF, J_BIT | (frac << (63 - fb))), false);
    }
    if e == 0 {
        if frac == 0 {
            return (F80::new(sign, 0, 0), false);
        }
        let lz = frac.leading_zeros();
        let sig = frac << lz;
        // value = frac * 2^(1 - bias - fb)
        let exp = 1 - fmt.bias() - fb as i32 + 63 - lz as i32 + BIAS;
        return (F80::new(sign, exp as u16, sig), true);
    }
    (
        F80::new(
            sign,
            (e as i32 - fmt.bias() + BIAS) as u16,
            J_BIT | (frac << (63 - fb)),
        ),
        false,
    )
}

fn load(bits: u64, fmt: Format, ctx: &mut Ctx) -> F80 {
    let (x, denormal) = decode(bits, fmt);
    if denormal {
        ctx.raise(DE);
    }
    if x.class() == Class::SNaN {
        ctx.raise(IE);
        return x.quieted();
    }
    x
}

/// A 32-bit real memory operand of an arithmetic instruction (FADD m32...):
/// the exact value with SNaNs still signalling; a source denormal is noted
/// in `ctx.src_denormal` so that the operation raises DE in its own order.
pub fn f32_operand(bits: u32, ctx: &mut Ctx) -> F80 {
    let (x, d) = decode(bits as u64, SINGLE);
    ctx.src_denormal |= d;
    x
}

/// A 64-bit real memory operand of an arithmetic instruction.
pub fn f64_operand(bits: u64, ctx: &mut Ctx) -> F80 {
    let (x, d) = decode(bits, DOUBLE);
    ctx.src_denormal |= d;
    x
}

fn store(x: F80, fmt: Format, ctx: &mut Ctx) -> Option<u64> {
    let fb = fmt.mant - 1;
    let sign = x.sign();
    match x.class() {
        Class::Unsupported => {
            if ctx.signal(IE) {
                return None;
            }
            return Some(fmt.pack(true, fmt.exp_all_ones(), 1 << (fb - 1)));
        }
        Class::SNaN | Class::QNaN => {
            if x.class() == Class::SNaN && ctx.signal(IE) {
                return None;
            }
            let frac = ((x.sig | QUIET_BIT) << 1) >> (64 - fb);
            return Some(fmt.pack(sign, fmt.exp_all_ones(), frac));
        }
        Class::Infinity => return Some(fmt.pack(sign, fmt.exp_all_ones(), 0)),
        Class::Zero => return Some(fmt.pack(sign, 0, 0)),
        Class::Normal | Class::Denormal => {}
    }
    let f = finite(x);
    let rc = ctx.rounding();
    let sig = (f.sig as u128) << 64;
    let mut te = f.exp - BIAS + fmt.bias();
    let r = round_bits(sign, sig, fmt.mant, rc);
    if te < 1 {
        let carried = r.0 >> fmt.mant != 0;
        let tiny = !(carried && te == 0);
        if tiny && !ctx.masked(UE) {
            ctx.raise(UE);
            return None;
        }
        let d = shr_sticky(sig, (1 - te).min(200) as u32);
        let (kept, inexact, up) = round_bits(sign, d, fmt.mant, rc);
        if inexact {
            if tiny {
                ctx.raise(UE);
            }
            ctx.raise(PE);
        }
        if up {
            ctx.raise(C1);
        }
        let e = (kept >> fb) as u64 & 1;
        return Some(fmt.pack(sign, e, kept as u64));
    }
    let (mut kept, inexact, up) = r;
    if kept >> fmt.mant != 0 {
        kept >>= 1;
        te += 1;
    }
    if te as u64 >= fmt.exp_all_ones() {
        if ctx.signal(OE) {
            return None;
        }
        ctx.raise(PE);
        let to_inf = match rc {
            Rounding::Nearest => true,
            Rounding::Zero => false,
            Rounding::Down => sign,
            Rounding::Up => !sign,
        };
        if to_inf {
            ctx.raise(C1);
            return Some(fmt.pack(sign, fmt.exp_all_ones(), 0));
        }
        return Some(fmt.pack(sign, fmt.exp_all_ones() - 1, !0));
    }
    if inexact {
        ctx.raise(PE);
    }
    if up {
        ctx.raise(C1);
    }
    Some(fmt.pack(sign, te as u64, kept as u64))
}

/// Round the top `p` bits of `sig`: (kept, inexact, rounded up).
fn round_bits(sign: bool, sig: u128, p: u32, rc: Rounding) -> (u128, bool, bool) {
    let drop = 128 - p;
    let kept = sig >> drop;
    let rem = sig & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let up = round_up(sign, kept, rem, half, rc);
    (kept + up as u128, rem != 0, up)
}

fn round_up(sign: bool, kept: u128, rem: u128, half: u128, rc: Rounding) -> bool {
    match rc {
        Rounding::Nearest => rem > half || (rem == half && kept & 1 == 1),
        Rounding::Zero => false,
        Rounding::Down => sign && rem != 0,
        Rounding::Up => !sign && rem != 0,
    }
}

/// FLD m32.
pub fn from_f32(bits: u32, ctx: &mut Ctx) -> F80 {
    load(bits as u64, SINGLE, ctx)
}

/// FLD m64.
pub fn from_f64(bits: u64, ctx: &mut Ctx) -> F80 {
    load(bits, DOUBLE, ctx)
}

/// FST m32.
pub fn to_f32(x: F80, ctx: &mut Ctx) -> Option<u32> {
    store(x, SINGLE, ctx).map(|b| b as u32)
}

/// FST m64.
pub fn to_f64(x: F80, ctx: &mut Ctx) -> Option<u64> {
    store(x, DOUBLE, ctx)
}

/// FILD (any width): always exact.
pub fn from_i64(v: i64) -> F80 {
    if v == 0 {
        return F80::ZERO;
    }
    let m = v.unsigned_abs();
    let lz = m.leading_zeros();
    F80::new(v < 0, (BIAS + 63 - lz as i32) as u16, m << lz)
}

/// The integral magnitude of a finite value rounded per `rc`; `None` if it
/// does not fit in 64 bits. Also (inexact, rounded up).
fn round_int(f: Finite, rc: Rounding) -> (Option<u64>, bool, bool) {
    let frac_bits = BIAS + 63 - f.exp; // bits of sig below the binary point
    if frac_bits < 0 {
        return (None, false, false);
    }
    if frac_bits == 0 {
        return (Some(f.sig), false, false);
    }
    let sig = (f.sig as u128) << 64;
    let shift = (frac_bits as u32).saturating_add(64).min(200);
    let (kept, rem, half) = if shift >= 128 {
        (0u128, sig, if shift == 128 { 1u128 << 127 } else { 0 })
    } else {
        (
            sig >> shift,
            sig & ((1u128 << shift) - 1),
            1u128 << (shift - 1),
        )
    };
    // half == 0 marks "far below one half": rem is non-zero but < half.
    let up = if half == 0 {
        match rc {
            Rounding::Nearest | Rounding::Zero => false,
            Rounding::Down => f.sign,
            Rounding::Up => !f.sign,
        }
    } else {
        round_up(f.sign, kept, rem, half, rc)
    };
    let v = kept + up as u128;
    ((v >> 64 == 0).then_some(v as u64), rem != 0, up)
}

/// FRNDINT's rounding (also what FIST uses): not subject to precision control.
pub fn round_to_int(x: F80, ctx: &mut Ctx) -> F80 {
    match x.class() {
        Class::Unsupported => {
            ctx.raise(IE);
            return F80::INDEFINITE;
        }
        Class::SNaN => {
            ctx.raise(IE);
            return x.quieted();
        }
        Class::QNaN | Class::Infinity | Class::Zero => return x,
        Class::Denormal => {
            if ctx.signal(DE) {
                return x;
            }
        }
        Class::Normal => {}
    }
    let f = finite(x);
    if f.exp >= BIAS + 63 {
        return x;
    }
    let (v, inexact, up) = round_int(f, ctx.rounding());
    if inexact {
        ctx.raise(PE);
    }
    if up {
        ctx.raise(C1);
    }
    match v {
        Some(0) | None => F80::new(f.sign, 0, 0),
        Some(m) => from_i64(m as i64).with_sign(f.sign).with_sig_from(m),
    }
}

impl F80 {
    /// Helper for `round_to_int`: a normalised positive integer magnitude.
    fn with_sig_from(self, m: u64) -> F80 {
        let lz = m.leading_zeros();
        F80::new(self.sign(), (BIAS + 63 - lz as i32) as u16, m << lz)
    }
}

/// FIST/FISTP to a `bits`-wide integer (16, 32 or 64). `None` = unmasked IE.
pub fn to_int(x: F80, bits: u32, ctx: &mut Ctx) -> Option<i64> {
    let indefinite = i64::MIN >> (64 - bits);
    let invalid = |ctx: &mut Ctx| {
        if ctx.signal(IE) {
            None
        } else {
            Some(indefinite)
        }
    };
    match x.class() {
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Infinity => return invalid(ctx),
        Class::Zero => return Some(0),
        Class::Normal | Class::Denormal => {}
    }
    let f = finite(x);
    let (v, inexact, up) = round_int(f, ctx.rounding());
    let limit = 1u64 << (bits - 1); // |min| of the width
    let fits = match v {
        Some(m) => m < limit || (f.sign && m == limit),
        None => false,
    };
    if !fits {
        return invalid(ctx);
    }
    if inexact {
        ctx.raise(PE);
    }
    if up {
        ctx.raise(C1);
    }
    let m = v.unwrap_or(0);
    Some(if f.sign {
        (m as i64).wrapping_neg()
    } else {
        m as i64
    })
}

/// FBLD: 18 BCD digits and a sign bit; digits above 9 are not checked
/// (the result is undefined on hardware; we weigh the nibble as is).
pub fn from_bcd(b: [u8; 10]) -> F80 {
    let mut m: u64 = 0;
    for i in (0..9).rev() {
        m = m * 100 + (b[i] >> 4) as u64 * 10 + (b[i] & 15) as u64;
    }
    let sign = b[9] & 0x80 != 0;
    if m == 0 {
        return F80::new(sign, 0, 0);
    }
    from_i64(m as i64).with_sign(sign)
}

/// FBSTP: round per RC, 18 digits; `None` = unmasked IE.
pub fn to_bcd(x: F80, ctx: &mut Ctx) -> Option<[u8; 10]> {
    const INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];
    let invalid = |ctx: &mut Ctx| {
        if ctx.signal(IE) {
            None
        } else {
            Some(INDEFINITE)
        }
    };
    let (sign, m) = match x.class() {
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Infinity => return invalid(ctx),
        Class::Zero => (x.sign(), 0),
        Class::Normal | Class::Denormal => {
            let f = finite(x);
            let (v, inexact, up) = round_int(f, ctx.rounding());
            match v {
                Some(m) if m <= 999_999_999_999_999_999 => {
                    if inexact {
                        ctx.raise(PE);
                    }
                    if up {
                        ctx.raise(C1);
                    }
                    (f.sign, m)
                }
                _ => return invalid(ctx),
            }
        }
    };
    let mut out = [0u8; 10];
    let mut m = m;
    for byte in out.iter_mut().take(9) {
        let lo = (m % 10) as u8;
        m /= 10;
        let hi = (m % 10) as u8;
        m /= 10;
        *byte = (hi << 4) | lo;
    }
    out[9] = (sign as u8) << 7;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Ctx {
        Ctx::new(0x037F)
    }

    #[test]
    fn f64_round_trips_and_denormals_raise_de() {
        for v in [1.0f64, -2.5, 1e300, 1e-300, f64::MAX, f64::MIN_POSITIVE] {
            let x = from_f64(v.to_bits(), &mut c());
            assert_eq!(to_f64(x, &mut c()), Some(v.to_bits()));
        }
        let mut ctx = c();
        let d = from_f64(5e-324f64.to_bits(), &mut ctx);
        assert_eq!(ctx.flags, DE);
        assert_eq!(d, F80::new(false, (BIAS - 1074) as u16, J_BIT));
        assert_eq!(to_f64(d, &mut c()), Some(1));
        assert_eq!(
            from_f32(1.5f32.to_bits(), &mut c()),
            from_f64(1.5f64.to_bits(), &mut c())
        );
    }

    #[test]
    fn narrowing_rounds_and_overflows() {
        let mut ctx = c();
        let third = F80::new(false, 0x3FFD, 0xAAAA_AAAA_AAAA_AAAB);
        assert_eq!(to_f32(third, &mut ctx), Some((1.0f32 / 3.0).to_bits()));
        assert_eq!(ctx.flags, PE | C1, "0xAAAAAB: rounded up");
        let mut ctx = c();
        let big = from_f64(1e300f64.to_bits(), &mut ctx);
        assert_eq!(to_f32(big, &mut ctx), Some(f32::INFINITY.to_bits()));
        assert_eq!(ctx.flags, OE | PE | C1);
        let mut ctx = Ctx::new(0x0F7F);
        assert_eq!(to_f32(big, &mut ctx), Some(f32::MAX.to_bits()));
        let mut ctx = c();
        let snan = F80::new(false, 0x7FFF, J_BIT | 1 << 40);
        assert_eq!(to_f64(snan, &mut ctx), Some(0x7FF8_0000_2000_0000));
        assert_eq!(ctx.flags, IE);
    }

    #[test]
    fn integers_and_rounding_modes() {
        let x = from_f64(2.5f64.to_bits(), &mut c());
        assert_eq!(to_int(x, 32, &mut c()), Some(2));
        assert_eq!(to_int(x, 32, &mut Ctx::new(0x087F)), Some(3));
        assert_eq!(to_int(x.neg(), 32, &mut Ctx::new(0x047F)), Some(-3));
        assert_eq!(to_int(from_i64(40000), 16, &mut c()), Some(-32768));
        assert_eq!(to_int(from_i64(-32768), 16, &mut c()), Some(-32768));
        assert_eq!(to_int(from_i64(i64::MIN), 64, &mut c()), Some(i64::MIN));
        assert_eq!(to_int(F80::INDEFINITE, 16, &mut Ctx::new(0x037E)), None);
        let r = round_to_int(from_f64((-0.25f64).to_bits(), &mut c()), &mut c());
        assert_eq!(r, F80::NEG_ZERO);
        assert_eq!(round_to_int(x, &mut Ctx::new(0x0B7F)), from_i64(3));
    }

    #[test]
    fn packed_bcd_both_ways() {
        let b = [0x21, 0x43, 0, 0, 0, 0, 0, 0, 0x99, 0x80];
        let x = from_bcd(b);
        assert_eq!(x, from_i64(-990_000_000_000_004_321));
        assert_eq!(to_bcd(x, &mut c()), Some(b));
        let mut ctx = c();
        assert_eq!(
            to_bcd(from_i64(1_000_000_000_000_000_000), &mut ctx).unwrap()[7..],
            [0xC0, 0xFF, 0xFF]
        );
        assert_eq!(ctx.flags, IE);
    }
}
