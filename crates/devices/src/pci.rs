//! PCI configuration mechanism #1 (address at 0xCF8, data at 0xCFC-0xCFF)
//! on bus 0, the [`PciFunction`] trait functions implement, and
//! [`ConfigSpace`], a type-0 header with write masks that gives BAR sizing
//! (write all ones, read back the size mask), the expansion-ROM BAR,
//! command/status (with write-one-to-clear status bits) and interrupt
//! line/pin. Port 0xCF9 (byte access) is PIIX3's reset control register.
//!
//! Absent functions read as all ones. Not modelled: buses behind bridges
//! (type-1 accesses to other buses read all ones), mechanism #2, extended
//! (PCIe) configuration space, capabilities lists.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::bus::PortIo;
use crate::sysctl::SystemControl;

/// A PCI function's configuration space.
pub trait PciFunction: Send {
    /// The dword at `offset & 0xFC`.
    fn config_read(&mut self, offset: u8) -> u32;
    /// Writes the low `size` (1, 2 or 4) bytes of `val` at byte `offset`;
    /// the bus never lets a write cross a dword boundary.
    fn config_write(&mut self, offset: u8, size: u8, val: u32);
}

/// What kind of space a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BarKind {
    Io,
    Mem32 { prefetchable: bool },
}

/// A type-0 configuration header plus device-specific registers, with
/// per-byte write and write-one-to-clear masks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigSpace {
    pub data: Vec<u8>,
    pub wmask: Vec<u8>,
    pub w1cmask: Vec<u8>,
}

pub const PCI_COMMAND: u8 = 0x04;
pub const PCI_STATUS: u8 = 0x06;
pub const PCI_HEADER_TYPE: u8 = 0x0E;
pub const PCI_BAR0: u8 = 0x10;
pub const PCI_ROM: u8 = 0x30;
pub const PCI_INTERRUPT_LINE: u8 = 0x3C;
pub const PCI_INTERRUPT_PIN: u8 = 0x3D;
pub const CMD_IO: u16 = 0x01;
pub const CMD_MEM: u16 = 0x02;

impl ConfigSpace {
    /// `class` is class << 16 | subclass << 8 | prog-if.
    pub fn new(vendor: u16, device: u16, class: u32, revision: u8, header_type: u8) -> Self {
        let mut c = ConfigSpace {
            data: vec![0; 256],
            wmask: vec![0; 256],
            w1cmask: vec![0; 256],
        };
        c.set16(0x00, vendor);
        c.set16(0x02, device);
        c.data[0x08] = revision;
        c.data[0x09] = class as u8;
        c.data[0x0A] = (class >> 8) as u8;
        c.data[0x0B] = (class >> 16) as u8;
        c.data[PCI_HEADER_TYPE as usize] = header_type;
        // Command: I/O, memory, bus master, special cycles, MWI, VGA snoop,
        // parity, SERR, fast back-to-back, interrupt disable.
        c.wmask[0x04] = 0xFF;
        c.wmask[0x05] = 0x07;
        // Status: error bits are write-one-to-clear.
        c.w1cmask[0x07] = 0xF9;
        c.wmask[0x0C] = 0xFF; // cache line size
        c.wmask[0x0D] = 0xFF; // latency timer
        c.wmask[PCI_INTERRUPT_LINE as usize] = 0xFF;
        c
    }

    pub fn set16(&mut self, off: u8, v: u16) {
        let o = off as usize;
        self.data[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }

    pub fn set32(&mut self, off: u8, v: u32) {
        let o = off as usize & 0xFC;
        self.data[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }

    pub fn get16(&self, off: u8) -> u16 {
        let o = off as usize & 0xFE;
        u16::from_le_bytes([self.data[o], self.data[o + 1]])
    }

    pub fn get32(&self, off: u8) -> u32 {
        let o = off as usize & 0xFC;
        u32::from_le_bytes(self.data[o..o + 4].try_into().unwrap_or([0xFF; 4]))
    }

    /// Makes `len` bytes from `off` guest-writable (device-specific registers).
    pub fn set_writable(&mut self, off: u8, len: usize) {
        let end = (off as usize + len).min(256);
        self.wmask[off as usize..end].fill(0xFF);
    }

    /// Declares BAR `i` (0..=5) of `size` bytes (a power of two).
    pub fn set_bar(&mut self, i: usize, size: u32, kind: BarKind) {
        if i > 5 {
            return;
        }
        let size = size
            .max(if kind == BarKind::Io { 4 } else { 16 })
            .next_power_of_two();
        let (flags, low_mask) = match kind {
            BarKind::Io => (0x1, 0xFFFF_FFFC),
            BarKind::Mem32 { prefetchable } => (u32::from(prefetchable) << 3, 0xFFFF_FFF0),
        };
        let off = PCI_BAR0 + 4 * i as u8;
        self.set32(off, flags);
        let m = !(size - 1) & low_mask;
        self.wmask[off as usize..off as usize + 4].copy_from_slice(&m.to_le_bytes());
    }

    /// Declares an expansion ROM of `size` bytes (a power of two, >= 2 KiB).
    pub fn set_rom_bar(&mut self, size: u32) {
        let size = size
            .max(2048)
            .checked_next_power_of_two()
            .unwrap_or(0x8000_0000);
        let m = (!(size - 1) & 0xFFFF_F800) | 1;
        let o = PCI_ROM as usize;
        self.data[o..o + 4].fill(0);
        self.wmask[o..o + 4].copy_from_slice(&m.to_le_bytes());
    }

    /// Sets the interrupt pin (1 = INTA#).
    pub fn set_interrupt_pin(&mut self, pin: u8) {
        self.data[PCI_INTERRUPT_PIN as usize] = pin;
    }

    pub fn command(&self) -> u16 {
        self.get16(PCI_COMMAND)
    }

    /// The base of BAR `i` if it is assigned and its space is enabled.
    pub fn bar_address(&self, i: usize) -> Option<u32> {
        if i > 5 {
            return None;
        }
        let o = PCI_BAR0 as usize + 4 * i;
        if self.wmask[o..o + 4].iter().all(|&m| m == 0) {
            return None; // not implemented
        }
        let v = self.get32(PCI_BAR0 + 4 * i as u8);
        let (addr, enabled) = if v & 1 != 0 {
            (v & 0xFFFF_FFFC, self.command() & CMD_IO != 0)
        } else {
            (v & 0xFFFF_FFF0, self.command() & CMD_MEM != 0)
        };
        (enabled && addr != 0).then_some(addr)
    }

    /// The expansion ROM's base if it is enabled.
    pub fn rom_address(&self) -> Option<u32> {
        let v = self.get32(PCI_ROM);
        (v & 1 != 0 && self.command() & CMD_MEM != 0 && v & !0x7FF != 0).then_some(v & 0xFFFF_F800)
    }

    pub fn read(&self, offset: u8) -> u32 {
        self.get32(offset)
    }

    /// A guest write through the masks.
    pub fn write(&mut self, offset: u8, size: u8, val: u32) {
        for i in 0..size.min(4) as usize {
            let o = offset as usize + i;
            if o > 255 {
                break;
            }
            let b = (val >> (8 * i)) as u8;
            let w = self.wmask[o];
            self.data[o] = (self.data[o] & !w) | (b & w);
            self.data[o] &= !(b & self.w1cmask[o]);
        }
    }
}

/// Called after every configuration write with the new contents (e.g. so
/// the machine can move a BAR's mapping).
pub type ConfigHook = Box<dyn FnMut(&ConfigSpace) + Send>;

/// A function that is a configuration space and nothing else, optionally
/// telling the machine about writes: enough for devices whose registers
/// live elsewhere (VGA's framebuffer BAR, for instance).
pub struct PlainFunction {
    pub config: ConfigSpace,
    hook: Option<ConfigHook>,
}

impl PlainFunction {
    pub fn new(config: ConfigSpace) -> Self {
        PlainFunction { config, hook: None }
    }

    pub fn with_hook(config: ConfigSpace, hook: ConfigHook) -> Self {
        PlainFunction {
            config,
            hook: Some(hook),
        }
    }
}

impl PciFunction for PlainFunction {
    fn config_read(&mut self, offset: u8) -> u32 {
        self.config.read(offset)
    }

    fn config_write(&mut self, offset: u8, size: u8, val: u32) {
        self.config.write(offset, size, val);
        if let Some(h) = &mut self.hook {
            h(&self.config);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PciError {
    #[error("PCI slot 00:{dev:02x}.{func} is already taken")]
    Occupied { dev: u8, func: u8 },
    #[error("PCI address 00:{dev:02x}.{func} is out of range")]
    BadAddress { dev: u8, func: u8 },
}

/// The guest-visible registers of the host side of the bus.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub address: u32,
    /// PIIX3 reset control register (0xCF9).
    pub reset_control: u8,
}

/// Bus 0 with its functions, reached through 0xCF8-0xCFF.
pub struct PciBus {
    pub state: State,
    functions: BTreeMap<u8, Box<dyn PciFunction>>,
    sys: Option<Arc<SystemControl>>,
}

impl PciBus {
    /// `sys` receives resets written to 0xCF9.
    pub fn new(sys: Option<Arc<SystemControl>>) -> Self {
        PciBus {
            state: State::default(),
            functions: BTreeMap::new(),
            sys,
        }
    }

    /// Plugs `f` in at 00:dev.func.
    pub fn add(&mut self, dev: u8, func: u8, f: Box<dyn PciFunction>) -> Result<(), PciError> {
        if dev > 31 || func > 7 {
            return Err(PciError::BadAddress { dev, func });
        }
        let devfn = dev << 3 | func;
        if self.functions.contains_key(&devfn) {
            return Err(PciError::Occupied { dev, func });
        }
        self.functions.insert(devfn, f);
        Ok(())
    }

    /// Direct access for the machine (e.g. reading a BAR it must map).
    pub fn function_mut(&mut self, dev: u8, func: u8) -> Option<&mut (dyn PciFunction + 'static)> {
        self.functions
            .get_mut(&(dev << 3 | func))
            .map(|b| b.as_mut())
    }

    /// The selected function and register, if the address enables a bus 0 access.
    fn target(&self) -> Option<(u8, u8)> {
        let a = self.state.address;
        if a & 0x8000_0000 == 0 || (a >> 16) & 0xFF != 0 {
            return None;
        }
        Some((((a >> 8) & 0xFF) as u8, (a & 0xFC) as u8))
    }

    fn data_read(&mut self, port: u16, size: u8) -> u32 {
        let ones = if size >= 4 {
            u32::MAX
        } else {
            (1u32 << (8 * size)) - 1
        };
        let Some((devfn, reg)) = self.target() else {
            return ones;
        };
        let Some(f) = self.functions.get_mut(&devfn) else {
            return ones;
        };
        let shift = 8 * (port & 3) as u32;
        (f.config_read(reg) >> shift) & ones
    }

    fn data_write(&mut self, port: u16, size: u8, val: u32) {
        let Some((devfn, reg)) = self.target() else {
            return;
        };
        let Some(f) = self.functions.get_mut(&devfn) else {
            return;
        };
        let k = (port & 3) as u8;
        let size = size.clamp(1, 4).min(4 - k);
        f.config_write(reg + k, size, val);
    }
}

impl PortIo for PciBus {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        match (port, size) {
            (0xCF8, 4) => self.state.address,
            (0xCF9, 1) => self.state.reset_control as u32,
            (0xCFC..=0xCFF, _) => self.data_read(port, size),
            (_, 1) => 0xFF,
            (_, 2) => 0xFFFF,
            _ => u32::MAX,
        }
    }

    fn write(&mut self, port: u16, size: u8, val: u32) {
        match (port, size) {
            (0xCF8, 4) => self.state.address = val & 0x80FF_FFFC,
            (0xCF9, 1) => {
                self.state.reset_control = val as u8 & 0x02;
                if val & 0x04 != 0 {
                    if let Some(s) = &self.sys {
                        s.request_reset();
                    }
                }
            }
            (0xCFC..=0xCFF, _) => self.data_write(port, size, val),
            _ => log::debug!("pci: write {val:#x} size {size} to {port:#x} ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hammer;

    fn bus_with_device() -> PciBus {
        let mut c = ConfigSpace::new(0x1234, 0x5678, 0x030000, 1, 0);
        c.set_bar(0, 0x100_0000, BarKind::Mem32 { prefetchable: true });
        c.set_bar(1, 0x20, BarKind::Io);
        c.set_rom_bar(0x10000);
        c.set_interrupt_pin(1);
        let mut bus = PciBus::new(None);
        bus.add(2, 0, Box::new(PlainFunction::new(c))).unwrap();
        bus
    }

    fn cfg_read(bus: &mut PciBus, devfn: u8, reg: u8) -> u32 {
        bus.write(0xCF8, 4, 0x8000_0000 | (devfn as u32) << 8 | reg as u32);
        bus.read(0xCFC, 4)
    }

    fn cfg_write(bus: &mut PciBus, devfn: u8, reg: u8, v: u32) {
        bus.write(0xCF8, 4, 0x8000_0000 | (devfn as u32) << 8 | reg as u32);
        bus.write(0xCFC, 4, v);
    }

    #[test]
    fn ids_and_absent_functions() {
        let mut bus = bus_with_device();
        assert_eq!(cfg_read(&mut bus, 2 << 3, 0), 0x5678_1234);
        assert_eq!(cfg_read(&mut bus, 3 << 3, 0), 0xFFFF_FFFF);
        assert_eq!(cfg_read(&mut bus, 2 << 3 | 1, 0), 0xFFFF_FFFF);
        bus.write(0xCF8, 4, 0x0000_1000); // enable bit clear
        assert_eq!(bus.read(0xCFC, 4), 0xFFFF_FFFF);
        bus.write(0xCF8, 4, 0x8001_1000); // bus 1
        assert_eq!(bus.read(0xCFC, 4), 0xFFFF_FFFF);
        // Byte and word access at offsets.
        bus.write(0xCF8, 4, 0x8000_1008);
        assert_eq!(bus.read(0xCFF, 1), 0x03);
        assert_eq!(bus.read(0xCFE, 2), 0x0300);
        assert_eq!(bus.read(0xCF8, 4), 0x8000_1008);
        assert_eq!(bus.read(0xCF9, 1), 0);
    }

    #[test]
    fn bar_sizing() {
        let mut bus = bus_with_device();
        let d = 2 << 3;
        assert_eq!(cfg_read(&mut bus, d, 0x10), 0x8);
        cfg_write(&mut bus, d, 0x10, 0xFFFF_FFFF);
        assert_eq!(cfg_read(&mut bus, d, 0x10), 0xFF00_0008);
        cfg_write(&mut bus, d, 0x14, 0xFFFF_FFFF);
        assert_eq!(cfg_read(&mut bus, d, 0x14), 0xFFFF_FFE1);
        cfg_write(&mut bus, d, 0x30, 0xFFFF_FFFF);
        assert_eq!(cfg_read(&mut bus, d, 0x30), 0xFFFF_0001);
        cfg_write(&mut bus, d, 0x10, 0xE000_0000);
        cfg_write(&mut bus, d, 0x14, 0xC040);
        cfg_write(&mut bus, d, 0x18, 0xFFFF_FFFF);
        assert_eq!(cfg_read(&mut bus, d, 0x18), 0, "unimplemented BAR");
        let f = bus.function_mut(2, 0).unwrap();
        let _ = f.config_read(0);
        cfg_write(&mut bus, d, 0x04, 0x0003);
        assert_eq!(cfg_read(&mut bus, d, 0x3C) >> 8 & 0xFF, 1, "pin INTA");
    }

    #[test]
    fn status_write_one_to_clear_and_bar_address() {
        let mut c = ConfigSpace::new(1, 2, 0, 0, 0);
        c.set_bar(
            0,
            0x1000,
            BarKind::Mem32 {
                prefetchable: false,
            },
        );
        c.data[0x07] = 0x80; // parity error detected
        c.write(0x04, 4, 0x8000_0002); // clear it, enable memory
        assert_eq!(c.get16(PCI_STATUS), 0);
        c.write(0x10, 4, 0xFEBF_0000);
        assert_eq!(c.bar_address(0), Some(0xFEBF_0000));
        c.write(0x04, 2, 0);
        assert_eq!(c.bar_address(0), None);
        c.write(0x3C, 1, 11);
        assert_eq!(c.data[0x3C], 11);
        c.write(0x00, 4, 0);
        assert_eq!(c.get32(0), 0x0002_0001, "IDs read-only");
    }

    #[test]
    fn write_hook_sees_bar_moves() {
        let mut c = ConfigSpace::new(0x1234, 0x1111, 0x030000, 2, 0);
        c.set_bar(0, 16 << 20, BarKind::Mem32 { prefetchable: true });
        let seen = Arc::new(std::sync::Mutex::new(None));
        let s2 = seen.clone();
        let f = PlainFunction::with_hook(
            c,
            Box::new(move |cfg: &ConfigSpace| *s2.lock().unwrap() = cfg.bar_address(0)),
        );
        let mut bus = PciBus::new(None);
        bus.add(2, 0, Box::new(f)).unwrap();
        cfg_write(&mut bus, 2 << 3, 0x10, 0xFD00_0000);
        cfg_write(&mut bus, 2 << 3, 0x04, 0x0002);
        assert_eq!(*seen.lock().unwrap(), Some(0xFD00_0000));
    }

    #[test]
    fn reset_control_register() {
        let sys = SystemControl::new();
        let mut bus = PciBus::new(Some(sys.clone()));
        bus.write(0xCF9, 1, 0x02);
        assert!(!sys.reset_pending());
        bus.write(0xCF9, 1, 0x06);
        assert!(sys.take_reset());
        assert!(bus
            .add(
                32,
                0,
                Box::new(PlainFunction::new(ConfigSpace::new(1, 1, 0, 0, 0)))
            )
            .is_err());
    }

    #[test]
    fn hammer_ports() {
        let mut bus = bus_with_device();
        for seed in 1..20 {
            hammer(
                &mut bus,
                &[0xCF8, 0xCF9, 0xCFA, 0xCFB, 0xCFC, 0xCFD, 0xCFE, 0xCFF],
                3000,
                seed,
            );
            cfg_write(&mut bus, 2 << 3, (seed as u8) << 2, u32::MAX);
        }
    }
}
