//! The 82077AA floppy disk controller at 0x3F0-0x3F5 and 0x3F7 (0x3F6 is
//! the primary IDE channel's), IRQ 6, DMA channel 2, with up to two drives.
//!
//! Models the PC-AT mode registers: DOR (drive select, reset, motors; kept
//! readable), TDR, MSR/DSR (data rate, software reset), the data FIFO and
//! DIR/CCR (disk change, data rate). Commands: READ DATA, READ DELETED,
//! READ TRACK (all as READ DATA), WRITE DATA, WRITE DELETED (as WRITE
//! DATA), with multi-track, end-of-track and terminal-count handling;
//! READ ID, FORMAT TRACK, SPECIFY, SENSE DRIVE STATUS, RECALIBRATE, SEEK
//! (absolute and relative), SENSE INTERRUPT STATUS, VERSION (0x90),
//! CONFIGURE, LOCK/UNLOCK, DUMPREG, PERPENDICULAR MODE. Unknown opcodes
//! (PART ID, SCAN, VERIFY...) get the one-byte 0x80 "invalid" result, as on
//! a real 82077AA, which is how Linux tells it apart from an 82078. Reset
//! through DOR or DSR raises an interrupt that four SENSE INTERRUPT STATUS
//! commands acknowledge (0xC0..0xC3). Reads and writes check the medium's
//! data rate against the selected one (SeaBIOS senses 720K and 5.25" media
//! that way), write protection (ST1 NW) and the image bounds (ST1 ND).
//! The disk-change line (DIR bit 7) is set by inserting or ejecting a disk
//! and cleared by a seek with a disk present; it reads active while the
//! drive is empty. As in QEMU (and as SeaBIOS expects when it leaves reset
//! with DOR = 0x04), IRQ and DMA are not gated by DOR bit 3.
//!
//! In non-DMA mode (SPECIFY ND=1, Linux's `floppy=nodma`) READ and WRITE
//! DATA move their bytes through the FIFO with MSR showing NDMA, one
//! interrupt when the data phase starts and one at the result.
//!
//! Commands complete at once: there is no rotation, step or head-load
//! timing. Not modelled: non-DMA FORMAT TRACK, the FIFO threshold, the
//! PS/2 and Model 30 register variants, drives 2 and 3 (always empty),
//! double stepping (the cylinder of the sector ID is what locates data,
//! whatever the head position), deleted-data marks, format of non-standard
//! sector layouts (only IDs that fall inside the image's geometry are
//! written).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::bus::{lock, PortIo};
use crate::disk::{BlockDevice, FloppyGeometry, SECTOR_SIZE};
use crate::dma::{Dma, GuestMemory};
use crate::irq::IrqLine;

pub const FDC_BASE: u16 = 0x3F0;
pub const FDC_IRQ: u8 = 6;
pub const FDC_DMA: usize = 2;

// DOR bits.
const DOR_RESET_N: u8 = 0x04;
const DOR_DMA: u8 = 0x08;

// MSR bits.
const MSR_RQM: u8 = 0x80;
const MSR_DIO: u8 = 0x40;
const MSR_NDMA: u8 = 0x20;
const MSR_CB: u8 = 0x10;

// ST0..ST3 bits.
const ST0_ABNORMAL: u8 = 0x40;
const ST0_INVALID: u8 = 0x80;
const ST0_SE: u8 = 0x20;
const ST0_EC: u8 = 0x10;
const ST0_NR: u8 = 0x08;
const ST1_EN: u8 = 0x80;
const ST1_OR: u8 = 0x10;
const ST1_ND: u8 = 0x04;
const ST1_NW: u8 = 0x02;
const ST1_MA: u8 = 0x01;
const ST3_WP: u8 = 0x40;
const ST3_RDY: u8 = 0x20;
const ST3_T0: u8 = 0x10;
const ST3_TS: u8 = 0x08;

/// Default CONFIGURE byte: implied seek off, FIFO disabled, polling on,
/// threshold 1 (what a reset restores unless LOCKed).
const CONFIG_DEFAULT: u8 = 0x20;

/// Guest-visible state of one drive.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DriveState {
    /// Cylinder the head is on (the PCN).
    pub track: u8,
    pub head: u8,
    /// Disk-change line (DIR bit 7 when selected).
    pub media_changed: bool,
    /// ST0 of a finished SEEK/RECALIBRATE awaiting SENSE INTERRUPT.
    pub seek_st0: Option<u8>,
    /// Sector passing under the head next (for READ ID).
    pub rotation: u8,
}

/// The controller's guest-visible registers, for snapshots.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub dor: u8,
    pub tdr: u8,
    /// Selected data rate (DSR/CCR bits 0-1).
    pub rate: u8,
    /// Command bytes received so far.
    pub command: Vec<u8>,
    /// Result bytes still to be read.
    pub result: Vec<u8>,
    pub result_pos: usize,
    /// SENSE INTERRUPT STATUS results owed after a reset.
    pub reset_sensei: u8,
    pub irq_pending: bool,
    pub specify: [u8; 2],
    pub config: u8,
    pub pretrk: u8,
    pub locked: bool,
    pub perpendicular: u8,
    pub drives: [DriveState; 4],
    /// Non-DMA execution phase: the data bytes, how many have moved, and
    /// what follows (the sectors to write and the result).
    pub pio: Option<PioTransfer>,
}

/// A READ/WRITE DATA in non-DMA mode (SPECIFY ND=1): the host moves the
/// bytes through the FIFO; the transfer runs to EOT (there is no terminal
/// count without DMA) and ends with ST1 EN, as Linux's pseudo-DMA expects.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PioTransfer {
    pub write: bool,
    pub drive: usize,
    pub data: Vec<u8>,
    pub pos: usize,
    pub lbas: Vec<u64>,
    pub result: Vec<u8>,
}

impl Default for State {
    fn default() -> Self {
        State {
            dor: DOR_RESET_N | DOR_DMA,
            tdr: 0,
            rate: 0,
            command: Vec::new(),
            result: Vec::new(),
            result_pos: 0,
            reset_sensei: 0,
            irq_pending: false,
            specify: [0, 0],
            config: CONFIG_DEFAULT,
            pretrk: 0,
            locked: false,
            perpendicular: 0,
            drives: Default::default(),
            pio: None,
        }
    }
}

/// A disk in a drive.
struct Media {
    dev: Box<dyn BlockDevice>,
    geom: FloppyGeometry,
}

/// How a data command ended.
struct Outcome {
    st0: u8,
    st1: u8,
    st2: u8,
    chrn: [u8; 4],
}

pub struct Floppy {
    pub state: State,
    media: [Option<Media>; 2],
    irq: IrqLine,
    dma: Arc<Mutex<Dma>>,
    mem: Box<dyn GuestMemory + Send>,
}

/// Number of bytes (command byte included) of each command.
fn command_len(cmd: u8) -> Option<usize> {
    Some(match cmd & 0x1F {
        0x02 | 0x05 | 0x06 | 0x09 | 0x0C => 9,
        0x03 | 0x0F => 3,
        0x04 | 0x07 | 0x0A | 0x12 => 2,
        0x08 | 0x0E | 0x10 | 0x14 => 1,
        0x0D => 6,
        0x13 => 4,
        _ => return None,
    })
}

impl Floppy {
    /// A controller raising `irq` (IRQ 6) and moving data through channel 2
    /// of `dma` into `mem` (guest RAM: an `mmu::DmaMemory`).
    pub fn new(irq: IrqLine, dma: Arc<Mutex<Dma>>, mem: Box<dyn GuestMemory + Send>) -> Self {
        Floppy {
            state: State::default(),
            media: [None, None],
            irq,
            dma,
            mem,
        }
    }

    /// Puts a disk into drive 0 (A:) or 1 (B:); the disk-change line goes
    /// active as on a real drive.
    pub fn insert(&mut self, drive: usize, dev: Box<dyn BlockDevice>, geom: FloppyGeometry) {
        let d = drive & 1;
        self.media[d] = Some(Media { dev, geom });
        self.state.drives[d].media_changed = true;
    }

    /// Removes the disk from `drive` (flushing it first).
    pub fn eject(&mut self, drive: usize) -> crate::disk::Result<()> {
        let d = drive & 1;
        if let Some(mut m) = self.media[d].take() {
            m.dev.flush()?;
        }
        self.state.drives[d].media_changed = true;
        Ok(())
    }

    /// Hardware reset (the machine's reset line): registers back to their
    /// power-on values, disks stay in, no interrupt.
    pub fn reset(&mut self) {
        let drives = std::mem::take(&mut self.state.drives);
        self.lower_irq();
        self.state = State::default();
        for (d, old) in self.state.drives.iter_mut().zip(drives) {
            d.media_changed = old.media_changed;
        }
    }

    /// The format of the disk in `drive`, if any (for the CMOS drive type).
    pub fn geometry(&self, drive: usize) -> Option<FloppyGeometry> {
        self.media
            .get(drive)
            .and_then(|m| m.as_ref())
            .map(|m| m.geom)
    }

    /// Flushes every disk (the machine calls this at exit).
    pub fn flush(&mut self) -> crate::disk::Result<()> {
        for m in self.media.iter_mut().flatten() {
            m.dev.flush()?;
        }
        Ok(())
    }

    // ---- interrupt ----

    fn raise_irq(&mut self) {
        if self.state.irq_pending {
            self.irq.set_level(false);
        }
        self.state.irq_pending = true;
        self.irq.set_level(true);
    }

    fn lower_irq(&mut self) {
        if self.state.irq_pending {
            self.state.irq_pending = false;
            self.irq.set_level(false);
        }
    }

    // ---- reset ----

    fn enter_reset(&mut self) {
        let s = &mut self.state;
        s.command.clear();
        s.result.clear();
        s.result_pos = 0;
        s.reset_sensei = 0;
        s.pio = None;
        for d in &mut s.drives {
            d.seek_st0 = None;
        }
        if !s.locked {
            s.config = CONFIG_DEFAULT;
            s.pretrk = 0;
        }
        s.perpendicular &= 0x3C;
        self.lower_irq();
    }

    /// Leaving reset: the controller interrupts and owes four SENSE
    /// INTERRUPT STATUS results, one per drive.
    fn leave_reset(&mut self) {
        self.state.reset_sensei = 4;
        self.raise_irq();
    }

    // ---- registers ----

    fn msr(&self) -> u8 {
        let s = &self.state;
        if s.dor & DOR_RESET_N == 0 {
            0
        } else if let Some(p) = &s.pio {
            MSR_RQM | MSR_NDMA | MSR_CB | if p.write { 0 } else { MSR_DIO }
        } else if s.result_pos < s.result.len() {
            MSR_RQM | MSR_DIO | MSR_CB
        } else if !s.command.is_empty() {
            MSR_RQM | MSR_CB
        } else {
            MSR_RQM
        }
    }

    fn selected(&self) -> usize {
        (self.state.dor & 3) as usize
    }

    fn write_dor(&mut self, val: u8) {
        let old = self.state.dor;
        self.state.dor = val;
        if old & DOR_RESET_N != 0 && val & DOR_RESET_N == 0 {
            self.enter_reset();
        } else if old & DOR_RESET_N == 0 && val & DOR_RESET_N != 0 {
            self.leave_reset();
        }
    }

    fn write_dsr(&mut self, val: u8) {
        self.state.rate = val & 3;
        if val & 0x80 != 0 && self.state.dor & DOR_RESET_N != 0 {
            self.enter_reset();
            self.leave_reset();
        }
    }

    fn read_fifo(&mut self) -> u8 {
        if let Some(p) = &mut self.state.pio {
            if p.write {
                return 0xFF;
            }
            let v = p.data.get(p.pos).copied().unwrap_or(0xFF);
            p.pos += 1;
            if p.pos >= p.data.len() {
                self.pio_done();
            }
            return v;
        }
        let s = &mut self.state;
        if s.result_pos >= s.result.len() {
            return 0xFF;
        }
        let v = s.result[s.result_pos];
        s.result_pos += 1;
        if s.result_pos == 1 {
            self.lower_irq();
        }
        let s = &mut self.state;
        if s.result_pos >= s.result.len() {
            s.result.clear();
            s.result_pos = 0;
        }
        v
    }

    fn write_fifo(&mut self, val: u8) {
        if self.state.dor & DOR_RESET_N == 0 {
            return;
        }
        if let Some(p) = &mut self.state.pio {
            if p.write {
                if let Some(b) = p.data.get_mut(p.pos) {
                    *b = val;
                }
                p.pos += 1;
                if p.pos >= p.data.len() {
                    self.pio_done();
                }
            }
            return;
        }
        if self.state.result_pos < self.state.result.len() {
            log::debug!("fdc: command byte {val:#x} during the result phase ignored");
            return;
        }
        self.state.command.push(val);
        let cmd = self.state.command[0];
        match command_len(cmd) {
            None => {
                self.state.command.clear();
                log::debug!("fdc: invalid command {cmd:#04x}");
                self.set_result(vec![ST0_INVALID]);
            }
            Some(n) if self.state.command.len() >= n => {
                let bytes = std::mem::take(&mut self.state.command);
                self.execute(&bytes);
            }
            Some(_) => {}
        }
    }

    fn set_result(&mut self, r: Vec<u8>) {
        self.state.result = r;
        self.state.result_pos = 0;
    }

    // ---- commands ----

    fn execute(&mut self, c: &[u8]) {
        let drive = (c.get(1).copied().unwrap_or(0) & 3) as usize;
        let head = (c.get(1).copied().unwrap_or(0) >> 2) & 1;
        match c[0] & 0x1F {
            0x02 | 0x06 | 0x0C => self.read_write(c, false),
            0x05 | 0x09 => self.read_write(c, true),
            0x03 => self.state.specify = [c[1], c[2]],
            0x04 => {
                let st3 = self.st3(drive, head);
                self.set_result(vec![st3]);
            }
            0x07 => self.seek(drive, head, 0, true),
            0x0F => {
                let cur = self.state.drives[drive].track;
                let target = if c[0] & 0x80 != 0 {
                    if c[0] & 0x40 != 0 {
                        cur.saturating_add(c[2])
                    } else {
                        cur.saturating_sub(c[2])
                    }
                } else {
                    c[2]
                };
                self.seek(drive, head, target, false)
            }
            0x08 => self.sense_interrupt(),
            0x0A => self.read_id(drive, head),
            0x0D => self.format(c, drive, head),
            0x0E => {
                let s = &self.state;
                let d = &s.drives;
                let mut r = vec![d[0].track, d[1].track, d[2].track, d[3].track];
                r.push(s.specify[0]);
                r.push(s.specify[1]);
                r.push(0); // SC/EOT
                r.push(u8::from(s.locked) << 7 | s.perpendicular & 0x3F);
                r.push(s.config);
                r.push(s.pretrk);
                self.set_result(r);
            }
            0x10 => self.set_result(vec![0x90]),
            0x12 => {
                let v = c[1];
                let keep = if v & 0x80 != 0 {
                    v & 0x3C
                } else {
                    self.state.perpendicular & 0x3C
                };
                self.state.perpendicular = keep | v & 0x03;
            }
            0x13 => {
                self.state.config = c[2];
                self.state.pretrk = c[3];
            }
            0x14 => {
                self.state.locked = c[0] & 0x80 != 0;
                self.set_result(vec![u8::from(self.state.locked) << 4]);
            }
            _ => self.set_result(vec![ST0_INVALID]),
        }
    }

    fn st3(&self, drive: usize, head: u8) -> u8 {
        let mut st3 = ST3_RDY | ST3_TS | head << 2 | drive as u8;
        if self.state.drives[drive].track == 0 {
            st3 |= ST3_T0;
        }
        if let Some(m) = self.media.get(drive).and_then(|m| m.as_ref()) {
            if m.dev.is_read_only() {
                st3 |= ST3_WP;
            }
        }
        st3
    }

    fn seek(&mut self, drive: usize, head: u8, target: u8, recal: bool) {
        let present = self.media.get(drive).is_some_and(|m| m.is_some());
        let d = &mut self.state.drives[drive];
        d.track = target;
        d.head = head;
        let mut st0 = ST0_SE | head << 2 | drive as u8;
        if present {
            d.media_changed = false;
        } else if recal && drive >= 2 {
            // No drive at all: track 0 is never found.
            st0 |= ST0_ABNORMAL | ST0_EC;
        }
        d.seek_st0 = Some(st0);
        self.raise_irq();
    }

    fn sense_interrupt(&mut self) {
        let s = &mut self.state;
        let r = if s.reset_sensei > 0 {
            let n = 4 - s.reset_sensei;
            s.reset_sensei -= 1;
            vec![0xC0 | n, s.drives[n as usize].track]
        } else if let Some(i) = s.drives.iter().position(|d| d.seek_st0.is_some()) {
            let st0 = s.drives[i].seek_st0.take().unwrap_or(0);
            vec![st0, s.drives[i].track]
        } else {
            vec![ST0_INVALID]
        };
        self.lower_irq();
        self.set_result(r);
    }

    /// The medium in `drive` if it can be read at the selected rate on
    /// `head`; otherwise the ST0/ST1 error bits.
    fn check_medium(&self, drive: usize, head: u8) -> Result<FloppyGeometry, (u8, u8)> {
        match self.media.get(drive).and_then(|m| m.as_ref()) {
            None => Err((ST0_ABNORMAL | ST0_NR, ST1_MA)),
            Some(m) if m.geom.rate != self.state.rate || head >= m.geom.heads => {
                Err((ST0_ABNORMAL, ST1_MA))
            }
            Some(m) => Ok(m.geom),
        }
    }

    fn finish(&mut self, drive: usize, head: u8, o: Outcome) {
        let st0 = o.st0 | head << 2 | drive as u8;
        let [c, h, r, n] = o.chrn;
        self.set_result(vec![st0, o.st1, o.st2, c, h, r, n]);
        self.raise_irq();
    }

    fn read_id(&mut self, drive: usize, head: u8) {
        let track = self.state.drives[drive].track;
        let o = match self.check_medium(drive, head) {
            Err((st0, st1)) => Outcome {
                st0,
                st1,
                st2: 0,
                chrn: [track, head, 1, 2],
            },
            Ok(g) => {
                let d = &mut self.state.drives[drive];
                d.rotation = d.rotation % g.sectors + 1;
                Outcome {
                    st0: 0,
                    st1: 0,
                    st2: 0,
                    chrn: [track, head, d.rotation, 2],
                }
            }
        };
        self.finish(drive, head, o);
    }

    /// READ DATA / WRITE DATA: sectors R..=EOT of cylinder C (and, with
    /// MT, side 1 after side 0), until the DMA channel's terminal count.
    fn read_write(&mut self, c: &[u8], write: bool) {
        let drive = (c[1] & 3) as usize;
        let hds = (c[1] >> 2) & 1;
        let mt = c[0] & 0x80 != 0;
        let (mut cyl, mut head, mut sec, n, eot) = (c[2], c[3], c[4], c[5], c[6]);
        let o = |st0, st1, chrn| Outcome {
            st0,
            st1,
            st2: 0,
            chrn,
        };
        let g = match self.check_medium(drive, head & 1) {
            Ok(g) => g,
            Err((st0, st1)) => return self.finish(drive, hds, o(st0, st1, [cyl, head, sec, n])),
        };
        if n != 2 {
            log::debug!("fdc: sector size code {n} unsupported");
            return self.finish(drive, hds, o(ST0_ABNORMAL, ST1_ND, [cyl, head, sec, n]));
        }
        if write {
            let ro = self
                .media
                .get(drive)
                .and_then(|m| m.as_ref())
                .is_some_and(|m| m.dev.is_read_only());
            if ro {
                return self.finish(drive, hds, o(ST0_ABNORMAL, ST1_NW, [cyl, head, sec, n]));
            }
        }
        // Implied seek to the sector ID's cylinder.
        self.state.drives[drive].track = cyl;
        self.state.drives[drive].head = head & 1;
        if self.state.specify[1] & 1 != 0 {
            return self.start_pio(drive, g, [cyl, head, sec, n], eot, mt, write);
        }
        let mut dma = lock(&self.dma);
        let mut buf = [0u8; SECTOR_SIZE];
        let outcome = loop {
            let Some(lba) = g.lba(cyl, head & 1, sec) else {
                break o(ST0_ABNORMAL, ST1_ND, [cyl, head, sec, n]);
            };
            let Some(m) = self.media.get_mut(drive).and_then(|m| m.as_mut()) else {
                break o(ST0_ABNORMAL | ST0_NR, ST1_MA, [cyl, head, sec, n]);
            };
            let before = dma.remaining_bytes(FDC_DMA);
            let moved = if write {
                buf.fill(0);
                let k = dma.transfer(FDC_DMA, &*self.mem, &mut buf);
                if k > 0 {
                    if let Err(e) = m.dev.write_sectors(lba, &buf) {
                        log::warn!("fdc: write of sector {lba}: {e}");
                        break o(ST0_ABNORMAL, ST1_NW, [cyl, head, sec, n]);
                    }
                }
                k
            } else {
                if let Err(e) = m.dev.read_sectors(lba, &mut buf) {
                    log::warn!("fdc: read of sector {lba}: {e}");
                    break o(ST0_ABNORMAL, ST1_ND, [cyl, head, sec, n]);
                }
                dma.transfer(FDC_DMA, &*self.mem, &mut buf)
            };
            if moved == 0 {
                // DMA not set up: the FIFO overruns.
                break o(ST0_ABNORMAL, ST1_OR, [cyl, head, sec, n]);
            }
            let tc = moved < SECTOR_SIZE || before <= moved;
            // Advance to the next sector ID.
            let last = [cyl, head, sec, n];
            let mut end_of_cylinder = false;
            if sec == eot {
                sec = 1;
                if mt && head & 1 == 0 {
                    head |= 1;
                } else {
                    cyl = cyl.wrapping_add(1);
                    if mt {
                        head &= !1;
                    }
                    end_of_cylinder = true;
                }
            } else {
                sec = sec.wrapping_add(1);
            }
            if tc {
                break o(0, 0, [cyl, head, sec, n]);
            }
            if end_of_cylinder {
                // Ran off the cylinder before terminal count: the result
                // names the last sector done (Linux's `rw_interrupt`
                // counts it with the EN bit).
                break o(ST0_ABNORMAL, ST1_EN, last);
            }
        };
        drop(dma);
        let h = outcome.chrn[1] & 1;
        self.finish(drive, h, outcome);
    }

    /// Non-DMA READ/WRITE DATA: every sector from the ID to EOT (side 1
    /// too with MT) goes through the FIFO, then the result says EN.
    fn start_pio(
        &mut self,
        drive: usize,
        g: FloppyGeometry,
        id: [u8; 4],
        eot: u8,
        mt: bool,
        write: bool,
    ) {
        let [mut cyl, mut head, mut sec, n] = id;
        let mut lbas = Vec::new();
        let last = loop {
            let Some(lba) = g.lba(cyl, head & 1, sec) else {
                let o = Outcome {
                    st0: ST0_ABNORMAL,
                    st1: ST1_ND,
                    st2: 0,
                    chrn: [cyl, head, sec, n],
                };
                return self.finish(drive, head & 1, o);
            };
            lbas.push(lba);
            if sec == eot || lbas.len() >= 2 * g.sectors as usize {
                if mt && head & 1 == 0 && sec == eot {
                    head |= 1;
                    sec = 1;
                    continue;
                }
                break [cyl, head, sec, n];
            }
            sec = sec.wrapping_add(1);
        };
        let mut data = vec![0u8; lbas.len() * SECTOR_SIZE];
        if !write {
            let Some(m) = self.media.get_mut(drive).and_then(|m| m.as_mut()) else {
                return;
            };
            for (i, &lba) in lbas.iter().enumerate() {
                let chunk = &mut data[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE];
                if let Err(e) = m.dev.read_sectors(lba, chunk) {
                    log::warn!("fdc: read of sector {lba}: {e}");
                }
            }
        }
        let st0 = ST0_ABNORMAL | (last[1] & 1) << 2 | drive as u8;
        cyl = last[0];
        let result = vec![st0, ST1_EN, 0, cyl, last[1], last[2], last[3]];
        self.state.pio = Some(PioTransfer {
            write,
            drive,
            data,
            pos: 0,
            lbas,
            result,
        });
        // Data ready (read) or wanted (write): one interrupt.
        self.raise_irq();
    }

    /// The last byte of a non-DMA transfer has moved.
    fn pio_done(&mut self) {
        let Some(p) = self.state.pio.take() else {
            return;
        };
        let mut result = p.result;
        if p.write {
            if let Some(m) = self.media.get_mut(p.drive).and_then(|m| m.as_mut()) {
                for (i, &lba) in p.lbas.iter().enumerate() {
                    let chunk = &p.data[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE];
                    if let Err(e) = m.dev.write_sectors(lba, chunk) {
                        log::warn!("fdc: write of sector {lba}: {e}");
                        result[1] = ST1_NW;
                        break;
                    }
                }
            }
        }
        self.set_result(result);
        self.raise_irq();
    }

    /// FORMAT TRACK: one 4-byte ID (C, H, R, N) per sector from DMA; each
    /// sector inside the image is filled with the filler byte.
    fn format(&mut self, c: &[u8], drive: usize, head: u8) {
        let (n, sc, fill) = (c[2], c[3], c[5]);
        let track = self.state.drives[drive].track;
        let fail = |st0, st1| Outcome {
            st0,
            st1,
            st2: 0,
            chrn: [track, head, 1, n],
        };
        let g = match self.media.get(drive).and_then(|m| m.as_ref()) {
            None => return self.finish(drive, head, fail(ST0_ABNORMAL | ST0_NR, ST1_MA)),
            Some(m) if m.dev.is_read_only() => {
                return self.finish(drive, head, fail(ST0_ABNORMAL, ST1_NW))
            }
            Some(m) => m.geom,
        };
        let mut dma = lock(&self.dma);
        let mut last = [track, head, 1, n];
        let data = [fill; SECTOR_SIZE];
        let mut outcome = Outcome {
            st0: 0,
            st1: 0,
            st2: 0,
            chrn: last,
        };
        for _ in 0..sc {
            let mut id = [0u8; 4];
            if dma.transfer(FDC_DMA, &*self.mem, &mut id) < 4 {
                outcome = fail(ST0_ABNORMAL, ST1_OR);
                break;
            }
            last = id;
            match (
                g.lba(id[0], id[1], id[2]),
                id[3],
                self.media.get_mut(drive).and_then(|m| m.as_mut()),
            ) {
                (Some(lba), 2, Some(m)) => {
                    if let Err(e) = m.dev.write_sectors(lba, &data) {
                        log::warn!("fdc: format write of sector {lba}: {e}");
                        outcome = fail(ST0_ABNORMAL, ST1_NW);
                        break;
                    }
                }
                _ => log::debug!("fdc: format ID {id:?} outside the image's geometry ignored"),
            }
            outcome.chrn = last;
        }
        drop(dma);
        self.finish(drive, head, outcome);
    }
}

/// Registers `fdc` on `bus` at 0x3F0-0x3F5 and 0x3F7 (0x3F6 belongs to
/// the primary IDE channel).
pub fn register(
    bus: &mut crate::bus::PortBus,
    fdc: &Arc<Mutex<Floppy>>,
) -> Result<(), crate::bus::BusError> {
    let dev: crate::bus::SharedDevice = fdc.clone();
    bus.register(FDC_BASE, FDC_BASE + 5, "fdc", dev.clone())?;
    bus.register(FDC_BASE + 7, FDC_BASE + 7, "fdc", dev)
}

impl PortIo for Floppy {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let v = match port.wrapping_sub(FDC_BASE) {
            0 => {
                // SRA (PS/2 mode register): interrupt pending only.
                u8::from(self.state.irq_pending) << 7
            }
            1 => 0xC0, // SRB
            2 => self.state.dor,
            3 => self.state.tdr,
            4 => self.msr(),
            5 => self.read_fifo(),
            7 => {
                // The change line stays active while the drive is empty.
                let d = self.selected();
                let empty = self.media.get(d).is_none_or(|m| m.is_none());
                u8::from(self.state.drives[d].media_changed || empty) << 7
            }
            _ => 0xFF,
        };
        crate::bus::widen(v, size)
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        let v = val as u8;
        match port.wrapping_sub(FDC_BASE) {
            2 => self.write_dor(v),
            3 => self.state.tdr = v & 3,
            4 => self.write_dsr(v),
            5 => self.write_fifo(v),
            7 => self.state.rate = v & 3,
            _ => log::debug!("fdc: write {v:#x} to {port:#x} ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{open_floppy, DiskMode, MemDisk};
    use crate::irq::IrqRecorder;
    use crate::testutil::hammer;

    /// Guest RAM for the DMA engine.
    #[derive(Clone)]
    struct Ram(Arc<Mutex<Vec<u8>>>);

    impl GuestMemory for Ram {
        fn read(&self, paddr: u32, buf: &mut [u8]) {
            let r = lock(&self.0);
            let a = paddr as usize;
            for (i, b) in buf.iter_mut().enumerate() {
                *b = r.get(a + i).copied().unwrap_or(0xFF);
            }
        }
        fn write(&self, paddr: u32, data: &[u8]) {
            let mut r = lock(&self.0);
            let a = paddr as usize;
            for (i, b) in data.iter().enumerate() {
                if let Some(x) = r.get_mut(a + i) {
                    *x = *b;
                }
            }
        }
    }

    struct Rig {
        fdc: Floppy,
        dma: Arc<Mutex<Dma>>,
        ram: Ram,
        rec: Arc<IrqRecorder>,
    }

    const DOR: u16 = 0x3F2;
    const MSR: u16 = 0x3F4;
    const FIFO: u16 = 0x3F5;
    const DIR: u16 = 0x3F7;

    fn pattern(bytes: usize) -> MemDisk {
        MemDisk::new(
            (0..bytes)
                .map(|i| (i / 512) as u8 ^ (i % 253) as u8)
                .collect(),
        )
    }

    impl Rig {
        fn new() -> Self {
            let rec = IrqRecorder::new();
            let dma = Arc::new(Mutex::new(Dma::new()));
            let ram = Ram(Arc::new(Mutex::new(vec![0; 0x40000])));
            let fdc = Floppy::new(rec.line(FDC_IRQ), dma.clone(), Box::new(ram.clone()));
            Rig { fdc, dma, ram, rec }
        }

        fn with(disk: &MemDisk) -> Self {
            let mut r = Self::new();
            let g = FloppyGeometry::from_size(disk.data().len() as u64).unwrap();
            r.fdc.insert(0, Box::new(disk.clone()), g);
            r
        }

        fn out(&mut self, port: u16, v: u8) {
            self.fdc.write(port, 1, v as u32);
        }

        fn inb(&mut self, port: u16) -> u8 {
            self.fdc.read(port, 1) as u8
        }

        fn irqs(&self) -> u64 {
            self.rec.edges(FDC_IRQ)
        }

        /// Writes a command the way SeaBIOS's `floppy_pio` does: wait for
        /// RQM, refuse DIO, write a byte.
        fn cmd(&mut self, bytes: &[u8]) {
            for &b in bytes {
                let msr = self.inb(MSR);
                assert_eq!(
                    msr & (MSR_RQM | MSR_DIO),
                    MSR_RQM,
                    "MSR {msr:#x} before {b:#x}"
                );
                self.out(FIFO, b);
            }
        }

        /// Reads the result phase as Linux's `result()` does.
        fn result(&mut self) -> Vec<u8> {
            let mut r = Vec::new();
            while self.inb(MSR) & (MSR_RQM | MSR_DIO | MSR_CB) == MSR_RQM | MSR_DIO | MSR_CB {
                r.push(self.inb(FIFO));
                assert!(r.len() <= 16);
            }
            assert_eq!(self.inb(MSR), MSR_RQM, "back to the command phase");
            r
        }

        /// Programs DMA channel 2 as SeaBIOS's `floppy_cmd` does.
        fn dma(&mut self, mode: u8, addr: u32, bytes: usize) {
            let mut d = lock(&self.dma);
            let end = bytes as u32 - 1;
            for (port, v) in [
                (0x0A, 0x06),
                (0x0C, 0),
                (0x04, addr & 0xFF),
                (0x04, addr >> 8 & 0xFF),
                (0x0C, 0),
                (0x05, end & 0xFF),
                (0x05, end >> 8),
                (0x0B, mode as u32),
                (0x81, addr >> 16),
                (0x0A, 0x02),
            ] {
                d.write(port, 1, v);
            }
        }

        fn ram(&self, addr: usize, len: usize) -> Vec<u8> {
            lock(&self.ram.0)[addr..addr + len].to_vec()
        }
    }

    #[test]
    fn read_data_of_sector_1_through_dma() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        r.out(DOR, 0x1C);
        r.dma(0x46, 0x1_0000, 512);
        r.cmd(&[0xE6, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        assert_eq!(r.irqs(), 1);
        let res = r.result();
        // TC at EOT with MT on side 0: the next ID is side 1, sector 1,
        // and ST0's head bit says side 1 as well (as QEMU reports it).
        assert_eq!(res, [0x04, 0, 0, 0, 1, 1, 2]);
        assert!(!r.rec.level(FDC_IRQ), "result read acknowledges");
        assert_eq!(r.ram(0x1_0000, 512), disk.data()[..512]);
        assert_eq!(r.ram(0x1_0200, 4), [0; 4], "no more than the DMA count");
    }

    #[test]
    fn write_data_lands_in_the_image() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        let data: Vec<u8> = (0..1024).map(|i| (i * 13 % 256) as u8).collect();
        lock(&r.ram.0)[0x2000..0x2400].copy_from_slice(&data);
        r.dma(0x4A, 0x2000, 1024);
        // C0 H1 R2-3 = LBA 19-20.
        r.cmd(&[0xC5, 0x04, 0, 1, 2, 2, 3, 0x1B, 0xFF]);
        let res = r.result();
        // Ended at EOT on side 1: next ID is cylinder 1, side 0.
        assert_eq!(res, [0x00, 0, 0, 1, 0, 1, 2]);
        assert_eq!(disk.data()[19 * 512..21 * 512], data[..]);
        assert_eq!(
            disk.data()[18 * 512..19 * 512],
            pattern(1_474_560).data()[18 * 512..19 * 512]
        );
    }

    #[test]
    fn multi_track_and_end_of_cylinder() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        // MT: sectors 17-18 of side 0, then 1-2 of side 1 = LBA 16..20.
        r.dma(0x46, 0x3000, 4 * 512);
        r.cmd(&[0xE6, 0x00, 0, 0, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.result(), [0x04, 0, 0, 0, 1, 3, 2]);
        assert_eq!(r.ram(0x3000, 2048), disk.data()[16 * 512..20 * 512]);
        // Without MT the transfer stops at EOT: abnormal end, EN.
        r.dma(0x46, 0x3000, 3 * 512);
        r.cmd(&[0x46, 0x00, 5, 0, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.result(), [0x40, ST1_EN, 0, 5, 0, 18, 2]);
        let lba = 5 * 36 + 16;
        assert_eq!(r.ram(0x3000, 1024), disk.data()[lba * 512..(lba + 2) * 512]);
    }

    /// Linux's `rw_interrupt` works out how many sectors moved from the
    /// result's C/H/R (plus one with ST1 EN); it must match the DMA count.
    #[test]
    fn result_ids_give_linux_the_sector_count() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        let mut rng = crate::testutil::XorShift(99);
        for _ in 0..200 {
            let mt = rng.next() & 1 == 1;
            let (c, h, s) = (
                (rng.next() % 79) as u8,
                (rng.next() % 2) as u8,
                (rng.next() % 18 + 1) as u8,
            );
            let left = if mt && h == 0 {
                36 - s as usize + 1
            } else {
                18 - s as usize + 1
            };
            let want = (rng.next() as usize % left) + 1;
            r.dma(0x46, 0x8000, want * 512);
            let op = if mt { 0xE6 } else { 0x66 };
            r.cmd(&[op, h << 2, c, h, s, 2, 18, 0x1B, 0xFF]);
            let res = r.result();
            assert_eq!(res[0] & 0xC0, 0, "{res:x?}");
            let heads = if mt { 2 } else { 1 };
            let eoc = i32::from(res[1] & ST1_EN != 0);
            let (rc, rh, rs) = (res[3] as i32, res[4] as i32, res[5] as i32);
            let n = ((rc - c as i32) * heads + rh - h as i32) * 18 + rs - s as i32 + eoc;
            assert_eq!(n as usize, want, "C{c} H{h} S{s} mt {mt}: {res:x?}");
            let lba = (c as usize * 2 + h as usize) * 18 + s as usize - 1;
            assert_eq!(
                r.ram(0x8000, want * 512),
                disk.data()[lba * 512..(lba + want) * 512]
            );
        }
    }

    /// Non-DMA mode, as Linux's pseudo-DMA handler drives it: bytes move
    /// while MSR says RQM|NDMA; the result has ST1 EN at EOT.
    #[test]
    fn non_dma_read_and_write() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        r.cmd(&[0x03, 0xAF, 0x03]); // SPECIFY with ND
        r.cmd(&[0x46, 0x00, 2, 0, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.irqs(), 1);
        let mut got = Vec::new();
        while r.inb(MSR) & (MSR_RQM | MSR_NDMA) == MSR_RQM | MSR_NDMA {
            got.push(r.inb(FIFO));
        }
        assert_eq!(r.irqs(), 2, "result interrupt");
        let lba = 2 * 36 + 16;
        assert_eq!(got, disk.data()[lba * 512..(lba + 2) * 512]);
        assert_eq!(r.result(), [0x40, ST1_EN, 0, 2, 0, 18, 2]);
        // Write sector 18 of C3 H1 the same way.
        r.cmd(&[0x45, 0x04, 3, 1, 18, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.inb(MSR) & (MSR_NDMA | MSR_DIO), MSR_NDMA);
        for i in 0..512 {
            r.out(FIFO, i as u8);
        }
        assert_eq!(r.result()[..2], [0x44, ST1_EN]);
        let lba = 3 * 36 + 18 + 17;
        let want: Vec<u8> = (0..512).map(|i| i as u8).collect();
        assert_eq!(disk.data()[lba * 512..(lba + 1) * 512], want[..]);
        // A reset in the middle abandons the transfer.
        r.cmd(&[0x46, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
        r.inb(FIFO);
        r.out(MSR, 0x80);
        assert_eq!(r.inb(MSR), MSR_RQM);
    }

    #[test]
    fn hardware_reset_keeps_the_disk() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        r.cmd(&[0x03, 0xAF, 0x03]);
        r.cmd(&[0x0F, 0x00, 9]);
        r.cmd(&[0x46, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
        r.fdc.reset();
        assert!(!r.rec.level(FDC_IRQ));
        assert_eq!((r.inb(DOR), r.inb(MSR)), (0x0C, MSR_RQM));
        r.cmd(&[0x0E]);
        assert_eq!(r.result()[..6], [0, 0, 0, 0, 0, 0]);
        r.dma(0x46, 0, 512);
        r.cmd(&[0x46, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        assert_eq!(r.result()[0] & 0xC0, 0, "DMA mode again, disk still in");
        assert_eq!(r.ram(0, 512), disk.data()[..512]);
    }

    #[test]
    fn reset_gives_four_polling_interrupts() {
        let mut r = Rig::new();
        assert_eq!(r.inb(DOR), 0x0C);
        r.out(DOR, 0x08);
        assert_eq!(r.inb(MSR), 0, "held in reset");
        r.out(FIFO, 0x10); // ignored
        r.out(DOR, 0x0C);
        assert_eq!(r.irqs(), 1);
        for n in 0..4u8 {
            r.cmd(&[0x08]);
            assert_eq!(r.result(), [0xC0 | n, 0]);
            assert!(!r.rec.level(FDC_IRQ));
        }
        r.cmd(&[0x08]);
        assert_eq!(r.result(), [0x80], "nothing pending");
        // DSR software reset does the same.
        r.out(MSR, 0x80);
        assert_eq!(r.irqs(), 2);
        r.cmd(&[0x08]);
        assert_eq!(r.result(), [0xC0, 0]);
    }

    #[test]
    fn seek_recalibrate_and_disk_change() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        r.out(DOR, 0x1C);
        assert_eq!(r.inb(DIR) & 0x80, 0x80, "change line after insertion");
        r.cmd(&[0x0F, 0x04, 33]);
        assert_eq!(r.irqs(), 1);
        r.cmd(&[0x08]);
        assert_eq!(r.result(), [0x24, 33]);
        assert_eq!(r.inb(DIR) & 0x80, 0, "a seek clears it");
        r.cmd(&[0x04, 0x00]);
        assert_eq!(r.result(), [ST3_RDY | ST3_TS]);
        // Relative seek out by 3.
        r.cmd(&[0x8F, 0x00, 3]);
        r.cmd(&[0x08]);
        assert_eq!(r.result(), [0x20, 30]);
        r.cmd(&[0x07, 0x00]);
        r.cmd(&[0x08]);
        assert_eq!(r.result(), [0x20, 0]);
        r.cmd(&[0x04, 0x00]);
        assert_eq!(r.result()[0] & ST3_T0, ST3_T0);
        r.fdc.eject(0).unwrap();
        assert_eq!(r.inb(DIR) & 0x80, 0x80);
        r.cmd(&[0x0F, 0x00, 1]);
        r.cmd(&[0x08]);
        r.result();
        assert_eq!(r.inb(DIR) & 0x80, 0x80, "stays set with no disk");
        let mut empty = Rig::new();
        assert_eq!(empty.inb(DIR) & 0x80, 0x80, "empty drive");
    }

    #[test]
    fn linux_controller_probe() {
        let mut r = Rig::new();
        r.cmd(&[0x10]);
        assert_eq!(r.result(), [0x90]);
        r.cmd(&[0x0E]);
        assert_eq!(r.result().len(), 10);
        r.cmd(&[0x13, 0, 0x1A, 0]); // CONFIGURE: FIFO on, threshold 10
        assert_eq!(r.inb(MSR), MSR_RQM, "no result phase");
        r.cmd(&[0x12]);
        assert_eq!(r.inb(MSR) & MSR_DIO, 0, "PERPENDICULAR wants a byte");
        r.cmd(&[0x00]);
        r.cmd(&[0x14]); // UNLOCK
        assert_eq!(r.result(), [0x00]);
        r.cmd(&[0x18]); // PART ID: an 82077AA does not know it
        assert_eq!(r.result(), [0x80]);
        r.cmd(&[0x94]); // LOCK
        assert_eq!(r.result(), [0x10]);
        r.cmd(&[0x03, 0xAF, 0x02]);
        r.out(DOR, 0x08);
        r.out(DOR, 0x0C);
        r.cmd(&[0x0E]);
        let d = r.result();
        assert_eq!(
            (d[4], d[5], d[7] >> 7, d[8]),
            (0xAF, 0x02, 1, 0x1A),
            "LOCK kept CONFIGURE"
        );
    }

    #[test]
    fn data_rate_must_match_the_medium() {
        // SeaBIOS's media sense: READ ID at the drive's rate, then others.
        let disk = pattern(737_280);
        let mut r = Rig::with(&disk);
        r.out(DIR, 0); // 500 kbit/s
        r.cmd(&[0x4A, 0x00]);
        let res = r.result();
        assert_eq!(res[0] & 0xC0, 0x40);
        assert_eq!(res[1], ST1_MA);
        r.out(DIR, 2); // 250 kbit/s
        r.cmd(&[0x4A, 0x00]);
        let res = r.result();
        assert_eq!(res[0] & 0xC0, 0);
        assert_eq!((res[5], res[6]), (1, 2));
        r.dma(0x46, 0, 512);
        r.cmd(&[0xE6, 0x04, 79, 1, 9, 2, 9, 0x1B, 0xFF]);
        assert_eq!(r.result(), [0x00, 0, 0, 80, 0, 1, 2]);
        assert_eq!(r.ram(0, 512), disk.data()[1439 * 512..]);
        // Single-sided media has no head 1.
        let mut s = Rig::with(&pattern(163_840));
        s.out(DIR, 2);
        s.cmd(&[0x4A, 0x04]);
        assert_eq!(s.result()[0] & 0xC0, 0x40);
    }

    #[test]
    fn write_protect_and_format() {
        let ro = pattern(368_640).read_only();
        let mut r = Rig::with(&ro);
        r.out(DIR, 1);
        r.cmd(&[0x04, 0x00]);
        assert_eq!(r.result()[0] & ST3_WP, ST3_WP);
        r.dma(0x4A, 0, 512);
        r.cmd(&[0xC5, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        let res = r.result();
        assert_eq!((res[0] & 0xC0, res[1]), (0x40, ST1_NW));
        assert_eq!(ro.data(), pattern(368_640).data());

        let disk = pattern(368_640);
        let mut r = Rig::with(&disk);
        let ids: Vec<u8> = (1..=9u8).flat_map(|s| [3, 1, s, 2]).collect();
        lock(&r.ram.0)[0x500..0x500 + 36].copy_from_slice(&ids);
        r.dma(0x4A, 0x500, 36);
        r.cmd(&[0x4D, 0x04, 2, 9, 0x6C, 0xF6]);
        assert_eq!(r.irqs(), 1);
        assert_eq!(r.result()[..3], [0x04, 0, 0]);
        let first = (3 * 2 + 1) * 9 * 512;
        let d = disk.data();
        assert!(d[first..first + 9 * 512].iter().all(|&b| b == 0xF6));
        assert_eq!(
            d[first - 512..first],
            pattern(368_640).data()[first - 512..first]
        );
    }

    #[test]
    fn bad_requests_end_in_error_results() {
        let disk = pattern(1_474_560);
        let mut r = Rig::with(&disk);
        // Sector 19 does not exist.
        r.dma(0x46, 0, 512);
        r.cmd(&[0x46, 0x00, 0, 0, 19, 2, 19, 0x1B, 0xFF]);
        let res = r.result();
        assert_eq!((res[0] & 0xC0, res[1]), (0x40, ST1_ND));
        // Cylinder 80 does not exist either.
        r.cmd(&[0x46, 0x00, 80, 0, 1, 2, 18, 0x1B, 0xFF]);
        assert_eq!(r.result()[1], ST1_ND);
        // 1024-byte sectors are not on this disk.
        r.cmd(&[0x46, 0x00, 0, 0, 1, 3, 1, 0x1B, 0xFF]);
        assert_eq!(r.result()[1], ST1_ND);
        // DMA masked: overrun.
        lock(&r.dma).write(0x0A, 1, 0x06);
        r.cmd(&[0x46, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        assert_eq!(r.result()[1], ST1_OR);
        // Drive B has no disk.
        r.cmd(&[0x46, 0x01, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        let res = r.result();
        assert_eq!((res[0], res[1]), (0x40 | ST0_NR | 1, ST1_MA));
        // Invalid opcodes and stray reads.
        for op in [0x00, 0x01, 0x0B, 0x11, 0x16, 0x17, 0x1F, 0xFF] {
            r.cmd(&[op]);
            assert_eq!(r.result(), [0x80], "{op:#x}");
        }
        assert_eq!(r.inb(FIFO), 0xFF);
        assert_eq!(r.fdc.read(0x3F6, 1), 0xFF);
    }

    #[test]
    fn garbage_on_every_port() {
        for seed in 1..10 {
            let mut r = Rig::with(&pattern(1_474_560));
            r.fdc.insert(
                1,
                Box::new(pattern(163_840)),
                FloppyGeometry::from_size(163_840).unwrap(),
            );
            r.dma(0x46, 0, 0x8000);
            let ports = [
                0x3F0, 0x3F1, 0x3F2, 0x3F3, 0x3F4, 0x3F5, 0x3F5, 0x3F5, 0x3F7,
            ];
            hammer(&mut r.fdc, &ports, 20_000, seed);
            let mut d = lock(&r.dma);
            hammer(&mut *d, &[0x04, 0x05, 0x0A, 0x0B, 0x81], 200, seed);
            d.write(0x81, 1, 0);
        }
    }

    #[test]
    fn boots_sector_of_the_freedos_floppy() {
        let p = std::path::Path::new("/work/shared/guests/freedos.boot.disk.1.4MB.img");
        if !p.exists() {
            eprintln!("skipped: {} missing", p.display());
            return;
        }
        let (dev, g) = open_floppy(p, DiskMode::Snapshot).unwrap();
        let mut r = Rig::new();
        r.fdc.insert(0, dev, g);
        r.out(DOR, 0x1C);
        r.cmd(&[0x07, 0x00]);
        r.cmd(&[0x08]);
        assert_eq!(r.result(), [0x20, 0]);
        r.out(DIR, g.rate);
        r.dma(0x46, 0x7C00, 512);
        r.cmd(&[0xE6, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        assert_eq!(r.result()[0] & 0xC0, 0);
        assert_eq!(r.ram(0x7DFE, 2), [0x55, 0xAA]);
    }
}
