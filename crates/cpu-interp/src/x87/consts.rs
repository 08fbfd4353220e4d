//! The x87's built-in constants (FLDPI, FLDL2T, FLDL2E, FLDLG2, FLDLN2):
//! held to 128 bits and rounded per the rounding control when loaded, as
//! the P6 does (no exception flags, no C1).

use super::env::{Ctx, Precision};
use super::f80::F80;
use super::round::round_pack;

/// Each constant as a 128-bit significand (leading one at bit 127) and the
/// biased exponent of that leading one.
pub const PI: (u128, i32) = (0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1, 0x4000);
pub const L2T: (u128, i32) = (0xD49A_784B_CD1B_8AFE_492B_F6FF_4DAF_DB4C, 0x4000);
pub const L2E: (u128, i32) = (0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E88, 0x3FFF);
pub const LG2: (u128, i32) = (0x9A20_9A84_FBCF_F798_8F89_59AC_0B7C_9178, 0x3FFD);
pub const LN2: (u128, i32) = (0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF, 0x3FFE);

/// A constant rounded per the RC field of `cw`.
pub fn constant(k: (u128, i32), cw: u16) -> F80 {
    let mut c = Ctx::new(cw | 0x3F);
    round_pack(false, k.1, k.0, Precision::P64, &mut c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_round_per_rc() {
        assert_eq!(
            constant(PI, 0x037F),
            F80::new(false, 0x4000, 0xC90F_DAA2_2168_C235)
        );
        assert_eq!(
            constant(PI, 0x077F),
            F80::new(false, 0x4000, 0xC90F_DAA2_2168_C234)
        );
        assert_eq!(
            constant(LN2, 0x037F),
            F80::new(false, 0x3FFE, 0xB172_17F7_D1CF_79AC)
        );
        assert_eq!(
            constant(L2E, 0x0F7F),
            F80::new(false, 0x3FFF, 0xB8AA_3B29_5C17_F0BB)
        );
    }
}
