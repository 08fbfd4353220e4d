//! The x87/MMX register file as embedded in `CpuState`: eight 80-bit
//! physical registers R0..R7, the control, status and tag words, the last
//! instruction/data pointers and opcode, and MXCSR (only for FXSAVE's
//! layout; SSE is not implemented).
//!
//! The tag word is kept in full 2-bit form but only "empty" (11) versus
//! "in use" matters while running; the valid/zero/special distinction is
//! computed from the contents when an image is saved (FSTENV, FSAVE,
//! FXSAVE), as the hardware does. Stack-relative access goes through TOP
//! (status word bits 11-13).

use super::env::{C0, C1, C2, C3};
use super::f80::{Class, F80};

/// Status word: TOP field.
pub const SW_TOP_SHIFT: u16 = 11;
pub const SW_TOP: u16 = 7 << SW_TOP_SHIFT;
/// Status word: busy (mirrors ES on the 387 and later).
pub const SW_B: u16 = 0x8000;
/// All condition-code bits.
pub const SW_CC: u16 = C0 | C1 | C2 | C3;

/// Tag values.
pub const TAG_VALID: u16 = 0;
pub const TAG_ZERO: u16 = 1;
pub const TAG_SPECIAL: u16 = 2;
pub const TAG_EMPTY: u16 = 3;

/// Architectural x87/MMX state.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpuState {
    /// Physical registers R0..R7 (not stack order).
    pub regs: [F80; 8],
    pub control: u16,
    /// Status word including TOP, the condition codes, ES and B.
    pub status: u16,
    /// Full tag word, two bits per physical register.
    pub tag: u16,
    /// Last non-control instruction's opcode (11 bits).
    pub opcode: u16,
    /// Last non-control instruction: offset and CS selector.
    pub fip: u32,
    pub fcs: u16,
    /// Last memory operand: segment selector and offset.
    pub fds: u16,
    pub fdp: u32,
    pub mxcsr: u32,
    /// The last non-control instruction as an `iced_x86::Code` (0 = none:
    /// `opcode` holds the value, e.g. after FRSTOR) and its ModRM mod/rm
    /// bits; the 11-bit opcode is rebuilt from them only when an image is
    /// saved (`exec::last_opcode`), keeping the common path cheap.
    pub fop_code: u16,
    pub fop_modrm: u8,
    pub _pad: u8,
}

impl Default for FpuState {
    /// The state after FNINIT (RESET differs only in the control word on
    /// some parts; the P6 after RESET matches FNINIT except CW = 0x0040,
    /// which BIOSes immediately replace with FNINIT anyway).
    fn default() -> Self {
        FpuState {
            regs: [F80::ZERO; 8],
            control: 0x037F,
            status: 0,
            tag: 0xFFFF,
            opcode: 0,
            fip: 0,
            fcs: 0,
            fds: 0,
            fdp: 0,
            mxcsr: 0x1F80,
            fop_code: 0,
            fop_modrm: 0,
            _pad: 0,
        }
    }
}

impl FpuState {
    /// FNINIT: control 0x037F, status 0, all registers empty, pointers 0.
    /// The register contents are kept.
    pub fn init(&mut self) {
        self.control = 0x037F;
        self.status = 0;
        self.tag = 0xFFFF;
        self.opcode = 0;
        self.fip = 0;
        self.fcs = 0;
        self.fds = 0;
        self.fdp = 0;
        self.fop_code = 0;
    }

    #[inline(always)]
    pub fn top(&self) -> usize {
        ((self.status & SW_TOP) >> SW_TOP_SHIFT) as usize
    }

    #[inline(always)]
    pub fn set_top(&mut self, t: usize) {
        self.status = (self.status & !SW_TOP) | (((t & 7) as u16) << SW_TOP_SHIFT);
    }

    /// Physical index of st(i).
    #[inline(always)]
    pub fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }

    #[inline(always)]
    pub fn phys_tag(&self, p: usize) -> u16 {
        (self.tag >> (2 * p)) & 3
    }

    #[inline(always)]
    pub fn set_phys_tag(&mut self, p: usize, t: u16) {
        self.tag = (self.tag & !(3 << (2 * p))) | ((t & 3) << (2 * p));
    }

    /// Is st(i) empty?
    #[inline(always)]
    pub fn is_empty(&self, i: usize) -> bool {
        self.phys_tag(self.phys(i)) == TAG_EMPTY
    }

    #[inline(always)]
    pub fn st(&self, i: usize) -> F80 {
        self.regs[self.phys(i)]
    }

    /// Writes st(i) and marks it in use.
    #[inline(always)]
    pub fn set_st(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.set_phys_tag(p, TAG_VALID);
    }

    /// Decrements TOP and writes the new st(0) (overflow checks are the
    /// caller's).
    #[inline(always)]
    pub fn push(&mut self, v: F80) {
        let t = self.top().wrapping_sub(1) & 7;
        self.set_top(t);
        self.set_st(0, v);
    }

    /// Marks st(0) empty and increments TOP.
    #[inline(always)]
    pub fn pop(&mut self) {
        let p = self.phys(0);
        self.set_phys_tag(p, TAG_EMPTY);
        self.set_top(self.top() + 1);
    }

    /// The tag the hardware reports for physical register `p`.
    pub fn computed_tag(&self, p: usize) -> u16 {
        if self.phys_tag(p) == TAG_EMPTY {
            return TAG_EMPTY;
        }
        match self.regs[p].class() {
            Class::Normal => TAG_VALID,
            Class::Zero => TAG_ZERO,
            _ => TAG_SPECIAL,
        }
    }

    /// The full tag word as FSTENV/FSAVE store it.
    pub fn full_tag_word(&self) -> u16 {
        (0..8).fold(0, |w, p| w | (self.computed_tag(p) << (2 * p)))
    }

    /// Loads a full tag word (FLDENV/FRSTOR): only "empty" is honoured.
    pub fn load_tag_word(&mut self, w: u16) {
        for p in 0..8 {
            let t = if (w >> (2 * p)) & 3 == TAG_EMPTY {
                TAG_EMPTY
            } else {
                TAG_VALID
            };
            self.set_phys_tag(p, t);
        }
    }

    /// The abridged (one bit per register, 1 = in use) tag of FXSAVE.
    pub fn abridged_tag(&self) -> u8 {
        (0..8).fold(0, |w, p| w | (((self.phys_tag(p) != TAG_EMPTY) as u8) << p))
    }

    /// Loads an abridged tag (FXRSTOR).
    pub fn load_abridged_tag(&mut self, t: u8) {
        for p in 0..8 {
            let v = if t & (1 << p) != 0 {
                TAG_VALID
            } else {
                TAG_EMPTY
            };
            self.set_phys_tag(p, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_move_top_and_tags() {
        let mut f = FpuState::default();
        assert!(f.is_empty(0));
        f.push(F80::ONE);
        assert_eq!(f.top(), 7);
        assert_eq!(f.st(0), F80::ONE);
        assert!(!f.is_empty(0));
        f.push(F80::ZERO);
        assert_eq!(f.st(1), F80::ONE);
        assert_eq!(
            f.full_tag_word(),
            0x0FFF | (TAG_ZERO << 12),
            "R7 valid, R6 zero"
        );
        assert_eq!(f.abridged_tag(), 0xC0);
        f.pop();
        assert_eq!(f.top(), 7);
        assert!(f.is_empty(7));
    }

    #[test]
    fn tag_word_loads_honour_only_empty() {
        let mut f = FpuState::default();
        f.load_tag_word(0x3FF6); // R0 special, R1 zero -> in use; R7 valid
        assert_eq!(f.phys_tag(0), TAG_VALID);
        assert_eq!(f.phys_tag(2), TAG_EMPTY);
        assert_eq!(f.phys_tag(7), TAG_VALID);
        f.load_abridged_tag(0x01);
        assert_eq!(f.tag, 0xFFFC);
        f.init();
        assert_eq!((f.control, f.status, f.tag), (0x037F, 0, 0xFFFF));
    }
}
