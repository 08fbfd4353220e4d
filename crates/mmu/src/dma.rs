//! [`DmaMemory`]: the handle devices keep to move data to and from guest
//! RAM by physical address (floppy/IDE bus-master DMA, virtio-style rings).
//!
//! It sees RAM only: [0, 0xA0000), shadow RAM in 0xC0000..0x100000 as the
//! shadow settings allow, and [1 MiB, ram_size). Everything else (VGA
//! window, ROM, MMIO, beyond RAM) reads all ones and drops writes. DMA is not
//! subject to the A20 gate (A20M# is a CPU pin). Writes to pages holding
//! code are recorded for the engines, exactly like CPU writes.
//!
//! Leaves out: device-to-MMIO DMA (peer-to-peer) and IOMMU translation.

use std::sync::Arc;

use crate::codepages::CodePages;
use crate::control::MapState;
use crate::phys::{HOLE_END, HOLE_START};
use crate::ram::RamBlock;
use crate::shadow::SHADOW_START;

/// Cloneable, `Send` access to guest RAM for devices.
#[derive(Clone)]
pub struct DmaMemory {
    ram: Arc<RamBlock>,
    code: Arc<CodePages>,
    map: Arc<MapState>,
}

impl DmaMemory {
    pub(crate) fn new(ram: Arc<RamBlock>, code: Arc<CodePages>, map: Arc<MapState>) -> Self {
        DmaMemory { ram, code, map }
    }

    /// Whether the page-sized chunk at `a` is RAM for this direction.
    fn is_ram(&self, a: u64, write: bool) -> bool {
        if a >= self.ram.len() as u64
            || (u64::from(HOLE_START)..u64::from(SHADOW_START)).contains(&a)
        {
            return false;
        }
        if (u64::from(SHADOW_START)..u64::from(HOLE_END)).contains(&a) {
            let a = a as u32;
            let s = &self.map.shadow;
            return if write { s.write_ram(a) } else { s.read_ram(a) };
        }
        true
    }

    /// Calls `f(addr, start, len)` for each piece of [paddr, paddr+len)
    /// that does not cross a 4 KiB boundary or 4 GiB.
    fn chunks(paddr: u32, len: usize, mut f: impl FnMut(u64, usize, usize)) {
        let mut done = 0usize;
        while done < len {
            let a = u64::from(paddr) + done as u64;
            let left = len - done;
            if a >= 1 << 32 {
                f(a, done, left);
                return;
            }
            let n = ((4096 - (a & 0xFFF)) as usize).min(left);
            f(a, done, n);
            done += n;
        }
    }

    /// Reads guest memory at `paddr` into `buf`.
    pub fn read(&self, paddr: u32, buf: &mut [u8]) {
        Self::chunks(paddr, buf.len(), |a, start, n| {
            let out = &mut buf[start..start + n];
            if self.is_ram(a, false) {
                self.ram.read(a as usize, out);
            } else {
                out.fill(0xFF);
            }
        });
    }

    /// Writes `data` to guest memory at `paddr`.
    pub fn write(&self, paddr: u32, data: &[u8]) {
        if self
            .map
            .dma_logging
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            if let Ok(mut log) = self.map.dma_log.lock() {
                log.push((paddr, data.to_vec()));
                self.map
                    .dma_pending
                    .store(true, std::sync::atomic::Ordering::Release);
            }
        }
        Self::chunks(paddr, data.len(), |a, start, n| {
            if self.is_ram(a, true) {
                self.ram.write(a as usize, &data[start..start + n]);
                self.code.record_write(a as u32, n as u32);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::PhysMem;

    #[test]
    fn dma_round_trips_with_cpu_view() {
        let mut m = PhysMem::new(2 << 20).unwrap();
        let d = m.dma();
        d.write(0x7FFE, &[1, 2, 3, 4]);
        assert_eq!(m.read_u32(0x7FFE), 0x0403_0201);
        m.write_u16(0x10_0000, 0xBEEF);
        let mut b = [0u8; 2];
        d.clone().read(0x10_0000, &mut b);
        assert_eq!(b, [0xEF, 0xBE]);
    }

    #[test]
    fn dma_outside_ram_reads_ones_and_drops() {
        let mut m = PhysMem::new(1 << 20).unwrap();
        m.add_rom(0xF0000, &[0x11; 0x10000]).unwrap();
        let d = m.dma();
        let mut b = [0u8; 8];
        d.read(0xFFFF_FFFC, &mut b);
        assert_eq!(b, [0xFF; 8]);
        d.read(0x9FFFC, &mut b);
        assert_eq!(b, [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        d.write(0xF0000, &[0; 4]);
        assert_eq!(m.read_u32(0xF0000), 0x1111_1111);
        d.write(0xFFFF_FFFE, &[0; 8]); // wraps past 4 GiB: dropped, no panic
        assert_eq!(m.read_u16(0), 0);
        m.set_shadow(0xF0000, 0x4000, true, true);
        d.write(0xF0000, &[5; 4]);
        assert_eq!(m.read_u32(0xF0000), 0x0505_0505);
    }

    #[test]
    fn dma_write_to_code_page_is_recorded() {
        let m = PhysMem::new(2 << 20).unwrap();
        m.code.mark(0x3000);
        let d = m.dma();
        d.write(0x2000, &[0; 16]);
        assert!(!m.code.pending(), "data page");
        d.write(0x2FFF, &[0; 2]);
        assert!(m.code.pending(), "touches the code page");
        let mut out = Vec::new();
        m.code.take(&mut out);
        assert_eq!(out, vec![3]);
    }
}
