//! Disk image back ends for the floppy and IDE controllers.
//!
//! Models: a [`BlockDevice`] of 512-byte sectors; [`RawImage`], a raw image
//! file opened read-write (every guest write goes straight to the file with
//! `pwrite`, in order, so nothing is buffered in the emulator; `flush()` and
//! `Drop` call `fdatasync`) or read-only (guest writes are refused with
//! [`DiskError::ReadOnly`], which the controllers turn into a write-protect
//! error, and the user gets one warning line); [`Overlay`], the `--snapshot`
//! copy-on-write layer that keeps written sectors in memory and never writes
//! the file; [`MemDisk`], an in-memory disk. [`open_floppy`],
//! [`open_hard_disk`] and [`open_cdrom`] validate an image before the guest
//! sees it (empty file, directory, partial trailing sector, unknown or
//! truncated floppy size) with one-line [`DiskError`]s.
//!
//! Leaves out: image formats other than raw (qcow2, VHD), asynchronous I/O,
//! file locking against a second emulator using the same image.

mod geometry;
mod mem;
mod open;
mod overlay;
mod raw;

pub use geometry::{chs_geometry, FloppyGeometry, HdGeometry, FLOPPY_GEOMETRIES};
pub use mem::MemDisk;
pub use open::{open_cdrom, open_floppy, open_hard_disk, DiskMode};
pub use overlay::Overlay;
pub use raw::RawImage;

use std::path::PathBuf;

/// Bytes per sector of every [`BlockDevice`].
pub const SECTOR_SIZE: usize = 512;

/// Host-side failures of an image; never a guest fault by themselves.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: is a directory, not a disk image")]
    Directory(PathBuf),
    #[error("{0}: is not a regular file")]
    NotAFile(PathBuf),
    #[error("{0}: the image is empty")]
    Empty(PathBuf),
    #[error("{path}: {size} bytes is not a whole number of {sector}-byte sectors (partial trailing sector)")]
    PartialSector {
        path: PathBuf,
        size: u64,
        sector: usize,
    },
    #[error(
        "{path}: {size} bytes is smaller than a {name} floppy ({expected} bytes): truncated image?"
    )]
    TruncatedFloppy {
        path: PathBuf,
        size: u64,
        expected: u64,
        name: &'static str,
    },
    #[error("{path}: {size} bytes is larger than the largest floppy (2.88 MB, 2949120 bytes)")]
    OversizedFloppy { path: PathBuf, size: u64 },
    #[error("{path}: {size} bytes is not a floppy size this controller knows (160K, 180K, 320K, 360K, 720K, 1.2M, 1.44M, 1.68M, 2.88M)")]
    UnknownFloppySize { path: PathBuf, size: u64 },
    #[error("{path}: {size} bytes is beyond the 48-bit LBA limit")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("write refused: the image is read-only")]
    ReadOnly,
    #[error("sectors {lba}..{lba}+{count} are beyond the end of the image ({total} sectors)")]
    OutOfRange { lba: u64, count: u64, total: u64 },
}

pub type Result<T> = std::result::Result<T, DiskError>;

/// A disk of [`SECTOR_SIZE`]-byte sectors. Buffers passed in are whole
/// sectors long; a request past the end fails with
/// [`DiskError::OutOfRange`] and transfers nothing.
pub trait BlockDevice: Send {
    /// Size in sectors.
    fn sector_count(&self) -> u64;
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<()>;
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<()>;
    /// Makes every completed write durable.
    fn flush(&mut self) -> Result<()>;
    /// Whether writes are refused (the guest sees write protection).
    fn is_read_only(&self) -> bool;
}

/// Checks that `len` bytes at `lba` are whole sectors inside `total`.
pub(crate) fn check_range(lba: u64, len: usize, total: u64) -> Result<()> {
    let count = (len / SECTOR_SIZE) as u64;
    if !len.is_multiple_of(SECTOR_SIZE) || lba.checked_add(count).is_none_or(|end| end > total) {
        return Err(DiskError::OutOfRange {
            lba,
            count: count.max(1),
            total,
        });
    }
    Ok(())
}

impl<T: BlockDevice + ?Sized> BlockDevice for Box<T> {
    fn sector_count(&self) -> u64 {
        (**self).sector_count()
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_sectors(lba, buf)
    }
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<()> {
        (**self).write_sectors(lba, data)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn is_read_only(&self) -> bool {
        (**self).is_read_only()
    }
}

/// Unique temporary paths for the unit tests of the disk users.
#[cfg(test)]
pub(crate) mod testfile {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    static NEXT: AtomicU32 = AtomicU32::new(0);

    /// A path in the temp dir that no other test uses; removed on drop.
    pub struct TempPath(pub PathBuf);

    impl TempPath {
        pub fn new(tag: &str) -> Self {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let p = std::env::temp_dir().join(format!(
                "oxpc-disks-{}-{}-{}.img",
                std::process::id(),
                tag,
                n
            ));
            TempPath(p)
        }

        /// A new file holding `data`.
        pub fn with(tag: &str, data: &[u8]) -> Self {
            let t = Self::new(tag);
            std::fs::write(&t.0, data).unwrap();
            t
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
            let _ = std::fs::remove_dir(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_checks() {
        assert!(check_range(0, 512, 1).is_ok());
        assert!(check_range(1, 512, 1).is_err());
        assert!(check_range(0, 1024, 1).is_err());
        assert!(check_range(0, 100, 1).is_err());
        assert!(check_range(u64::MAX, 512, 10).is_err());
        let e = check_range(5, 1024, 6).unwrap_err();
        assert!(e.to_string().contains("beyond the end"), "{e}");
    }
}
