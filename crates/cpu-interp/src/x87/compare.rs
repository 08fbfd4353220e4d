//! Comparisons and classification: FCOM/FUCOM (and their FCOMI/FUCOMI and
//! integer/memory forms, which differ only in where the relation goes),
//! FTST and FXAM. FCOM raises IE for any NaN operand, FUCOM only for SNaNs;
//! unsupported encodings are invalid for both; denormal operands raise DE.

use super::env::{Ctx, C0, C1, C2, C3, IE};
use super::f80::{Class, F80};
use super::unpack::{denormal_check, finite};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Less,
    Equal,
    Greater,
    Unordered,
}

impl Relation {
    /// C3, C2, C0 as FCOM/FTST report them.
    pub fn condition_codes(self) -> u16 {
        match self {
            Relation::Greater => 0,
            Relation::Less => C0,
            Relation::Equal => C3,
            Relation::Unordered => C3 | C2 | C0,
        }
    }

    /// ZF, PF, CF (EFLAGS bits 6, 2, 0) as FCOMI/FUCOMI report them.
    pub fn eflags(self) -> u32 {
        match self {
            Relation::Greater => 0,
            Relation::Less => 0x01,
            Relation::Equal => 0x40,
            Relation::Unordered => 0x45,
        }
    }
}

/// Compare `a` with `b`. `quiet` selects the FUCOM rules.
pub fn compare(a: F80, b: F80, quiet: bool, ctx: &mut Ctx) -> Relation {
    let (ca, cb) = (a.class(), b.class());
    let unsupported = ca == Class::Unsupported || cb == Class::Unsupported;
    let snan = ca == Class::SNaN || cb == Class::SNaN;
    let nan = snan || ca == Class::QNaN || cb == Class::QNaN;
    if unsupported || nan {
        if unsupported || snan || !quiet {
            ctx.raise(IE);
        }
        return Relation::Unordered;
    }
    // An unmasked DE still lets the comparison report its relation.
    denormal_check(&[a, b], ctx);
    let key = |x: F80| -> (i32, u64) {
        match x.class() {
            Class::Zero => (i32::MIN, 0),
            Class::Infinity => (i32::MAX, 0),
            _ => {
                let f = finite(x);
                (f.exp, f.sig)
            }
        }
    };
    let (ka, kb) = (key(a), key(b));
    if ka.0 == i32::MIN && kb.0 == i32::MIN {
        return Relation::Equal;
    }
    let (sa, sb) = (a.sign() && ka.0 != i32::MIN, b.sign() && kb.0 != i32::MIN);
    let ord = match (sa, sb) {
        (false, true) => std::cmp::Ordering::Greater,
        (true, false) => std::cmp::Ordering::Less,
        (false, false) => ka.cmp(&kb),
        (true, true) => kb.cmp(&ka),
    };
    match ord {
        std::cmp::Ordering::Less => Relation::Less,
        std::cmp::Ordering::Equal => Relation::Equal,
        std::cmp::Ordering::Greater => Relation::Greater,
    }
}

/// FXAM's C3, C2, C1, C0 for a non-empty register.
pub fn examine(x: F80) -> u16 {
    let c1 = if x.sign() { C1 } else { 0 };
    c1 | match x.class() {
        Class::Unsupported => 0,
        Class::QNaN | Class::SNaN => C0,
        Class::Normal => C2,
        Class::Infinity => C2 | C0,
        Class::Zero => C3,
        Class::Denormal => C3 | C2,
    }
}

/// FXAM's codes for an empty register (C1 is the sign bit of the
/// register's leftover contents).
pub fn examine_empty(x: F80) -> u16 {
    (if x.sign() { C1 } else { 0 }) | C3 | C0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x87::env::DE;

    fn c() -> Ctx {
        Ctx::new(0x037F)
    }

    #[test]
    fn orders_signed_values_and_zeros() {
        let two = F80::new(false, 0x4000, 1 << 63);
        assert_eq!(compare(F80::ONE, two, false, &mut c()), Relation::Less);
        assert_eq!(
            compare(two.neg(), F80::ONE.neg(), false, &mut c()),
            Relation::Less
        );
        assert_eq!(
            compare(F80::ZERO, F80::NEG_ZERO, false, &mut c()),
            Relation::Equal
        );
        assert_eq!(
            compare(F80::NEG_INFINITY, two.neg(), false, &mut c()),
            Relation::Less
        );
        assert_eq!(
            compare(F80::ZERO, F80::new(true, 0, 1), false, &mut c()),
            Relation::Greater
        );
    }

    #[test]
    fn nan_rules_differ_between_fcom_and_fucom() {
        let mut ctx = c();
        assert_eq!(
            compare(F80::INDEFINITE, F80::ONE, true, &mut ctx),
            Relation::Unordered
        );
        assert_eq!(ctx.flags, 0);
        assert_eq!(
            compare(F80::INDEFINITE, F80::ONE, false, &mut ctx),
            Relation::Unordered
        );
        assert_eq!(ctx.flags, IE);
        let mut ctx = c();
        compare(F80::new(false, 0, 5), F80::ONE, true, &mut ctx);
        assert_eq!(ctx.flags, DE);
        assert_eq!(Relation::Unordered.condition_codes(), C3 | C2 | C0);
        assert_eq!(Relation::Less.eflags(), 1);
    }

    #[test]
    fn fxam_classes() {
        assert_eq!(examine(F80::ONE.neg()), C1 | C2);
        assert_eq!(examine(F80::ZERO), C3);
        assert_eq!(examine(F80::INFINITY), C2 | C0);
        assert_eq!(examine(F80::INDEFINITE), C1 | C0);
        assert_eq!(examine(F80::new(false, 0, 1)), C3 | C2);
        assert_eq!(examine_empty(F80::ZERO), C3 | C0);
    }
}
