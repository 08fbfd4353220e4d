//! [`Overlay`]: the `--snapshot` copy-on-write layer. Written sectors live
//! in an in-memory map; reads take them from there and everything else from
//! the base image, which is opened read-only and never written. The writes
//! are lost when the emulator exits, by design.

use std::collections::HashMap;

use super::{check_range, BlockDevice, Result, SECTOR_SIZE};

pub struct Overlay {
    base: Box<dyn BlockDevice>,
    written: HashMap<u64, Box<[u8; SECTOR_SIZE]>>,
}

impl Overlay {
    pub fn new(base: Box<dyn BlockDevice>) -> Self {
        Overlay {
            base,
            written: HashMap::new(),
        }
    }

    /// Sectors held in memory.
    pub fn dirty_sectors(&self) -> usize {
        self.written.len()
    }
}

impl BlockDevice for Overlay {
    fn sector_count(&self) -> u64 {
        self.base.sector_count()
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<()> {
        check_range(lba, buf.len(), self.sector_count())?;
        if self.written.is_empty() {
            return self.base.read_sectors(lba, buf);
        }
        // Runs of base sectors in one read each, overlay sectors copied.
        let mut i = 0;
        let n = buf.len() / SECTOR_SIZE;
        while i < n {
            if let Some(s) = self.written.get(&(lba + i as u64)) {
                buf[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE].copy_from_slice(&s[..]);
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < n && !self.written.contains_key(&(lba + j as u64)) {
                j += 1;
            }
            self.base
                .read_sectors(lba + i as u64, &mut buf[i * SECTOR_SIZE..j * SECTOR_SIZE])?;
            i = j;
        }
        Ok(())
    }

    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<()> {
        check_range(lba, data.len(), self.sector_count())?;
        for (i, chunk) in data.chunks_exact(SECTOR_SIZE).enumerate() {
            let mut s = Box::new([0u8; SECTOR_SIZE]);
            s.copy_from_slice(chunk);
            self.written.insert(lba + i as u64, s);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn is_read_only(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::testfile::TempPath;
    use super::super::{open_hard_disk, DiskMode, MemDisk};
    use super::*;

    #[test]
    fn reads_mix_overlay_and_base() {
        let base = MemDisk::new((0..8 * 512).map(|i| (i / 512) as u8).collect());
        let mut o = Overlay::new(Box::new(base));
        o.write_sectors(2, &[0xF2; 512]).unwrap();
        o.write_sectors(5, &[0xF5; 1024]).unwrap();
        assert_eq!(o.dirty_sectors(), 3);
        let mut b = vec![0u8; 8 * 512];
        o.read_sectors(0, &mut b).unwrap();
        let firsts: Vec<u8> = b.chunks(512).map(|s| s[0]).collect();
        assert_eq!(firsts, [0, 1, 0xF2, 3, 4, 0xF5, 0xF5, 7]);
        assert!(o.write_sectors(7, &[0; 1024]).is_err());
        assert!(o.read_sectors(8, &mut b[..512]).is_err());
    }

    #[test]
    fn snapshot_never_touches_the_file() {
        let t = TempPath::with("snap", &[3u8; 2048]);
        let mut d = open_hard_disk(&t.0, DiskMode::Snapshot).unwrap();
        d.write_sectors(0, &[9; 2048]).unwrap();
        d.flush().unwrap();
        let mut b = [0u8; 512];
        d.read_sectors(3, &mut b).unwrap();
        assert_eq!(b, [9; 512]);
        drop(d);
        assert_eq!(std::fs::read(&t.0).unwrap(), vec![3u8; 2048]);
    }
}
