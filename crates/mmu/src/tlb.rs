//! The softmmu TLB: direct-mapped, one table per privilege class
//! (supervisor = CPL 0-2, user = CPL 3), indexed by `(va >> 12) & (TLB_SIZE - 1)`.
//!
//! Entry contract (generated code depends on it; the size is const-asserted):
//! `read`/`write`/`exec` hold the page-aligned virtual address plus flag
//! bits in the low 12 bits. The fast path for an access of `size` bytes at
//! `va` is: `(va & 0xFFFF_F000) == tag && (va & 0xFFF) + size <= 4096`, then
//! host pointer = `(va as usize).wrapping_add(addend)`. Any flag bit fails
//! the compare and sends the access to the slow path:
//! - [`TLB_INVALID`]: no translation for this access kind (or at all);
//! - [`TLB_MMIO`]: the page is not plain memory for this direction (MMIO,
//!   ROM for writes, unmapped, partial ROM); the slow path reuses `paddr`
//!   without walking again;
//! - [`TLB_NOTDIRTY`]: write allowed but the PTE's D bit is clear; the slow
//!   path walks (setting D) and refills;
//! - [`TLB_CODE`]: the physical page holds decoded/translated code; writes
//!   go through the slow path, which records them for the engines.
//!
//! `paddr` is the A20-masked physical page address. Global and large-page
//! markers live in a side array so the entry stays at 32 bytes.
//!
//! Size: 1024 entries per table (32 KiB each, 64 KiB total). A Linux guest
//! process plus the kernel easily touches several hundred pages per time
//! slice; 256 entries thrash there, while 1024 still fits in L2 and a full
//! non-global flush (MOV CR3) is 2048 compares, about a microsecond.
//!
//! Leaves out: victim TLB and dynamic resizing (QEMU has both).

use std::mem::{offset_of, size_of};

use crate::PAGE_MASK;

/// log2 of the entries per table.
pub const TLB_BITS: u32 = 10;
/// Entries per table.
pub const TLB_SIZE: usize = 1 << TLB_BITS;

/// Tag flag: no valid translation for this access kind.
pub const TLB_INVALID: u32 = 1 << 0;
/// Tag flag: not plain memory for this direction; use `paddr` via `PhysMem`.
pub const TLB_MMIO: u32 = 1 << 1;
/// Tag flag (write tag): D bit not yet set in the page tables.
pub const TLB_NOTDIRTY: u32 = 1 << 2;
/// Tag flag (write tag): the page holds code; record writes for SMC.
pub const TLB_CODE: u32 = 1 << 3;
/// All bits that may be flags.
pub const TLB_FLAG_MASK: u32 = !PAGE_MASK;

/// Side-array markers.
const META_GLOBAL: u8 = 1;
const META_LARGE: u8 = 2;

/// One TLB entry. See the module docs for the contract. Aligned to its
/// size so no entry straddles a cache line.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbEntry {
    pub read: u32,
    pub write: u32,
    pub exec: u32,
    pub _pad: u32,
    pub addend: usize,
    pub paddr: u32,
    pub _pad2: u32,
}

const _: () = assert!(size_of::<TlbEntry>() == 32);
const _: () = assert!(std::mem::align_of::<TlbEntry>() == 32);

/// Byte offsets of the entry fields, for code generators.
pub const TLB_ENTRY_READ_OFFSET: usize = offset_of!(TlbEntry, read);
pub const TLB_ENTRY_WRITE_OFFSET: usize = offset_of!(TlbEntry, write);
pub const TLB_ENTRY_EXEC_OFFSET: usize = offset_of!(TlbEntry, exec);
pub const TLB_ENTRY_ADDEND_OFFSET: usize = offset_of!(TlbEntry, addend);
pub const TLB_ENTRY_PADDR_OFFSET: usize = offset_of!(TlbEntry, paddr);

const _: () = assert!(TLB_ENTRY_READ_OFFSET == 0 && TLB_ENTRY_WRITE_OFFSET == 4);
const _: () = assert!(TLB_ENTRY_EXEC_OFFSET == 8 && TLB_ENTRY_ADDEND_OFFSET == 16);
const _: () = assert!(TLB_ENTRY_PADDR_OFFSET == 24);

impl TlbEntry {
    /// An entry that matches nothing.
    pub const INVALID: TlbEntry = TlbEntry {
        read: TLB_INVALID,
        write: TLB_INVALID,
        exec: TLB_INVALID,
        _pad: 0,
        addend: 0,
        paddr: 0,
        _pad2: 0,
    };
}

/// Index of `va` in a table.
#[inline(always)]
pub fn tlb_index(va: u32) -> usize {
    (va >> 12) as usize & (TLB_SIZE - 1)
}

/// The two TLB tables and their statistics. The boxed tables never move or
/// change size, so code generators may keep `entries[i].as_ptr()`.
pub struct Tlb {
    /// `[supervisor, user]`, each `TLB_SIZE` entries. Public so generated
    /// code can address them, but only this crate may write entries: the
    /// fast paths trust a flag-free tag's `addend` (an entry forged from
    /// outside would make them touch arbitrary host memory).
    pub entries: [Box<[TlbEntry]>; 2],
    /// Accesses served by the inline fast path of [`crate::Mmu`]'s methods.
    pub hits: u64,
    /// Refills (page walks that filled an entry).
    pub misses: u64,
    /// Bumped whenever an entry is installed or invalidated: while it is
    /// unchanged, every entry still holds what it held (engines use it to
    /// skip re-checking translations they confirmed).
    pub epoch: u64,
    meta: [Box<[u8]>; 2],
    /// Some entry was filled from a 4 MiB page since the last full flush.
    large_present: bool,
    /// When set, every installed entry's (table, index) is appended (for
    /// [`Tlb::writable_pages`]; at most `2 * TLB_SIZE` are kept).
    pub install_log: Option<Vec<(u8, u16)>>,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    pub fn new() -> Tlb {
        let table = || vec![TlbEntry::INVALID; TLB_SIZE].into_boxed_slice();
        let meta = || vec![0u8; TLB_SIZE].into_boxed_slice();
        Tlb {
            entries: [table(), table()],
            hits: 0,
            misses: 0,
            epoch: 0,
            meta: [meta(), meta()],
            large_present: false,
            install_log: None,
        }
    }

    /// The entry `va` maps to in table `user` (0 supervisor, 1 user).
    /// Indexing stays bounds-checked: `entries` is public, so its length is
    /// not an invariant unsafe code could rely on (the check is one
    /// well-predicted compare).
    #[inline(always)]
    pub fn entry(&self, user: usize, va: u32) -> &TlbEntry {
        &self.entries[user][tlb_index(va)]
    }

    #[inline(always)]
    pub(crate) fn entry_mut(&mut self, user: usize, va: u32) -> &mut TlbEntry {
        let idx = tlb_index(va);
        &mut self.entries[user][idx]
    }

    pub(crate) fn set(&mut self, user: usize, va: u32, e: TlbEntry, global: bool, large: bool) {
        let idx = tlb_index(va);
        self.epoch += 1;
        if let Some(l) = &mut self.install_log {
            // Bounded: once full, `writable_pages` scans every entry.
            if l.len() < 2 * TLB_SIZE {
                l.push((user as u8, idx as u16));
            }
        }
        self.entries[user][idx] = e;
        self.meta[user][idx] = (u8::from(global) * META_GLOBAL) | (u8::from(large) * META_LARGE);
        self.large_present |= large;
    }

    /// Appends the physical pages of the entries that allow writes (flags
    /// aside) to `out`: of every entry, or with [`Tlb::install_log`] on,
    /// of the entries installed since the last call (draining the log).
    /// With `forget`, their write permission is dropped, so the next write
    /// to each page refills its entry. A differential tester calling this
    /// after every step learns (a superset of) the pages written during
    /// the step (less a page whose entry was evicted within the step).
    pub fn writable_pages(&mut self, out: &mut Vec<u32>, forget: bool) {
        let mut dropped = false;
        let mut visit = |e: &mut TlbEntry| {
            if e.write & TLB_INVALID == 0 {
                out.push(e.paddr);
                if forget {
                    e.write = (e.write & PAGE_MASK) | TLB_INVALID;
                    dropped = true;
                }
            }
        };
        match &mut self.install_log {
            Some(log) if log.len() < 2 * TLB_SIZE => {
                for (t, i) in log.drain(..) {
                    if let Some(e) = self.entries[t as usize & 1].get_mut(usize::from(i)) {
                        visit(e);
                    }
                }
            }
            // Full (more installs than entries): scanning is cheaper.
            Some(log) => {
                log.clear();
                self.entries.iter_mut().flatten().for_each(visit);
            }
            None => self.entries.iter_mut().flatten().for_each(visit),
        }
        if dropped {
            self.epoch += 1;
        }
    }

    /// Invalidates every entry.
    pub fn flush_all(&mut self) {
        self.epoch += 1;
        for t in 0..2 {
            self.entries[t].fill(TlbEntry::INVALID);
            self.meta[t].fill(0);
        }
        self.large_present = false;
    }

    /// Invalidates every entry not made from a global page (MOV CR3).
    pub fn flush_non_global(&mut self) {
        self.epoch += 1;
        for t in 0..2 {
            for (e, m) in self.entries[t].iter_mut().zip(self.meta[t].iter_mut()) {
                if *m & META_GLOBAL == 0 {
                    *e = TlbEntry::INVALID;
                    *m = 0;
                }
            }
        }
    }

    /// Invalidates the translation of the page holding `va` in both tables,
    /// global or not; for 4 MiB pages every cached 4 KiB piece of the large
    /// page containing `va`.
    pub fn invlpg(&mut self, va: u32) {
        self.epoch += 1;
        let idx = tlb_index(va);
        for t in 0..2 {
            self.entries[t][idx] = TlbEntry::INVALID;
            self.meta[t][idx] = 0;
        }
        if self.large_present {
            let region = va >> 22;
            for t in 0..2 {
                for (e, m) in self.entries[t].iter_mut().zip(self.meta[t].iter_mut()) {
                    if *m & META_LARGE != 0 && e.read >> 22 == region {
                        *e = TlbEntry::INVALID;
                        *m = 0;
                    }
                }
            }
        }
    }

    /// Adds [`TLB_CODE`] to the write tag of every valid entry mapping the
    /// physical page `ppage`.
    pub(crate) fn mark_code(&mut self, ppage: u32) {
        for t in 0..2 {
            for e in self.entries[t].iter_mut() {
                if e.paddr == ppage && e.write & TLB_INVALID == 0 {
                    e.write |= TLB_CODE;
                }
            }
        }
    }

    /// Number of entries that hold any valid tag (for tests and statistics).
    pub fn valid_entries(&self) -> usize {
        self.entries
            .iter()
            .flat_map(|t| t.iter())
            .filter(|e| (e.read & e.write & e.exec) & TLB_INVALID == 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(va: u32) -> TlbEntry {
        TlbEntry {
            read: va & PAGE_MASK,
            write: va & PAGE_MASK,
            exec: va & PAGE_MASK,
            paddr: 0x1000,
            ..TlbEntry::INVALID
        }
    }

    #[test]
    fn layout_is_pinned() {
        assert_eq!(size_of::<TlbEntry>(), 32);
        assert_eq!(std::mem::align_of::<TlbEntry>(), 32);
        let t = Tlb::new();
        assert_eq!(t.entries[0].as_ptr() as usize % 32, 0);
        assert_eq!(t.entries[1].len(), TLB_SIZE);
        assert_eq!(tlb_index(0x0040_3FFF), 3);
        assert_eq!(tlb_index(0x0040_0000 + (TLB_SIZE as u32) * 4096), 0);
    }

    #[test]
    fn invalid_entry_never_matches_page_zero() {
        let t = Tlb::new();
        let e = t.entry(0, 0);
        assert_ne!(e.read, 0);
        assert_ne!(e.write, 0);
        assert_ne!(e.exec, 0);
    }

    #[test]
    fn writable_pages_are_listed_and_forgotten() {
        let mut t = Tlb::new();
        t.set(0, 0x5000, entry(0x5000), false, false);
        let mut ro = entry(0x6000);
        ro.write |= TLB_INVALID;
        t.set(1, 0x6000, ro, false, false);
        let mut out = Vec::new();
        t.writable_pages(&mut out, false);
        assert_eq!(out, vec![0x1000]);
        let e = t.epoch;
        t.writable_pages(&mut out, true);
        assert_eq!(out, vec![0x1000, 0x1000]);
        assert!(t.epoch > e, "an invalidation");
        assert_eq!(t.entry(0, 0x5000).read, 0x5000, "reads still hit");
        assert_ne!(t.entry(0, 0x5000).write, 0x5000, "writes miss");
        out.clear();
        t.writable_pages(&mut out, true);
        assert!(out.is_empty());
        // With the install log, only entries installed since the last call.
        t.install_log = Some(Vec::new());
        t.set(0, 0x7000, entry(0x7000), false, false);
        t.writable_pages(&mut out, false);
        assert_eq!(out, vec![0x1000]);
        out.clear();
        t.writable_pages(&mut out, false);
        assert!(out.is_empty(), "log drained");
        // A full log falls back to a scan (and stays bounded).
        for _ in 0..3 * TLB_SIZE {
            t.set(0, 0x7000, entry(0x7000), false, false);
        }
        assert_eq!(t.install_log.as_ref().unwrap().len(), 2 * TLB_SIZE);
        t.writable_pages(&mut out, false);
        assert_eq!(out, vec![0x1000], "found by the scan");
        assert!(t.install_log.as_ref().unwrap().is_empty());
    }

    #[test]
    fn epoch_moves_on_every_install_and_invalidation() {
        let mut t = Tlb::new();
        let mut last = t.epoch;
        let mut moved = |t: &Tlb| {
            let m = t.epoch != last;
            last = t.epoch;
            m
        };
        t.set(0, 0x1000, entry(0x1000), false, false);
        assert!(moved(&t));
        t.mark_code(0x1000);
        assert!(!moved(&t), "write tags only");
        t.invlpg(0x1000);
        assert!(moved(&t));
        t.flush_non_global();
        assert!(moved(&t));
        t.flush_all();
        assert!(moved(&t));
    }

    #[test]
    fn flush_non_global_keeps_global_entries() {
        let mut t = Tlb::new();
        t.set(0, 0x1000, entry(0x1000), true, false);
        t.set(1, 0x2000, entry(0x2000), false, false);
        t.set(0, 0x3000, entry(0x3000), false, false);
        t.flush_non_global();
        assert_eq!(t.entry(0, 0x1000).read, 0x1000);
        assert_eq!(t.entry(1, 0x2000).read, TLB_INVALID);
        assert_eq!(t.entry(0, 0x3000).read, TLB_INVALID);
        t.flush_all();
        assert_eq!(t.entry(0, 0x1000).read, TLB_INVALID);
    }

    #[test]
    fn invlpg_drops_one_page_in_both_tables_even_global() {
        let mut t = Tlb::new();
        t.set(0, 0x5000, entry(0x5000), true, false);
        t.set(1, 0x5000, entry(0x5000), false, false);
        t.set(0, 0x6000, entry(0x6000), false, false);
        t.invlpg(0x5FFF);
        assert_eq!(t.entry(0, 0x5000).read, TLB_INVALID);
        assert_eq!(t.entry(1, 0x5000).read, TLB_INVALID);
        assert_eq!(t.entry(0, 0x6000).read, 0x6000);
    }

    #[test]
    fn invlpg_drops_all_pieces_of_a_large_page() {
        let mut t = Tlb::new();
        for va in [0x0040_0000, 0x0041_0000, 0x007F_F000] {
            t.set(0, va, entry(va), false, true);
        }
        t.set(0, 0x0080_1000, entry(0x0080_1000), false, true);
        t.set(0, 0x0042_0000, entry(0x0042_0000), false, false);
        t.invlpg(0x0041_0000);
        assert_eq!(t.entry(0, 0x0040_0000).read, TLB_INVALID);
        assert_eq!(t.entry(0, 0x007F_F000).read, TLB_INVALID);
        assert_eq!(
            t.entry(0, 0x0080_1000).read,
            0x0080_1000,
            "other large page"
        );
        assert_eq!(
            t.entry(0, 0x0042_0000).read,
            0x0042_0000,
            "4K page in the same region"
        );
    }

    #[test]
    fn mark_code_flags_matching_write_tags() {
        let mut t = Tlb::new();
        t.set(0, 0x5000, entry(0x5000), false, false);
        t.set(1, 0x9000, entry(0x9000), false, false);
        let mut other = entry(0x7000);
        other.paddr = 0x2000;
        t.set(0, 0x7000, other, false, false);
        t.mark_code(0x1000);
        assert_eq!(t.entry(0, 0x5000).write, 0x5000 | TLB_CODE);
        assert_eq!(t.entry(1, 0x9000).write, 0x9000 | TLB_CODE);
        assert_eq!(t.entry(0, 0x5000).read, 0x5000, "reads stay fast");
        assert_eq!(t.entry(0, 0x7000).write, 0x7000);
    }
}
