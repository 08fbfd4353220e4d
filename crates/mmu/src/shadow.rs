//! PAM-style shadow RAM control for 0xC0000..0x100000 in 16 KiB granules.
//!
//! Each granule says whether reads come from RAM (else from whatever ROM or
//! MMIO overlays it, else all ones) and whether writes go to RAM (else to
//! the overlay, i.e. dropped for ROM). Shared through `Arc` with
//! [`crate::DmaMemory`], hence atomics. Power-on state: both off, as on an
//! i440FX with PAM registers at 0.
//!
//! Leaves out: SMRAM (0xA0000..0xBFFFF) redirection.

use std::sync::atomic::{AtomicU8, Ordering};

/// First byte of the shadowable area.
pub(crate) const SHADOW_START: u32 = 0xC0000;
/// One past the shadowable area.
pub(crate) const SHADOW_END: u32 = 0x10_0000;
const GRANULE_SHIFT: u32 = 14;
const GRANULES: usize = ((SHADOW_END - SHADOW_START) >> GRANULE_SHIFT) as usize;

const READ_RAM: u8 = 1;
const WRITE_RAM: u8 = 2;

#[derive(Default)]
pub(crate) struct ShadowMap {
    granules: [AtomicU8; GRANULES],
}

impl ShadowMap {
    #[inline(always)]
    fn granule(paddr: u32) -> Option<usize> {
        (SHADOW_START..SHADOW_END)
            .contains(&paddr)
            .then(|| ((paddr - SHADOW_START) >> GRANULE_SHIFT) as usize)
    }

    /// Sets the flags of every granule overlapping [base, base+len); returns
    /// the granule base addresses whose read source changed.
    pub(crate) fn set(&self, base: u32, len: u32, read_ram: bool, write_ram: bool) -> Vec<u32> {
        let mut changed = Vec::new();
        if len == 0 {
            return changed;
        }
        let end = (u64::from(base) + u64::from(len)).min(u64::from(SHADOW_END));
        let start = base.max(SHADOW_START);
        if u64::from(start) >= end {
            return changed;
        }
        let flags = (u8::from(read_ram) * READ_RAM) | (u8::from(write_ram) * WRITE_RAM);
        let first = ((start - SHADOW_START) >> GRANULE_SHIFT) as usize;
        let last = ((end as u32 - 1 - SHADOW_START) >> GRANULE_SHIFT) as usize;
        for g in first..=last {
            let old = self.granules[g].swap(flags, Ordering::Relaxed);
            if (old ^ flags) & READ_RAM != 0 {
                changed.push(SHADOW_START + ((g as u32) << GRANULE_SHIFT));
            }
        }
        changed
    }

    /// Whether a read of `paddr` (inside the shadow area) comes from RAM.
    #[inline(always)]
    pub(crate) fn read_ram(&self, paddr: u32) -> bool {
        Self::granule(paddr)
            .is_some_and(|g| self.granules[g].load(Ordering::Relaxed) & READ_RAM != 0)
    }

    /// Whether a write of `paddr` (inside the shadow area) goes to RAM.
    #[inline(always)]
    pub(crate) fn write_ram(&self, paddr: u32) -> bool {
        Self::granule(paddr)
            .is_some_and(|g| self.granules[g].load(Ordering::Relaxed) & WRITE_RAM != 0)
    }

    /// Size of a granule in bytes.
    pub(crate) const GRANULE: u32 = 1 << GRANULE_SHIFT;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granules_are_set_independently_and_clipped() {
        let s = ShadowMap::default();
        assert!(!s.read_ram(0xF0000) && !s.write_ram(0xF0000));
        let changed = s.set(0xEC000, 0x8000, true, false);
        assert_eq!(changed, vec![0xEC000, 0xF0000]);
        assert!(s.read_ram(0xEC000) && s.read_ram(0xF3FFF));
        assert!(!s.read_ram(0xF4000) && !s.read_ram(0xEBFFF));
        assert!(!s.write_ram(0xEC000));
        assert!(s.set(0xEC000, 0x4000, true, true).is_empty());
        assert!(s.write_ram(0xEFFFF));
        // Out-of-area requests are ignored, never panic.
        assert!(s.set(0, 0x1000, true, true).is_empty());
        assert!(s.set(0xFFFF_F000, 0xFFFF_FFFF, true, true).is_empty());
        assert!(s.set(0xFC000, 0xFFFF_FFFF, true, true).len() == 1);
        assert!(!s.read_ram(0x10_0000));
    }
}
