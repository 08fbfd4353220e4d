//! Self-modifying-code tracking over physical RAM pages.
//!
//! Two lock-free bitmaps, one bit per 4 KiB RAM page: `code` (an engine holds
//! decoded or translated code from the page) and `dirty` (a code page was
//! written since the engines last asked). A summary bitmap (one bit per
//! `dirty` word) keeps collection cheap, and `pending` is the one flag the
//! engines poll after stores. Shared through `Arc` with [`crate::DmaMemory`].
//!
//! Within a code page, `chunks` holds one bit per 64-byte chunk that holds
//! code, so writes to the data bytes of a page that mixes code and data
//! (common in real-mode DOS programs) do not count as code writes. Marking
//! a whole page sets every chunk.
//!
//! Leaves out: pages outside RAM (ROM cannot change; MMIO code is not
//! tracked).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(crate) struct CodePages {
    code: Box<[AtomicU64]>,
    dirty: Box<[AtomicU64]>,
    summary: Box<[AtomicU64]>,
    /// Per page: bit i set when bytes [64*i, 64*i+64) hold code.
    chunks: Box<[AtomicU64]>,
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
            chunks: (0..pages).map(|_| AtomicU64::new(0)).collect(),
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
        self.mark_range(paddr & !0xFFF, 4096)
    }

    /// Marks bytes [paddr, paddr+len) (clamped to the page holding `paddr`)
    /// as code; true if the page was not marked before.
    pub(crate) fn mark_range(&self, paddr: u32, len: u32) -> bool {
        match self.page(paddr) {
            Some((w, b)) => {
                let c = chunk_mask(paddr, len);
                let ch = &self.chunks[(paddr >> 12) as usize];
                if ch.load(Ordering::Relaxed) & c != c {
                    ch.fetch_or(c, Ordering::Relaxed);
                }
                self.code[w].load(Ordering::Relaxed) & b == 0
                    && self.code[w].fetch_or(b, Ordering::Relaxed) & b == 0
            }
            None => false,
        }
    }

    /// Records a write of `len` bytes at `paddr` (within one page) if they
    /// touch a code chunk of a code page.
    #[inline(always)]
    pub(crate) fn record_write(&self, paddr: u32, len: u32) {
        if let Some((w, b)) = self.page(paddr) {
            if self.code[w].load(Ordering::Relaxed) & b != 0
                && self.chunks[(paddr >> 12) as usize].load(Ordering::Relaxed)
                    & chunk_mask(paddr, len)
                    != 0
            {
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
        let end = u64::from(paddr) + len;
        let mut a = u64::from(paddr);
        while a < end && a >> 12 < u64::from(self.pages) {
            let n = (4096 - (a & 0xFFF)).min(end - a);
            self.record_write(a as u32, n as u32);
            a += n;
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
                    let p = (w * 64) as u32 + bits.trailing_zeros();
                    self.chunks[p as usize].store(0, Ordering::Relaxed);
                    out.push(p);
                    bits &= bits - 1;
                }
            }
        }
    }
}

/// The chunk bits covered by bytes [paddr, paddr+len) within its page
/// (`len` is clamped to the page end; 0 counts as 1).
#[inline(always)]
fn chunk_mask(paddr: u32, len: u32) -> u64 {
    let off = paddr & 0xFFF;
    let last = (off + len.max(1) - 1).min(0xFFF);
    let (a, b) = (off >> 6, last >> 6);
    // Bits a..=b.
    (u64::MAX >> (63 - b)) & (u64::MAX << a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_to_code_page_is_recorded_once() {
        let c = CodePages::new(1024);
        assert!(c.mark(0x5000));
        assert!(!c.mark(0x5FFF));
        c.record_write(0x4FFF, 1); // data page
        assert!(!c.pending());
        c.record_write(0x5123, 4);
        c.record_write(0x5124, 1);
        assert!(c.pending());
        let mut out = Vec::new();
        c.take(&mut out);
        assert_eq!(out, vec![5]);
        assert!(!c.pending());
        assert!(!c.is_code(0x5000), "take clears the code mark");
        c.record_write(0x5000, 1);
        assert!(!c.pending());
    }

    #[test]
    fn writes_to_data_chunks_of_a_code_page_are_not_recorded() {
        let c = CodePages::new(16);
        assert!(c.mark_range(0x3100, 0x20)); // chunk 4
        assert!(!c.mark_range(0x3FF0, 0x10)); // chunk 63, page already marked
        c.record_write(0x30FC, 4); // chunk 3
        c.record_write(0x3140, 8); // chunk 5
        c.record_write(0x3000, 0x100 - 1); // chunks 0..=3
        assert!(!c.pending());
        c.record_write(0x30FE, 4); // straddles chunks 3 and 4
        assert!(c.pending());
        let mut out = Vec::new();
        c.take(&mut out);
        assert_eq!(out, vec![3]);
        // Re-marking after take starts from no chunks.
        c.mark_range(0x3000, 1);
        c.record_write(0x3100, 1);
        assert!(!c.pending());
        c.record_write(0x3FFF, 1);
        assert!(!c.pending());
        c.record_write(0x3000, 1);
        assert!(c.pending());
    }

    #[test]
    fn chunk_masks() {
        assert_eq!(chunk_mask(0x1000, 1), 1);
        assert_eq!(chunk_mask(0x103F, 2), 0b11);
        assert_eq!(chunk_mask(0x1FC0, 64), 1 << 63);
        assert_eq!(chunk_mask(0x1000, 4096), u64::MAX);
        assert_eq!(chunk_mask(0x1FFF, 8), 1 << 63, "clamped to the page");
    }

    #[test]
    fn many_pages_across_words_and_ranges() {
        let c = CodePages::new(100_000);
        for p in [0u32, 63, 64, 4095, 4096, 99_999] {
            c.mark(p << 12);
        }
        c.record_write_range(0, 65 << 12);
        c.record_write(99_999 << 12, 1);
        c.record_write(100_000 << 12, 1); // beyond RAM: ignored
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
