//! The guest physical address space of an i686 PC.
//!
//! RAM runs from 0 to `ram_size` except the legacy hole 0xA0000..0x100000,
//! which belongs to whatever is registered there: MMIO (the VGA window),
//! ROM (option ROMs, the BIOS), or shadow RAM when the PAM-style
//! [`PhysMem::set_shadow`] says so. ROM and MMIO regions may also sit
//! anywhere above RAM (BIOS alias below 4 GiB, linear framebuffers) but may
//! not overlap RAM outside the hole or each other. Lookup order for an
//! address: plain RAM, shadow RAM (per direction), MMIO, ROM, else unmapped
//! (reads all ones, writes dropped). The A20 gate masks bit 20 of every
//! address that goes through `PhysMem` (the CPU's view; DMA bypasses it).
//!
//! Leaves out: SMRAM, PCI hole relocation, RAM above 4 GiB, and removing or
//! moving regions (PCI BAR remapping would add that).

use std::sync::Arc;

use crate::codepages::CodePages;
use crate::control::{MapControl, MapState};
use crate::dma::DmaMemory;
use crate::ram::RamBlock;
use crate::shadow::{ShadowMap, SHADOW_END, SHADOW_START};
use crate::{MemError, Mmio, Result};

/// Start of the legacy hole (VGA window).
pub(crate) const HOLE_START: u32 = 0xA0000;
/// End of the legacy hole (1 MiB).
pub(crate) const HOLE_END: u32 = SHADOW_END;
const MIN_RAM: usize = 1 << 20;
const MAX_RAM: usize = 3 << 30;

struct RomRegion {
    base: u32,
    data: Box<[u8]>,
}

struct MmioRegion {
    base: u32,
    len: u32,
    dev: Box<dyn Mmio>,
}

/// Where an access of a given range lands.
enum Target {
    /// RAM at this offset.
    Ram(u32),
    /// ROM region index and offset into its data.
    Rom(usize, usize),
    /// MMIO region index.
    Mmio(usize),
    /// The range straddles different targets: split it into bytes.
    Split,
    /// Nothing there.
    None,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Read,
    Write,
}

#[inline(always)]
fn ones(n: u32) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

#[inline(always)]
fn overlaps(a: u64, end: u64, base: u64, rend: u64) -> bool {
    a < rend && base < end
}

/// Guest physical memory: RAM, ROM, MMIO, shadowing and the A20 gate.
pub struct PhysMem {
    ram: Arc<RamBlock>,
    ram_size: u32,
    pub(crate) code: Arc<CodePages>,
    state: Arc<MapState>,
    roms: Vec<RomRegion>,
    mmio: Vec<MmioRegion>,
}

impl PhysMem {
    /// Allocates `ram_bytes` of zeroed guest RAM (1 MiB ..= 3 GiB, a
    /// multiple of 4 KiB) as one anonymous mapping. A20 starts enabled.
    pub fn new(ram_bytes: usize) -> Result<PhysMem> {
        if !(MIN_RAM..=MAX_RAM).contains(&ram_bytes) || !ram_bytes.is_multiple_of(4096) {
            return Err(MemError::BadRamSize(ram_bytes));
        }
        let ram = RamBlock::new(ram_bytes)?;
        let ram_size = ram_bytes as u32;
        Ok(PhysMem {
            ram: Arc::new(ram),
            ram_size,
            code: Arc::new(CodePages::new(ram_size >> 12)),
            state: Arc::new(MapState::new()),
            roms: Vec::new(),
            mmio: Vec::new(),
        })
    }

    /// Bytes of guest RAM.
    pub fn ram_size(&self) -> u32 {
        self.ram_size
    }

    /// Host address of guest physical address 0 (for the translator). Valid
    /// for `ram_size()` bytes for the life of this `PhysMem`; only offsets
    /// outside 0xA0000..0x100000 are plain RAM.
    pub fn ram_base_ptr(&self) -> *mut u8 {
        self.ram.base()
    }

    /// Counter bumped by every change of the map (regions, shadowing, A20,
    /// also through a [`MapControl`]). [`crate::Mmu`] flushes its TLB when
    /// it sees it move.
    pub fn generation(&self) -> u64 {
        self.state.generation()
    }

    /// Copies RAM bytes at offset `off` into `buf`, ignoring the memory map
    /// (the legacy hole reads the RAM underneath; beyond RAM reads all ones).
    /// For snapshots and debuggers.
    pub fn read_ram_raw(&self, off: u32, buf: &mut [u8]) {
        self.ram.read(off as usize, buf);
    }

    /// Copies `data` into RAM at offset `off`, ignoring the memory map
    /// (ROM, MMIO and shadow settings); writes reaching past RAM are dropped
    /// whole. Code pages touched are recorded. For snapshots and loaders.
    pub fn write_ram_raw(&mut self, off: u32, data: &[u8]) {
        self.ram.write(off as usize, data);
        self.code.record_write_range(off, data.len() as u64);
    }

    /// The shadow setting `(read_ram, write_ram)` of the granule holding
    /// `paddr` (both false outside 0xC0000..0x100000). For snapshots.
    pub fn shadow_flags(&self, paddr: u32) -> (bool, bool) {
        let s = &self.state.shadow;
        (s.read_ram(paddr), s.write_ram(paddr))
    }

    /// A handle devices keep to flip A20 and PAM shadowing (see
    /// [`MapControl`] for the flush rule).
    pub fn map_control(&self) -> MapControl {
        MapControl::new(self.state.clone(), self.code.clone())
    }

    fn check_region(&self, base: u32, len: u64) -> Result<()> {
        let end = u64::from(base) + len;
        if len == 0 || end > 1 << 32 {
            return Err(MemError::BadRegion { base, len });
        }
        let b = u64::from(base);
        let clash = overlaps(b, end, 0, u64::from(HOLE_START))
            || overlaps(b, end, u64::from(HOLE_END), u64::from(self.ram_size))
            || self.roms.iter().any(|r| {
                overlaps(
                    b,
                    end,
                    u64::from(r.base),
                    u64::from(r.base) + r.data.len() as u64,
                )
            })
            || self.mmio.iter().any(|m| {
                overlaps(
                    b,
                    end,
                    u64::from(m.base),
                    u64::from(m.base) + u64::from(m.len),
                )
            });
        if clash {
            return Err(MemError::Overlap { base, len });
        }
        Ok(())
    }

    /// Adds a read-only region (writes are ignored). It may sit in the
    /// legacy hole or above RAM, not over RAM or another region.
    pub fn add_rom(&mut self, base: u32, data: &[u8]) -> Result<()> {
        self.check_region(base, data.len() as u64)?;
        self.roms.push(RomRegion {
            base,
            data: data.into(),
        });
        self.state.bump();
        Ok(())
    }

    /// The ROM regions as (base, bytes), in the order they were added (for
    /// building a shadow copy of the memory map, e.g. lockstep testing).
    pub fn roms(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.roms.iter().map(|r| (r.base, &r.data[..]))
    }

    /// Adds an MMIO region dispatched to `dev` with absolute physical
    /// addresses. Same placement rules as [`PhysMem::add_rom`].
    pub fn add_mmio(&mut self, base: u32, len: u32, dev: Box<dyn Mmio>) -> Result<()> {
        self.check_region(base, u64::from(len))?;
        self.mmio.push(MmioRegion { base, len, dev });
        self.state.bump();
        Ok(())
    }

    /// PAM-style shadowing of 0xC0000..0x100000 in 16 KiB granules: reads
    /// come from RAM or from the ROM overlaying it; writes go to RAM or are
    /// dropped. Parts of the range outside the area are ignored. Code pages
    /// whose read source changes are reported as written (SMC).
    pub fn set_shadow(&mut self, base: u32, len: u32, read_ram: bool, write_ram: bool) {
        self.state
            .set_shadow(&self.code, base, len, read_ram, write_ram);
    }

    /// Opens (true) or closes the A20 gate; closed, bit 20 of every address
    /// reads as 0 (wrap-around at 1 MiB).
    pub fn set_a20(&mut self, enabled: bool) {
        self.state.set_a20(enabled);
    }

    pub fn a20_enabled(&self) -> bool {
        self.a20_mask() == u32::MAX
    }

    #[inline(always)]
    pub(crate) fn a20_mask(&self) -> u32 {
        self.state.a20_mask()
    }

    /// A handle devices keep to DMA into guest RAM.
    pub fn dma(&self) -> DmaMemory {
        DmaMemory::new(self.ram.clone(), self.code.clone(), self.state.clone())
    }

    /// Starts (true) or stops keeping a log of the writes made from
    /// outside the CPU: through [`DmaMemory`] handles and the host-side
    /// `write_*` methods, for a differential tester that mirrors them into
    /// a second machine ([`PhysMem::take_dma_log`]).
    pub fn log_dma(&self, on: bool) {
        self.state
            .dma_logging
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The outside writes logged since the last call, oldest first.
    pub fn take_dma_log(&self) -> Vec<(u32, Vec<u8>)> {
        use std::sync::atomic::Ordering;
        if !self.state.dma_pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        match self.state.dma_log.lock() {
            Ok(mut l) => std::mem::take(&mut *l),
            Err(_) => Vec::new(),
        }
    }

    /// The MMIO regions as (base, length), in the order they were added.
    pub fn mmio_regions(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.mmio.iter().map(|m| (m.base, m.len))
    }

    /// Replaces each MMIO region's handler by `f(base, len, old handler)`
    /// (a differential tester wraps them to record accesses).
    pub fn wrap_mmio(&mut self, mut f: impl FnMut(u32, u32, Box<dyn Mmio>) -> Box<dyn Mmio>) {
        struct Nothing;
        impl Mmio for Nothing {
            fn read(&mut self, _: u64, _: u8) -> u32 {
                u32::MAX
            }
            fn write(&mut self, _: u64, _: u8, _: u32) {}
        }
        for m in &mut self.mmio {
            let old = std::mem::replace(&mut m.dev, Box::new(Nothing));
            m.dev = f(m.base, m.len, old);
        }
    }

    /// True if [a, a+len) is RAM that no region or shadow setting overlays.
    #[inline(always)]
    fn plain_ram(&self, a: u32, len: u32) -> bool {
        let end = u64::from(a) + u64::from(len);
        end <= u64::from(HOLE_START) || (a >= HOLE_END && end <= u64::from(self.ram_size))
    }

    fn resolve(&self, a: u32, len: u32, dir: Dir) -> Target {
        if self.plain_ram(a, len) {
            return Target::Ram(a);
        }
        let b = u64::from(a);
        let end = b + u64::from(len);
        if overlaps(b, end, u64::from(SHADOW_START), u64::from(SHADOW_END)) {
            let inside = a >= SHADOW_START
                && end <= u64::from(SHADOW_END)
                && (a ^ (end as u32 - 1)) < ShadowMap::GRANULE;
            if !inside {
                return Target::Split;
            }
            let to_ram = match dir {
                Dir::Read => self.state.shadow.read_ram(a),
                Dir::Write => self.state.shadow.write_ram(a),
            };
            if to_ram {
                return Target::Ram(a);
            }
        }
        for (i, m) in self.mmio.iter().enumerate() {
            let (mb, me) = (u64::from(m.base), u64::from(m.base) + u64::from(m.len));
            if overlaps(b, end, mb, me) {
                return if b >= mb && end <= me {
                    Target::Mmio(i)
                } else {
                    Target::Split
                };
            }
        }
        for (i, r) in self.roms.iter().enumerate() {
            let (rb, re) = (u64::from(r.base), u64::from(r.base) + r.data.len() as u64);
            if overlaps(b, end, rb, re) {
                return if b >= rb && end <= re {
                    Target::Rom(i, (b - rb) as usize)
                } else {
                    Target::Split
                };
            }
        }
        if overlaps(b, end, 0, u64::from(HOLE_START))
            || overlaps(b, end, u64::from(HOLE_END), u64::from(self.ram_size))
        {
            return Target::Split;
        }
        Target::None
    }

    /// Host addresses backing the physical page `ppage` for reads and for
    /// writes, where it is plain memory (RAM or whole-page ROM for reads,
    /// RAM for writes). Used by the TLB refill.
    pub(crate) fn page_host(&self, ppage: u32) -> (Option<usize>, Option<usize>) {
        if self.plain_ram(ppage, 4096) {
            let h = Some(self.ram.base() as usize + ppage as usize);
            return (h, h);
        }
        let host = |t: Target, allow_rom: bool| match t {
            Target::Ram(off) => Some(self.ram.base() as usize + off as usize),
            Target::Rom(i, off) if allow_rom => Some(self.roms[i].data.as_ptr() as usize + off),
            _ => None,
        };
        (
            host(self.resolve(ppage, 4096, Dir::Read), true),
            host(self.resolve(ppage, 4096, Dir::Write), false),
        )
    }

    /// Reads a page-table entry (4-byte aligned): the walker's hot path.
    #[inline(always)]
    pub(crate) fn read_entry(&mut self, paddr: u32) -> u32 {
        let a = paddr & self.a20_mask() & !3;
        if self.plain_ram(a, 4) {
            // SAFETY: plain_ram guarantees [a, a+4) < ram_size, inside the
            // mapping; the read is unaligned-safe.
            return unsafe { (self.ram.base().add(a as usize) as *const u32).read_unaligned() };
        }
        self.read_target(a, 4) as u32
    }

    /// Little-endian read of `n` (1..=8) bytes at `paddr`.
    #[inline]
    pub(crate) fn read_sized(&mut self, paddr: u32, n: u32) -> u64 {
        let a = paddr & self.a20_mask();
        if (a & 0xFFF) + n <= 4096 {
            if self.plain_ram(a, n) {
                return self.ram.read_le(a as usize, n as usize);
            }
            return self.read_target(a, n);
        }
        self.read_bytewise(paddr, n)
    }

    fn read_bytewise(&mut self, paddr: u32, n: u32) -> u64 {
        (0..n).fold(0, |v, i| {
            v | self.read_sized(paddr.wrapping_add(i), 1) << (8 * i)
        })
    }

    fn read_target(&mut self, a: u32, n: u32) -> u64 {
        match self.resolve(a, n, Dir::Read) {
            Target::Ram(off) => self.ram.read_le(off as usize, n as usize),
            Target::Rom(i, off) => {
                let mut b = [0u8; 8];
                b[..n as usize].copy_from_slice(&self.roms[i].data[off..off + n as usize]);
                u64::from_le_bytes(b)
            }
            Target::Mmio(i) => {
                let dev = &mut self.mmio[i].dev;
                match n {
                    1 | 2 | 4 => u64::from(dev.read(u64::from(a), n as u8)) & ones(n),
                    8 => {
                        let lo = u64::from(dev.read(u64::from(a), 4));
                        let hi = u64::from(dev.read(u64::from(a) + 4, 4));
                        lo | hi << 32
                    }
                    _ => self.read_bytewise(a, n),
                }
            }
            Target::Split => self.read_bytewise(a, n),
            Target::None => ones(n),
        }
    }

    /// Little-endian write of the low `n` (1..=8) bytes of `v` at `paddr`.
    #[inline]
    pub(crate) fn write_sized(&mut self, paddr: u32, n: u32, v: u64) {
        let a = paddr & self.a20_mask();
        if (a & 0xFFF) + n <= 4096 {
            if self.plain_ram(a, n) {
                self.ram.write_le(a as usize, n as usize, v);
                self.code.record_write(a, n);
                return;
            }
            return self.write_target(a, n, v);
        }
        self.write_bytewise(paddr, n, v)
    }

    fn write_bytewise(&mut self, paddr: u32, n: u32, v: u64) {
        for i in 0..n {
            self.write_sized(paddr.wrapping_add(i), 1, v >> (8 * i));
        }
    }

    fn write_target(&mut self, a: u32, n: u32, v: u64) {
        match self.resolve(a, n, Dir::Write) {
            Target::Ram(off) => {
                self.ram.write_le(off as usize, n as usize, v);
                self.code.record_write(a, n);
            }
            Target::Mmio(i) => {
                let dev = &mut self.mmio[i].dev;
                match n {
                    1 | 2 | 4 => dev.write(u64::from(a), n as u8, v as u32),
                    8 => {
                        dev.write(u64::from(a), 4, v as u32);
                        dev.write(u64::from(a) + 4, 4, (v >> 32) as u32);
                    }
                    _ => self.write_bytewise(a, n, v),
                }
            }
            Target::Split => self.write_bytewise(a, n, v),
            Target::Rom(..) | Target::None => {}
        }
    }

    pub fn read_u8(&mut self, paddr: u32) -> u8 {
        self.read_sized(paddr, 1) as u8
    }
    pub fn read_u16(&mut self, paddr: u32) -> u16 {
        self.read_sized(paddr, 2) as u16
    }
    pub fn read_u32(&mut self, paddr: u32) -> u32 {
        self.read_sized(paddr, 4) as u32
    }
    pub fn read_u64(&mut self, paddr: u32) -> u64 {
        self.read_sized(paddr, 8)
    }
    // The `write_*` methods are the host side's writes (loaders, tests,
    // debuggers): they go to the outside-writes log like DMA does (see
    // `log_dma`). The CPU writes through `write_sized`/`write_bytes_cpu`.
    pub fn write_u8(&mut self, paddr: u32, v: u8) {
        self.log_host_write(paddr, &[v]);
        self.write_sized(paddr, 1, v.into())
    }
    pub fn write_u16(&mut self, paddr: u32, v: u16) {
        self.log_host_write(paddr, &v.to_le_bytes());
        self.write_sized(paddr, 2, v.into())
    }
    pub fn write_u32(&mut self, paddr: u32, v: u32) {
        self.log_host_write(paddr, &v.to_le_bytes());
        self.write_sized(paddr, 4, v.into())
    }
    pub fn write_u64(&mut self, paddr: u32, v: u64) {
        self.log_host_write(paddr, &v.to_le_bytes());
        self.write_sized(paddr, 8, v)
    }

    /// Logs a write from the host side when the outside-writes log is on.
    fn log_host_write(&self, paddr: u32, data: &[u8]) {
        use std::sync::atomic::Ordering;
        if self.state.dma_logging.load(Ordering::Relaxed) {
            if let Ok(mut log) = self.state.dma_log.lock() {
                log.push((paddr, data.to_vec()));
                self.state.dma_pending.store(true, Ordering::Release);
            }
        }
    }

    /// Reads `buf.len()` bytes starting at `paddr` (wrapping at 4 GiB),
    /// with the same rules as the sized reads.
    pub fn read_bytes(&mut self, paddr: u32, buf: &mut [u8]) {
        let mut done = 0usize;
        while done < buf.len() {
            let a = paddr.wrapping_add(done as u32) & self.a20_mask();
            let chunk = ((4096 - (a & 0xFFF)) as usize).min(buf.len() - done);
            let out = &mut buf[done..done + chunk];
            match self.resolve(a, chunk as u32, Dir::Read) {
                Target::Ram(off) => self.ram.read(off as usize, out),
                Target::Rom(i, off) => out.copy_from_slice(&self.roms[i].data[off..off + chunk]),
                Target::None => out.fill(0xFF),
                Target::Mmio(_) | Target::Split => {
                    for (k, b) in out.iter_mut().enumerate() {
                        *b = self.read_sized(a + k as u32, 1) as u8;
                    }
                }
            }
            done += chunk;
        }
    }

    /// Writes `data` starting at `paddr` (wrapping at 4 GiB), with the same
    /// rules as the sized writes.
    pub fn write_bytes(&mut self, paddr: u32, data: &[u8]) {
        self.log_host_write(paddr, data);
        self.write_bytes_cpu(paddr, data)
    }

    /// `write_bytes` for the CPU's own stores (not logged as outside
    /// writes).
    pub(crate) fn write_bytes_cpu(&mut self, paddr: u32, data: &[u8]) {
        let mut done = 0usize;
        while done < data.len() {
            let a = paddr.wrapping_add(done as u32) & self.a20_mask();
            let chunk = ((4096 - (a & 0xFFF)) as usize).min(data.len() - done);
            let src = &data[done..done + chunk];
            match self.resolve(a, chunk as u32, Dir::Write) {
                Target::Ram(off) => {
                    self.ram.write(off as usize, src);
                    self.code.record_write(a, chunk as u32);
                }
                Target::Rom(..) | Target::None => {}
                Target::Mmio(_) | Target::Split => {
                    for (k, &b) in src.iter().enumerate() {
                        self.write_sized(a + k as u32, 1, b.into());
                    }
                }
            }
            done += chunk;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// MMIO test device: logs accesses, reads return addr-derived values.
    #[derive(Clone, Default)]
    pub(crate) struct LogDev(pub Arc<Mutex<Vec<Logged>>>);
    type Logged = (char, u64, u8, u32);
    impl Mmio for LogDev {
        fn read(&mut self, addr: u64, size: u8) -> u32 {
            self.0.lock().unwrap().push(('r', addr, size, 0));
            0xA5A5_0000 | (addr as u32 & 0xFFFF)
        }
        fn write(&mut self, addr: u64, size: u8, val: u32) {
            self.0.lock().unwrap().push(('w', addr, size, val));
        }
    }

    fn mem() -> PhysMem {
        PhysMem::new(4 << 20).unwrap()
    }

    #[test]
    fn ram_sizes_are_validated() {
        assert!(PhysMem::new(1 << 20).is_ok());
        assert!(matches!(
            PhysMem::new(512 << 10),
            Err(MemError::BadRamSize(_))
        ));
        assert!(matches!(
            PhysMem::new((1 << 20) + 1),
            Err(MemError::BadRamSize(_))
        ));
        assert!(matches!(
            PhysMem::new((3 << 30) + 4096),
            Err(MemError::BadRamSize(_))
        ));
    }

    #[test]
    fn ram_round_trip_all_widths_and_unaligned() {
        let mut m = mem();
        m.write_u64(0x1000, 0x0102_0304_0506_0708);
        assert_eq!(m.read_u8(0x1000), 0x08);
        assert_eq!(m.read_u16(0x1001), 0x0607);
        assert_eq!(m.read_u32(0x1003), 0x0203_0405);
        assert_eq!(m.read_u64(0x1000), 0x0102_0304_0506_0708);
        // Crossing a page boundary inside RAM.
        m.write_u32(0x1FFE, 0xAABB_CCDD);
        assert_eq!(m.read_u16(0x2000), 0xAABB);
        assert_eq!(m.read_u32(0x1FFE), 0xAABB_CCDD);
    }

    #[test]
    fn unmapped_reads_all_ones_and_writes_are_dropped() {
        let mut m = mem();
        for a in [0xA0000, 0xC0000, 0xFFFFC, 4 << 20, 0x8000_0000, 0xFFFF_FFFC] {
            assert_eq!(m.read_u32(a), 0xFFFF_FFFF, "{a:#x}");
            m.write_u32(a, 0);
            assert_eq!(m.read_u32(a), 0xFFFF_FFFF, "{a:#x}");
        }
        assert_eq!(
            m.read_u64(0xFFFF_FFFC),
            0xFFFF_FFFF,
            "upper half wraps to RAM at 0"
        );
        // Straddling the end of RAM: the RAM half reads RAM, the rest ones.
        m.write_u16((4 << 20) - 2, 0x1234);
        assert_eq!(m.read_u32((4 << 20) - 2), 0xFFFF_1234);
        // Straddling the start of the hole.
        m.write_u16(0x9FFFE, 0x5678);
        assert_eq!(m.read_u32(0x9FFFE), 0xFFFF_5678);
        let mut buf = [0u8; 4];
        m.read_bytes(0xFFFF_FFFE, &mut buf);
        assert_eq!(buf, [0xFF, 0xFF, 0, 0], "wraps to physical 0");
    }

    #[test]
    fn rom_is_readable_and_write_ignored() {
        let mut m = mem();
        let rom: Vec<u8> = (0..0x10000u32).map(|i| i as u8).collect();
        m.add_rom(0xF0000, &rom).unwrap();
        m.add_rom(0xFFFF_0000, &rom).unwrap();
        assert_eq!(m.read_u32(0xF0010), 0x1312_1110);
        assert_eq!(m.read_u32(0xFFFF_FFFC), 0xFFFE_FDFC);
        m.write_u32(0xF0010, 0);
        m.write_bytes(0xFFFF_0000, &[9; 16]);
        assert_eq!(m.read_u32(0xF0010), 0x1312_1110);
        assert_eq!(m.read_u8(0xFFFF_0000), 0);
        let mut buf = [0u8; 3];
        m.read_bytes(0xEFFFF, &mut buf);
        assert_eq!(buf, [0xFF, 0, 1]);
    }

    #[test]
    fn bad_regions_are_rejected() {
        let mut m = mem();
        assert!(matches!(
            m.add_rom(0x9F000, &[0; 0x2000]),
            Err(MemError::Overlap { .. })
        ));
        assert!(matches!(
            m.add_rom(0x1000, &[0; 16]),
            Err(MemError::Overlap { .. })
        ));
        assert!(matches!(
            m.add_rom(0xFFFF_F000, &[0; 0x2000]),
            Err(MemError::BadRegion { .. })
        ));
        assert!(matches!(
            m.add_rom(0xC0000, &[]),
            Err(MemError::BadRegion { .. })
        ));
        m.add_rom(0xC0000, &[0; 0x8000]).unwrap();
        let d = Box::new(LogDev::default());
        assert!(matches!(
            m.add_mmio(0xC4000, 0x1000, d.clone()),
            Err(MemError::Overlap { .. })
        ));
        m.add_mmio(0xA0000, 0x20000, d).unwrap();
    }

    #[test]
    fn mmio_dispatch_with_absolute_addresses() {
        let mut m = mem();
        let d = LogDev::default();
        let log = d.0.clone();
        m.add_mmio(0xE000_0000, 0x100, Box::new(d)).unwrap();
        assert_eq!(m.read_u16(0xE000_0010), 0x0010);
        m.write_u32(0xE000_0020, 0xCAFE_BABE);
        assert_eq!(m.read_u64(0xE000_0040), 0xA5A5_0044_A5A5_0040);
        m.write_u8(0xE000_0001, 7);
        // Straddles the end of the region: byte-wise, the outside bytes unmapped.
        assert_eq!(m.read_u16(0xE000_00FF), 0xFFFF);
        assert_eq!(m.read_u8(0xE000_00FE), 0xFE);
        let l = log.lock().unwrap().clone();
        assert_eq!(
            l,
            vec![
                ('r', 0xE000_0010, 2, 0),
                ('w', 0xE000_0020, 4, 0xCAFE_BABE),
                ('r', 0xE000_0040, 4, 0),
                ('r', 0xE000_0044, 4, 0),
                ('w', 0xE000_0001, 1, 7),
                ('r', 0xE000_00FF, 1, 0),
                ('r', 0xE000_00FE, 1, 0),
            ]
        );
    }

    #[test]
    fn a20_wraps_at_one_megabyte() {
        let mut m = mem();
        m.write_u32(0x10_0010, 0x1111_1111);
        m.write_u32(0x10, 0x2222_2222);
        m.write_u32(0x20_0010, 0x4444_4444);
        assert!(m.a20_enabled());
        m.set_a20(false);
        assert!(!m.a20_enabled());
        assert_eq!(m.read_u32(0x10_0010), 0x2222_2222);
        assert_eq!(
            m.read_u32(0x30_0010),
            0x4444_4444,
            "bit 20 masked, bit 21 kept"
        );
        m.write_u8(0x10_0010, 0x33);
        assert_eq!(m.read_u8(0x10), 0x33);
        m.set_a20(true);
        assert_eq!(m.read_u32(0x10_0010), 0x1111_1111);
    }

    #[test]
    fn shadow_switches_between_rom_and_ram() {
        let mut m = mem();
        m.add_rom(0xE0000, &[0xAB; 0x20000]).unwrap();
        // Power-on: reads ROM, writes dropped.
        m.write_u8(0xF0000, 1);
        assert_eq!(m.read_u8(0xF0000), 0xAB);
        // Write-enable shadow: copy through, still read ROM.
        m.set_shadow(0xF0000, 0x10000, false, true);
        m.write_u8(0xF0000, 0x42);
        assert_eq!(m.read_u8(0xF0000), 0xAB);
        // Read-enable: now RAM, which holds the copied byte.
        m.set_shadow(0xF0000, 0x10000, true, false);
        assert_eq!(m.read_u8(0xF0000), 0x42);
        m.write_u8(0xF0000, 0x43);
        assert_eq!(m.read_u8(0xF0000), 0x42, "read-only shadow");
        // Granules outside the range are untouched.
        assert_eq!(m.read_u8(0xEC000), 0xAB);
        // A 16 KiB granule with no ROM and no shadow is unmapped.
        assert_eq!(m.read_u8(0xC8000), 0xFF);
        // Crossing granules with different settings goes byte-wise.
        m.set_shadow(0xEC000, 0x4000, true, true);
        m.write_u8(0xEFFFF, 0x11);
        assert_eq!(m.read_u16(0xEFFFF), 0x4211);
    }

    #[test]
    fn page_host_classifies_pages() {
        let mut m = mem();
        m.add_rom(0xF0000, &[0; 0x10000]).unwrap();
        m.add_rom(0xC0000, &[0; 0x800]).unwrap();
        let base = m.ram_base_ptr() as usize;
        assert_eq!(
            m.page_host(0x5000),
            (Some(base + 0x5000), Some(base + 0x5000))
        );
        let (r, w) = m.page_host(0xF1000);
        assert!(r.is_some() && w.is_none());
        assert_eq!(m.page_host(0xC0000), (None, None), "partial ROM page");
        assert_eq!(m.page_host(0xA0000), (None, None));
        m.set_shadow(0xF0000, 0x4000, false, true);
        assert_eq!(m.page_host(0xF1000).1, Some(base + 0xF1000));
        assert_eq!(m.page_host(4 << 20), (None, None));
    }

    #[test]
    fn raw_ram_access_ignores_the_map() {
        let mut m = mem();
        m.add_rom(0xF0000, &[0x11; 0x10000]).unwrap();
        m.write_ram_raw(0xF0000, &[1, 2, 3, 4]);
        assert_eq!(
            m.read_u32(0xF0000),
            0x1111_1111,
            "ROM still wins for the CPU"
        );
        let mut b = [0u8; 4];
        m.read_ram_raw(0xF0000, &mut b);
        assert_eq!(b, [1, 2, 3, 4]);
        m.read_ram_raw((4 << 20) - 2, &mut b);
        assert_eq!(b, [0xFF; 4]);
        m.write_ram_raw((4 << 20) - 2, &[0; 4]);
        assert_eq!(m.shadow_flags(0xF0000), (false, false));
        m.set_shadow(0xF0000, 0x4000, true, false);
        assert_eq!(m.shadow_flags(0xF3FFF), (true, false));
        assert_eq!(m.read_u32(0xF0000), 0x0403_0201);
        m.code.mark(0x5000);
        m.write_ram_raw(0x4FFF, &[0; 2]);
        assert!(m.code.pending());
    }

    #[test]
    fn dma_log_and_mmio_wrapping() {
        let mut m = mem();
        m.dma().write(0x100, &[1, 2]);
        assert!(m.take_dma_log().is_empty(), "off by default");
        m.log_dma(true);
        m.dma().write(0x200, &[3, 4]);
        assert_eq!(m.take_dma_log(), vec![(0x200, vec![3, 4])]);
        assert!(m.take_dma_log().is_empty());
        // Host-side writes are outside writes too; the CPU's are not.
        m.write_u16(0x300, 0x0605);
        m.write_bytes(0x400, &[7]);
        m.write_bytes_cpu(0x500, &[8]);
        assert_eq!(
            m.take_dma_log(),
            vec![(0x300, vec![5, 6]), (0x400, vec![7])]
        );
        let d = LogDev::default();
        let log = d.0.clone();
        m.add_mmio(0xA0000, 0x20000, Box::new(d)).unwrap();
        assert_eq!(
            m.mmio_regions().collect::<Vec<_>>(),
            vec![(0xA0000, 0x20000)]
        );
        struct Plus1(Box<dyn Mmio>);
        impl Mmio for Plus1 {
            fn read(&mut self, a: u64, s: u8) -> u32 {
                self.0.read(a, s) + 1
            }
            fn write(&mut self, a: u64, s: u8, v: u32) {
                self.0.write(a, s, v)
            }
        }
        m.wrap_mmio(|_, _, old| Box::new(Plus1(old)));
        assert_eq!(m.read_u16(0xA0010), 0x0011);
        assert_eq!(log.lock().unwrap().len(), 1);
    }

    #[test]
    fn generation_moves_on_map_changes() {
        let mut m = mem();
        let g = m.generation();
        m.set_a20(true);
        assert_eq!(m.generation(), g);
        m.set_a20(false);
        assert!(m.generation() > g);
    }
}
