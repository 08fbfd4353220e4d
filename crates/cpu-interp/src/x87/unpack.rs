//! Operand screening shared by the arithmetic: unpacking finite operands to
//! a normalised significand and unbounded exponent, and the x87's rules for
//! invalid operands and NaN propagation (SDM vol. 1, 4.8.3.5 and 8.5.1):
//! unsupported encodings and SNaNs raise IE; a NaN result is the quieted
//! NaN operand, and of two NaNs the one with the larger significand wins
//! (QNaN over SNaN; on a tie the positive one).

use super::env::{Ctx, DE, IE};
use super::f80::{Class, F80};

/// A finite non-zero operand: value = sig * 2^(exp - 16383 - 63), with the
/// leading one of `sig` at bit 63 (denormals get exponents below 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finite {
    pub sign: bool,
    pub exp: i32,
    pub sig: u64,
}

/// Unpack a `Normal` or `Denormal` operand.
pub fn finite(x: F80) -> Finite {
    let e = x.exp();
    if e == 0 {
        let lz = x.sig.leading_zeros();
        Finite {
            sign: x.sign(),
            exp: 1 - lz as i32,
            sig: x.sig << lz,
        }
    } else {
        Finite {
            sign: x.sign(),
            exp: e,
            sig: x.sig,
        }
    }
}

/// Pick the NaN result of an operation with the NaN operand(s) among `a`
/// and `b`; raises IE for an SNaN. Returns `None` if neither is a NaN.
pub fn propagate_nan2(a: F80, b: F80, ctx: &mut Ctx) -> Option<F80> {
    let (ca, cb) = (a.class(), b.class());
    let an = matches!(ca, Class::QNaN | Class::SNaN);
    let bn = matches!(cb, Class::QNaN | Class::SNaN);
    if ca == Class::SNaN || cb == Class::SNaN {
        ctx.raise(IE);
    }
    match (an, bn) {
        (false, false) => None,
        (true, false) => Some(a.quieted()),
        (false, true) => Some(b.quieted()),
        (true, true) => {
            let aq = ca == Class::QNaN;
            let bq = cb == Class::QNaN;
            let pick_a = if aq != bq {
                aq
            } else {
                let (sa, sb) = (a.sig & !(1 << 62), b.sig & !(1 << 62));
                if sa != sb {
                    sa > sb
                } else {
                    !a.sign() || b.sign()
                }
            };
            Some(if pick_a { a.quieted() } else { b.quieted() })
        }
    }
}

/// Screen two operands: unsupported encodings and NaNs. Returns the result
/// to deliver if screening decides it.
pub fn screen2(a: F80, b: F80, ctx: &mut Ctx) -> Option<F80> {
    if a.class() == Class::Unsupported || b.class() == Class::Unsupported {
        ctx.raise(IE);
        return Some(F80::INDEFINITE);
    }
    propagate_nan2(a, b, ctx)
}

/// Screen one operand.
pub fn screen1(a: F80, ctx: &mut Ctx) -> Option<F80> {
    match a.class() {
        Class::Unsupported => {
            ctx.raise(IE);
            Some(F80::INDEFINITE)
        }
        Class::SNaN => {
            ctx.raise(IE);
            Some(a.quieted())
        }
        Class::QNaN => Some(a),
        _ => None,
    }
}

/// Raise DE if any operand is a denormal; true if DE is unmasked (stop).
pub fn denormal_check(xs: &[F80], ctx: &mut Ctx) -> bool {
    if ctx.src_denormal || xs.iter().any(|x| x.class() == Class::Denormal) {
        ctx.signal(DE)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QA: F80 = F80::new(false, 0x7FFF, 0xC000_0000_0000_0005);
    const QB: F80 = F80::new(true, 0x7FFF, 0xC000_0000_0000_0009);
    const SA: F80 = F80::new(false, 0x7FFF, 0x8000_0000_0000_0100);

    #[test]
    fn larger_significand_wins_and_qnan_beats_snan() {
        let mut c = Ctx::new(0x037F);
        assert_eq!(propagate_nan2(QA, QB, &mut c), Some(QB));
        assert_eq!(c.flags, 0);
        assert_eq!(propagate_nan2(SA, QA, &mut c), Some(QA));
        assert_eq!(c.flags, IE);
        let mut c = Ctx::new(0x037F);
        assert_eq!(propagate_nan2(SA, F80::ONE, &mut c), Some(SA.quieted()));
        assert_eq!(
            propagate_nan2(F80::ONE, F80::ONE, &mut c),
            Some(F80::ONE).filter(|_| false)
        );
    }

    #[test]
    fn unsupported_gives_indefinite_and_denormal_unpacks() {
        let mut c = Ctx::new(0x037F);
        let unnormal = F80::new(false, 0x4000, 0x4000_0000_0000_0000);
        assert_eq!(screen2(unnormal, QA, &mut c), Some(F80::INDEFINITE));
        assert_eq!(c.flags, IE);
        let d = finite(F80::new(true, 0, 1));
        assert_eq!(
            d,
            Finite {
                sign: true,
                exp: -62,
                sig: 1 << 63
            }
        );
        let pd = finite(F80::new(false, 0, 1 << 63));
        assert_eq!(pd.exp, 1);
        let mut c = Ctx::new(0x037D);
        assert!(denormal_check(&[F80::ONE, F80::new(false, 0, 1)], &mut c));
    }
}
