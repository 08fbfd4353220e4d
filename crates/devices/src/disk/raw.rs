//! [`RawImage`]: a raw image file, sector `n` at byte `n * 512`.
//!
//! Read-write images get every guest write with `pwrite` at once, in the
//! order the guest issued them, so a write the guest saw complete is in the
//! host kernel's page cache even if the emulator is killed; `flush()` (the
//! guest's cache flush, the machine's exit) and `Drop` add `fdatasync`.
//! Read-only images refuse writes and say so once on stderr.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{check_range, BlockDevice, DiskError, Result, SECTOR_SIZE};

pub struct RawImage {
    file: File,
    path: PathBuf,
    sectors: u64,
    read_only: bool,
    /// Written since the last `fdatasync`.
    dirty: bool,
    warned: bool,
}

impl RawImage {
    /// Wraps an open file of `sectors` sectors; `read_only` must match how
    /// it was opened.
    pub(super) fn new(file: File, path: &Path, sectors: u64, read_only: bool) -> Self {
        RawImage {
            file,
            path: path.to_path_buf(),
            sectors,
            read_only,
            dirty: false,
            warned: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> DiskError {
        DiskError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl BlockDevice for RawImage {
    fn sector_count(&self) -> u64 {
        self.sectors
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<()> {
        check_range(lba, buf.len(), self.sectors)?;
        self.file
            .read_exact_at(buf, lba * SECTOR_SIZE as u64)
            .map_err(|e| self.io(e))
    }

    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<()> {
        check_range(lba, data.len(), self.sectors)?;
        if self.read_only {
            if !self.warned {
                self.warned = true;
                log::warn!(
                    "guest write to read-only image {} refused",
                    self.path.display()
                );
                eprintln!(
                    "oxpc: warning: {} is read-only: the guest's writes to it are refused (use --snapshot to keep them in memory)",
                    self.path.display()
                );
            }
            return Err(DiskError::ReadOnly);
        }
        self.dirty = true;
        self.file
            .write_all_at(data, lba * SECTOR_SIZE as u64)
            .map_err(|e| self.io(e))
    }

    fn flush(&mut self) -> Result<()> {
        if self.dirty {
            self.file.sync_data().map_err(|e| self.io(e))?;
            self.dirty = false;
        }
        Ok(())
    }

    fn is_read_only(&self) -> bool {
        self.read_only
    }
}

impl Drop for RawImage {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            log::error!("flushing {} on close: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testfile::TempPath;
    use super::super::{open_hard_disk, DiskMode};
    use super::*;

    #[test]
    fn writes_land_in_the_file_in_order() {
        let t = TempPath::with("raw-rw", &[0u8; 4096]);
        {
            let mut d = open_hard_disk(&t.0, DiskMode::ReadWrite).unwrap();
            assert_eq!(d.sector_count(), 8);
            assert!(!d.is_read_only());
            d.write_sectors(1, &[0xAA; 512]).unwrap();
            d.write_sectors(1, &[0xBB; 512]).unwrap();
            // Visible in the file before any flush.
            let f = std::fs::read(&t.0).unwrap();
            assert_eq!(f[512], 0xBB);
            d.write_sectors(7, &[0xCC; 512]).unwrap();
            d.flush().unwrap();
            let mut b = [0u8; 1024];
            d.read_sectors(0, &mut b).unwrap();
            assert_eq!((b[0], b[512], b[1023]), (0, 0xBB, 0xBB));
            assert!(d.read_sectors(7, &mut b).is_err(), "past the end");
            assert!(d.write_sectors(8, &[0; 512]).is_err());
        } // Drop flushes.
        let f = std::fs::read(&t.0).unwrap();
        assert_eq!(f.len(), 4096, "never grows");
        assert_eq!(f[7 * 512], 0xCC);
    }

    #[test]
    fn read_only_refuses_and_keeps_file() {
        let t = TempPath::with("raw-ro", &[7u8; 1024]);
        let mut d = open_hard_disk(&t.0, DiskMode::ReadOnly).unwrap();
        assert!(d.is_read_only());
        assert!(matches!(
            d.write_sectors(0, &[1; 512]),
            Err(DiskError::ReadOnly)
        ));
        assert!(matches!(
            d.write_sectors(0, &[1; 512]),
            Err(DiskError::ReadOnly)
        ));
        let mut b = [0u8; 512];
        d.read_sectors(1, &mut b).unwrap();
        assert_eq!(b, [7; 512]);
        d.flush().unwrap();
        drop(d);
        assert_eq!(std::fs::read(&t.0).unwrap(), vec![7u8; 1024]);
    }
}
