//! The numeric environment of one x87 operation: the control word it runs
//! under (precision control, rounding control, exception masks) and the
//! status bits it produces (exception flags and C1). The register stack,
//! TOP, ES/B and delivery of unmasked exceptions are the caller's business
//! (see `state.rs` and the instruction handlers).

/// Invalid operation.
pub const IE: u16 = 0x0001;
/// Denormal operand.
pub const DE: u16 = 0x0002;
/// Zero divide.
pub const ZE: u16 = 0x0004;
/// Overflow.
pub const OE: u16 = 0x0008;
/// Underflow.
pub const UE: u16 = 0x0010;
/// Precision (inexact).
pub const PE: u16 = 0x0020;
/// Stack fault (with IE).
pub const SF: u16 = 0x0040;
/// Exception summary.
pub const ES: u16 = 0x0080;
pub const C0: u16 = 0x0100;
pub const C1: u16 = 0x0200;
pub const C2: u16 = 0x0400;
pub const C3: u16 = 0x4000;
/// All six exception flags.
pub const EXC_MASK: u16 = 0x003F;

/// Rounding control (CW bits 10-11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    Nearest,
    Down,
    Up,
    Zero,
}

/// Significand width the result is rounded to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    P24,
    P53,
    P64,
}

impl Precision {
    pub const fn bits(self) -> u32 {
        match self {
            Precision::P24 => 24,
            Precision::P53 => 53,
            Precision::P64 => 64,
        }
    }
}

/// Control word in, status bits out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    /// The x87 control word.
    pub cw: u16,
    /// Exception flags (IE..PE, SF) and C1 raised by the operation.
    pub flags: u16,
    /// A memory operand was a denormal in its own (32/64-bit) format; the
    /// operation raises DE for it as if it were a denormal register.
    pub src_denormal: bool,
}

impl Ctx {
    pub const fn new(cw: u16) -> Ctx {
        Ctx {
            cw,
            flags: 0,
            src_denormal: false,
        }
    }

    pub fn rounding(&self) -> Rounding {
        match (self.cw >> 10) & 3 {
            0 => Rounding::Nearest,
            1 => Rounding::Down,
            2 => Rounding::Up,
            _ => Rounding::Zero,
        }
    }

    /// Precision control; the reserved encoding 01 is treated as 64 bits.
    pub fn precision(&self) -> Precision {
        match (self.cw >> 8) & 3 {
            0 => Precision::P24,
            2 => Precision::P53,
            _ => Precision::P64,
        }
    }

    pub fn raise(&mut self, f: u16) {
        self.flags |= f;
    }

    pub fn masked(&self, f: u16) -> bool {
        self.cw & f == f
    }

    /// True if an exception was raised that the control word does not mask.
    pub fn unmasked(&self) -> bool {
        self.flags & !self.cw & EXC_MASK != 0
    }

    /// True if IE, DE or ZE was raised unmasked: the x87 then leaves the
    /// destination untouched.
    pub fn blocks_store(&self) -> bool {
        self.flags & !self.cw & (IE | DE | ZE) != 0
    }

    /// Raise `f` and say whether it is unmasked (the operation must stop).
    pub fn signal(&mut self, f: u16) -> bool {
        self.flags |= f;
        !self.masked(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_control_word_fields() {
        let c = Ctx::new(0x037F);
        assert_eq!(c.rounding(), Rounding::Nearest);
        assert_eq!(c.precision(), Precision::P64);
        let c = Ctx::new(0x0C7F | 0x0200);
        assert_eq!(c.rounding(), Rounding::Zero);
        assert_eq!(c.precision(), Precision::P53);
        assert_eq!(Ctx::new(0x047F).rounding(), Rounding::Down);
        assert_eq!(Ctx::new(0x087F).rounding(), Rounding::Up);
        assert_eq!(Ctx::new(0x007F).precision(), Precision::P24);
    }

    #[test]
    fn masks_decide_what_blocks_the_store() {
        let mut c = Ctx::new(0x037E); // IE unmasked
        assert!(!c.signal(PE));
        assert!(!c.unmasked());
        assert!(c.signal(IE));
        assert!(c.unmasked());
        assert!(c.blocks_store());
        let mut c = Ctx::new(0x0377); // OE unmasked
        c.raise(OE);
        assert!(c.unmasked());
        assert!(!c.blocks_store());
    }
}
