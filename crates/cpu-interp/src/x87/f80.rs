//! The 80-bit extended-precision encoding as the x87 stores it: a 64-bit
//! significand with an explicit integer bit (J, bit 63), a 15-bit biased
//! exponent (bias 16383) and a sign. This file only classifies and builds
//! encodings; arithmetic lives in the sibling modules.
//!
//! Encodings the x87 of the P6 family treats specially: denormals and
//! pseudo-denormals (exponent 0, J = 0 / 1: both are valid operands that raise
//! DE), unnormals, pseudo-infinities and pseudo-NaNs (J = 0 with a non-zero
//! exponent: "unsupported", they raise IE).

/// One 80-bit register or memory operand.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct F80 {
    /// Significand including the explicit integer bit (bit 63).
    pub sig: u64,
    /// Sign (bit 15) and biased exponent (bits 0-14).
    pub se: u16,
}

/// Exponent bias of the extended format.
pub const BIAS: i32 = 16383;
/// Largest biased exponent (infinities and NaNs).
pub const EXP_MAX: i32 = 0x7FFF;
/// The integer bit.
pub const J_BIT: u64 = 1 << 63;
/// The quiet bit of a NaN.
pub const QUIET_BIT: u64 = 1 << 62;

/// What an encoding is, as FXAM and the arithmetic see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Zero,
    /// Denormal (J = 0) or pseudo-denormal (J = 1) with exponent 0.
    Denormal,
    Normal,
    Infinity,
    QNaN,
    SNaN,
    /// Unnormal, pseudo-infinity or pseudo-NaN.
    Unsupported,
}

impl F80 {
    pub const ZERO: F80 = F80 { sig: 0, se: 0 };
    pub const NEG_ZERO: F80 = F80 { sig: 0, se: 0x8000 };
    pub const ONE: F80 = F80 {
        sig: J_BIT,
        se: 0x3FFF,
    };
    pub const INFINITY: F80 = F80 {
        sig: J_BIT,
        se: 0x7FFF,
    };
    pub const NEG_INFINITY: F80 = F80 {
        sig: J_BIT,
        se: 0xFFFF,
    };
    /// The default NaN ("real indefinite") produced by masked invalid operations.
    pub const INDEFINITE: F80 = F80 {
        sig: 0xC000_0000_0000_0000,
        se: 0xFFFF,
    };

    pub const fn new(sign: bool, exp: u16, sig: u64) -> F80 {
        F80 {
            sig,
            se: ((sign as u16) << 15) | (exp & 0x7FFF),
        }
    }

    /// From the 10 little-endian bytes of memory (FLD m80).
    pub fn from_bytes(b: [u8; 10]) -> F80 {
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[..8]);
        F80 {
            sig: u64::from_le_bytes(s),
            se: u16::from_le_bytes([b[8], b[9]]),
        }
    }

    /// To the 10 little-endian bytes of memory (FSTP m80).
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.sig.to_le_bytes());
        b[8..].copy_from_slice(&self.se.to_le_bytes());
        b
    }

    pub const fn sign(self) -> bool {
        self.se & 0x8000 != 0
    }

    /// Biased exponent.
    pub const fn exp(self) -> i32 {
        (self.se & 0x7FFF) as i32
    }

    pub const fn with_sign(self, sign: bool) -> F80 {
        F80 {
            sig: self.sig,
            se: (self.se & 0x7FFF) | ((sign as u16) << 15),
        }
    }

    pub const fn abs(self) -> F80 {
        self.with_sign(false)
    }

    pub const fn neg(self) -> F80 {
        F80 {
            sig: self.sig,
            se: self.se ^ 0x8000,
        }
    }

    pub const fn class(self) -> Class {
        let e = self.exp();
        let j = self.sig & J_BIT != 0;
        if e == 0 {
            if self.sig == 0 {
                Class::Zero
            } else {
                Class::Denormal
            }
        } else if !j {
            Class::Unsupported
        } else if e == EXP_MAX {
            if self.sig << 1 == 0 {
                Class::Infinity
            } else if self.sig & QUIET_BIT != 0 {
                Class::QNaN
            } else {
                Class::SNaN
            }
        } else {
            Class::Normal
        }
    }

    pub const fn is_nan(self) -> bool {
        matches!(self.class(), Class::QNaN | Class::SNaN)
    }

    pub const fn is_zero(self) -> bool {
        matches!(self.class(), Class::Zero)
    }

    /// Set the quiet bit (the x87 turns an SNaN operand into a QNaN result).
    pub const fn quieted(self) -> F80 {
        F80 {
            sig: self.sig | QUIET_BIT,
            se: self.se,
        }
    }

    /// The register encoding the x87 writes back when it passes an operand
    /// through unchanged: pseudo-denormals get exponent 1, nothing else
    /// changes and no flags are raised.
    pub const fn repacked(self) -> F80 {
        if self.exp() == 0 && self.sig & J_BIT != 0 {
            F80 {
                sig: self.sig,
                se: self.se | 1,
            }
        } else {
            self
        }
    }

    /// A host `f64` approximation, for diagnostics and tests only.
    pub fn to_f64_lossy(self) -> f64 {
        match self.class() {
            Class::Zero => {
                if self.sign() {
                    -0.0
                } else {
                    0.0
                }
            }
            Class::Infinity => {
                if self.sign() {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Class::QNaN | Class::SNaN | Class::Unsupported => f64::NAN,
            Class::Denormal | Class::Normal => {
                let e = self.exp().max(1) - BIAS - 63;
                let m = self.sig as f64 * 2f64.powi(e.clamp(-1100, 1100));
                if self.sign() {
                    -m
                } else {
                    m
                }
            }
        }
    }
}

impl std::fmt::LowerHex for F80 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04x}_{:016x}", self.se, self.sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_kind_of_encoding() {
        assert_eq!(F80::ZERO.class(), Class::Zero);
        assert_eq!(F80::NEG_ZERO.class(), Class::Zero);
        assert_eq!(F80::new(false, 0, 1).class(), Class::Denormal);
        assert_eq!(
            F80::new(false, 0, J_BIT).class(),
            Class::Denormal,
            "pseudo-denormal"
        );
        assert_eq!(F80::ONE.class(), Class::Normal);
        assert_eq!(
            F80::new(false, 0x3FFF, 0x4000_0000_0000_0000).class(),
            Class::Unsupported
        );
        assert_eq!(F80::INFINITY.class(), Class::Infinity);
        assert_eq!(
            F80::new(false, 0x7FFF, 0).class(),
            Class::Unsupported,
            "pseudo-infinity"
        );
        assert_eq!(F80::INDEFINITE.class(), Class::QNaN);
        assert_eq!(F80::new(true, 0x7FFF, J_BIT | 1).class(), Class::SNaN);
        assert_eq!(
            F80::new(true, 0x7FFF, QUIET_BIT | 1).class(),
            Class::Unsupported,
            "pseudo-NaN"
        );
    }

    #[test]
    fn bytes_round_trip_little_endian() {
        let x = F80::new(true, 0x4000, 0xC000_0000_0000_0001);
        let b = x.to_bytes();
        assert_eq!(b[0], 1);
        assert_eq!(b[7], 0xC0);
        assert_eq!(b[9], 0xC0);
        assert_eq!(F80::from_bytes(b), x);
        assert_eq!(F80::new(false, 0x4000, J_BIT).to_f64_lossy(), 2.0);
    }
}
