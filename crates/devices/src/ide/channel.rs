//! One IDE channel: the command block (8 ports at `base`), the control
//! block (device control / alternate status at `ctl`), two device slots,
//! the shared task-file latch with its LBA48 "previous" bytes, device
//! selection, the PIO data port (8/16/32-bit), INTRQ with nIEN, and the
//! SRST soft reset that leaves each device's signature in the task file.
//!
//! Commands complete at once (the status never shows BSY between command
//! and DRQ); the ATA and ATAPI command sets are in `ata.rs` and `atapi.rs`.
//! Not modelled: bus-master DMA, overlapped/queued commands, the timing of
//! BSY, the PDIAG/DASP handshakes.

use serde::{Deserialize, Serialize};

use super::atapi::Cdrom;
use super::identify::MAX_MULTIPLE;
use super::*;
use crate::bus::PortIo;
use crate::disk::{chs_geometry, BlockDevice, HdGeometry};
use crate::irq::IrqLine;

/// The task-file registers both devices latch (writes go to both).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskFile {
    pub feature: u8,
    pub nsector: u8,
    pub sector: u8,
    pub lcyl: u8,
    pub hcyl: u8,
    /// The previous writes, read back with HOB set (LBA48).
    pub hob_feature: u8,
    pub hob_nsector: u8,
    pub hob_sector: u8,
    pub hob_lcyl: u8,
    pub hob_hcyl: u8,
    /// Device/head register; bit 4 selects the device.
    pub select: u8,
}

/// Guest-visible registers of one device.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DriveRegs {
    pub status: u8,
    pub error: u8,
    pub intrq: bool,
    /// READ/WRITE MULTIPLE block size (0 = not set).
    pub multiple: u8,
    /// Translation set by INITIALIZE DEVICE PARAMETERS.
    pub cur_heads: u8,
    pub cur_spt: u8,
}

/// What a channel's guest-visible state is (the device buffers in the
/// middle of a transfer are not included).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// Each device's copy of the task file: writes go to both, reads come
    /// from the selected one (so each shows its own signature).
    pub tf: [TaskFile; 2],
    /// Device control: bit 1 nIEN, bit 2 SRST, bit 7 HOB.
    pub control: u8,
    pub drives: [DriveRegs; 2],
}

/// A hard disk's host side.
pub(crate) struct AtaDisk {
    pub dev: Box<dyn BlockDevice>,
    pub geometry: HdGeometry,
}

pub(crate) enum Kind {
    Ata(AtaDisk),
    Atapi(Cdrom),
}

/// What the data port is doing for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Xfer {
    None,
    /// A data-in block with nothing after it (IDENTIFY).
    PioInOnce,
    /// READ SECTORS/MULTIPLE: sectors still to load, and where.
    AtaRead {
        next: u64,
        left: u64,
        block: u64,
        lba48: bool,
    },
    /// WRITE SECTORS/MULTIPLE: the buffer goes to `lba`; `left` counts the
    /// sectors of this and later blocks.
    AtaWrite {
        lba: u64,
        left: u64,
        block: u64,
        lba48: bool,
    },
    /// Receiving a 12-byte ATAPI packet.
    Packet,
    /// ATAPI data-in; more chunks follow while the command has data left.
    AtapiIn,
}

pub(crate) struct Drive {
    pub kind: Kind,
    pub serial: String,
    pub buf: Vec<u8>,
    pub pos: usize,
    pub xfer: Xfer,
}

impl Drive {
    pub fn is_atapi(&self) -> bool {
        matches!(self.kind, Kind::Atapi(_))
    }
}

/// One IDE channel with up to two devices.
pub struct IdeChannel {
    pub state: State,
    pub(crate) drives: [Option<Drive>; 2],
    base: u16,
    ctl: u16,
    irq: IrqLine,
    /// Level currently driven on `irq`.
    line: bool,
}

impl IdeChannel {
    /// A channel at `base..base+8` and control port `ctl`, on `irq`.
    pub fn new(base: u16, ctl: u16, irq: IrqLine) -> Self {
        let mut c = IdeChannel {
            state: State::default(),
            drives: [None, None],
            base,
            ctl,
            irq,
            line: false,
        };
        c.set_select(0xA0);
        c
    }

    /// Primary channel: 0x1F0-0x1F7, 0x3F6 (give it IRQ 14).
    pub fn primary(irq: IrqLine) -> Self {
        Self::new(PRIMARY_BASE, PRIMARY_CTL, irq)
    }

    /// Secondary channel: 0x170-0x177, 0x376 (give it IRQ 15).
    pub fn secondary(irq: IrqLine) -> Self {
        Self::new(SECONDARY_BASE, SECONDARY_CTL, irq)
    }

    pub fn base(&self) -> u16 {
        self.base
    }

    pub fn ctl(&self) -> u16 {
        self.ctl
    }

    /// Attaches a hard disk as `unit` (0 master, 1 slave), replacing
    /// whatever was there.
    pub fn attach_disk(&mut self, unit: usize, dev: Box<dyn BlockDevice>) {
        let unit = unit & 1;
        let geometry = chs_geometry(dev.sector_count());
        self.drives[unit] = Some(Drive {
            kind: Kind::Ata(AtaDisk { dev, geometry }),
            serial: format!("OXPC{:04X}{}", self.base, unit),
            buf: Vec::new(),
            pos: 0,
            xfer: Xfer::None,
        });
        self.state.drives[unit] = DriveRegs {
            multiple: MAX_MULTIPLE,
            cur_heads: geometry.heads,
            cur_spt: geometry.sectors,
            ..Default::default()
        };
        self.reset_drive(unit);
    }

    /// Attaches an ATAPI CD-ROM drive as `unit`, with or without a disc
    /// (an image of 2048-byte blocks: see `disk::open_cdrom`).
    pub fn attach_cdrom(&mut self, unit: usize, media: Option<Box<dyn BlockDevice>>) {
        let unit = unit & 1;
        self.drives[unit] = Some(Drive {
            kind: Kind::Atapi(Cdrom::new(media)),
            serial: format!("OXPC{:04X}{}", self.base, unit),
            buf: Vec::new(),
            pos: 0,
            xfer: Xfer::None,
        });
        self.state.drives[unit] = DriveRegs::default();
        self.reset_drive(unit);
    }

    /// Changes the disc in the CD-ROM drive at `unit` (`None` ejects); the
    /// guest sees a unit attention. Returns false if there is no CD drive.
    pub fn change_cd(&mut self, unit: usize, media: Option<Box<dyn BlockDevice>>) -> bool {
        match self.drives[unit & 1].as_mut().map(|d| &mut d.kind) {
            Some(Kind::Atapi(cd)) => {
                cd.change(media);
                true
            }
            _ => false,
        }
    }

    /// Hardware reset (the machine's reset line): both devices back to
    /// their power-on state (multiple mode at its maximum, as QEMU's disks
    /// and many real ones start, and the default translation), the
    /// media stay attached, INTRQ low.
    pub fn reset(&mut self) {
        self.state.control = 0;
        for u in 0..2 {
            let (heads, spt, mult) = match self.drives[u].as_ref().map(|d| &d.kind) {
                Some(Kind::Ata(a)) => (a.geometry.heads, a.geometry.sectors, MAX_MULTIPLE),
                _ => (0, 0, 0),
            };
            self.state.drives[u] = DriveRegs {
                multiple: mult,
                cur_heads: heads,
                cur_spt: spt,
                ..Default::default()
            };
        }
        self.reset_all();
        self.update_irq();
    }

    /// The CHS geometry of the disk at `unit` (for the CMOS tables).
    pub fn disk_geometry(&self, unit: usize) -> Option<HdGeometry> {
        match self.drives[unit & 1].as_ref().map(|d| &d.kind) {
            Some(Kind::Ata(a)) => Some(a.geometry),
            _ => None,
        }
    }

    /// Flushes every disk's image (the machine calls this at exit).
    pub fn flush(&mut self) -> crate::disk::Result<()> {
        for d in self.drives.iter_mut().flatten() {
            if let Kind::Ata(a) = &mut d.kind {
                a.dev.flush()?;
            }
        }
        Ok(())
    }

    /// The currently selected unit.
    pub(crate) fn unit(&self) -> usize {
        usize::from(self.state.tf[0].select & 0x10 != 0)
    }

    fn set_select(&mut self, v: u8) {
        for tf in &mut self.state.tf {
            tf.select = v;
        }
    }

    // ---- interrupts ----

    fn update_irq(&mut self) {
        let u = self.unit();
        let level = self.drives[u].is_some()
            && self.state.drives[u].intrq
            && self.state.control & CTL_NIEN == 0;
        if level != self.line {
            self.line = level;
            self.irq.set_level(level);
        }
    }

    /// Device `unit` asserts INTRQ (a fresh edge even if it already was).
    pub(crate) fn raise(&mut self, unit: usize) {
        if self.state.drives[unit].intrq && self.line {
            self.line = false;
            self.irq.set_level(false);
        }
        self.state.drives[unit].intrq = true;
        self.update_irq();
    }

    fn clear_irq(&mut self, unit: usize) {
        self.state.drives[unit].intrq = false;
        self.update_irq();
    }

    // ---- completion helpers used by the command sets ----

    pub(crate) fn set_status(&mut self, unit: usize, status: u8, error: u8) {
        self.state.drives[unit].status = status;
        self.state.drives[unit].error = error;
    }

    /// Normal completion with an interrupt.
    pub(crate) fn complete(&mut self, unit: usize) {
        self.stop_xfer(unit);
        self.set_status(unit, ST_DRDY | ST_DSC, 0);
        self.raise(unit);
    }

    /// Command failed: ERR with `error`, and an interrupt.
    pub(crate) fn fail(&mut self, unit: usize, error: u8) {
        self.stop_xfer(unit);
        self.set_status(unit, ST_DRDY | ST_DSC | ST_ERR, error);
        self.raise(unit);
    }

    pub(crate) fn abort(&mut self, unit: usize) {
        self.fail(unit, ERR_ABRT);
    }

    pub(crate) fn stop_xfer(&mut self, unit: usize) {
        if let Some(d) = &mut self.drives[unit] {
            d.xfer = Xfer::None;
            d.buf.clear();
            d.pos = 0;
        }
    }

    /// Offers `data` on the data port (DRQ), with an interrupt if `irq`.
    pub(crate) fn pio_in(&mut self, unit: usize, data: Vec<u8>, xfer: Xfer, irq: bool) {
        if let Some(d) = &mut self.drives[unit] {
            d.buf = data;
            d.pos = 0;
            d.xfer = xfer;
        }
        self.state.drives[unit].status = ST_DRDY | ST_DSC | ST_DRQ;
        if irq {
            self.raise(unit);
        }
    }

    /// Asks for `len` bytes on the data port (DRQ), interrupt if `irq`.
    pub(crate) fn pio_out(&mut self, unit: usize, len: usize, xfer: Xfer, irq: bool) {
        self.pio_in(unit, vec![0; len], xfer, irq);
    }

    pub(crate) fn is_atapi(&self, unit: usize) -> bool {
        self.drives[unit].as_ref().is_some_and(|d| d.is_atapi())
    }

    /// Puts the device signature into the task file.
    pub(crate) fn set_signature(&mut self, unit: usize) {
        let (l, h) = if self.is_atapi(unit) {
            (0x14, 0xEB)
        } else {
            (0, 0)
        };
        let tf = &mut self.state.tf[unit];
        tf.nsector = 1;
        tf.sector = 1;
        tf.lcyl = l;
        tf.hcyl = h;
        tf.select &= 0xF0 & !0x40;
    }

    /// Power-on / reset state of one device.
    pub(crate) fn reset_drive(&mut self, unit: usize) {
        self.stop_xfer(unit);
        let st = if self.is_atapi(unit) {
            0
        } else {
            ST_DRDY | ST_DSC
        };
        self.set_status(unit, st, 0x01);
        self.state.drives[unit].intrq = false;
        if let Some(Drive {
            kind: Kind::Atapi(cd),
            ..
        }) = &mut self.drives[unit]
        {
            cd.reset();
        }
        self.set_signature(unit);
        self.update_irq();
    }

    fn write_control(&mut self, val: u8) {
        let old = self.state.control;
        self.state.control = val;
        if old & CTL_SRST == 0 && val & CTL_SRST != 0 {
            for u in 0..2 {
                self.stop_xfer(u);
                self.set_status(u, ST_BSY | ST_DSC, 0x01);
                self.state.drives[u].intrq = false;
            }
        } else if old & CTL_SRST != 0 && val & CTL_SRST == 0 {
            self.reset_all();
        }
        self.update_irq();
    }

    // ---- register file ----

    fn read_reg(&mut self, reg: u16) -> u8 {
        let u = self.unit();
        let present = self.drives[u].is_some();
        let none = self.drives.iter().all(|d| d.is_none());
        let hob = self.state.control & CTL_HOB != 0;
        let tf = &self.state.tf[u];
        if none {
            return 0;
        }
        match reg {
            // The error register has no HOB half.
            1 if present => self.state.drives[u].error,
            1 => 0,
            2 => {
                if hob {
                    tf.hob_nsector
                } else {
                    tf.nsector
                }
            }
            3 => {
                if hob {
                    tf.hob_sector
                } else {
                    tf.sector
                }
            }
            4 => {
                if hob {
                    tf.hob_lcyl
                } else {
                    tf.lcyl
                }
            }
            5 => {
                if hob {
                    tf.hob_hcyl
                } else {
                    tf.hcyl
                }
            }
            6 => tf.select,
            7 => {
                if !present {
                    return 0;
                }
                let s = self.state.drives[u].status;
                self.clear_irq(u);
                s
            }
            _ => 0xFF,
        }
    }

    fn write_reg(&mut self, reg: u16, val: u8) {
        self.state.control &= !CTL_HOB;
        match reg {
            1..=5 => {
                for tf in &mut self.state.tf {
                    let (hob, cur) = match reg {
                        1 => (&mut tf.hob_feature, &mut tf.feature),
                        2 => (&mut tf.hob_nsector, &mut tf.nsector),
                        3 => (&mut tf.hob_sector, &mut tf.sector),
                        4 => (&mut tf.hob_lcyl, &mut tf.lcyl),
                        _ => (&mut tf.hob_hcyl, &mut tf.hcyl),
                    };
                    *hob = *cur;
                    *cur = val;
                }
            }
            6 => {
                self.set_select(val);
                self.update_irq();
            }
            7 => self.command(val),
            _ => {}
        }
    }

    fn command(&mut self, cmd: u8) {
        let u = self.unit();
        if self.state.control & CTL_SRST != 0 {
            return;
        }
        if cmd == CMD_EXECUTE_DIAGNOSTIC {
            self.execute_diagnostic();
            return;
        }
        if self.drives[u].is_none() {
            log::debug!(
                "ide {:#x}: command {cmd:#04x} to absent unit {u}",
                self.base
            );
            return;
        }
        self.stop_xfer(u);
        self.clear_irq(u);
        if self.is_atapi(u) {
            self.atapi_ata_command(u, cmd);
        } else {
            self.ata_command(u, cmd);
        }
    }

    /// Resets both devices and selects device 0. An absent device's copy
    /// of the task file gets the "nothing here" signature (0xFF/0xFF).
    fn reset_all(&mut self) {
        self.set_select(0xA0);
        for u in 0..2 {
            if self.drives[u].is_some() {
                self.reset_drive(u);
            } else {
                let tf = &mut self.state.tf[u];
                (tf.nsector, tf.sector, tf.lcyl, tf.hcyl) = (1, 1, 0xFF, 0xFF);
            }
        }
    }

    fn execute_diagnostic(&mut self) {
        self.reset_all();
        let first = if self.drives[0].is_some() { 0 } else { 1 };
        if self.drives[first].is_some() {
            self.raise(first);
        }
    }

    // ---- data port ----

    fn data_read(&mut self, size: u8) -> u32 {
        let u = self.unit();
        let mut v = 0u32;
        let mut got = 0;
        let Some(d) = &mut self.drives[u] else {
            return ones(size);
        };
        if self.state.drives[u].status & ST_DRQ == 0
            || !matches!(
                d.xfer,
                Xfer::PioInOnce | Xfer::AtaRead { .. } | Xfer::AtapiIn
            )
        {
            return ones(size);
        }
        while got < size as usize && d.pos < d.buf.len() {
            v |= u32::from(d.buf[d.pos]) << (8 * got);
            d.pos += 1;
            got += 1;
        }
        for i in got..size as usize {
            v |= 0xFF << (8 * i);
        }
        if d.pos >= d.buf.len() {
            self.data_in_done(u);
        }
        v
    }

    fn data_write(&mut self, size: u8, val: u32) {
        let u = self.unit();
        let Some(d) = &mut self.drives[u] else {
            return;
        };
        if self.state.drives[u].status & ST_DRQ == 0
            || !matches!(d.xfer, Xfer::AtaWrite { .. } | Xfer::Packet)
        {
            return;
        }
        for i in 0..size as usize {
            if d.pos >= d.buf.len() {
                break;
            }
            d.buf[d.pos] = (val >> (8 * i)) as u8;
            d.pos += 1;
        }
        if d.pos >= d.buf.len() {
            self.data_out_done(u);
        }
    }

    /// The host has read the whole buffer.
    fn data_in_done(&mut self, u: usize) {
        let xfer = self.drives[u].as_ref().map_or(Xfer::None, |d| d.xfer);
        match xfer {
            Xfer::AtaRead { .. } => self.ata_read_next(u),
            Xfer::AtapiIn => self.atapi_next_chunk(u),
            _ => {
                self.stop_xfer(u);
                let st = self.state.drives[u].status & !ST_DRQ;
                self.state.drives[u].status = st;
            }
        }
    }

    /// The host has filled the whole buffer.
    fn data_out_done(&mut self, u: usize) {
        let xfer = self.drives[u].as_ref().map_or(Xfer::None, |d| d.xfer);
        match xfer {
            Xfer::AtaWrite { .. } => self.ata_write_block(u),
            Xfer::Packet => self.atapi_packet(u),
            _ => self.stop_xfer(u),
        }
    }
}

fn ones(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Registers `ch` on `bus` at its command block (8 ports) and its control
/// port.
pub fn register(
    bus: &mut crate::bus::PortBus,
    name: &'static str,
    ch: &std::sync::Arc<std::sync::Mutex<IdeChannel>>,
) -> Result<(), crate::bus::BusError> {
    let (base, ctl) = {
        let c = crate::bus::lock(ch);
        (c.base, c.ctl)
    };
    let dev: crate::bus::SharedDevice = ch.clone();
    bus.register(base, base + 7, name, dev.clone())?;
    bus.register(ctl, ctl, name, dev)
}

impl From<HdGeometry> for crate::cmos::DiskGeometry {
    fn from(g: HdGeometry) -> Self {
        crate::cmos::DiskGeometry {
            cylinders: g.cylinders,
            heads: g.heads,
            sectors: g.sectors,
        }
    }
}

impl PortIo for IdeChannel {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        if port == self.ctl {
            let u = self.unit();
            let s = if self.drives[u].is_some() {
                self.state.drives[u].status
            } else {
                0
            };
            return crate::bus::widen(s, size);
        }
        match port.wrapping_sub(self.base) {
            0 => self.data_read(size),
            r @ 1..=7 => crate::bus::widen(self.read_reg(r), size),
            _ => ones(size),
        }
    }

    fn write(&mut self, port: u16, size: u8, val: u32) {
        if port == self.ctl {
            self.write_control(val as u8);
            return;
        }
        match port.wrapping_sub(self.base) {
            0 => self.data_write(size, val),
            r @ 1..=7 => self.write_reg(r, val as u8),
            _ => log::debug!("ide: write {val:#x} to {port:#x} ignored"),
        }
    }
}
