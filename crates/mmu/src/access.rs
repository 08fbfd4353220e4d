//! The shared slow path of [`Mmu`]: page-crossing splits, TLB refill after
//! a page walk, MMIO/ROM/unmapped pages through [`PhysMem`], code-page
//! writes, and the checked multi-byte helpers (`translate`, `probe_write`,
//! `read_bytes`, `write_bytes`).
//!
//! A page-crossing access translates both pages before touching either, so
//! a fault on the second page (CR2 = that page's first byte) leaves memory
//! untouched. Refill installs read/exec/write tags for the privilege class
//! of the access: read and execute are equivalent (no NX); the write tag is
//! invalid if a write would fault, `TLB_NOTDIRTY` while D is clear,
//! `TLB_MMIO` where the page is not plain RAM for writes, `TLB_CODE` on code
//! pages.
//!
//! Leaves out: alignment checks (#AC) and data breakpoints.

use crate::tlb::{TlbEntry, TLB_CODE, TLB_INVALID, TLB_MMIO, TLB_NOTDIRTY};
use crate::{walk, Access, Mmu, PageFault, PagingCtx, CR0_WP, PAGE_MASK};

/// Where the bytes of one page are for one access: a host addend (plain
/// memory) or only the physical page (go through `PhysMem`).
#[derive(Clone, Copy, Debug)]
struct PageRef {
    addend: Option<usize>,
    paddr: u32,
}

#[inline(always)]
fn tag_of(e: &TlbEntry, acc: Access) -> u32 {
    match acc {
        Access::Read => e.read,
        Access::Write => e.write,
        Access::Execute => e.exec,
    }
}

impl Mmu {
    /// Slow path of a load or fetch of `size` bytes (clamped to 1..=8),
    /// little-endian in the low bytes of the result. A page-crossing access
    /// translates both pages (the first fault wins, CR2 = the faulting
    /// byte's page start for the second page) before reading.
    #[cold]
    #[inline(never)]
    pub fn read_slow(
        &mut self,
        ctx: &PagingCtx,
        va: u32,
        size: u32,
        acc: Access,
    ) -> Result<u64, PageFault> {
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
    pub fn write_slow(
        &mut self,
        ctx: &PagingCtx,
        va: u32,
        size: u32,
        val: u64,
    ) -> Result<(), PageFault> {
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
                        _ => std::ptr::copy_nonoverlapping(
                            v.to_le_bytes().as_ptr(),
                            host,
                            n as usize,
                        ),
                    }
                }
            }
            None => self.phys.write_sized(p.paddr | (va & 0xFFF), n, v),
        }
    }

    /// The page holding `va` for an access of kind `acc`: from the TLB if
    /// its tag allows it (possibly via `PhysMem`), else walk and refill.
    fn page_for(&mut self, ctx: &PagingCtx, va: u32, acc: Access) -> Result<PageRef, PageFault> {
        self.sync_map_changes();
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
    pub fn read_bytes(
        &mut self,
        ctx: &PagingCtx,
        va: u32,
        buf: &mut [u8],
    ) -> Result<(), PageFault> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = va.wrapping_add(done as u32);
            let n = ((4096 - (a & 0xFFF)) as usize).min(buf.len() - done);
            let p = self.page_for(ctx, a, Access::Read)?;
            self.phys
                .read_bytes(p.paddr | (a & 0xFFF), &mut buf[done..done + n]);
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
            self.phys
                .write_bytes_cpu(p.paddr | (a & 0xFFF), &data[done..done + n]);
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use crate::{Mmio, PhysMem, CR0_PG, CR4_PGE, CR4_PSE, PF_P, PF_U, PF_W};
    use std::sync::{Arc, Mutex};

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
            Err(PageFault {
                addr: 0x40_1000,
                code: PF_W | PF_U
            })
        );
        assert_eq!(m.phys.read_u16(0x30_0FFE), 0, "no partial write");
        assert_eq!(
            m.read_u32(&c, 0x40_0FFE),
            Err(PageFault {
                addr: 0x40_1000,
                code: PF_U
            })
        );
        // Second page read-only.
        map(&mut m, 0x40_1000, 0x30_5000, P | US);
        assert_eq!(
            m.write_u64(&c, 0x40_0FFC, u64::MAX),
            Err(PageFault {
                addr: 0x40_1000,
                code: PF_P | PF_W | PF_U
            })
        );
        assert_eq!(m.phys.read_u32(0x30_0FFC), 0, "no partial write");
        // Fault on the first page wins.
        assert_eq!(
            m.write_u16(&c, 0x3F_FFFF, 1),
            Err(PageFault {
                addr: 0x3F_FFFF,
                code: PF_W | PF_U
            })
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
        assert_eq!(
            m.read_u32(&ctx(3), 0x40_0000),
            Err(PageFault {
                addr: 0x40_0000,
                code: PF_P | PF_U
            })
        );
        assert_eq!(
            m.fetch_u8(&ctx(3), 0x40_0000),
            Err(PageFault {
                addr: 0x40_0000,
                code: PF_P | PF_U
            })
        );
        // CPL 1 and 2 are supervisor.
        assert_eq!(m.read_u32(&ctx(2), 0x40_0000).unwrap(), 7);
    }

    #[test]
    fn supervisor_writes_follow_cr0_wp() {
        let mut m = mmu();
        map(&mut m, 0x40_0000, 0x30_0000, P | US); // read-only
        let mut c = ctx(0);
        assert_eq!(
            m.write_u8(&c, 0x40_0000, 1),
            Err(PageFault {
                addr: 0x40_0000,
                code: PF_P | PF_W
            })
        );
        c.cr0 &= !CR0_WP;
        m.flush_all();
        m.write_u8(&c, 0x40_0000, 1).unwrap();
        assert_eq!(m.phys.read_u8(0x30_0000), 1);
        // User writes still fault with WP clear.
        assert_eq!(
            m.write_u8(&ctx(3), 0x40_0000, 1),
            Err(PageFault {
                addr: 0x40_0000,
                code: PF_P | PF_W | PF_U
            })
        );
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
        assert_eq!(
            *log.lock().unwrap(),
            vec![(0xB8000, 2, Some(0x0741)), (0xB8001, 1, None)]
        );
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
        assert_eq!(
            m.translate(&c, 0x40_0ABC, Access::Execute).unwrap(),
            0x30_0ABC
        );
        assert_eq!(m.phys.read_u32(pte_addr(0x40_0000)) & D, 0);
        assert_eq!(
            m.translate(&c, 0x40_0ABC, Access::Write).unwrap(),
            0x30_0ABC
        );
        assert_eq!(m.phys.read_u32(pte_addr(0x40_0000)) & D, D);
        assert_eq!(
            m.translate(&c, 0x40_1000, Access::Write),
            Err(PageFault {
                addr: 0x40_1000,
                code: PF_P | PF_W | PF_U
            })
        );
        assert!(m.probe_write(&c, 0x40_0000, 4096).is_ok());
        assert!(m.probe_write(&c, 0x40_0FFF, 0).is_ok());
        assert_eq!(
            m.probe_write(&c, 0x40_0F00, 0x101),
            Err(PageFault {
                addr: 0x40_1000,
                code: PF_P | PF_W | PF_U
            })
        );
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

    /// Whatever the TLB already holds (warmed by any access kind at either
    /// privilege), every access must give exactly the walker's verdict.
    #[test]
    fn tlb_cached_permissions_match_the_walker() {
        let kinds = [Access::Read, Access::Write, Access::Execute];
        for bits in 0..8u32 {
            let flag = |i: u32, f: u32| if (bits >> i) & 1 != 0 { f } else { 0 };
            let pte = P | flag(0, RW) | flag(1, US) | flag(2, D);
            for wp in [false, true] {
                for warm_cpl in [0u8, 3] {
                    for &warm in &kinds {
                        for cpl in [0u8, 3] {
                            for &acc in &kinds {
                                let mut m = mmu();
                                map(&mut m, 0x40_0000, 0x30_0000, pte);
                                let mut c = ctx(cpl);
                                let mut wc = ctx(warm_cpl);
                                if !wp {
                                    c.cr0 &= !CR0_WP;
                                    wc.cr0 &= !CR0_WP;
                                }
                                let _ = m.translate(&wc, 0x40_0010, warm);
                                // Reference: a walk on a copy of the tables.
                                let mut fresh = mmu();
                                map(&mut fresh, 0x40_0000, 0x30_0000, pte);
                                let want = walk(&mut fresh.phys, &c, 0x40_0010, acc).map(|_| ());
                                let got = match acc {
                                    Access::Read => m.read_u32(&c, 0x40_0010).map(|_| ()),
                                    Access::Write => m.write_u32(&c, 0x40_0010, 1),
                                    Access::Execute => m.fetch_u8(&c, 0x40_0010).map(|_| ()),
                                };
                                let what = format!("pte {pte:#x} wp {wp} warm {warm:?}@{warm_cpl} then {acc:?}@{cpl}");
                                assert_eq!(got, want, "{what}");
                                if acc == Access::Write && got.is_ok() {
                                    assert_eq!(
                                        m.phys.read_u32(pte_addr(0x40_0000)) & D,
                                        D,
                                        "{what}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
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
