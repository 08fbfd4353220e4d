//! [`MemDisk`]: a disk held in memory (tests, generated media). Its
//! contents can be taken back out with [`MemDisk::data`] through a shared
//! handle, so a test can look at what the guest wrote.

use std::sync::{Arc, Mutex};

use super::{check_range, BlockDevice, DiskError, Result, SECTOR_SIZE};
use crate::bus::lock;

#[derive(Clone)]
pub struct MemDisk {
    data: Arc<Mutex<Vec<u8>>>,
    read_only: bool,
    flushes: Arc<Mutex<u64>>,
}

impl MemDisk {
    /// `data` is truncated to whole sectors.
    pub fn new(mut data: Vec<u8>) -> Self {
        data.truncate(data.len() / SECTOR_SIZE * SECTOR_SIZE);
        MemDisk {
            data: Arc::new(Mutex::new(data)),
            read_only: false,
            flushes: Arc::new(Mutex::new(0)),
        }
    }

    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// A copy of the current contents.
    pub fn data(&self) -> Vec<u8> {
        lock(&self.data).clone()
    }

    /// How many times `flush` was called.
    pub fn flushes(&self) -> u64 {
        *lock(&self.flushes)
    }
}

impl BlockDevice for MemDisk {
    fn sector_count(&self) -> u64 {
        (lock(&self.data).len() / SECTOR_SIZE) as u64
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<()> {
        check_range(lba, buf.len(), self.sector_count())?;
        let a = lba as usize * SECTOR_SIZE;
        buf.copy_from_slice(&lock(&self.data)[a..a + buf.len()]);
        Ok(())
    }

    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<()> {
        check_range(lba, data.len(), self.sector_count())?;
        if self.read_only {
            return Err(DiskError::ReadOnly);
        }
        let a = lba as usize * SECTOR_SIZE;
        lock(&self.data)[a..a + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        *lock(&self.flushes) += 1;
        Ok(())
    }

    fn is_read_only(&self) -> bool {
        self.read_only
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_contents_and_read_only() {
        let d = MemDisk::new(vec![0; 1030]);
        assert_eq!(d.sector_count(), 2);
        let mut w = d.clone();
        w.write_sectors(1, &[5; 512]).unwrap();
        w.flush().unwrap();
        assert_eq!(d.data()[512], 5);
        assert_eq!(d.flushes(), 1);
        let mut r = MemDisk::new(vec![0; 512]).read_only();
        assert!(matches!(
            r.write_sectors(0, &[1; 512]),
            Err(DiskError::ReadOnly)
        ));
        assert!(r.is_read_only());
    }
}
