//! Opening and validating images: the checks that turn a bad file into a
//! one-line [`DiskError`] before the guest ever sees it. Nothing here
//! writes to a file, so a rejected image is never touched.

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::{
    BlockDevice, DiskError, FloppyGeometry, Overlay, RawImage, Result, FLOPPY_GEOMETRIES,
    SECTOR_SIZE,
};

/// How the guest's writes are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DiskMode {
    /// Writes go to the file. A file without write permission bits (or
    /// one the OS refuses to open for writing) is opened read-only with a
    /// warning instead.
    #[default]
    ReadWrite,
    /// Writes are refused: the guest sees write protection.
    ReadOnly,
    /// `--snapshot`: writes go to memory; the file is never written.
    Snapshot,
}

/// Size of a regular file, or why it cannot be an image.
fn image_size(path: &Path) -> Result<u64> {
    let md = std::fs::metadata(path).map_err(|source| DiskError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if md.is_dir() {
        return Err(DiskError::Directory(path.to_path_buf()));
    }
    if !md.is_file() {
        return Err(DiskError::NotAFile(path.to_path_buf()));
    }
    if md.len() == 0 {
        return Err(DiskError::Empty(path.to_path_buf()));
    }
    Ok(md.len())
}

fn open_file(path: &Path, mode: DiskMode) -> Result<(File, bool)> {
    let io = |source| DiskError::Io {
        path: path.to_path_buf(),
        source,
    };
    if mode == DiskMode::ReadWrite {
        let no_write_bits = std::fs::metadata(path)
            .map(|m| m.permissions().readonly())
            .unwrap_or(false);
        if !no_write_bits {
            match OpenOptions::new().read(true).write(true).open(path) {
                Ok(f) => return Ok((f, false)),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::PermissionDenied
                            | std::io::ErrorKind::ReadOnlyFilesystem
                    ) => {}
                Err(e) => return Err(io(e)),
            }
        }
        eprintln!(
            "oxpc: warning: {} is not writable: opened read-only, the guest's writes will fail (use --snapshot to keep them in memory)",
            path.display()
        );
    }
    let f = File::open(path).map_err(io)?;
    Ok((f, true))
}

/// Opens a validated image of `size` bytes as a block device.
fn open_sized(path: &Path, mode: DiskMode, size: u64) -> Result<Box<dyn BlockDevice>> {
    let (file, read_only) = open_file(path, mode)?;
    let raw = RawImage::new(file, path, size / SECTOR_SIZE as u64, read_only);
    Ok(match mode {
        DiskMode::Snapshot => Box::new(Overlay::new(Box::new(raw))),
        _ => Box::new(raw),
    })
}

fn whole_sectors(path: &Path, size: u64, sector: usize) -> Result<()> {
    if !size.is_multiple_of(sector as u64) {
        return Err(DiskError::PartialSector {
            path: path.to_path_buf(),
            size,
            sector,
        });
    }
    Ok(())
}

/// A hard-disk image: any whole number of sectors up to the LBA48 limit.
pub fn open_hard_disk(path: &Path, mode: DiskMode) -> Result<Box<dyn BlockDevice>> {
    let size = image_size(path)?;
    whole_sectors(path, size, SECTOR_SIZE)?;
    if size / SECTOR_SIZE as u64 > (1 << 48) - 1 {
        return Err(DiskError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    open_sized(path, mode, size)
}

/// A CD image (ISO 9660): whole 2048-byte blocks.
pub fn open_cdrom(path: &Path, mode: DiskMode) -> Result<Box<dyn BlockDevice>> {
    let size = image_size(path)?;
    whole_sectors(path, size, 2048)?;
    // A CD is never written; read-only unless a snapshot was asked for.
    let mode = if mode == DiskMode::ReadWrite {
        DiskMode::ReadOnly
    } else {
        mode
    };
    open_sized(path, mode, size)
}

/// A floppy image: exactly one of the [`FLOPPY_GEOMETRIES`] sizes.
pub fn open_floppy(path: &Path, mode: DiskMode) -> Result<(Box<dyn BlockDevice>, FloppyGeometry)> {
    let size = image_size(path)?;
    let geom = floppy_geometry(path, size)?;
    Ok((open_sized(path, mode, size)?, geom))
}

fn floppy_geometry(path: &Path, size: u64) -> Result<FloppyGeometry> {
    if let Some(g) = FloppyGeometry::from_size(size) {
        return Ok(g);
    }
    let p = path.to_path_buf();
    let largest = FLOPPY_GEOMETRIES[FLOPPY_GEOMETRIES.len() - 1];
    if size > largest.bytes() {
        return Err(DiskError::OversizedFloppy { path: p, size });
    }
    whole_sectors(path, size, SECTOR_SIZE)?;
    // Within 10% below a known size: most likely a cut-off copy of it.
    let next = FLOPPY_GEOMETRIES.iter().find(|g| g.bytes() > size);
    match next {
        Some(g) if size < FLOPPY_GEOMETRIES[0].bytes() || size * 10 >= g.bytes() * 9 => {
            Err(DiskError::TruncatedFloppy {
                path: p,
                size,
                expected: g.bytes(),
                name: g.name,
            })
        }
        _ => Err(DiskError::UnknownFloppySize { path: p, size }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testfile::TempPath;
    use super::*;

    #[test]
    fn rejects_bad_images() {
        let empty = TempPath::with("empty", &[]);
        let e = open_hard_disk(&empty.0, DiskMode::ReadWrite).err().unwrap();
        assert!(matches!(e, DiskError::Empty(_)), "{e}");
        let e = open_floppy(&empty.0, DiskMode::ReadWrite).err().unwrap();
        assert!(matches!(e, DiskError::Empty(_)));

        let dir = TempPath::new("dir");
        std::fs::create_dir(&dir.0).unwrap();
        let e = open_hard_disk(&dir.0, DiskMode::ReadWrite).err().unwrap();
        assert!(matches!(e, DiskError::Directory(_)), "{e}");
        assert!(e.to_string().contains("is a directory"));

        let missing = TempPath::new("missing");
        let e = open_cdrom(&missing.0, DiskMode::ReadOnly).err().unwrap();
        assert!(matches!(e, DiskError::Io { .. }));

        let partial = TempPath::with("partial", &[0u8; 1000]);
        let e = open_hard_disk(&partial.0, DiskMode::ReadWrite)
            .err()
            .unwrap();
        assert!(
            matches!(e, DiskError::PartialSector { size: 1000, .. }),
            "{e}"
        );
        let iso = TempPath::with("iso-partial", &[0u8; 4096 + 512]);
        let e = open_cdrom(&iso.0, DiskMode::ReadOnly).err().unwrap();
        assert!(matches!(e, DiskError::PartialSector { sector: 2048, .. }));

        let e = open_hard_disk(Path::new("/dev/null"), DiskMode::ReadOnly)
            .err()
            .unwrap();
        assert!(matches!(e, DiskError::NotAFile(_)), "{e}");
        // Nothing was written by any failed open.
        assert_eq!(std::fs::read(&partial.0).unwrap(), vec![0u8; 1000]);
    }

    #[test]
    fn floppy_size_validation() {
        let ok = TempPath::with("fd144", &vec![0u8; 1_474_560]);
        let (d, g) = open_floppy(&ok.0, DiskMode::ReadWrite).unwrap();
        assert_eq!((d.sector_count(), g.sectors), (2880, 18));

        let cut = TempPath::with("fd-cut", &vec![0u8; 1_474_560 - 512 * 18]);
        let e = open_floppy(&cut.0, DiskMode::ReadWrite).err().unwrap();
        assert!(
            matches!(
                e,
                DiskError::TruncatedFloppy {
                    expected: 1_474_560,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("truncated"));

        let tiny = TempPath::with("fd-tiny", &[0u8; 512]);
        let e = open_floppy(&tiny.0, DiskMode::ReadWrite).err().unwrap();
        assert!(matches!(
            e,
            DiskError::TruncatedFloppy {
                expected: 163_840,
                ..
            }
        ));

        let big = TempPath::with("fd-big", &vec![0u8; 2_949_120 + 512]);
        let e = open_floppy(&big.0, DiskMode::ReadWrite).err().unwrap();
        assert!(matches!(e, DiskError::OversizedFloppy { .. }), "{e}");

        let odd = TempPath::with("fd-odd", &vec![0u8; 1_000_448]);
        let e = open_floppy(&odd.0, DiskMode::ReadWrite).err().unwrap();
        assert!(matches!(e, DiskError::UnknownFloppySize { .. }), "{e}");

        let half = TempPath::with("fd-half", &vec![0u8; 1_474_560 - 100]);
        let e = open_floppy(&half.0, DiskMode::ReadWrite).err().unwrap();
        assert!(matches!(e, DiskError::PartialSector { .. }), "{e}");
    }

    #[test]
    fn no_write_bits_means_read_only() {
        let t = TempPath::with("ro-bits", &[1u8; 1024]);
        let mut perm = std::fs::metadata(&t.0).unwrap().permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(&t.0, perm).unwrap();
        let mut d = open_hard_disk(&t.0, DiskMode::ReadWrite).unwrap();
        assert!(d.is_read_only());
        assert!(matches!(
            d.write_sectors(0, &[0; 512]),
            Err(DiskError::ReadOnly)
        ));
        drop(d);
        assert_eq!(std::fs::read(&t.0).unwrap(), vec![1u8; 1024]);
    }

    #[test]
    fn shared_guest_images_open_read_only_or_snapshot() {
        let p = Path::new("/work/shared/guests/freedos.boot.disk.720K.img");
        if !p.exists() {
            eprintln!("skipped: {} missing", p.display());
            return;
        }
        let before = std::fs::read(p).unwrap();
        let (mut d, g) = open_floppy(p, DiskMode::Snapshot).unwrap();
        assert_eq!((g.tracks, g.sectors, g.rate), (80, 9, 2));
        assert!(!d.is_read_only());
        d.write_sectors(0, &[0xEE; 512]).unwrap();
        let mut b = [0u8; 512];
        d.read_sectors(0, &mut b).unwrap();
        assert_eq!(b, [0xEE; 512]);
        d.flush().unwrap();
        drop(d);
        assert!(
            std::fs::read(p).unwrap() == before,
            "the image is untouched"
        );
    }
}
