//! The translation-cache key: everything generated code bakes in.
//!
//! A translation depends on the bytes at the block's physical address, on
//! its EIP (baked into exits, return addresses and exception EIPs), on the
//! CS base and limit (linear fetch address, jump-limit checks), and on mode
//! bits: CS.D, SS.B, CPL (selects the TLB table), PE, VM, CR0.PG, and for
//! each data segment a class saying how memory operands through it are
//! translated (`SEG_FLAT`: no checks and no base; `SEG_LIMITED`: expand-up
//! read/write segment whose base and limit are read from `CpuState` at run
//! time; `SEG_OTHER`: the instruction becomes a callout).
//!
//! Leaves out: the second page of a block whose last instruction straddles
//! a page (the interpreter's decoded-block cache keys the same way; SMC on
//! that page still invalidates through mmu's code-page tracking).

use cpu_interp::state::{cr0, fl, CpuState, Segment, CS, SEG_READ, SEG_WRITE};

/// Memory operands through this segment need no checks: base 0, limit 4 GiB.
pub const SEG_FLAT: u32 = 0;
/// Expand-up read/write segment: inline limit check, base added at run time.
pub const SEG_LIMITED: u32 = 1;
/// Anything else (read-only, expand-down, null, code): accesses call out.
pub const SEG_OTHER: u32 = 2;

/// How memory operands through `s` are translated.
pub fn seg_class(s: &Segment) -> u32 {
    let rw = SEG_READ | SEG_WRITE;
    if s.access & rw != rw || s.expand_down() {
        SEG_OTHER
    } else if s.base == 0 && s.limit == u32::MAX {
        SEG_FLAT
    } else {
        SEG_LIMITED
    }
}

/// Key of a translated block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub paddr: u32,
    pub eip: u32,
    pub cs_base: u32,
    pub cs_limit: u32,
    /// See [`Key::mode_of`].
    pub mode: u32,
}

/// Mode bit: 32-bit code segment.
pub const M_CODE32: u32 = 1 << 0;
/// Mode bit: 32-bit stack segment.
pub const M_STACK32: u32 = 1 << 1;
/// Mode bits 2..3: CPL.
pub const M_CPL_SHIFT: u32 = 2;
/// Mode bit: protected mode.
pub const M_PE: u32 = 1 << 4;
/// Mode bit: virtual-8086 mode.
pub const M_VM: u32 = 1 << 5;
/// Mode bit: paging on.
pub const M_PG: u32 = 1 << 6;
/// Mode bit: EFLAGS.DF (string instructions step by a constant; a
/// CLD/STD that changes it leaves the block).
pub const M_DF: u32 = 1 << 7;
/// Mode bits 8..19: two bits of segment class per segment register.
pub const M_SEG_SHIFT: u32 = 8;

impl Key {
    /// The mode word of the current state.
    pub fn mode_of(s: &CpuState) -> u32 {
        let mut m = 0;
        if s.code32() {
            m |= M_CODE32;
        }
        if s.stack32() {
            m |= M_STACK32;
        }
        m |= (s.cpl as u32 & 3) << M_CPL_SHIFT;
        if s.cr0 & cr0::PE != 0 {
            m |= M_PE;
        }
        if s.eflags & fl::VM != 0 {
            m |= M_VM;
        }
        if s.cr0 & cr0::PG != 0 {
            m |= M_PG;
        }
        if s.eflags & fl::DF != 0 {
            m |= M_DF;
        }
        for (i, seg) in s.seg.iter().enumerate() {
            m |= seg_class(seg) << (M_SEG_SHIFT + 2 * i as u32);
        }
        m
    }

    /// The key for the current CS:EIP, translating it through `mmu` (None
    /// if EIP is past the CS limit or the fetch would fault).
    pub fn current(s: &CpuState, mmu: &mut mmu::Mmu) -> Option<Key> {
        let cs = &s.seg[CS];
        if s.eip > cs.limit {
            return None;
        }
        let lin = cs.base.wrapping_add(s.eip);
        let paddr = mmu
            .translate(&s.paging_ctx(), lin, mmu::Access::Execute)
            .ok()?;
        Some(Key::of(s, paddr))
    }

    /// The key for the current CS:EIP whose physical address is `paddr`.
    pub fn of(s: &CpuState, paddr: u32) -> Key {
        Key {
            paddr,
            eip: s.eip,
            cs_base: s.seg[CS].base,
            cs_limit: s.seg[CS].limit,
            mode: Key::mode_of(s),
        }
    }

    /// Class of segment register `seg` (0..5) in this key.
    pub fn seg_class(&self, seg: usize) -> u32 {
        (self.mode >> (M_SEG_SHIFT + 2 * seg as u32)) & 3
    }
    pub fn code32(&self) -> bool {
        self.mode & M_CODE32 != 0
    }
    pub fn stack32(&self) -> bool {
        self.mode & M_STACK32 != 0
    }
    pub fn cpl(&self) -> u8 {
        ((self.mode >> M_CPL_SHIFT) & 3) as u8
    }
    pub fn paging(&self) -> bool {
        self.mode & M_PG != 0
    }
    /// EFLAGS.DF the block was translated for.
    pub fn df(&self) -> bool {
        self.mode & M_DF != 0
    }
    /// Linear address of the block's first byte.
    pub fn linear(&self) -> u32 {
        self.cs_base.wrapping_add(self.eip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::harness::TestMachine;
    use cpu_interp::state::{DS, ES, SS};

    #[test]
    fn flat_and_real_mode_keys() {
        let m = TestMachine::flat32(&[0xF4]);
        let k = Key::of(&m.s, 0x10000);
        assert!(k.code32() && k.stack32());
        for s in 0..6 {
            let want = if s == CS { SEG_OTHER } else { SEG_FLAT };
            assert_eq!(k.seg_class(s), want, "segment {s}");
        }
        let r = TestMachine::real(&[0xF4]);
        let k = Key::of(&r.s, 0x10000);
        assert!(!k.code32() && !k.stack32());
        assert_eq!(k.seg_class(DS), SEG_LIMITED);
        assert_eq!(k.seg_class(SS), SEG_LIMITED);
        assert_eq!(k.cpl(), 0);
    }

    #[test]
    fn segment_changes_change_the_key() {
        let mut m = TestMachine::flat32(&[0xF4]);
        let a = Key::of(&m.s, 0x10000);
        m.s.seg[ES].limit = 0xFFFF;
        let b = Key::of(&m.s, 0x10000);
        assert_ne!(a, b);
        assert_eq!(b.seg_class(ES), SEG_LIMITED);
        m.s.seg[ES].access = SEG_READ;
        assert_eq!(Key::of(&m.s, 0x10000).seg_class(ES), SEG_OTHER);
    }

    #[test]
    fn direction_flag_is_in_the_key() {
        let mut m = TestMachine::flat32(&[0xF4]);
        assert!(!Key::of(&m.s, 0x10000).df());
        m.s.eflags |= fl::DF;
        let k = Key::of(&m.s, 0x10000);
        assert!(k.df());
        assert!(k.mode < 1 << 20, "jump-cache empty marker stays free");
    }
}
