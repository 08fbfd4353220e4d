//! Lazy arithmetic flags.
//!
//! The last flag-setting operation stores its kind, width, operands and
//! result; each of CF/PF/AF/ZF/SF/OF is computed only when something reads
//! it. Operations whose flags are awkward to recompute (shifts, multiplies,
//! BCD) compute flags eagerly and leave the record at `FlagOp::None`.
//! The layout is `#[repr(C)]` because translated code writes it too.

use crate::state::fl;

/// Kind of the last flag-setting operation.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlagOp {
    /// Arithmetic flags are in `eflags`.
    #[default]
    None = 0,
    Add = 1,
    /// ADC with carry-in 1 (ADC with carry-in 0 is recorded as `Add`).
    Adc = 2,
    Sub = 3,
    /// SBB with borrow-in 1 (SBB with borrow-in 0 is recorded as `Sub`).
    Sbb = 4,
    /// AND/OR/XOR/TEST: CF = OF = AF = 0.
    Logic = 5,
    /// INC: CF comes from `eflags`, `src` is 1.
    Inc = 6,
    /// DEC: CF comes from `eflags`, `src` is 1.
    Dec = 7,
}

/// The lazy flag record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LazyFlags {
    pub op: FlagOp,
    /// Operand width in bytes: 1, 2 or 4.
    pub size: u8,
    pub _pad: u16,
    pub dst: u32,
    pub src: u32,
    pub res: u32,
}

#[inline(always)]
fn sign_bit(size: u8) -> u32 {
    1u32 << (size as u32 * 8 - 1)
}

#[inline(always)]
fn mask(size: u8) -> u32 {
    u32::MAX >> (32 - size as u32 * 8)
}

/// Parity flag of the low byte: set when the number of one bits is even.
#[inline(always)]
pub fn parity(v: u32) -> bool {
    (v as u8).count_ones().is_multiple_of(2)
}

impl LazyFlags {
    #[inline(always)]
    pub fn is_lazy(&self) -> bool {
        self.op != FlagOp::None
    }

    #[inline(always)]
    pub fn clear(&mut self) {
        self.op = FlagOp::None;
    }

    #[inline(always)]
    pub fn set(&mut self, op: FlagOp, size: u8, dst: u32, src: u32, res: u32) {
        self.op = op;
        self.size = size;
        self.dst = dst;
        self.src = src;
        self.res = res;
    }

    #[inline]
    pub fn cf(&self, eflags: u32) -> bool {
        match self.op {
            FlagOp::None | FlagOp::Inc | FlagOp::Dec => eflags & fl::CF != 0,
            FlagOp::Logic => false,
            op => {
                let m = mask(self.size);
                match op {
                    FlagOp::Add => (self.res & m) < (self.dst & m),
                    FlagOp::Adc => (self.res & m) <= (self.dst & m),
                    FlagOp::Sub => (self.dst & m) < (self.src & m),
                    _ => (self.dst & m) <= (self.src & m),
                }
            }
        }
    }

    #[inline]
    pub fn of(&self, eflags: u32) -> bool {
        if self.op == FlagOp::None {
            return eflags & fl::OF != 0;
        }
        let s = sign_bit(self.size);
        match self.op {
            FlagOp::Add | FlagOp::Adc => (self.dst ^ self.res) & (self.src ^ self.res) & s != 0,
            FlagOp::Sub | FlagOp::Sbb => (self.dst ^ self.src) & (self.dst ^ self.res) & s != 0,
            FlagOp::None | FlagOp::Logic => false,
            FlagOp::Inc => self.res & mask(self.size) == s,
            FlagOp::Dec => self.res & mask(self.size) == s - 1,
        }
    }

    #[inline]
    pub fn zf(&self, eflags: u32) -> bool {
        match self.op {
            FlagOp::None => eflags & fl::ZF != 0,
            _ => self.res & mask(self.size) == 0,
        }
    }

    #[inline]
    pub fn sf(&self, eflags: u32) -> bool {
        match self.op {
            FlagOp::None => eflags & fl::SF != 0,
            _ => self.res & sign_bit(self.size) != 0,
        }
    }

    #[inline]
    pub fn pf(&self, eflags: u32) -> bool {
        match self.op {
            FlagOp::None => eflags & fl::PF != 0,
            _ => parity(self.res),
        }
    }

    #[inline]
    pub fn af(&self, eflags: u32) -> bool {
        match self.op {
            FlagOp::None => eflags & fl::AF != 0,
            FlagOp::Logic => false,
            _ => (self.dst ^ self.src ^ self.res) & 0x10 != 0,
        }
    }

    /// All six arithmetic flags as EFLAGS bits.
    pub fn arith(&self, eflags: u32) -> u32 {
        let mut f = 0;
        if self.cf(eflags) {
            f |= fl::CF;
        }
        if self.pf(eflags) {
            f |= fl::PF;
        }
        if self.af(eflags) {
            f |= fl::AF;
        }
        if self.zf(eflags) {
            f |= fl::ZF;
        }
        if self.sf(eflags) {
            f |= fl::SF;
        }
        if self.of(eflags) {
            f |= fl::OF;
        }
        f
    }
}

/// Computes SF, ZF and PF of `res` at `size` bytes as EFLAGS bits (for
/// handlers that set flags eagerly).
pub fn szp(res: u32, size: u8) -> u32 {
    let mut f = 0;
    if res & mask(size) == 0 {
        f |= fl::ZF;
    }
    if res & sign_bit(size) != 0 {
        f |= fl::SF;
    }
    if parity(res) {
        f |= fl::PF;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(op: FlagOp, size: u8, dst: u32, src: u32, res: u32) -> u32 {
        let mut l = LazyFlags::default();
        l.set(op, size, dst, src, res);
        l.arith(0)
    }

    #[test]
    fn add_flags() {
        assert_eq!(
            flags(FlagOp::Add, 1, 0x7F, 1, 0x80),
            fl::SF | fl::OF | fl::AF
        );
        assert_eq!(
            flags(FlagOp::Add, 1, 0xFF, 1, 0x100),
            fl::CF | fl::ZF | fl::PF | fl::AF
        );
        assert_eq!(
            flags(FlagOp::Adc, 4, 0xFFFF_FFFF, 0, 0),
            fl::CF | fl::ZF | fl::PF | fl::AF
        );
    }

    #[test]
    fn sub_flags() {
        assert_eq!(
            flags(FlagOp::Sub, 2, 0, 1, 0xFFFF_FFFF),
            fl::CF | fl::SF | fl::PF | fl::AF
        );
        assert_eq!(flags(FlagOp::Sub, 1, 0x80, 1, 0x7F), fl::OF | fl::AF);
        assert_eq!(
            flags(FlagOp::Sbb, 1, 5, 5, 0xFF),
            fl::CF | fl::SF | fl::PF | fl::AF
        );
    }

    #[test]
    fn inc_dec_keep_cf() {
        let mut l = LazyFlags::default();
        l.set(FlagOp::Inc, 1, 0x7F, 1, 0x80);
        assert_eq!(l.arith(fl::CF), fl::CF | fl::SF | fl::OF | fl::AF);
        l.set(FlagOp::Dec, 4, 0x8000_0000, 1, 0x7FFF_FFFF);
        assert_eq!(l.arith(0), fl::OF | fl::AF | fl::PF);
    }
}
