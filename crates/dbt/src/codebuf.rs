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

enum State {
    Exec(ExecutableBuffer),
    Poisoned,
}

/// A fixed-address code region with a bump allocator.
pub struct CodeBuf {
    buf: State,
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
            buf: State::Exec(e),
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

    /// Runs `f` on the writable mapping, then makes it executable again.
    fn with_mut(&mut self, f: impl FnOnce(&mut [u8])) {
        let st = std::mem::replace(&mut self.buf, State::Poisoned);
        let mut m = match st {
            State::Exec(e) => e.make_mut().expect("mprotect code buffer RW"),
            State::Poisoned => panic!("code buffer poisoned by an earlier mprotect failure"),
        };
        f(&mut m[..]);
        self.buf = State::Exec(m.make_exec().expect("mprotect code buffer RX"));
    }

    /// Copies `code` to offset `off` (which must have room).
    pub fn write(&mut self, off: usize, code: &[u8]) {
        assert!(off + code.len() <= self.size, "code write past the buffer");
        self.with_mut(|m| m[off..off + code.len()].copy_from_slice(code));
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
        self.with_mut(|m| {
            debug_assert_eq!(m[site], 0xE9, "patch site is a jmp rel32");
            m[site + 1..site + 5].copy_from_slice(&rel.to_le_bytes());
        });
    }

    /// Reads back `len` bytes at `off` (for disassembly).
    pub fn bytes(&self, off: usize, len: usize) -> Vec<u8> {
        match &self.buf {
            State::Exec(e) => e[off..off + len].to_vec(),
            State::Poisoned => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
