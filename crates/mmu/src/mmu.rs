//! [`Mmu`]: linear-address accesses through the softmmu TLB.
//!
//! Every access first tries the inline fast path (one tag compare against
//! the TLB entry for the access kind and privilege class, then a host load
//! or store). Anything else goes to the out-of-line slow path, which is
//! shared by both engines (the translator reaches it through
//! [`crate::slowpath`]): it splits accesses that cross a page (checking
//! both pages before writing anything), walks the page tables and refills
//! the entry on a miss, dispatches MMIO/ROM/unmapped pages to [`PhysMem`],
//! and records writes to code pages for self-modifying-code handling.
//!
//! Leaves out: alignment checks (#AC), breakpoints on data (DR0-DR3), and
//! per-access-size statistics.

use std::mem::size_of;

use crate::tlb::{tlb_index, Tlb, TlbEntry, TLB_CODE, TLB_INVALID, TLB_MMIO, TLB_NOTDIRTY};
use crate::{walk, Access, PageFault, PagingCtx, PhysMem, CR0_WP, PAGE_MASK};

/// Where the bytes of one page are for one access: a host addend (plain
/// memory) or only the physical page (go through `PhysMem`).
#[derive(Clone, Copy, Debug)]
struct PageRef {
    addend: Option<usize>,
    paddr: u32,
}

/// Guest memory as the CPU sees it: physical memory plus the TLB.
pub struct Mmu {
    pub phys: PhysMem,
    pub tlb: Tlb,
    /// The fault of the last failing [`crate::slowpath`] call.
    pub last_fault: Option<PageFault>,
    seen_generation: u64,
}

#[inline(always)]
fn tag_of(e: &TlbEntry, acc: Access) -> u32 {
    match acc {
        Access::Read => e.read,
        Access::Write => e.write,
        Access::Execute => e.exec,
    }
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

    /// Flushes the TLB if the physical map changed behind our back.
    #[inline(always)]
    fn sync_map(&mut self) {
        if self.phys.generation() != self.seen_generation {
            self.flush_all();
        }
    }

    /// Slow path of a load or fetch of `size` bytes (clamped to 1..=8),
    /// little-endian in the low bytes of the result. A page-crossing access
    /// translates both pages (the first fault wins, CR2 = the faulting
    /// byte's page start for the second page) before reading.
    #[cold]
    #[inline(never)]
    pub fn read_slow(&mut self, ctx: &PagingCtx, va: u32, size: u32, acc: Access) -> Result<u64, PageFault> {
        let n = size.clamp(1, 8);
        let off = va & 0xFFF;
        if off + n <= 4096 {
            let p = self.page_for(ctx, va, acc)?;
            return Ok(self.read_in(p, va, n));
        }
        let n1 = 4096 - off;
        let va2 = va.wrapping_add(n1);
        let p1 = self.page_for(ctx, va, acc)?;
        let p2 = self.page_for(ctx, va2, acc)?;
        Ok(self.read_in(p1, va, n1) | self.read_in(p2, va2, n - n1) << (8 * n1))
    }

    /// Slow path of a store of the low `size` (clamped to 1..=8) bytes of
    /// `val`. A page-crossing store checks both pages before writing, so a
    /// fault on the second page leaves memory untouched.
    #[cold]
    #[inline(never)]
    pub fn write_slow(&mut self, ctx: &PagingCtx, va: u32, size: u32, val: u64) -> Result<(), PageFault> {
        let n = size.clamp(1, 8);
        let off = va & 0xFFF;
        if off + n <= 4096 {
            let p = self.page_for(ctx, va, Access::Write)?;
            self.write_in(p, va, n, val);
            return Ok(());
        }
        let n1 = 4096 - off;
        let va2 = va.wrapping_add(n1);
        let p1 = self.page_for(ctx, va, Access::Write)?;
        let p2 = self.page_for(ctx, va2, Access::Write)?;
        self.write_in(p1, va, n1, val);
        self.write_in(p2, va2, n - n1, val >> (8 * n1));
        Ok(())
    }

    fn read_in(&mut self, p: PageRef, va: u32, n: u32) -> u64 {
        match p.addend {
            Some(addend) => {
                let host = (va as usize).wrapping_add(addend) as *const u8;
                // SAFETY: `addend` comes from a TLB entry whose page has
                // 4096 bytes of host backing (see `fill`); callers keep
                // [va, va+n) inside one page and n <= 8.
                unsafe {
                    match n {
                        1 => u64::from(*host),
                        2 => u64::from((host as *const u16).read_unaligned()),
                        4 => u64::from((host as *const u32).read_unaligned()),
                        8 => (host as *const u64).read_unaligned(),
                        _ => {
                            let mut b = [0u8; 8];
                            std::ptr::copy_nonoverlapping(host, b.as_mut_ptr(), n as usize);
                            u64::from_le_bytes(b)
                        }
                    }
                }
            }
            None => self.phys.read_sized(p.paddr | (va & 0xFFF), n),
        }
    }

    fn write_in(&mut self, p: PageRef, va: u32, n: u32, v: u64) {
        match p.addend {
            Some(addend) => {
                let host = (va as usize).wrapping_add(addend) as *mut u8;
                // SAFETY: write `PageRef`s with an addend are only made for
                // RAM pages inside the mapping (see `page_ref`); callers keep
                // [va, va+n) inside one page and n <= 8.
                unsafe {
                    match n {
                        1 => *host = v as u8,
                        2 => (host as *mut u16).write_unaligned(v as u16),
                        4 => (host as *mut u32).write_unaligned(v as u32),
                        8 => (host as *mut u64).write_unaligned(v),
                        _ => std::ptr::copy_nonoverlapping(v.to_le_bytes().as_ptr(), host, n as usize),
                    }
                }
            }
            None => self.phys.write_sized(p.paddr | (va & 0xFFF), n, v),
        }
    }

    /// The page holding `va` for an access of kind `acc`: from the TLB if
    /// its tag allows it (possibly via `PhysMem`), else walk and refill.
    fn page_for(&mut self, ctx: &PagingCtx, va: u32, acc: Access) -> Result<PageRef, PageFault> {
        self.sync_map();
        let user = (ctx.cpl == 3) as usize;
        let e = *self.tlb.entry(user, va);
        let tag = tag_of(&e, acc);
        if tag & PAGE_MASK == va & PAGE_MASK && tag & (TLB_INVALID | TLB_NOTDIRTY) == 0 {
            return Ok(self.page_ref(user, va, &e, tag));
        }
        self.fill(ctx, va, acc)
    }

    /// Turns a matching tag into a `PageRef`; drops a stale code flag.
    fn page_ref(&mut self, user: usize, va: u32, e: &TlbEntry, tag: u32) -> PageRef {
        let phys_only = PageRef {
            addend: None,
            paddr: e.paddr,
        };
        if tag & TLB_MMIO != 0 {
            return phys_only;
        }
        if tag & TLB_CODE != 0 {
            if self.phys.code.is_code(e.paddr) {
                return phys_only;
            }
            self.tlb.entry_mut(user, va).write &= !TLB_CODE;
        }
        PageRef {
            addend: Some(e.addend),
            paddr: e.paddr,
        }
    }

    /// Walks for (`va`, `acc`), installs the TLB entry and returns the page.
    #[cold]
    #[inline(never)]
    fn fill(&mut self, ctx: &PagingCtx, va: u32, acc: Access) -> Result<PageRef, PageFault> {
        let t = walk(&mut self.phys, ctx, va, acc)?;
        self.tlb.misses += 1;
        let user = (ctx.cpl == 3) as usize;
        let page = va & PAGE_MASK;
        let ppage = t.paddr & PAGE_MASK & self.phys.a20_mask();
        let write_ok = if user == 1 {
            t.user && t.writable
        } else {
            t.writable || ctx.cr0 & CR0_WP == 0
        };
        let (rhost, whost) = self.phys.page_host(ppage);
        let host = rhost.or(whost);
        let addend = host.map_or(0, |h| h.wrapping_sub(page as usize));
        let read = page | if rhost.is_some() { 0 } else { TLB_MMIO };
        let write = if !write_ok {
            page | TLB_INVALID
        } else {
            let mut w = page;
            if !t.dirty {
                w |= TLB_NOTDIRTY;
            }
            if whost.is_none() || whost != host {
                w |= TLB_MMIO;
            } else if self.phys.code.is_code(ppage) {
                w |= TLB_CODE;
            }
            w
        };
        let e = TlbEntry {
            read,
            write,
            exec: read,
            _pad: 0,
            addend,
            paddr: ppage,
            _pad2: 0,
        };
        self.tlb.set(user, va, e, t.global, t.large);
        Ok(self.page_ref(user, va, &e, tag_of(&e, acc)))
    }

    /// Translates `va` for an access kind, setting A/D bits as the access
    /// would, and returns the (A20-masked) physical address.
    pub fn translate(&mut self, ctx: &PagingCtx, va: u32, acc: Access) -> Result<u32, PageFault> {
        let p = self.page_for(ctx, va, acc)?;
        Ok(p.paddr | (va & 0xFFF))
    }

    /// Checks that [va, va+len) is writable without writing; faults exactly
    /// as a write would (first faulting page, CR2 at its start for pages
    /// after the first). Sets D bits like the write will.
    pub fn probe_write(&mut self, ctx: &PagingCtx, va: u32, len: u32) -> Result<(), PageFault> {
        if len == 0 {
            return Ok(());
        }
        self.page_for(ctx, va, Access::Write)?;
        let last = va.wrapping_add(len - 1) & PAGE_MASK;
        let mut page = va & PAGE_MASK;
        while page != last {
            page = page.wrapping_add(4096);
            self.page_for(ctx, page, Access::Write)?;
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes of linear memory, page by page; a fault
    /// leaves `buf` partly filled.
    pub fn read_bytes(&mut self, ctx: &PagingCtx, va: u32, buf: &mut [u8]) -> Result<(), PageFault> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = va.wrapping_add(done as u32);
            let n = ((4096 - (a & 0xFFF)) as usize).min(buf.len() - done);
            let p = self.page_for(ctx, a, Access::Read)?;
            self.phys.read_bytes(p.paddr | (a & 0xFFF), &mut buf[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Writes `data` to linear memory after checking every page is
    /// writable (no partial write on a fault).
    pub fn write_bytes(&mut self, ctx: &PagingCtx, va: u32, data: &[u8]) -> Result<(), PageFault> {
        if data.is_empty() {
            return Ok(());
        }
        self.probe_write(ctx, va, data.len() as u32)?;
        let mut done = 0usize;
        while done < data.len() {
            let a = va.wrapping_add(done as u32);
            let n = ((4096 - (a & 0xFFF)) as usize).min(data.len() - done);
            let p = self.page_for(ctx, a, Access::Write)?;
            self.phys.write_bytes(p.paddr | (a & 0xFFF), &data[done..done + n]);
            done += n;
        }
        Ok(())
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
        self.sync_map();
    }

    /// [`PhysMem::set_shadow`] plus the TLB flush it needs.
    pub fn set_shadow(&mut self, base: u32, len: u32, read_ram: bool, write_ram: bool) {
        self.phys.set_shadow(base, len, read_ram, write_ram);
        self.sync_map();
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
    use crate::{Mmio, CR0_PG, CR4_PGE, CR4_PSE, PF_P, PF_U, PF_W, TLB_CODE};
    use std::sync::{Arc, Mutex};

    const PD: u32 = 0x1000;
    const P: u32 = 1;
    const RW: u32 = 2;
    const US: u32 = 4;
    const D: u32 = 1 << 6;
    const G: u32 = 1 << 8;

    fn ctx(cpl: u8) -> PagingCtx {
        PagingCtx {
            cr0: CR0_PG | CR0_WP | 1,
            cr3: PD,
            cr4: CR4_PSE | CR4_PGE,
            cpl,
        }
    }

    fn mmu() -> Mmu {
        Mmu::new(PhysMem::new(4 << 20).unwrap())
    }

    /// Page table of PDE `i` lives at 0x200000 + i * 0x1000 (small `va` only).
    fn pte_addr(va: u32) -> u32 {
        0x20_0000 + (va >> 22) * 0x1000 + ((va >> 12) & 0x3FF) * 4
    }

    fn map(m: &mut Mmu, va: u32, pa: u32, bits: u32) {
        let pt = 0x20_0000 + (va >> 22) * 0x1000;
        m.phys.write_u32(PD + (va >> 22) * 4, pt | P | RW | US);
        m.phys.write_u32(pte_addr(va), (pa & PAGE_MASK) | bits);
    }

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
    fn first_write_after_read_sets_dirty_via_slow_path() {
        let mut m = mmu();
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | US);
        let c = ctx(3);
        m.read_u8(&c, 0x40_0000).unwrap();
        assert_eq!(m.phys.read_u32(pte_addr(0x40_0000)) & D, 0);
        assert_eq!(m.tlb_entry(true, 0x40_0000).write, 0x40_0000 | TLB_NOTDIRTY);
        m.write_u8(&c, 0x40_0001, 5).unwrap();
        assert_eq!(m.phys.read_u32(pte_addr(0x40_0000)) & D, D);
        assert_eq!(m.tlb_entry(true, 0x40_0000).write, 0x40_0000);
        assert_eq!(m.tlb.misses, 2);
    }

    #[test]
    fn split_access_faults_on_second_page_without_partial_write() {
        let mut m = mmu();
        let c = ctx(3);
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | US);
        // Second page not present.
        assert_eq!(
            m.write_u32(&c, 0x40_0FFE, 0xAABB_CCDD),
            Err(PageFault { addr: 0x40_1000, code: PF_W | PF_U })
        );
        assert_eq!(m.phys.read_u16(0x30_0FFE), 0, "no partial write");
        assert_eq!(m.read_u32(&c, 0x40_0FFE), Err(PageFault { addr: 0x40_1000, code: PF_U }));
        // Second page read-only.
        map(&mut m, 0x40_1000, 0x30_5000, P | US);
        assert_eq!(
            m.write_u64(&c, 0x40_0FFC, u64::MAX),
            Err(PageFault { addr: 0x40_1000, code: PF_P | PF_W | PF_U })
        );
        assert_eq!(m.phys.read_u32(0x30_0FFC), 0, "no partial write");
        // Fault on the first page wins.
        assert_eq!(
            m.write_u16(&c, 0x3F_FFFF, 1),
            Err(PageFault { addr: 0x3F_FFFF, code: PF_W | PF_U })
        );
        // Both writable: bytes land in two different frames.
        map(&mut m, 0x40_1000, 0x30_5000, P | RW | US);
        m.invlpg(0x40_1000);
        m.write_u32(&c, 0x40_0FFE, 0xAABB_CCDD).unwrap();
        assert_eq!(m.phys.read_u16(0x30_0FFE), 0xCCDD);
        assert_eq!(m.phys.read_u16(0x30_5000), 0xAABB);
        assert_eq!(m.read_u32(&c, 0x40_0FFE).unwrap(), 0xAABB_CCDD);
        m.write_u64(&c, 0x40_0FFB, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(m.read_u64(&c, 0x40_0FFB).unwrap(), 0x1122_3344_5566_7788);
        assert_eq!(m.phys.read_u32(0x30_5000), 0x0011_2233);
    }

    #[test]
    fn user_and_supervisor_tables_are_separate() {
        let mut m = mmu();
        map(&mut m, 0x40_0000, 0x30_0000, P | RW); // supervisor only
        m.write_u32(&ctx(0), 0x40_0000, 7).unwrap();
        assert_eq!(m.read_u32(&ctx(0), 0x40_0000).unwrap(), 7);
        assert_eq!(m.read_u32(&ctx(3), 0x40_0000), Err(PageFault { addr: 0x40_0000, code: PF_P | PF_U }));
        assert_eq!(m.fetch_u8(&ctx(3), 0x40_0000), Err(PageFault { addr: 0x40_0000, code: PF_P | PF_U }));
        // CPL 1 and 2 are supervisor.
        assert_eq!(m.read_u32(&ctx(2), 0x40_0000).unwrap(), 7);
    }

    #[test]
    fn supervisor_writes_follow_cr0_wp() {
        let mut m = mmu();
        map(&mut m, 0x40_0000, 0x30_0000, P | US); // read-only
        let mut c = ctx(0);
        assert_eq!(m.write_u8(&c, 0x40_0000, 1), Err(PageFault { addr: 0x40_0000, code: PF_P | PF_W }));
        c.cr0 &= !CR0_WP;
        m.flush_all();
        m.write_u8(&c, 0x40_0000, 1).unwrap();
        assert_eq!(m.phys.read_u8(0x30_0000), 1);
        // User writes still fault with WP clear.
        assert_eq!(m.write_u8(&ctx(3), 0x40_0000, 1), Err(PageFault { addr: 0x40_0000, code: PF_P | PF_W | PF_U }));
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
        assert_eq!(m.read_u8(&c, 0x40_0000).unwrap(), 0xC, "invlpg drops global too");
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
        assert!(m.read_u8(&c, 0x40_5678).is_err(), "all 4K pieces of the large page dropped");
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
        assert_eq!(m.read_u8(&c, 0x40_0000).unwrap(), 1, "reads stay fast on code pages");
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

    #[derive(Clone, Default)]
    struct Counter(Arc<Mutex<Vec<Logged>>>);
    type Logged = (u64, u8, Option<u32>);
    impl Mmio for Counter {
        fn read(&mut self, addr: u64, size: u8) -> u32 {
            self.0.lock().unwrap().push((addr, size, None));
            0x1234_5678
        }
        fn write(&mut self, addr: u64, size: u8, val: u32) {
            self.0.lock().unwrap().push((addr, size, Some(val)));
        }
    }

    #[test]
    fn mmio_rom_and_unmapped_through_linear_accesses() {
        let mut phys = PhysMem::new(1 << 20).unwrap();
        let dev = Counter::default();
        let log = dev.0.clone();
        phys.add_mmio(0xA0000, 0x20000, Box::new(dev)).unwrap();
        phys.add_rom(0xF0000, &[0x5A; 0x10000]).unwrap();
        let mut m = Mmu::new(phys);
        let c = PagingCtx::default(); // real mode: paging off
        m.write_u16(&c, 0xB8000, 0x0741).unwrap();
        assert_eq!(m.read_u8(&c, 0xB8001).unwrap(), 0x78);
        assert_eq!(m.tlb_entry(false, 0xB8000).read & TLB_MMIO, TLB_MMIO);
        assert_eq!(m.tlb.misses, 1, "MMIO pages are not re-walked");
        assert_eq!(*log.lock().unwrap(), vec![(0xB8000, 2, Some(0x0741)), (0xB8001, 1, None)]);
        // ROM: reads hit the fast path, writes are dropped.
        let hits = m.tlb.hits;
        assert_eq!(m.read_u32(&c, 0xF0000).unwrap(), 0x5A5A_5A5A);
        m.read_u32(&c, 0xF0004).unwrap();
        assert_eq!(m.tlb.hits, hits + 1);
        m.write_u32(&c, 0xF0000, 0).unwrap();
        assert_eq!(m.read_u32(&c, 0xF0000).unwrap(), 0x5A5A_5A5A);
        // Shadowing through the Mmu flushes stale entries.
        m.set_shadow(0xF0000, 0x10000, true, true);
        m.write_u32(&c, 0xF0000, 0x1234).unwrap();
        assert_eq!(m.read_u32(&c, 0xF0000).unwrap(), 0x1234);
        // Unmapped.
        assert_eq!(m.read_u32(&c, 0xFFF0_0000).unwrap(), 0xFFFF_FFFF);
        m.write_u32(&c, 0xFFF0_0000, 0).unwrap();
        assert_eq!(m.read_u64(&c, 0xFFF0_0000).unwrap(), u64::MAX);
    }

    #[test]
    fn a20_through_the_mmu() {
        let mut m = mmu();
        let c = PagingCtx::default();
        m.write_u8(&c, 0x10_0000, 0x11).unwrap();
        m.write_u8(&c, 0x0, 0x22).unwrap();
        assert_eq!(m.read_u8(&c, 0x10_0000).unwrap(), 0x11);
        m.set_a20(false);
        assert_eq!(m.read_u8(&c, 0x10_0000).unwrap(), 0x22);
        assert_eq!(m.translate(&c, 0x10_FFEF, Access::Read).unwrap(), 0xFFEF);
        // Changing A20 on PhysMem directly is caught by the next slow path.
        m.phys.set_a20(true);
        assert_eq!(m.translate(&c, 0x10_FFEF, Access::Read).unwrap(), 0x10_FFEF);
        assert_eq!(m.read_u8(&c, 0x10_0000).unwrap(), 0x11);
    }

    #[test]
    fn translate_and_probe_write() {
        let mut m = mmu();
        let c = ctx(3);
        map(&mut m, 0x40_0000, 0x30_0000, P | RW | US);
        map(&mut m, 0x40_1000, 0x30_1000, P | US);
        assert_eq!(m.translate(&c, 0x40_0ABC, Access::Execute).unwrap(), 0x30_0ABC);
        assert_eq!(m.phys.read_u32(pte_addr(0x40_0000)) & D, 0);
        assert_eq!(m.translate(&c, 0x40_0ABC, Access::Write).unwrap(), 0x30_0ABC);
        assert_eq!(m.phys.read_u32(pte_addr(0x40_0000)) & D, D);
        assert_eq!(m.translate(&c, 0x40_1000, Access::Write), Err(PageFault { addr: 0x40_1000, code: PF_P | PF_W | PF_U }));
        assert!(m.probe_write(&c, 0x40_0000, 4096).is_ok());
        assert!(m.probe_write(&c, 0x40_0FFF, 0).is_ok());
        assert_eq!(m.probe_write(&c, 0x40_0F00, 0x101), Err(PageFault { addr: 0x40_1000, code: PF_P | PF_W | PF_U }));
        assert!(m.probe_write(&c, 0x40_0F00, 0x100).is_ok());
        // write_bytes checks every page first.
        assert!(m.write_bytes(&c, 0x40_0F00, &[0xEE; 0x200]).is_err());
        assert_eq!(m.phys.read_u8(0x30_0F00), 0);
        m.write_bytes(&c, 0x40_0F00, &[0xEE; 0x100]).unwrap();
        let mut buf = [0u8; 0x200];
        m.read_bytes(&c, 0x40_0E80, &mut buf).unwrap();
        assert_eq!(&buf[..0x80], &[0; 0x80][..]);
        assert_eq!(&buf[0x80..0x180], &[0xEE; 0x100][..]);
    }

    /// Random page tables, control registers and addresses must never
    /// panic or touch host memory out of bounds.
    #[test]
    fn random_tables_and_addresses_never_panic() {
        let mut m = Mmu::new(PhysMem::new(1 << 20).unwrap());
        m.phys.add_rom(0xF0000, &[0x90; 0x10000]).unwrap();
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        // Fill the first 64 KiB (directories and tables) with random words.
        for a in (0..0x10000).step_by(4) {
            m.phys.write_u32(a, rnd() as u32);
        }
        for i in 0..20_000 {
            let r = rnd();
            let c = PagingCtx {
                cr0: (r as u32 & (CR0_PG | CR0_WP)) | 1,
                cr3: (r >> 32) as u32 & 0xF000 | if i % 7 == 0 { 0xFFF0_0000 } else { 0 },
                cr4: (r >> 20) as u32 & (CR4_PSE | CR4_PGE),
                cpl: (r >> 40) as u8 & 3,
            };
            let va = rnd() as u32;
            let v = rnd();
            let _ = match (r >> 48) % 8 {
                0 => m.read_u8(&c, va).map(|_| ()),
                1 => m.read_u32(&c, va).map(|_| ()),
                2 => m.read_u64(&c, va).map(|_| ()),
                3 => m.write_u16(&c, va, v as u16),
                4 => m.write_u64(&c, va, v),
                5 => m.fetch_u8(&c, va).map(|_| ()),
                6 => m.probe_write(&c, va, (v % 4097) as u32),
                _ => {
                    m.mark_code_page(va);
                    m.set_a20(v & 1 == 0);
                    m.flush_non_global();
                    Ok(())
                }
            };
            if i % 1000 == 0 {
                m.flush_all();
            }
        }
        let mut out = Vec::new();
        m.take_dirty_code_pages(&mut out);
        assert!(out.iter().all(|&p| p < 256));
    }
}
