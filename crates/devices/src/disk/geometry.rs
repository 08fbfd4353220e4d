//! Disk geometries: the floppy formats the 82077AA controller serves
//! (tracks, heads, sectors per track, the data rate the medium needs and the
//! CMOS drive type that holds it, as QEMU pairs them so SeaBIOS's media
//! sense finds them) and the CHS geometry an ATA disk reports.
//!
//! Leaves out: non-512-byte floppy sectors and odd track counts (82/83
//! track formats); such images are rejected as unknown sizes.

use serde::{Deserialize, Serialize};

use crate::cmos::FloppyType;

/// One floppy format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloppyGeometry {
    pub tracks: u8,
    pub heads: u8,
    pub sectors: u8,
    /// Data rate select value (DSR/CCR bits 0-1): 0 = 500 kbit/s,
    /// 1 = 300, 2 = 250, 3 = 1 Mbit/s. Reads at another rate fail.
    pub rate: u8,
    /// The drive the machine should declare in CMOS for this medium.
    pub drive: FloppyType,
    pub name: &'static str,
}

impl FloppyGeometry {
    pub const fn bytes(&self) -> u64 {
        self.tracks as u64 * self.heads as u64 * self.sectors as u64 * 512
    }

    pub const fn total_sectors(&self) -> u64 {
        self.tracks as u64 * self.heads as u64 * self.sectors as u64
    }

    /// The format of an image of exactly `size` bytes.
    pub fn from_size(size: u64) -> Option<FloppyGeometry> {
        FLOPPY_GEOMETRIES
            .iter()
            .copied()
            .find(|g| g.bytes() == size)
    }

    /// Sector index of (cylinder, head, 1-based sector), if on the medium.
    pub fn lba(&self, c: u8, h: u8, r: u8) -> Option<u64> {
        if c >= self.tracks || h >= self.heads || r == 0 || r > self.sectors {
            return None;
        }
        Some((c as u64 * self.heads as u64 + h as u64) * self.sectors as u64 + r as u64 - 1)
    }
}

const fn fg(
    tracks: u8,
    heads: u8,
    sectors: u8,
    rate: u8,
    drive: FloppyType,
    name: &'static str,
) -> FloppyGeometry {
    FloppyGeometry {
        tracks,
        heads,
        sectors,
        rate,
        drive,
        name,
    }
}

/// Every floppy format accepted, smallest first.
pub const FLOPPY_GEOMETRIES: [FloppyGeometry; 9] = [
    fg(40, 1, 8, 2, FloppyType::M1_2, "160 KB 5.25\""),
    fg(40, 1, 9, 1, FloppyType::M1_2, "180 KB 5.25\""),
    fg(40, 2, 8, 2, FloppyType::M1_2, "320 KB 5.25\""),
    fg(40, 2, 9, 1, FloppyType::M1_2, "360 KB 5.25\""),
    fg(80, 2, 9, 2, FloppyType::M1_44, "720 KB 3.5\""),
    fg(80, 2, 15, 0, FloppyType::M1_2, "1.2 MB 5.25\""),
    fg(80, 2, 18, 0, FloppyType::M1_44, "1.44 MB 3.5\""),
    fg(80, 2, 21, 0, FloppyType::M1_44, "1.68 MB 3.5\" (DMF)"),
    fg(80, 2, 36, 3, FloppyType::M2_88, "2.88 MB 3.5\""),
];

/// The CHS geometry an ATA disk reports in IDENTIFY words 1/3/6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HdGeometry {
    pub cylinders: u16,
    pub heads: u8,
    pub sectors: u8,
}

impl HdGeometry {
    /// Sectors reachable through CHS.
    pub fn capacity(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors as u64
    }
}

/// The conventional geometry for `sectors` sectors: 16 heads and 63
/// sectors per track, as many cylinders as fit (at least 1, at most 16383);
/// tiny disks (under one 16x63 cylinder) get fewer heads.
pub fn chs_geometry(sectors: u64) -> HdGeometry {
    if sectors < 16 * 63 {
        let heads = (sectors / 63).clamp(1, 16) as u8;
        let spt = if sectors < 63 {
            sectors.max(1) as u8
        } else {
            63
        };
        let cyl = (sectors / (heads as u64 * spt as u64)).max(1);
        return HdGeometry {
            cylinders: cyl as u16,
            heads,
            sectors: spt,
        };
    }
    HdGeometry {
        cylinders: (sectors / (16 * 63)).min(16383) as u16,
        heads: 16,
        sectors: 63,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_floppy_sizes() {
        let g = FloppyGeometry::from_size(1_474_560).unwrap();
        assert_eq!((g.tracks, g.heads, g.sectors, g.rate), (80, 2, 18, 0));
        assert_eq!(g.drive, FloppyType::M1_44);
        assert_eq!(FloppyGeometry::from_size(737_280).unwrap().rate, 2);
        assert_eq!(FloppyGeometry::from_size(163_840).unwrap().heads, 1);
        assert_eq!(FloppyGeometry::from_size(368_640).unwrap().rate, 1);
        assert_eq!(FloppyGeometry::from_size(1_228_800).unwrap().sectors, 15);
        assert_eq!(FloppyGeometry::from_size(2_949_120).unwrap().rate, 3);
        assert_eq!(FloppyGeometry::from_size(184_320).unwrap().sectors, 9);
        assert_eq!(FloppyGeometry::from_size(327_680).unwrap().heads, 2);
        assert!(FloppyGeometry::from_size(1_474_561).is_none());
        assert!(FloppyGeometry::from_size(0).is_none());
    }

    #[test]
    fn floppy_lba_mapping() {
        let g = FloppyGeometry::from_size(1_474_560).unwrap();
        assert_eq!(g.lba(0, 0, 1), Some(0));
        assert_eq!(g.lba(0, 1, 1), Some(18));
        assert_eq!(g.lba(1, 0, 18), Some(36 + 17));
        assert_eq!(g.lba(79, 1, 18), Some(2879));
        assert_eq!(g.lba(80, 0, 1), None);
        assert_eq!(g.lba(0, 2, 1), None);
        assert_eq!(g.lba(0, 0, 0), None);
        assert_eq!(g.lba(0, 0, 19), None);
    }

    #[test]
    fn hard_disk_chs() {
        let g = chs_geometry(32768); // 16 MiB
        assert_eq!((g.cylinders, g.heads, g.sectors), (32, 16, 63));
        let g = chs_geometry(1 << 40);
        assert_eq!(g.cylinders, 16383);
        let g = chs_geometry(100);
        assert_eq!((g.cylinders, g.heads, g.sectors), (1, 1, 63));
        assert!(g.capacity() <= 100);
        let g = chs_geometry(10);
        assert_eq!((g.cylinders, g.heads, g.sectors), (1, 1, 10));
        let g = chs_geometry(0);
        assert_eq!(g.capacity(), 1);
    }
}
