//! [`Mmu`]: linear-address accesses through the softmmu TLB.
//!
//! Every access first tries the inline fast path (one tag compare against
//! the TLB entry for the access kind and privilege class, then a host load
//! or store). Anything else goes to the out-of-line slow path (`access.rs`),
//! which is shared by both engines (the translator reaches it through
//! [`crate::slowpath`]): it splits accesses that cross a page (checking
//! both pages before writing anything), walks the page tables and refills
//! the entry on a miss, dispatches MMIO/ROM/unmapped pages to [`PhysMem`],
//! and records writes to code pages for self-modifying-code handling.
//!
//! This file holds the fast paths, flushes and the self-modifying-code
//! interface. Leaves out: alignment checks (#AC), data breakpoints
//! (DR0-DR3), and per-access-size statistics.

use std::mem::size_of;

use crate::tlb::{tlb_index, Tlb, TlbEntry};
use crate::{Access, PageFault, PagingCtx, PhysMem, PAGE_MASK};

/// Guest memory as the CPU sees it: physical memory plus the TLB.
pub struct Mmu {
    pub phys: PhysMem,
    pub tlb: Tlb,
    /// The fault of the last failing [`crate::slowpath`] call.
    pub last_fault: Option<PageFault>,
    seen_generation: u64,
}

/// Fast-path load through the tag selected by `$tag`.
macro_rules! fast_load {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $tag:ident, $acc:expr) => {
        $(#[$doc])*
        #[inline(always)]
        #[allow(clippy::bad_bit_mask)] // the offset check is trivially true for N == 1
        pub fn $name(&mut self, ctx: &PagingCtx, va: u32) -> Result<$ty, PageFault> {
            const N: u32 = size_of::<$ty>() as u32;
            let (tag, addend) = {
                let e = self.tlb.entry((ctx.cpl == 3) as usize, va);
                (e.$tag, e.addend)
            };
            if (va & 0xFFF) <= 4096 - N && tag == va & PAGE_MASK {
                self.tlb.hits += 1;
                let host = (va as usize).wrapping_add(addend) as *const $ty;
                // SAFETY: a tag without flag bits is only installed by
                // `fill` for a page whose host backing (a RAM page inside
                // the mapping or a whole ROM page) spans 4096 bytes at
                // `page + addend`; the offset check keeps all N bytes inside
                // it. RAM and ROM storage live as long as `self.phys`.
                return Ok(unsafe { host.read_unaligned() });
            }
            self.read_slow(ctx, va, N, $acc).map(|v| v as $ty)
        }
    };
}

/// Fast-path store through the write tag.
macro_rules! fast_store {
    ($name:ident, $ty:ty) => {
        #[inline(always)]
        #[allow(clippy::bad_bit_mask)] // the offset check is trivially true for N == 1
        pub fn $name(&mut self, ctx: &PagingCtx, va: u32, v: $ty) -> Result<(), PageFault> {
            const N: u32 = size_of::<$ty>() as u32;
            let (tag, addend) = {
                let e = self.tlb.entry((ctx.cpl == 3) as usize, va);
                (e.write, e.addend)
            };
            if (va & 0xFFF) <= 4096 - N && tag == va & PAGE_MASK {
                self.tlb.hits += 1;
                let host = (va as usize).wrapping_add(addend) as *mut $ty;
                // SAFETY: a write tag without flag bits is only installed
                // for a RAM page inside the mapping (never ROM, never a code
                // page) backed at `page + addend`; the offset check keeps
                // all N bytes inside it.
                unsafe { host.write_unaligned(v) };
                return Ok(());
            }
            self.write_slow(ctx, va, N, u64::from(v))
        }
    };
}

impl Mmu {
    pub fn new(phys: PhysMem) -> Mmu {
        let seen_generation = phys.generation();
        Mmu {
            phys,
            tlb: Tlb::new(),
            last_fault: None,
            seen_generation,
        }
    }

    fast_load!(read_u8, u8, read, Access::Read);
    fast_load!(read_u16, u16, read, Access::Read);
    fast_load!(read_u32, u32, read, Access::Read);
    fast_load!(read_u64, u64, read, Access::Read);
    fast_load!(
        /// Instruction-fetch read (execute access).
        fetch_u8, u8, exec, Access::Execute
    );
    fast_load!(
        /// Instruction-fetch read (execute access).
        fetch_u16, u16, exec, Access::Execute
    );
    fast_load!(
        /// Instruction-fetch read (execute access).
        fetch_u32, u32, exec, Access::Execute
    );
    fast_store!(write_u8, u8);
    fast_store!(write_u16, u16);
    fast_store!(write_u32, u32);
    fast_store!(write_u64, u64);

    /// The fast path alone of a 1/2/4-byte data load: `None` when the
    /// access needs the slow path (then call `read_u8/16/32`, which also
    /// raises faults). Callers skip building a `PagingCtx` on hits.
    #[inline(always)]
    pub fn try_read(&mut self, user: bool, va: u32, size: u8) -> Option<u32> {
        let e = self.tlb.entry(user as usize, va);
        if (va & 0xFFF) > 4096 - size as u32 || e.read != va & PAGE_MASK {
            return None;
        }
        let host = (va as usize).wrapping_add(e.addend);
        self.tlb.hits += 1;
        // SAFETY: as in `fast_load!`: a flag-free read tag is only
        // installed for a page whose host backing spans 4096 bytes at
        // `page + addend`, and the offset check keeps `size` bytes inside.
        unsafe {
            Some(match size {
                1 => (host as *const u8).read() as u32,
                2 => (host as *const u16).read_unaligned() as u32,
                _ => (host as *const u32).read_unaligned(),
            })
        }
    }

    /// The fast path alone of a 1/2/4-byte store: false when the access
    /// needs the slow path (then call `write_u8/16/32`).
    #[inline(always)]
    pub fn try_write(&mut self, user: bool, va: u32, size: u8, v: u32) -> bool {
        let e = self.tlb.entry(user as usize, va);
        if (va & 0xFFF) > 4096 - size as u32 || e.write != va & PAGE_MASK {
            return false;
        }
        let host = (va as usize).wrapping_add(e.addend);
        self.tlb.hits += 1;
        // SAFETY: as in `fast_store!`: a flag-free write tag is only
        // installed for a RAM page (never ROM or a code page) backed at
        // `page + addend`; the offset check keeps `size` bytes inside it.
        unsafe {
            match size {
                1 => (host as *mut u8).write(v as u8),
                2 => (host as *mut u16).write_unaligned(v as u16),
                _ => (host as *mut u32).write_unaligned(v),
            }
        }
        true
    }

    /// Flushes the TLB if the physical map changed (A20, shadowing, regions)
    /// since the last flush. One atomic load; engines call it after every
    /// port-I/O instruction, since devices flip A20 and PAM through a
    /// [`crate::MapControl`]. Slow paths call it too.
    #[inline(always)]
    pub fn sync_map_changes(&mut self) {
        if self.phys.generation() != self.seen_generation {
            self.flush_all();
        }
    }

    /// Full flush: CR0/CR4 paging changes, A20 or memory-map changes.
    pub fn flush_all(&mut self) {
        self.tlb.flush_all();
        self.seen_generation = self.phys.generation();
    }

    /// MOV CR3: drops every non-global translation.
    pub fn flush_non_global(&mut self) {
        self.tlb.flush_non_global();
    }

    /// INVLPG: drops the translation of the page holding `va`.
    pub fn invlpg(&mut self, va: u32) {
        self.tlb.invlpg(va);
    }

    /// Opens or closes the A20 gate and flushes the TLB if it changed.
    pub fn set_a20(&mut self, enabled: bool) {
        self.phys.set_a20(enabled);
        self.sync_map_changes();
    }

    /// [`PhysMem::set_shadow`] plus the TLB flush it needs.
    pub fn set_shadow(&mut self, base: u32, len: u32, read_ram: bool, write_ram: bool) {
        self.phys.set_shadow(base, len, read_ram, write_ram);
        self.sync_map_changes();
    }

    /// An engine holds decoded or translated code from the physical page
    /// holding `paddr`: from now on writes to it are recorded. Pages outside
    /// RAM are ignored (ROM cannot change).
    pub fn mark_code_page(&mut self, paddr: u32) {
        let ppage = paddr & PAGE_MASK;
        if self.phys.code.mark(ppage) {
            self.tlb.mark_code(ppage);
        }
    }

    /// Like [`Mmu::mark_code_page`], but only bytes [paddr, paddr+len)
    /// (clamped to the page) count as code: later writes to other bytes of
    /// the page are not recorded as code writes.
    pub fn mark_code_range(&mut self, paddr: u32, len: u32) {
        if self.phys.code.mark_range(paddr, len) {
            self.tlb.mark_code(paddr & PAGE_MASK);
        }
    }

    /// Whether the page at `paddr` reads as plain memory (RAM, or ROM
    /// covering the whole page), whose bytes change only through writes
    /// the code tracking sees (or map changes, which bump the
    /// generation). Code elsewhere (MMIO, partial ROM, unmapped) must not
    /// be cached.
    pub fn is_plain_code_page(&self, paddr: u32) -> bool {
        self.phys.page_host(paddr & PAGE_MASK).0.is_some()
    }

    /// True if some code page was written since the last
    /// [`Mmu::take_dirty_code_pages`]. One relaxed load.
    #[inline(always)]
    pub fn smc_pending(&self) -> bool {
        self.phys.code.pending()
    }

    /// Appends the physical page numbers (paddr >> 12) of code pages written
    /// since the last call, and clears their code marks and the pending
    /// flag. Engines drop their blocks for these pages and mark them again
    /// when they decode from them again.
    pub fn take_dirty_code_pages(&mut self, out: &mut Vec<u32>) {
        self.phys.code.take(out);
    }

    /// The TLB entry for `va` in the given privilege class (for tests and
    /// debuggers).
    pub fn tlb_entry(&self, user: bool, va: u32) -> &TlbEntry {
        &self.tlb.entries[user as usize][tlb_index(va)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use crate::{PhysMem, CR4_PGE, TLB_CODE, TLB_INVALID};

    #[test]
    fn hits_after_one_miss() {
        let mut m = mmu();
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | US);
        let c = ctx(3);
        m.write_u32(&c, 0x40_0010, 0xDEAD_BEEF).unwrap();
        assert_eq!(m.tlb.misses, 1);
        for _ in 0..3 {
            assert_eq!(m.read_u32(&c, 0x40_0010).unwrap(), 0xDEAD_BEEF);
            assert_eq!(m.read_u16(&c, 0x40_0FFE).unwrap(), 0);
        }
        assert_eq!(m.tlb.misses, 1);
        assert_eq!(m.tlb.hits, 6);
        m.write_u64(&c, 0x40_0100, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(m.phys.read_u64(0x30_0100), 0x0102_0304_0506_0708);
        assert_eq!(m.read_u8(&c, 0x40_0107).unwrap(), 1);
        assert_eq!(m.fetch_u8(&c, 0x40_0100).unwrap(), 8);
        assert_eq!(m.fetch_u32(&c, 0x40_0010).unwrap(), 0xDEAD_BEEF);
    }

    #[test]
    fn flushes_invlpg_and_global_pages() {
        let mut m = mmu();
        let c = ctx(0);
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | G);
        map(&mut m, 0x40_1000, 0x30_1000, P | RW);
        m.phys.write_u8(0x30_0000, 0xA);
        m.phys.write_u8(0x30_1000, 0xB);
        m.phys.write_u8(0x30_2000, 0xC);
        assert_eq!(m.read_u8(&c, 0x40_0000).unwrap(), 0xA);
        assert_eq!(m.read_u8(&c, 0x40_1000).unwrap(), 0xB);
        // Retarget both to 0x302000 without invalidating: stale entries stay.
        map(&mut m, 0x40_0000, 0x30_2000, P | RW | G);
        map(&mut m, 0x40_1000, 0x30_2000, P | RW);
        assert_eq!(m.read_u8(&c, 0x40_0000).unwrap(), 0xA);
        assert_eq!(m.read_u8(&c, 0x40_1000).unwrap(), 0xB);
        m.flush_non_global();
        assert_eq!(m.read_u8(&c, 0x40_0000).unwrap(), 0xA, "global kept");
        assert_eq!(m.read_u8(&c, 0x40_1000).unwrap(), 0xC, "non-global dropped");
        m.invlpg(0x40_0FFF);
        assert_eq!(
            m.read_u8(&c, 0x40_0000).unwrap(),
            0xC,
            "invlpg drops global too"
        );
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | G);
        m.flush_all();
        assert_eq!(m.read_u8(&c, 0x40_0000).unwrap(), 0xA);
    }

    #[test]
    fn large_pages_and_their_invlpg() {
        let mut m = mmu();
        let c = ctx(3);
        m.phys.write_u32(PD + 4, P | RW | US | (1 << 7));
        m.phys.write_u8(0x1234, 0x77);
        m.phys.write_u8(0x5678, 0x88);
        assert_eq!(m.read_u8(&c, 0x40_1234).unwrap(), 0x77);
        assert_eq!(m.read_u8(&c, 0x40_5678).unwrap(), 0x88);
        m.phys.write_u32(PD + 4, 0);
        m.invlpg(0x40_1000);
        assert!(
            m.read_u8(&c, 0x40_5678).is_err(),
            "all 4K pieces of the large page dropped"
        );
    }

    #[test]
    fn try_read_and_write_take_only_the_fast_path() {
        let mut m = mmu();
        let c = ctx(3);
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | US | D);
        assert_eq!(m.try_read(true, 0x40_0010, 4), None, "not in the TLB yet");
        assert!(!m.try_write(true, 0x40_0010, 4, 1));
        m.write_u32(&c, 0x40_0010, 0xDEAD_BEEF).unwrap();
        assert_eq!(m.try_read(true, 0x40_0010, 4), Some(0xDEAD_BEEF));
        assert_eq!(m.try_read(true, 0x40_0011, 2), Some(0xADBE));
        assert_eq!(m.try_read(false, 0x40_0010, 4), None, "other table");
        assert!(m.try_write(true, 0x40_0012, 2, 0x1234));
        assert_eq!(m.phys.read_u32(0x30_0010), 0x1234_BEEF);
        assert_eq!(m.try_read(true, 0x40_0FFE, 4), None, "crosses the page");
        m.mark_code_page(0x30_0000);
        assert!(!m.try_write(true, 0x40_0010, 4, 0), "code page");
        assert_eq!(m.try_read(true, 0x40_0010, 4), Some(0x1234_BEEF));
    }

    #[test]
    fn data_bytes_of_a_code_range_page_are_not_code_writes() {
        let mut m = mmu();
        let c = ctx(0);
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | D);
        m.mark_code_range(0x30_0100, 0x30);
        assert_eq!(m.tlb_entry(false, 0x40_0000).write & TLB_CODE, 0);
        m.write_u32(&c, 0x40_0000, 5).unwrap();
        assert_eq!(m.tlb_entry(false, 0x40_0000).write & TLB_CODE, TLB_CODE);
        m.write_u32(&c, 0x40_0200, 5).unwrap();
        m.write_u32(&c, 0x40_00FC, 5).unwrap();
        assert!(!m.smc_pending(), "outside the code chunk");
        assert_eq!(m.read_u32(&c, 0x40_0200).unwrap(), 5);
        m.write_u8(&c, 0x40_013F, 1).unwrap();
        assert!(m.smc_pending());
    }

    #[test]
    fn code_pages_record_writes_and_data_pages_do_not() {
        let mut m = mmu();
        let c = ctx(3);
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | US | D);
        map(&mut m, 0x40_1000, 0x30_1000, P | RW | US | D);
        // Entry filled before the page becomes code: mark fixes it up.
        m.write_u8(&c, 0x40_0000, 1).unwrap();
        m.mark_code_page(0x30_0123);
        assert_eq!(m.tlb_entry(true, 0x40_0000).write & TLB_CODE, TLB_CODE);
        m.write_u8(&c, 0x40_1000, 1).unwrap();
        assert!(!m.smc_pending(), "data page");
        assert_eq!(
            m.read_u8(&c, 0x40_0000).unwrap(),
            1,
            "reads stay fast on code pages"
        );
        m.write_u8(&c, 0x40_0005, 2).unwrap();
        assert!(m.smc_pending());
        assert_eq!(m.phys.read_u8(0x30_0005), 2, "the write itself happened");
        let mut out = Vec::new();
        m.take_dirty_code_pages(&mut out);
        assert_eq!(out, vec![0x300]);
        assert!(!m.smc_pending());
        // No longer code: the next write clears the stale flag and is not recorded.
        m.write_u8(&c, 0x40_0006, 3).unwrap();
        assert!(!m.smc_pending());
        assert_eq!(m.tlb_entry(true, 0x40_0000).write & TLB_CODE, 0);
        // Marked before the fill: the fill sets the flag.
        m.mark_code_page(0x30_1000);
        m.flush_all();
        m.write_u32(&c, 0x40_0FFE, 0xFFFF_FFFF).unwrap(); // split write touching it
        assert!(m.smc_pending());
        out.clear();
        m.take_dirty_code_pages(&mut out);
        assert_eq!(out, vec![0x301]);
        // DMA writes count too.
        m.mark_code_page(0x30_1000);
        m.phys.dma().write(0x30_1800, &[0; 4]);
        assert!(m.smc_pending());
    }

    #[test]
    fn map_control_changes_are_picked_up() {
        let mut phys = PhysMem::new(1 << 20).unwrap();
        phys.add_rom(0xF0000, &[0x5A; 0x10000]).unwrap();
        let ctl = phys.map_control();
        let mut m = Mmu::new(phys);
        let c = PagingCtx::default();
        assert_eq!(m.read_u8(&c, 0xF0000).unwrap(), 0x5A);
        m.write_u8(&c, 0x1_0000, 0x11).unwrap();
        ctl.set_shadow(0xF0000, 0x10000, false, true);
        m.sync_map_changes();
        m.write_u8(&c, 0xF0000, 0x42).unwrap();
        ctl.set_shadow(0xF0000, 0x10000, true, false);
        m.sync_map_changes();
        assert_eq!(m.read_u8(&c, 0xF0000).unwrap(), 0x42);
        ctl.set_a20(false);
        m.sync_map_changes();
        assert_eq!(m.read_u8(&c, 0x11_0000).unwrap(), 0x11);
        assert!(!m.phys.a20_enabled());
    }

    #[test]
    fn g_bit_without_cr4_pge_is_not_global() {
        let mut m = mmu();
        let mut c = ctx(0);
        c.cr4 &= !CR4_PGE;
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | G);
        m.read_u8(&c, 0x40_0000).unwrap();
        m.flush_non_global();
        assert_eq!(
            m.tlb_entry(false, 0x40_0000).read & TLB_INVALID,
            TLB_INVALID
        );
    }

    #[test]
    fn physical_writes_to_code_pages_are_recorded() {
        let mut m = mmu();
        m.mark_code_page(0x5000);
        m.phys.write_u8(0x4FFF, 1);
        assert!(!m.smc_pending());
        m.phys.write_u16(0x4FFF, 1);
        assert!(m.smc_pending());
        let mut out = Vec::new();
        m.take_dirty_code_pages(&mut out);
        m.mark_code_page(0x5000);
        m.phys.write_bytes(0x5FF0, &[1; 8]);
        assert!(m.smc_pending());
    }

    #[test]
    fn handles_are_send() {
        fn send<T: Send>() {}
        fn send_sync_clone<T: Send + Sync + Clone>() {}
        send::<Mmu>();
        send::<PhysMem>();
        send_sync_clone::<crate::DmaMemory>();
        send_sync_clone::<crate::MapControl>();
    }
}
