//! The executable code region: one fixed-size `dynasmrt` buffer whose
//! address never changes, kept executable-and-not-writable except while
//! the translator copies a new block in or patches a jump (W^X: the mapping
//! is flipped to read-write, written, and flipped back before any generated
//! code runs again).
//!
//! Leaves out: growing the region (a full cache flush reuses it) and
//! multi-threaded patching.

use dynasmrt::mmap::{ExecutableBuffer, MutableBuffer};

/// Host failures of the code region.
#[derive(Debug, thiserror::Error)]
pub enum CodeBufError {
    #[error("cannot map or protect the code buffer: {0}")]
    Map(#[from] std::io::Error),
}

/// The 5-byte NOP (`nop dword [rax+rax]`).
pub const NOP5: [u8; 5] = [0x0F, 0x1F, 0x44, 0x00, 0x00];

/// A fixed-address code region with a bump allocator.
pub struct CodeBuf {
    /// The mapping (owned here; kept read+execute outside `with_mut`).
    buf: ExecutableBuffer,
    base: usize,
    size: usize,
    /// Next free byte.
    pub used: usize,
}

impl CodeBuf {
    /// Maps `size` bytes (rounded up by the OS to pages).
    pub fn new(size: usize) -> Result<CodeBuf, CodeBufError> {
        let mut m = MutableBuffer::new(size)?;
        m.set_len(size);
        let base = m.as_ptr() as usize;
        let e = m.make_exec()?;
        Ok(CodeBuf {
            buf: e,
            base,
            size,
            used: 0,
        })
    }

    /// Host address of offset `off`.
    pub fn addr(&self, off: usize) -> usize {
        self.base + off
    }

    pub fn base(&self) -> usize {
        self.base
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes left for new code.
    pub fn free(&self) -> usize {
        self.size - self.used
    }

    /// Makes the pages covering `off..off + len` writable, runs `f` on that
    /// byte range, then makes them executable (and read-only) again. Only
    /// the touched pages change protection: flipping the whole region per
    /// block costs a page-table walk over all of it (seen as most of a
    /// Linux boot's time in the kernel).
    fn with_mut(&mut self, off: usize, len: usize, f: impl FnOnce(&mut [u8])) {
        assert!(off + len <= self.size, "code write past the buffer");
        const PAGE: usize = 4096;
        let first = (self.base + off) & !(PAGE - 1);
        let end = (self.base + off + len + PAGE - 1) & !(PAGE - 1);
        let protect = |prot: libc::c_int| {
            // SAFETY: `first..end` lies inside the mapping `self.buf` owns
            // (page-aligned bounds of a range checked against `size`, and
            // the mapping itself is page-aligned); changing its protection
            // affects no other Rust object.
            let rc = unsafe { libc::mprotect(first as *mut libc::c_void, end - first, prot) };
            if rc != 0 {
                panic!("mprotect code buffer: {}", std::io::Error::last_os_error());
            }
        };
        protect(libc::PROT_READ | libc::PROT_WRITE);
        // SAFETY: the range was just made writable; no generated code runs
        // while the translator holds `&mut self`, and no Rust reference to
        // these bytes exists (reads go through `bytes`, which needs `&self`).
        let bytes = unsafe { std::slice::from_raw_parts_mut((self.base + off) as *mut u8, len) };
        f(bytes);
        protect(libc::PROT_READ | libc::PROT_EXEC);
    }

    /// Copies `code` to offset `off` (which must have room).
    pub fn write(&mut self, off: usize, code: &[u8]) {
        self.with_mut(off, code.len(), |m| m.copy_from_slice(code));
    }

    /// Appends `code`; returns its offset, or None if it does not fit.
    pub fn append(&mut self, code: &[u8]) -> Option<usize> {
        if code.len() > self.free() {
            return None;
        }
        let off = self.used;
        self.write(off, code);
        self.used += code.len();
        Some(off)
    }

    /// Rewrites the rel32 of the 5-byte `jmp` at `site` to reach `target`
    /// (both offsets in this buffer).
    pub fn patch_jmp(&mut self, site: usize, target: usize) {
        let rel = target as i64 - (site as i64 + 5);
        let rel = i32::try_from(rel).expect("jump within the code buffer");
        self.with_mut(site, 5, |m| {
            debug_assert_eq!(m[0], 0xE9, "patch site is a jmp rel32");
            m[1..5].copy_from_slice(&rel.to_le_bytes());
        });
    }

    /// Makes the 5 bytes at `site` a `jmp rel32` to `target`, or with
    /// `None` the 5-byte NOP `0F 1F 44 00 00` (fast exits are a NOP until
    /// chained).
    pub fn patch_jmp_or_nop(&mut self, site: usize, target: Option<usize>) {
        let bytes = match target {
            Some(t) => {
                let rel = t as i64 - (site as i64 + 5);
                let rel = i32::try_from(rel).expect("jump within the code buffer");
                let r = rel.to_le_bytes();
                [0xE9, r[0], r[1], r[2], r[3]]
            }
            None => NOP5,
        };
        self.with_mut(site, 5, |m| {
            debug_assert!(
                m[0] == 0xE9 || m[..5] == NOP5,
                "patch site is a jmp or a nop"
            );
            m[..5].copy_from_slice(&bytes);
        });
    }

    /// Reads back `len` bytes at `off` (for disassembly).
    pub fn bytes(&self, off: usize, len: usize) -> Vec<u8> {
        self.buf[off..off + len].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jmp_or_nop_patches() {
        let mut b = CodeBuf::new(1 << 16).unwrap();
        let off = b.append(&NOP5).unwrap();
        b.patch_jmp_or_nop(off, Some(off + 0x20));
        assert_eq!(b.bytes(off, 5), vec![0xE9, 0x1B, 0, 0, 0]);
        b.patch_jmp_or_nop(off, None);
        assert_eq!(b.bytes(off, 5), NOP5.to_vec());
    }

    #[test]
    fn append_patch_and_read_back() {
        let mut b = CodeBuf::new(1 << 16).unwrap();
        let a = b.append(&[0xE9, 0, 0, 0, 0, 0xC3]).unwrap();
        assert_eq!(a, 0);
        let base = b.base();
        b.patch_jmp(0, 0x100);
        assert_eq!(b.bytes(0, 5), vec![0xE9, 0xFB, 0, 0, 0]);
        assert_eq!(b.base(), base, "address is fixed");
        assert!(b.append(&vec![0x90; 1 << 16]).is_none(), "full");
    }
}
