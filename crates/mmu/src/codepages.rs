//! Self-modifying-code tracking over physical RAM pages.
//!
//! Two lock-free bitmaps, one bit per 4 KiB RAM page: `code` (an engine holds
//! decoded or translated code from the page) and `dirty` (a code page was
//! written since the engines last asked). A summary bitmap (one bit per
//! `dirty` word) keeps collection cheap, and `pending` is the one flag the
//! engines poll after stores. Shared through `Arc` with [`crate::DmaMemory`].
//!
//! Leaves out: sub-page granularity (a write anywhere in a code page counts)
//! and pages outside RAM (ROM cannot change; MMIO code is not tracked).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(crate) struct CodePages {
    code: Box<[AtomicU64]>,
    dirty: Box<[AtomicU64]>,
    summary: Box<[AtomicU64]>,
    pending: AtomicBool,
    pages: u32,
}

fn bitmap(bits: usize) -> Box<[AtomicU64]> {
    (0..bits.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

impl CodePages {
    /// Tracks `pages` physical pages starting at physical address 0.
    pub(crate) fn new(pages: u32) -> CodePages {
        let words = (pages as usize).div_ceil(64);
        CodePages {
            code: bitmap(pages as usize),
            dirty: bitmap(pages as usize),
            summary: bitmap(words),
            pending: AtomicBool::new(false),
            pages,
        }
    }

    #[inline(always)]
    fn page(&self, paddr: u32) -> Option<(usize, u64)> {
        let p = paddr >> 12;
        (p < self.pages).then(|| ((p / 64) as usize, 1u64 << (p % 64)))
    }

    #[inline(always)]
    pub(crate) fn is_code(&self, paddr: u32) -> bool {
        self.page(paddr)
            .is_some_and(|(w, b)| self.code[w].load(Ordering::Relaxed) & b != 0)
    }

    /// Marks the page holding `paddr` as code; true if it was not marked.
    pub(crate) fn mark(&self, paddr: u32) -> bool {
        match self.page(paddr) {
            Some((w, b)) => {
                self.code[w].load(Ordering::Relaxed) & b == 0
                    && self.code[w].fetch_or(b, Ordering::Relaxed) & b == 0
            }
            None => false,
        }
    }

    /// Records a write to the page holding `paddr` if it holds code.
    #[inline(always)]
    pub(crate) fn record_write(&self, paddr: u32) {
        if let Some((w, b)) = self.page(paddr) {
            if self.code[w].load(Ordering::Relaxed) & b != 0 {
                self.dirty[w].fetch_or(b, Ordering::Relaxed);
                self.summary[w / 64].fetch_or(1 << (w % 64), Ordering::Relaxed);
                self.pending.store(true, Ordering::Release);
            }
        }
    }

    /// Records a write to every page overlapping [paddr, paddr+len).
    pub(crate) fn record_write_range(&self, paddr: u32, len: u64) {
        if len == 0 {
            return;
        }
        let first = u64::from(paddr >> 12);
        let last = ((u64::from(paddr) + len - 1) >> 12).min(u64::from(self.pages));
        for p in first..=last {
            self.record_write((p << 12) as u32);
        }
    }

    #[inline(always)]
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// Appends the page numbers written since the last call to `out` and
    /// clears their code and dirty marks and the pending flag.
    pub(crate) fn take(&self, out: &mut Vec<u32>) {
        if !self.pending.swap(false, Ordering::Acquire) {
            return;
        }
        for (si, s) in self.summary.iter().enumerate() {
            if s.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut sbits = s.swap(0, Ordering::Relaxed);
            while sbits != 0 {
                let w = si * 64 + sbits.trailing_zeros() as usize;
                sbits &= sbits - 1;
                let mut bits = self.dirty[w].swap(0, Ordering::Relaxed);
                self.code[w].fetch_and(!bits, Ordering::Relaxed);
                while bits != 0 {
                    out.push((w * 64) as u32 + bits.trailing_zeros());
                    bits &= bits - 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_to_code_page_is_recorded_once() {
        let c = CodePages::new(1024);
        assert!(c.mark(0x5000));
        assert!(!c.mark(0x5FFF));
        c.record_write(0x4FFF); // data page
        assert!(!c.pending());
        c.record_write(0x5123);
        c.record_write(0x5124);
        assert!(c.pending());
        let mut out = Vec::new();
        c.take(&mut out);
        assert_eq!(out, vec![5]);
        assert!(!c.pending());
        assert!(!c.is_code(0x5000), "take clears the code mark");
        c.record_write(0x5000);
        assert!(!c.pending());
    }

    #[test]
    fn many_pages_across_words_and_ranges() {
        let c = CodePages::new(100_000);
        for p in [0u32, 63, 64, 4095, 4096, 99_999] {
            c.mark(p << 12);
        }
        c.record_write_range(0, 65 << 12);
        c.record_write(99_999 << 12);
        c.record_write(100_000 << 12); // beyond RAM: ignored
        let mut out = Vec::new();
        c.take(&mut out);
        out.sort_unstable();
        assert_eq!(out, vec![0, 63, 64, 99_999]);
        assert!(c.is_code(4095 << 12));
    }

    #[test]
    fn out_of_range_pages_are_ignored() {
        let c = CodePages::new(16);
        assert!(!c.mark(0xFFFF_F000));
        assert!(!c.is_code(0xFFFF_F000));
        c.record_write_range(0xFFFF_F000, 0x2000);
        assert!(!c.pending());
    }
}
