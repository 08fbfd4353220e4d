//! A 128-bit-significand binary float used only as the internal working
//! precision of the transcendental instructions: value = m * 2^(exp - 127)
//! with `m` normalised (bit 127 set) or zero, truncating arithmetic. Each
//! operation loses at most about 2^-126 relative, so a few dozen of them
//! stay some 55 bits beyond the 64-bit results they feed. Every operation
//! keeps a sticky low bit, so a result that only differs from a
//! representable value by less than its precision still rounds the right
//! way.

use super::env::{Ctx, Precision};
use super::f80::{BIAS, F80};
use super::round::round_pack;
use super::unpack::finite;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct W {
    pub neg: bool,
    pub exp: i32,
    pub m: u128,
}

const LO: u128 = u64::MAX as u128;

// Named methods rather than operator traits: each one truncates with a
// sticky bit, which `a + b` would hide.
#[allow(clippy::should_implement_trait)]
impl W {
    pub const ZERO: W = W {
        neg: false,
        exp: 0,
        m: 0,
    };
    pub const ONE: W = W {
        neg: false,
        exp: 0,
        m: 1 << 127,
    };

    /// `v * 2^e2` for an unsigned integer `v`.
    pub fn from_int(v: u128, e2: i32) -> W {
        if v == 0 {
            return W::ZERO;
        }
        let lz = v.leading_zeros();
        W {
            neg: false,
            exp: 127 - lz as i32 + e2,
            m: v << lz,
        }
    }

    /// A finite, non-zero extended value.
    pub fn from_f80(x: F80) -> W {
        let f = finite(x);
        W {
            neg: f.sign,
            exp: f.exp - BIAS,
            m: (f.sig as u128) << 64,
        }
    }

    /// Rounds to the extended format under `ctx` (64-bit precision). The
    /// result is reported inexact (PE) like the x87 does for its
    /// transcendentals; a value that is exactly representable is delivered
    /// as it is, anything else rounds with its sticky bit.
    pub fn to_f80(self, ctx: &mut Ctx) -> F80 {
        if self.m == 0 {
            return F80::new(self.neg, 0, 0);
        }
        let r = round_pack(self.neg, self.exp + BIAS, self.m, Precision::P64, ctx);
        ctx.raise(super::env::PE);
        r
    }

    pub fn is_zero(self) -> bool {
        self.m == 0
    }

    pub fn neg(self) -> W {
        W {
            neg: !self.neg,
            ..self
        }
    }

    pub fn abs(self) -> W {
        W { neg: false, ..self }
    }

    pub fn scale(self, k: i32) -> W {
        if self.m == 0 {
            self
        } else {
            W {
                exp: self.exp + k,
                ..self
            }
        }
    }

    fn norm(neg: bool, exp: i32, m: u128) -> W {
        if m == 0 {
            return W::ZERO;
        }
        let lz = m.leading_zeros();
        W {
            neg,
            exp: exp - lz as i32,
            m: m << lz,
        }
    }

    /// Addition; bits shifted out of the smaller operand are kept as a
    /// sticky bit so the direction of the truncation error is known.
    pub fn add(self, o: W) -> W {
        if self.m == 0 {
            return o;
        }
        if o.m == 0 {
            return self;
        }
        let (a, b) = if (o.exp, o.m) > (self.exp, self.m) {
            (o, self)
        } else {
            (self, o)
        };
        let d = (a.exp - b.exp) as u32;
        let am = a.m >> 2;
        let sh = 2 + d;
        let (bm, lost) = if sh >= 128 {
            (0, true)
        } else {
            (b.m >> sh, b.m & ((1u128 << sh) - 1) != 0)
        };
        let m = if a.neg == b.neg {
            (am + bm) | lost as u128
        } else {
            (am - bm - lost as u128) | lost as u128
        };
        W::norm(a.neg, a.exp + 2, m)
    }

    pub fn sub(self, o: W) -> W {
        self.add(o.neg())
    }

    pub fn mul(self, o: W) -> W {
        if self.m == 0 || o.m == 0 {
            return W::ZERO;
        }
        let (ah, al, bh, bl) = (self.m >> 64, self.m & LO, o.m >> 64, o.m & LO);
        let (hh, hl, lh, ll) = (ah * bh, ah * bl, al * bh, al * bl);
        let mid = (ll >> 64) + (hl & LO) + (lh & LO);
        let hi = hh + (hl >> 64) + (lh >> 64) + (mid >> 64);
        let lo = (mid << 64) | (ll & LO);
        let neg = self.neg != o.neg;
        if hi >> 127 != 0 {
            W {
                neg,
                exp: self.exp + o.exp + 1,
                m: hi | (lo != 0) as u128,
            }
        } else {
            W {
                neg,
                exp: self.exp + o.exp,
                m: (hi << 1) | (lo >> 127) | (lo << 1 != 0) as u128,
            }
        }
    }

    /// Division (the divisor must be non-zero).
    pub fn div(self, o: W) -> W {
        if self.m == 0 || o.m == 0 {
            return W::ZERO;
        }
        let b = o.m;
        let mut r = self.m;
        let mut over = false;
        let mut q: u128 = 0;
        for _ in 0..128 {
            let take = over || r >= b;
            let nr = if take { r.wrapping_sub(b) } else { r };
            q = (q << 1) | take as u128;
            over = nr >> 127 != 0;
            r = nr << 1;
        }
        let sticky = r != 0 || over;
        W::norm(self.neg != o.neg, self.exp - o.exp, q | sticky as u128)
    }

    pub fn div_small(self, k: u64) -> W {
        self.div(W::from_int(k as u128, 0))
    }

    /// Square root of a non-negative value (Newton from a host estimate).
    pub fn sqrt(self) -> W {
        if self.m == 0 {
            return W::ZERO;
        }
        // Bring the exponent to an even one, estimate with f64.
        let e = self.exp & !1;
        let x = W {
            exp: self.exp - e,
            ..self
        };
        let est = ((x.m >> 64) as f64 * 2f64.powi(x.exp - 63)).sqrt();
        let mut y = W::from_int((est * 2f64.powi(52)) as u128, -52);
        for _ in 0..3 {
            y = y.add(x.div(y)).scale(-1);
        }
        y.scale(e / 2)
    }

    /// True if |self| < 2^k.
    pub fn below_pow2(self, k: i32) -> bool {
        self.m == 0 || self.exp < k
    }

    /// A host approximation, for tests.
    pub fn to_f64(self) -> f64 {
        let v = (self.m >> 64) as f64 * 2f64.powi(self.exp - 63);
        if self.neg {
            -v
        } else {
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(x: f64) -> W {
        let b = x.abs().to_bits();
        let e = ((b >> 52) as i32) - 1023;
        let m = ((b & ((1 << 52) - 1)) | (1 << 52)) as u128;
        let r = W::from_int(m, e - 52);
        if x < 0.0 {
            r.neg()
        } else {
            r
        }
    }

    #[test]
    fn arithmetic_matches_the_host_roughly() {
        assert_eq!(w(1.5).add(w(2.25)).to_f64(), 3.75);
        assert_eq!(w(1.5).sub(w(2.25)).to_f64(), -0.75);
        assert_eq!(w(-3.0).mul(w(7.0)).to_f64(), -21.0);
        assert_eq!(w(1.0).div(w(8.0)).to_f64(), 0.125);
        assert!((w(1.0).div(w(3.0)).to_f64() - 1.0 / 3.0).abs() < 1e-16);
        assert!((w(2.0).sqrt().to_f64() - 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(w(144.0).sqrt().to_f64(), 12.0);
    }

    #[test]
    fn division_is_precise_to_127_bits() {
        // 1/3 * 3 = 1 - 2^-128ish
        let t = W::ONE.div(w(3.0)).mul(w(3.0));
        let err = W::ONE.sub(t);
        assert!(err.is_zero() || err.exp < -124, "{err:?}");
    }
}
