//! The interpreter's private machine in the lockstep engine: a copy of the
//! CPU state and guest RAM, the same ROMs, MMIO regions answered from the
//! recording of the real machine's MMIO traffic, and the same memory map
//! (A20, PAM), kept in step with the real one. Also the write tracking
//! that tells which RAM pages the interpreter wrote during a step.
//!
//! Leaves out: RAM changed behind the engines' back other than through
//! [`mmu::DmaMemory`] (snapshot restores, test code poking RAM) is not
//! mirrored and shows up as a difference.

use cpu_interp::state::CpuState;
use mmu::{Mmu, PhysMem};

use super::events::{MapState, RecordMmio, ReplayMmio, SharedMmio};

/// The shadow machine.
pub struct Shadow {
    pub cpu: CpuState,
    pub mmu: Mmu,
}

impl Shadow {
    /// Copies the real machine, and from now on records its MMIO traffic
    /// into `mmio` and its DMA writes into its DMA log.
    pub fn new(s: &CpuState, real: &mut Mmu, mmio: &SharedMmio) -> Shadow {
        let size = real.phys.ram_size();
        let mut phys = PhysMem::new(size as usize).expect("lockstep RAM copy");
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < size {
            let n = ((size - off) as usize).min(buf.len());
            real.phys.read_ram_raw(off, &mut buf[..n]);
            phys.write_ram_raw(off, &buf[..n]);
            off += n as u32;
        }
        for (base, data) in real.phys.roms() {
            if let Err(e) = phys.add_rom(base, data) {
                log::warn!("lockstep: ROM at {base:#x} not mirrored: {e}");
            }
        }
        for (base, len) in real.phys.mmio_regions() {
            if let Err(e) = phys.add_mmio(base, len, Box::new(ReplayMmio(mmio.clone()))) {
                log::warn!("lockstep: MMIO at {base:#x} not mirrored: {e}");
            }
        }
        real.phys.wrap_mmio(|_, _, inner| {
            Box::new(RecordMmio {
                inner,
                log: std::sync::Arc::downgrade(mmio),
            })
        });
        real.phys.log_dma(true);
        let _ = real.phys.take_dma_log();
        let mut mmu = Mmu::new(phys);
        MapState::of(&real.phys).apply(&mut mmu);
        mmu.flush_all();
        mmu.tlb.install_log = Some(Vec::new());
        real.tlb.install_log = Some(Vec::new());
        Shadow {
            cpu: s.clone(),
            mmu,
        }
    }

    /// Takes over what changed in the real machine outside the engines
    /// (between `run` calls): the CPU state (a reset, the TSC advanced over
    /// idle time), the memory map, and DMA writes by devices.
    pub fn sync_from(&mut self, s: &CpuState, real: &Mmu) {
        self.cpu = s.clone();
        for (a, d) in real.phys.take_dma_log() {
            self.mmu.phys.dma().write(a, &d);
        }
        MapState::of(&real.phys).apply(&mut self.mmu);
    }

    /// The physical pages the shadow's TLB entries installed since the
    /// last call allow writes to, then forgets those write permissions:
    /// called after every step, it yields (a superset of) the pages
    /// written during the step, since every first write to a page after
    /// the call refills its entry.
    pub fn take_written_pages(&mut self, out: &mut Vec<u32>) {
        self.mmu.tlb.writable_pages(out, true);
        out.sort_unstable();
        out.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmu::PagingCtx;

    #[test]
    fn copies_ram_and_tracks_written_pages() {
        let mut real = Mmu::new(PhysMem::new(2 << 20).unwrap());
        real.phys.write_u32(0x5000, 0x1234_5678);
        let log = SharedMmio::default();
        let mut sh = Shadow::new(&CpuState::new(), &mut real, &log);
        assert_eq!(sh.mmu.phys.read_u32(0x5000), 0x1234_5678);
        let ctx = PagingCtx::default();
        sh.mmu.write_u32(&ctx, 0x7004, 1).unwrap();
        sh.mmu.write_u32(&ctx, 0x7008, 1).unwrap();
        let mut pages = Vec::new();
        sh.take_written_pages(&mut pages);
        assert_eq!(pages, vec![0x7000]);
        pages.clear();
        sh.take_written_pages(&mut pages);
        assert!(pages.is_empty(), "forgotten after the call");
        sh.mmu.write_u8(&ctx, 0x7000, 1).unwrap();
        sh.take_written_pages(&mut pages);
        assert_eq!(pages, vec![0x7000], "the next write is seen again");
    }

    #[test]
    fn dma_and_map_changes_are_taken_over() {
        let mut real = Mmu::new(PhysMem::new(2 << 20).unwrap());
        let log = SharedMmio::default();
        let mut sh = Shadow::new(&CpuState::new(), &mut real, &log);
        real.phys.dma().write(0x3000, &[1, 2, 3]);
        real.set_a20(false);
        let mut s = CpuState::new();
        s.regs[0] = 42;
        sh.sync_from(&s, &real);
        assert_eq!(sh.cpu.regs[0], 42);
        assert_eq!(sh.mmu.phys.read_u8(0x3002), 3);
        assert!(!sh.mmu.phys.a20_enabled());
    }
}
