//! What the SDM defines after each instruction: which arithmetic flags,
//! and whether the result itself is defined. Differences outside the
//! defined part are reported separately and do not fail the oracle.

use iced_x86::Mnemonic;

pub const CF: u32 = 1;
pub const PF: u32 = 4;
pub const AF: u32 = 0x10;
pub const ZF: u32 = 0x40;
pub const SF: u32 = 0x80;
pub const OF: u32 = 0x800;
pub const DF: u32 = 0x400;
pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
/// The EFLAGS bits the oracle compares at all.
pub const COMPARED: u32 = ARITH | DF;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// Flag bits the SDM defines (a subset of `COMPARED`).
    pub flags: u32,
    /// Whether the destination is defined.
    pub result: bool,
}

impl Expect {
    pub const ALL: Expect = Expect {
        flags: COMPARED,
        result: true,
    };
    fn undef(flags: u32) -> Expect {
        Expect {
            flags: COMPARED & !flags,
            result: true,
        }
    }
}

/// `width` is the operand size in bytes, `count` the shift/rotate count
/// operand before masking, `src_zero` whether a BSF/BSR source is zero.
pub fn expect(m: Mnemonic, width: u8, count: u32, src_zero: bool) -> Expect {
    use Mnemonic::*;
    let bits = width as u32 * 8;
    let c = count & 31;
    match m {
        Mul | Imul => Expect::undef(SF | ZF | AF | PF),
        Div | Idiv => Expect::undef(ARITH),
        And | Or | Xor | Test => Expect::undef(AF),
        Shl | Sal | Shr | Sar => {
            if c == 0 {
                return Expect::ALL;
            }
            let mut u = AF;
            if c != 1 {
                u |= OF;
            }
            if m != Sar && c >= bits {
                u |= CF;
            }
            Expect::undef(u)
        }
        Rol | Ror | Rcl | Rcr => {
            if c == 0 || c == 1 {
                Expect::ALL
            } else {
                Expect::undef(OF)
            }
        }
        Shld | Shrd => {
            if c == 0 {
                Expect::ALL
            } else if c > bits {
                Expect {
                    flags: DF,
                    result: false,
                }
            } else if c == 1 {
                Expect::undef(AF)
            } else {
                Expect::undef(AF | OF)
            }
        }
        Bt | Bts | Btr | Btc => Expect::undef(OF | SF | AF | PF),
        Bsf | Bsr => Expect {
            flags: COMPARED & !(CF | OF | SF | AF | PF),
            result: !src_zero,
        },
        Daa | Das => Expect::undef(OF),
        Aaa | Aas => Expect::undef(OF | SF | ZF | PF),
        Aam | Aad => Expect::undef(OF | AF | CF),
        Bswap if width == 2 => Expect {
            flags: COMPARED,
            result: false,
        },
        _ => Expect::ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::Mnemonic::*;

    #[test]
    fn shift_masks() {
        assert_eq!(expect(Shl, 4, 0, false), Expect::ALL);
        assert_eq!(expect(Shl, 4, 32, false), Expect::ALL, "count masked to 0");
        assert_eq!(expect(Shl, 4, 1, false).flags, COMPARED & !AF);
        assert_eq!(expect(Shl, 1, 9, false).flags, COMPARED & !(AF | OF | CF));
        assert_eq!(expect(Sar, 1, 9, false).flags, COMPARED & !(AF | OF));
        assert!(!expect(Shld, 2, 17, false).result);
        assert!(expect(Shld, 2, 16, false).result);
    }

    #[test]
    fn others() {
        assert_eq!(expect(Add, 4, 0, false), Expect::ALL);
        assert_eq!(expect(Mul, 4, 0, false).flags & ARITH, CF | OF);
        assert_eq!(expect(Div, 4, 0, false).flags, DF);
        assert!(!expect(Bsf, 4, 0, true).result);
        assert_eq!(expect(Aam, 1, 0, false).flags & ARITH, SF | ZF | PF);
    }
}
