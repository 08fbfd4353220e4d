//! The ATA command set of a hard disk: IDENTIFY DEVICE, READ/WRITE
//! SECTORS and MULTIPLE (LBA28, LBA48 "EXT" and CHS addressing), READ
//! VERIFY, SET MULTIPLE MODE, INITIALIZE DEVICE PARAMETERS, SET FEATURES,
//! FLUSH CACHE (EXT) to the image, READ NATIVE MAX ADDRESS (EXT), power
//! management as no-ops, RECALIBRATE/SEEK. PIO only: the DMA commands are
//! aborted (IDENTIFY does not offer DMA). Data-in blocks raise INTRQ each;
//! data-out raises it after every block the device has taken.

use super::channel::{IdeChannel, Kind, Xfer};
use super::identify::{self, DiskIdentity, MAX_MULTIPLE};
use super::*;
use crate::disk::{DiskError, SECTOR_SIZE};

/// How a read/write command addresses the disk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Addr {
    Lba28OrChs,
    Lba48,
}

impl Addr {
    fn from_flag(lba48: bool) -> Self {
        if lba48 {
            Addr::Lba48
        } else {
            Addr::Lba28OrChs
        }
    }
}

impl IdeChannel {
    fn disk_sectors(&self, u: usize) -> u64 {
        match self.drives[u].as_ref().map(|d| &d.kind) {
            Some(Kind::Ata(a)) => a.dev.sector_count(),
            _ => 0,
        }
    }

    /// The starting sector and count the task file describes, or `None`
    /// for a CHS address outside the current translation.
    fn request(&self, u: usize, mode: Addr) -> Option<(u64, u64)> {
        let tf = &self.state.tf[u];
        match mode {
            Addr::Lba48 => {
                let lba = u64::from(tf.hob_hcyl) << 40
                    | u64::from(tf.hob_lcyl) << 32
                    | u64::from(tf.hob_sector) << 24
                    | u64::from(tf.hcyl) << 16
                    | u64::from(tf.lcyl) << 8
                    | u64::from(tf.sector);
                let n = u64::from(tf.hob_nsector) << 8 | u64::from(tf.nsector);
                Some((lba, if n == 0 { 65536 } else { n }))
            }
            Addr::Lba28OrChs => {
                let n = if tf.nsector == 0 {
                    256
                } else {
                    u64::from(tf.nsector)
                };
                if tf.select & 0x40 != 0 {
                    let lba = u64::from(tf.select & 0x0F) << 24
                        | u64::from(tf.hcyl) << 16
                        | u64::from(tf.lcyl) << 8
                        | u64::from(tf.sector);
                    return Some((lba, n));
                }
                let r = &self.state.drives[u];
                let (heads, spt) = (u64::from(r.cur_heads), u64::from(r.cur_spt));
                let cyl = u64::from(tf.hcyl) << 8 | u64::from(tf.lcyl);
                let head = u64::from(tf.select & 0x0F);
                let sec = u64::from(tf.sector);
                if sec == 0 || sec > spt || head >= heads {
                    return None;
                }
                Some(((cyl * heads + head) * spt + sec - 1, n))
            }
        }
    }

    /// Writes sector `lba` back into the task file in the command's
    /// addressing mode (the address of the last sector transferred).
    fn set_address(&mut self, u: usize, lba: u64, mode: Addr) {
        let (heads, spt) = (
            u64::from(self.state.drives[u].cur_heads.max(1)),
            u64::from(self.state.drives[u].cur_spt.max(1)),
        );
        let tf = &mut self.state.tf[u];
        if mode == Addr::Lba48 {
            tf.sector = lba as u8;
            tf.lcyl = (lba >> 8) as u8;
            tf.hcyl = (lba >> 16) as u8;
            tf.hob_sector = (lba >> 24) as u8;
            tf.hob_lcyl = (lba >> 32) as u8;
            tf.hob_hcyl = (lba >> 40) as u8;
        } else if tf.select & 0x40 != 0 {
            tf.sector = lba as u8;
            tf.lcyl = (lba >> 8) as u8;
            tf.hcyl = (lba >> 16) as u8;
            tf.select = tf.select & 0xF0 | (lba >> 24) as u8 & 0x0F;
        } else {
            let cyl = lba / (heads * spt);
            let rest = lba % (heads * spt);
            tf.lcyl = cyl as u8;
            tf.hcyl = (cyl >> 8) as u8;
            tf.select = tf.select & 0xF0 | (rest / spt) as u8 & 0x0F;
            tf.sector = (rest % spt + 1) as u8;
        }
    }

    pub(crate) fn ata_command(&mut self, u: usize, cmd: u8) {
        let multiple = u64::from(self.state.drives[u].multiple);
        match cmd {
            0xEC => self.identify_disk(u),
            0x20 | 0x21 => self.start_read(u, Addr::Lba28OrChs, 1),
            0x24 => self.start_read(u, Addr::Lba48, 1),
            0xC4 | 0x29 if multiple == 0 => self.abort(u),
            0xC4 => self.start_read(u, Addr::Lba28OrChs, multiple),
            0x29 => self.start_read(u, Addr::Lba48, multiple),
            0x30 | 0x31 => self.start_write(u, Addr::Lba28OrChs, 1),
            0x34 => self.start_write(u, Addr::Lba48, 1),
            0xC5 | 0x39 if multiple == 0 => self.abort(u),
            0xC5 => self.start_write(u, Addr::Lba28OrChs, multiple),
            0x39 => self.start_write(u, Addr::Lba48, multiple),
            0x40 | 0x41 => self.verify(u, Addr::Lba28OrChs),
            0x42 => self.verify(u, Addr::Lba48),
            0xC6 => {
                let n = self.state.tf[u].nsector;
                if n <= MAX_MULTIPLE && (n == 0 || n.is_power_of_two()) {
                    self.state.drives[u].multiple = n;
                    self.complete(u);
                } else {
                    self.abort(u);
                }
            }
            0x91 => {
                let spt = self.state.tf[u].nsector;
                if spt == 0 {
                    self.abort(u);
                } else {
                    self.state.drives[u].cur_spt = spt;
                    self.state.drives[u].cur_heads = (self.state.tf[u].select & 0x0F) + 1;
                    self.complete(u);
                }
            }
            0xEF => match self.state.tf[u].feature {
                // Transfer mode, write cache on/off, read look-ahead,
                // reverting to defaults: accepted, nothing changes.
                0x03 | 0x02 | 0x82 | 0xAA | 0x55 | 0x66 | 0xCC => self.complete(u),
                f => {
                    log::debug!("ide: SET FEATURES {f:#x} refused");
                    self.abort(u)
                }
            },
            0xE7 | 0xEA => {
                let r = match self.drives[u].as_mut().map(|d| &mut d.kind) {
                    Some(Kind::Ata(a)) => a.dev.flush(),
                    _ => Ok(()),
                };
                match r {
                    Ok(()) => self.complete(u),
                    Err(e) => {
                        log::error!("ide: flush failed: {e}");
                        self.abort(u)
                    }
                }
            }
            // Power management and seeks: nothing to do.
            0xE0..=0xE3 | 0xE6 | 0x10..=0x1F | 0x70 => self.complete(u),
            0xE5 => {
                self.state.tf[u].nsector = 0xFF; // active
                self.complete(u);
            }
            0xF8 | 0x27 => {
                let max = self.disk_sectors(u).saturating_sub(1);
                let mode = if cmd == 0x27 {
                    Addr::Lba48
                } else {
                    Addr::Lba28OrChs
                };
                if mode == Addr::Lba28OrChs {
                    self.state.tf[u].select |= 0x40;
                }
                self.set_address(
                    u,
                    max.min(if cmd == 0xF8 { 0x0FFF_FFFF } else { u64::MAX }),
                    mode,
                );
                self.complete(u);
            }
            _ => {
                log::debug!("ide: ATA command {cmd:#04x} not supported");
                self.abort(u)
            }
        }
    }

    fn identify_disk(&mut self, u: usize) {
        let sectors = self.disk_sectors(u);
        let r = self.state.drives[u].clone();
        let Some(d) = &self.drives[u] else { return };
        let Kind::Ata(a) = &d.kind else { return };
        let data = identify::disk(&DiskIdentity {
            serial: &d.serial,
            sectors,
            geometry: a.geometry,
            cur_heads: r.cur_heads,
            cur_spt: r.cur_spt,
            multiple: r.multiple,
        });
        self.pio_in(u, data, Xfer::PioInOnce, true);
    }

    /// Validates the request; on error reports it and returns `None`.
    fn checked_request(&mut self, u: usize, mode: Addr) -> Option<(u64, u64)> {
        let total = self.disk_sectors(u);
        match self.request(u, mode) {
            Some((lba, n)) if lba.checked_add(n).is_some_and(|e| e <= total) => Some((lba, n)),
            _ => {
                log::debug!("ide: request outside the disk ({total} sectors)");
                self.fail(u, ERR_IDNF | ERR_ABRT);
                None
            }
        }
    }

    fn start_read(&mut self, u: usize, mode: Addr, block: u64) {
        let Some((lba, n)) = self.checked_request(u, mode) else {
            return;
        };
        self.state.drives[u].error = 0;
        if let Some(d) = &mut self.drives[u] {
            d.xfer = Xfer::AtaRead {
                next: lba,
                left: n,
                block,
                lba48: mode == Addr::Lba48,
            };
        }
        self.ata_read_next(u);
    }

    /// Loads the next block of a read, or ends it.
    pub(crate) fn ata_read_next(&mut self, u: usize) {
        let Some(d) = &mut self.drives[u] else { return };
        let Xfer::AtaRead {
            next,
            left,
            block,
            lba48,
        } = d.xfer
        else {
            return;
        };
        if left == 0 {
            self.stop_xfer(u);
            self.state.drives[u].status = ST_DRDY | ST_DSC;
            return;
        }
        let n = block.min(left);
        let mut buf = vec![0u8; n as usize * SECTOR_SIZE];
        let Kind::Ata(a) = &mut d.kind else { return };
        if let Err(e) = a.dev.read_sectors(next, &mut buf) {
            log::error!("ide: read of sector {next}: {e}");
            self.fail(u, ERR_UNC | ERR_ABRT);
            return;
        }
        self.set_address(u, next + n - 1, Addr::from_flag(lba48));
        let xfer = Xfer::AtaRead {
            next: next + n,
            left: left - n,
            block,
            lba48,
        };
        self.pio_in(u, buf, xfer, true);
    }

    fn start_write(&mut self, u: usize, mode: Addr, block: u64) {
        let Some((lba, n)) = self.checked_request(u, mode) else {
            return;
        };
        self.state.drives[u].error = 0;
        let len = block.min(n) as usize * SECTOR_SIZE;
        let xfer = Xfer::AtaWrite {
            lba,
            left: n,
            block,
            lba48: mode == Addr::Lba48,
        };
        self.pio_out(u, len, xfer, false);
    }

    /// The host filled a write block: store it, then ask for the next.
    pub(crate) fn ata_write_block(&mut self, u: usize) {
        let Some(d) = &mut self.drives[u] else { return };
        let Xfer::AtaWrite {
            lba,
            left,
            block,
            lba48,
        } = d.xfer
        else {
            return;
        };
        let n = (d.buf.len() / SECTOR_SIZE) as u64;
        let Kind::Ata(a) = &mut d.kind else { return };
        if let Err(e) = a.dev.write_sectors(lba, &d.buf) {
            let err = match e {
                DiskError::ReadOnly => ERR_WP,
                e => {
                    log::error!("ide: write of sector {lba}: {e}");
                    ERR_ABRT
                }
            };
            self.fail(u, err);
            return;
        }
        self.set_address(u, lba + n - 1, Addr::from_flag(lba48));
        let left = left - n;
        if left == 0 {
            self.complete(u);
        } else {
            let len = block.min(left) as usize * SECTOR_SIZE;
            let xfer = Xfer::AtaWrite {
                lba: lba + n,
                left,
                block,
                lba48,
            };
            self.pio_out(u, len, xfer, true);
        }
    }

    fn verify(&mut self, u: usize, mode: Addr) {
        if let Some((lba, n)) = self.checked_request(u, mode) {
            self.set_address(u, lba + n - 1, mode);
            self.complete(u);
        }
    }
}
