//! The 512-byte IDENTIFY DEVICE and IDENTIFY PACKET DEVICE answers.
//!
//! Disks report: fixed device, the default CHS geometry and the current
//! one, LBA28 and LBA48 capacities, READ/WRITE MULTIPLE up to
//! [`MAX_MULTIPLE`] sectors, PIO modes 3/4 (no DMA: the controller moves
//! data by PIO only), write cache and FLUSH CACHE (EXT), ATA-4..7, and the
//! integrity word. The CD-ROM reports an ATAPI CD-ROM device with 12-byte
//! packets. Strings are space-padded and byte-swapped per word, as ATA
//! stores them.

use crate::disk::HdGeometry;

/// Largest READ/WRITE MULTIPLE block, in sectors.
pub const MAX_MULTIPLE: u8 = 16;

pub const DISK_MODEL: &str = "OXPC HARDDISK";
pub const CD_MODEL: &str = "OXPC CD-ROM";
const FIRMWARE: &str = "1.0";

/// What the disk's identify page needs to know.
pub struct DiskIdentity<'a> {
    pub serial: &'a str,
    pub sectors: u64,
    pub geometry: HdGeometry,
    pub cur_heads: u8,
    pub cur_spt: u8,
    /// Current READ/WRITE MULTIPLE setting (0 = off).
    pub multiple: u8,
}

/// Writes `s` into words `first..first + len/2` as ATA strings are kept:
/// two characters per word, the first in the high byte.
fn put_str(w: &mut [u16; 256], first: usize, len: usize, s: &str) {
    let mut bytes = vec![b' '; len];
    for (d, c) in bytes.iter_mut().zip(s.bytes()) {
        *d = c;
    }
    for i in 0..len / 2 {
        w[first + i] = u16::from(bytes[2 * i]) << 8 | u16::from(bytes[2 * i + 1]);
    }
}

/// Sets word 255: signature 0xA5 and a checksum making all bytes sum to 0.
fn seal(w: &mut [u16; 256]) -> Vec<u8> {
    w[255] = 0x00A5;
    let sum: u8 = w
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .fold(0u8, |a, b| a.wrapping_add(b));
    w[255] |= u16::from(sum.wrapping_neg()) << 8;
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn disk(id: &DiskIdentity) -> Vec<u8> {
    let mut w = [0u16; 256];
    let g = id.geometry;
    w[0] = 0x0040; // fixed device
    w[1] = g.cylinders;
    w[3] = g.heads as u16;
    w[4] = 512 * g.sectors as u16; // obsolete: bytes per track
    w[5] = 512; // obsolete: bytes per sector
    w[6] = g.sectors as u16;
    put_str(&mut w, 10, 20, id.serial);
    w[20] = 3; // obsolete buffer type
    w[21] = 512; // obsolete buffer size
    put_str(&mut w, 23, 8, FIRMWARE);
    put_str(&mut w, 27, 40, DISK_MODEL);
    w[47] = 0x8000 | MAX_MULTIPLE as u16;
    w[48] = 1; // dword I/O
    w[49] = 1 << 11 | 1 << 9; // IORDY, LBA
    w[50] = 0x4000;
    w[51] = 0x0200; // PIO mode 2 timing
    w[53] = 0x0003; // words 54-58 and 64-70 valid
    let heads = id.cur_heads.max(1) as u64;
    let spt = id.cur_spt.max(1) as u64;
    let cur_cyl = (id.sectors / (heads * spt)).min(65535);
    w[54] = cur_cyl as u16;
    w[55] = heads as u16;
    w[56] = spt as u16;
    let cur_cap = (cur_cyl * heads * spt).min(u32::MAX as u64) as u32;
    w[57] = cur_cap as u16;
    w[58] = (cur_cap >> 16) as u16;
    if id.multiple != 0 {
        w[59] = 0x0100 | id.multiple as u16;
    }
    let lba28 = id.sectors.min(0x0FFF_FFFF) as u32;
    w[60] = lba28 as u16;
    w[61] = (lba28 >> 16) as u16;
    w[64] = 0x0003; // PIO 3 and 4
    w[65] = 120;
    w[66] = 120;
    w[67] = 120;
    w[68] = 120;
    w[80] = 0x00F0; // ATA/ATAPI-4 to -7
    w[82] = 1 << 14 | 1 << 5; // NOP, write cache
    w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10; // FLUSH EXT, FLUSH, LBA48
    w[84] = 1 << 14;
    w[85] = 1 << 14 | 1 << 5;
    w[86] = 1 << 13 | 1 << 12 | 1 << 10;
    w[87] = 1 << 14;
    let lba48 = id.sectors.min((1 << 48) - 1);
    for i in 0..4 {
        w[100 + i] = (lba48 >> (16 * i)) as u16;
    }
    seal(&mut w)
}

pub fn cdrom(serial: &str) -> Vec<u8> {
    let mut w = [0u16; 256];
    // ATAPI, CD-ROM, removable, accelerated DRQ, 12-byte packets.
    w[0] = 0x8000 | 0x05 << 8 | 1 << 7 | 0b10 << 5;
    put_str(&mut w, 10, 20, serial);
    w[20] = 3;
    w[21] = 512;
    put_str(&mut w, 23, 8, FIRMWARE);
    put_str(&mut w, 27, 40, CD_MODEL);
    w[48] = 1;
    w[49] = 1 << 11 | 1 << 9;
    w[53] = 0x0003;
    w[64] = 0x0003;
    w[65] = 0xB4;
    w[66] = 0xB4;
    w[67] = 0x12C;
    w[68] = 0xB4;
    w[71] = 30;
    w[72] = 30;
    w[80] = 0x001E; // ATA/ATAPI-1 to -4
    w[82] = 1 << 14 | 1 << 4; // NOP, PACKET
    w[83] = 1 << 14;
    w[84] = 1 << 14;
    w[85] = 1 << 4;
    w[87] = 1 << 14;
    seal(&mut w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::chs_geometry;

    fn word(b: &[u8], i: usize) -> u16 {
        u16::from_le_bytes([b[2 * i], b[2 * i + 1]])
    }

    fn string(b: &[u8], first: usize, words: usize) -> String {
        (first..first + words)
            .flat_map(|i| word(b, i).to_be_bytes())
            .map(char::from)
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    #[test]
    fn disk_page() {
        let sectors = (1u64 << 28) + 5; // needs LBA48
        let g = chs_geometry(sectors);
        let b = disk(&DiskIdentity {
            serial: "QM00001",
            sectors,
            geometry: g,
            cur_heads: 16,
            cur_spt: 63,
            multiple: 8,
        });
        assert_eq!(b.len(), 512);
        assert_eq!(string(&b, 27, 20), "OXPC HARDDISK");
        assert_eq!(string(&b, 10, 10), "QM00001");
        assert_eq!((word(&b, 1), word(&b, 3), word(&b, 6)), (16383, 16, 63));
        assert_eq!(word(&b, 47) & 0xFF, 16);
        assert_eq!(word(&b, 59), 0x108);
        assert_eq!(
            word(&b, 60) as u32 | (word(&b, 61) as u32) << 16,
            0x0FFF_FFFF
        );
        let l48: u64 = (0..4).map(|i| (word(&b, 100 + i) as u64) << (16 * i)).sum();
        assert_eq!(l48, sectors);
        assert_ne!(word(&b, 83) & 1 << 10, 0);
        assert_eq!(word(&b, 49) & 1 << 8, 0, "no DMA");
        assert_eq!(b.iter().fold(0u8, |a, &x| a.wrapping_add(x)), 0);
        assert_eq!(b[510], 0xA5);
    }

    #[test]
    fn cdrom_page() {
        let b = cdrom("QM00003");
        assert_eq!(word(&b, 0), 0x85C0);
        assert_eq!(string(&b, 27, 20), "OXPC CD-ROM");
        assert_eq!(b.iter().fold(0u8, |a, &x| a.wrapping_add(x)), 0);
    }
}
