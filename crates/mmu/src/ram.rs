//! The guest RAM block: one anonymous host mapping, accessed only through
//! bounds-checked copies (or, by the TLB fast path, through host pointers
//! derived from [`RamBlock::base`] for offsets the slow path has checked).
//!
//! Leaves out: hugepage hints, memory ballooning, file-backed RAM.

use memmap2::MmapMut;

/// Guest RAM. Shared (via `Arc`) between [`crate::PhysMem`] and the
/// [`crate::DmaMemory`] handles devices keep.
pub(crate) struct RamBlock {
    /// Owns the mapping; never touched after construction except on drop.
    _map: MmapMut,
    base: *mut u8,
    len: usize,
}

// SAFETY: `base` points into `_map`, which lives exactly as long as the
// struct. All accesses are raw-pointer copies of plain bytes; the emulator
// runs the CPU and the devices on one emulation thread, so the handle only
// moves between threads (Send) and is never used from two threads at once
// in practice. Guest RAM holds no Rust invariants that a torn copy could
// break.
unsafe impl Send for RamBlock {}
// SAFETY: as above; shared references only perform bounds-checked byte
// copies through `base`.
unsafe impl Sync for RamBlock {}

impl RamBlock {
    pub(crate) fn new(len: usize) -> std::io::Result<RamBlock> {
        let mut map = MmapMut::map_anon(len)?;
        let base = map.as_mut_ptr();
        Ok(RamBlock {
            _map: map,
            base,
            len,
        })
    }

    #[inline(always)]
    pub(crate) fn base(&self) -> *mut u8 {
        self.base
    }

    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn in_bounds(&self, off: usize, n: usize) -> bool {
        off.checked_add(n).is_some_and(|end| end <= self.len)
    }

    /// Copies `buf.len()` bytes from `off`; out of range reads give all ones.
    #[inline(always)]
    pub(crate) fn read(&self, off: usize, buf: &mut [u8]) {
        if !self.in_bounds(off, buf.len()) {
            buf.fill(0xFF);
            return;
        }
        // SAFETY: [off, off+len) lies inside the mapping (checked above) and
        // `buf` is a distinct Rust allocation, so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(off), buf.as_mut_ptr(), buf.len()) }
    }

    /// Copies `data` to `off`; out of range writes are dropped.
    #[inline(always)]
    pub(crate) fn write(&self, off: usize, data: &[u8]) {
        if !self.in_bounds(off, data.len()) {
            return;
        }
        // SAFETY: [off, off+len) lies inside the mapping (checked above);
        // `data` cannot alias guest RAM through safe code.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.add(off), data.len()) }
    }

    /// Little-endian load of `n` (1..=8) bytes.
    #[inline(always)]
    pub(crate) fn read_le(&self, off: usize, n: usize) -> u64 {
        let mut b = [0u8; 8];
        self.read(off, &mut b[..n]);
        u64::from_le_bytes(b)
    }

    /// Little-endian store of the low `n` (1..=8) bytes of `v`.
    #[inline(always)]
    pub(crate) fn write_le(&self, off: usize, n: usize, v: u64) {
        self.write(off, &v.to_le_bytes()[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ram_is_zero_and_round_trips() {
        let r = RamBlock::new(1 << 20).unwrap();
        assert_eq!(r.read_le(0x1234, 8), 0);
        r.write_le(0x1234, 4, 0xDEAD_BEEF_1122_3344);
        assert_eq!(r.read_le(0x1234, 4), 0x1122_3344);
        assert_eq!(r.read_le(0x1238, 4), 0);
    }

    #[test]
    fn out_of_range_reads_ones_and_drops_writes() {
        let r = RamBlock::new(1 << 20).unwrap();
        assert_eq!(r.read_le((1 << 20) - 2, 4), 0xFFFF_FFFF);
        r.write_le((1 << 20) - 2, 4, 0x1234_5678);
        assert_eq!(r.read_le((1 << 20) - 2, 2), 0);
        assert_eq!(r.read_le(usize::MAX, 1), 0xFF);
        r.write_le(usize::MAX - 1, 8, 0);
    }
}
