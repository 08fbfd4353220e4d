//! The ATAPI CD-ROM: the ATA commands it answers (IDENTIFY PACKET DEVICE,
//! PACKET, DEVICE RESET; IDENTIFY DEVICE is aborted with the 0x14/0xEB
//! signature so drivers know to send IDENTIFY PACKET) and the packet
//! commands: TEST UNIT READY, REQUEST SENSE, INQUIRY, READ CAPACITY,
//! READ(10), READ(12), MODE SENSE(10), GET CONFIGURATION, READ TOC
//! (formats 0 and 1, LBA or MSF), START STOP UNIT, PREVENT ALLOW MEDIUM
//! REMOVAL, GET EVENT STATUS NOTIFICATION (polled, media class), SEEK,
//! SET CD SPEED. Data-in is cut into DRQ chunks no larger than the host's
//! byte count limit; errors set the sense key in the error register and
//! keep the sense data for REQUEST SENSE; a disc change shows up as a unit
//! attention and a media event.
//!
//! Not modelled: audio (PLAY, READ CD, subchannels), writing, DVD
//! structures, DMA, a guest-driven eject (START STOP UNIT is accepted and
//! ignored).

use super::channel::{IdeChannel, Kind, Xfer};
use super::identify;
use super::*;
use crate::disk::BlockDevice;

const BLOCK: usize = 2048;

/// Sense key, additional sense code and qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sense(pub u8, pub u8, pub u8);

pub const NO_SENSE: Sense = Sense(0, 0, 0);
pub const NOT_READY_NO_MEDIUM: Sense = Sense(2, 0x3A, 0);
pub const MEDIUM_ERROR: Sense = Sense(3, 0x11, 0);
pub const INVALID_OPCODE: Sense = Sense(5, 0x20, 0);
pub const LBA_OUT_OF_RANGE: Sense = Sense(5, 0x21, 0);
pub const INVALID_FIELD: Sense = Sense(5, 0x24, 0);
pub const SAVING_NOT_SUPPORTED: Sense = Sense(5, 0x39, 0);
pub const MEDIUM_CHANGED: Sense = Sense(6, 0x28, 0);

/// What a packet command produced.
enum Reply {
    Done,
    Data(Vec<u8>),
    Read { lba: u64, blocks: u64 },
}

/// The drive's host side and sense state.
pub(crate) struct Cdrom {
    media: Option<Box<dyn BlockDevice>>,
    sense: Sense,
    unit_attention: bool,
    locked: bool,
    /// Media event to report: 0 none, 2 new media, 3 media removal.
    event: u8,
    /// Byte count limit of the command in progress.
    limit: usize,
    /// Data ready to go out, then blocks still to read from the disc.
    pending: Vec<u8>,
    read_lba: u64,
    read_left: u64,
}

impl Cdrom {
    pub fn new(media: Option<Box<dyn BlockDevice>>) -> Self {
        Cdrom {
            media,
            sense: NO_SENSE,
            unit_attention: false,
            locked: false,
            event: 0,
            limit: 0,
            pending: Vec::new(),
            read_lba: 0,
            read_left: 0,
        }
    }

    pub fn change(&mut self, media: Option<Box<dyn BlockDevice>>) {
        self.event = if media.is_some() { 2 } else { 3 };
        self.media = media;
        self.unit_attention = true;
        self.pending.clear();
        self.read_left = 0;
    }

    pub fn reset(&mut self) {
        self.pending.clear();
        self.read_left = 0;
        self.locked = false;
    }

    /// Capacity in 2048-byte blocks.
    fn blocks(&self) -> u64 {
        self.media
            .as_ref()
            .map_or(0, |m| m.sector_count() / (BLOCK / 512) as u64)
    }

    fn need_medium(&self) -> Result<(), Sense> {
        if self.media.is_some() {
            Ok(())
        } else {
            Err(NOT_READY_NO_MEDIUM)
        }
    }

    fn execute(&mut self, p: &[u8; 12]) -> Result<Reply, Sense> {
        let op = p[0];
        // A pending unit attention fails the next command that is not
        // allowed to pass it.
        if self.unit_attention && !matches!(op, 0x03 | 0x12 | 0x46 | 0x4A) {
            self.unit_attention = false;
            return Err(MEDIUM_CHANGED);
        }
        let be16 = |i: usize| usize::from(p[i]) << 8 | usize::from(p[i + 1]);
        let be32 = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
        let cut = |mut v: Vec<u8>, alloc: usize| {
            v.truncate(alloc);
            Ok(Reply::Data(v))
        };
        match op {
            0x00 => self.need_medium().map(|_| Reply::Done),
            0x03 => {
                let s = self.sense;
                self.sense = NO_SENSE;
                let mut v = vec![0u8; 18];
                v[0] = 0x70;
                v[2] = s.0;
                v[7] = 10;
                v[12] = s.1;
                v[13] = s.2;
                cut(v, usize::from(p[4]))
            }
            0x12 => {
                let mut v = vec![0u8; 36];
                v[0] = 0x05; // CD-ROM
                v[1] = 0x80; // removable
                v[3] = 0x21; // ATAPI, response format 1
                v[4] = 31;
                v[8..16].copy_from_slice(b"OXPC    ");
                v[16..32].copy_from_slice(b"CD-ROM          ");
                v[32..36].copy_from_slice(b"1.0 ");
                cut(v, be16(3))
            }
            0x25 => {
                self.need_medium()?;
                let last = self.blocks().saturating_sub(1).min(u32::MAX as u64) as u32;
                let mut v = last.to_be_bytes().to_vec();
                v.extend_from_slice(&(BLOCK as u32).to_be_bytes());
                Ok(Reply::Data(v))
            }
            0x28 => self.read(u64::from(be32(2)), be16(7) as u64),
            0xA8 => self.read(u64::from(be32(2)), u64::from(be32(6))),
            0x5A => {
                let v = self.mode_sense(p[2])?;
                cut(v, be16(7))
            }
            0x46 => cut(self.configuration(p[1] & 3, be16(2) as u16), be16(7)),
            0x43 => {
                self.need_medium()?;
                let mut format = p[2] & 0x0F;
                if format == 0 {
                    format = p[9] >> 6;
                }
                let v = self.toc(format, p[1] & 2 != 0, p[6])?;
                cut(v, be16(7))
            }
            0x4A => {
                if p[1] & 1 == 0 {
                    return Err(INVALID_FIELD);
                }
                let v = if p[4] & 0x10 != 0 {
                    let ev = std::mem::take(&mut self.event);
                    let present = if self.media.is_some() { 0x02 } else { 0 };
                    vec![0, 6, 0x04, 0x10, ev, present, 0, 0]
                } else {
                    vec![0, 2, 0x80, 0x10]
                };
                cut(v, be16(7))
            }
            0x1B => {
                log::debug!("atapi: START STOP UNIT {:#x} ignored", p[4]);
                Ok(Reply::Done)
            }
            0x1E => {
                self.locked = p[4] & 1 != 0;
                Ok(Reply::Done)
            }
            0x2B => self.need_medium().map(|_| Reply::Done),
            0xBB => Ok(Reply::Done),
            _ => {
                log::debug!("atapi: packet command {op:#04x} not supported");
                Err(INVALID_OPCODE)
            }
        }
    }

    fn read(&mut self, lba: u64, blocks: u64) -> Result<Reply, Sense> {
        self.need_medium()?;
        if lba.checked_add(blocks).is_none_or(|e| e > self.blocks()) {
            return Err(LBA_OUT_OF_RANGE);
        }
        Ok(if blocks == 0 {
            Reply::Done
        } else {
            Reply::Read { lba, blocks }
        })
    }

    fn mode_sense(&self, pc_page: u8) -> Result<Vec<u8>, Sense> {
        if pc_page >> 6 == 3 {
            return Err(SAVING_NOT_SUPPORTED);
        }
        let error_page = [0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0];
        let speed: u16 = 706 * 4; // 16x in kB/s
        let mut caps = vec![0u8; 20];
        caps[0] = 0x2A;
        caps[1] = 18;
        caps[4] = 0x00;
        caps[5] = 0x00;
        caps[6] = 0x29 | if self.locked { 0x02 } else { 0 }; // lock, eject, tray
        caps[8..10].copy_from_slice(&speed.to_be_bytes());
        caps[10..12].copy_from_slice(&256u16.to_be_bytes());
        caps[12..14].copy_from_slice(&512u16.to_be_bytes());
        caps[14..16].copy_from_slice(&speed.to_be_bytes());
        let mut v = vec![0u8; 8];
        v[2] = if self.media.is_some() { 0x01 } else { 0x70 };
        match pc_page & 0x3F {
            0x01 => v.extend_from_slice(&error_page),
            0x2A => v.extend_from_slice(&caps),
            0x3F => {
                v.extend_from_slice(&error_page);
                v.extend_from_slice(&caps);
            }
            _ => return Err(INVALID_FIELD),
        }
        let len = (v.len() - 2) as u16;
        v[0..2].copy_from_slice(&len.to_be_bytes());
        Ok(v)
    }

    fn configuration(&self, rt: u8, start: u16) -> Vec<u8> {
        let current = self.media.is_some();
        let profile: u16 = if current { 0x0008 } else { 0 };
        let mut v = vec![0u8; 8];
        v[6..8].copy_from_slice(&profile.to_be_bytes());
        let features: [(u16, Vec<u8>); 2] = [
            // Profile list: CD-ROM.
            (0x0000, vec![0x00, 0x08, u8::from(current), 0]),
            // Core: ATAPI interface.
            (0x0001, vec![0, 0, 0, 2, 0, 0, 0, 0]),
        ];
        for (code, data) in features {
            let wanted = match rt {
                2 => code == start,
                _ => code >= start,
            };
            if wanted {
                v.extend_from_slice(&code.to_be_bytes());
                v.push(0x03); // persistent, current
                v.push(data.len() as u8);
                v.extend_from_slice(&data);
            }
        }
        let len = (v.len() - 4) as u32;
        v[0..4].copy_from_slice(&len.to_be_bytes());
        v
    }

    fn toc(&self, format: u8, msf: bool, start: u8) -> Result<Vec<u8>, Sense> {
        let addr = |lba: u64| -> [u8; 4] {
            if msf {
                let f = lba + 150;
                [0, (f / 4500) as u8, (f / 75 % 60) as u8, (f % 75) as u8]
            } else {
                (lba as u32).to_be_bytes()
            }
        };
        let mut v = vec![0u8, 0, 1, 1];
        match format {
            0 => {
                if start > 1 && start != 0xAA {
                    return Err(INVALID_FIELD);
                }
                if start <= 1 {
                    v.extend_from_slice(&[0, 0x14, 1, 0]);
                    v.extend_from_slice(&addr(0));
                }
                v.extend_from_slice(&[0, 0x14, 0xAA, 0]);
                v.extend_from_slice(&addr(self.blocks()));
            }
            1 => {
                v.extend_from_slice(&[0, 0x14, 1, 0]);
                v.extend_from_slice(&addr(0));
            }
            _ => return Err(INVALID_FIELD),
        }
        let len = (v.len() - 2) as u16;
        v[0..2].copy_from_slice(&len.to_be_bytes());
        Ok(v)
    }
}

impl IdeChannel {
    fn cdrom(&mut self, u: usize) -> Option<&mut Cdrom> {
        match self.drives[u].as_mut().map(|d| &mut d.kind) {
            Some(Kind::Atapi(cd)) => Some(cd),
            _ => None,
        }
    }

    pub(crate) fn atapi_ata_command(&mut self, u: usize, cmd: u8) {
        match cmd {
            0xA1 => {
                let serial = self.drives[u].as_ref().map_or("", |d| &d.serial);
                let data = identify::cdrom(serial);
                self.pio_in(u, data, Xfer::PioInOnce, true);
            }
            0xA0 => {
                if self.state.tf[u].feature & 1 != 0 {
                    log::debug!("atapi: DMA packet refused (PIO only)");
                    self.abort(u);
                    return;
                }
                let limit =
                    usize::from(self.state.tf[u].hcyl) << 8 | usize::from(self.state.tf[u].lcyl);
                if let Some(cd) = self.cdrom(u) {
                    cd.limit = limit;
                }
                self.state.tf[u].nsector = IR_COD;
                self.pio_out(u, 12, Xfer::Packet, false);
            }
            0x08 => {
                self.reset_drive(u);
            }
            0xEC => {
                self.set_signature(u);
                self.abort(u);
            }
            0xE0..=0xE3 | 0xE5 | 0xE6 | 0xEF => self.complete(u),
            _ => {
                log::debug!("atapi: ATA command {cmd:#04x} aborted");
                self.abort(u);
            }
        }
    }

    /// The 12-byte packet has arrived.
    pub(crate) fn atapi_packet(&mut self, u: usize) {
        let mut p = [0u8; 12];
        if let Some(d) = &self.drives[u] {
            p.copy_from_slice(&d.buf[..12]);
        }
        self.stop_xfer(u);
        let Some(cd) = self.cdrom(u) else { return };
        cd.pending.clear();
        cd.read_left = 0;
        match cd.execute(&p) {
            Ok(Reply::Done) => self.atapi_ok(u),
            Ok(Reply::Data(v)) => {
                cd.pending = v;
                self.atapi_next_chunk(u);
            }
            Ok(Reply::Read { lba, blocks }) => {
                cd.read_lba = lba;
                cd.read_left = blocks;
                self.atapi_next_chunk(u);
            }
            Err(s) => self.atapi_fail(u, s),
        }
    }

    fn atapi_ok(&mut self, u: usize) {
        self.state.tf[u].nsector = IR_IO | IR_COD;
        self.complete(u);
    }

    fn atapi_fail(&mut self, u: usize, s: Sense) {
        if let Some(cd) = self.cdrom(u) {
            cd.sense = s;
            cd.pending.clear();
            cd.read_left = 0;
        }
        self.state.tf[u].nsector = IR_IO | IR_COD;
        self.fail(u, s.0 << 4 | if s.0 == 5 { ERR_ABRT } else { 0 });
    }

    /// Offers the next chunk of data-in, or completes the command.
    pub(crate) fn atapi_next_chunk(&mut self, u: usize) {
        let Some(cd) = self.cdrom(u) else { return };
        let total = cd.pending.len() as u64 + cd.read_left * BLOCK as u64;
        if total == 0 {
            self.atapi_ok(u);
            return;
        }
        let mut limit = cd.limit;
        if limit == 0 || limit == 0xFFFF {
            limit = 0xFFFE;
        }
        let size = if total <= limit as u64 {
            total as usize
        } else {
            (limit & !1).max(2)
        };
        while cd.pending.len() < size && cd.read_left > 0 {
            let k = cd.read_left.min(32);
            let mut b = vec![0u8; k as usize * BLOCK];
            let r = match &mut cd.media {
                Some(m) => m.read_sectors(cd.read_lba * 4, &mut b),
                None => Err(crate::disk::DiskError::ReadOnly),
            };
            if let Err(e) = r {
                log::error!("atapi: read of block {}: {e}", cd.read_lba);
                self.atapi_fail(u, MEDIUM_ERROR);
                return;
            }
            cd.pending.extend_from_slice(&b);
            cd.read_lba += k;
            cd.read_left -= k;
        }
        let chunk: Vec<u8> = cd.pending.drain(..size.min(cd.pending.len())).collect();
        let n = chunk.len();
        self.state.tf[u].lcyl = n as u8;
        self.state.tf[u].hcyl = (n >> 8) as u8;
        self.state.tf[u].nsector = IR_IO;
        self.pio_in(u, chunk, Xfer::AtapiIn, true);
    }
}
