//! Driving the IDE channel through its ports the way SeaBIOS's `ata.c` and
//! Linux's libata SFF code do.

use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::bus::PortIo;
use crate::disk::{BlockDevice, MemDisk, Result as DiskResult};
use crate::irq::IrqRecorder;
use crate::testutil::{hammer, XorShift};

const B: u16 = PRIMARY_BASE;
const CTL: u16 = PRIMARY_CTL;

struct Rig {
    ch: IdeChannel,
    rec: Arc<IrqRecorder>,
}

impl Rig {
    fn new() -> Self {
        let rec = IrqRecorder::new();
        let ch = IdeChannel::primary(rec.line(PRIMARY_IRQ));
        Rig { ch, rec }
    }

    fn with_disk(d: &MemDisk) -> Self {
        let mut r = Self::new();
        r.ch.attach_disk(0, Box::new(d.clone()));
        r
    }

    fn out(&mut self, port: u16, v: u8) {
        self.ch.write(port, 1, v as u32);
    }

    fn inb(&mut self, port: u16) -> u8 {
        self.ch.read(port, 1) as u8
    }

    fn status(&mut self) -> u8 {
        self.inb(B + 7)
    }

    fn irqs(&self) -> u64 {
        self.rec.edges(PRIMARY_IRQ)
    }

    /// Reads `n` bytes from the data port with 16-bit accesses.
    fn read_data(&mut self, n: usize) -> Vec<u8> {
        (0..n / 2)
            .flat_map(|_| (self.ch.read(B, 2) as u16).to_le_bytes())
            .collect()
    }

    fn write_data(&mut self, data: &[u8]) {
        for w in data.chunks(2) {
            self.ch.write(B, 2, u16::from_le_bytes([w[0], w[1]]) as u32);
        }
    }

    /// LBA28 task file for `dev` (0/1), as SeaBIOS's `send_cmd` writes it.
    fn lba28(&mut self, dev: u8, lba: u32, count: u8) {
        self.out(B + 6, 0xE0 | dev << 4 | (lba >> 24) as u8 & 0x0F);
        self.out(B + 2, count);
        self.out(B + 3, lba as u8);
        self.out(B + 4, (lba >> 8) as u8);
        self.out(B + 5, (lba >> 16) as u8);
    }

    /// LBA48 task file: high bytes first, then low, as libata does.
    fn lba48(&mut self, lba: u64, count: u16) {
        self.out(B + 6, 0x40);
        for (c, l) in [(8u32, 24u32), (0, 0)] {
            self.out(B + 2, (count >> c) as u8);
            self.out(B + 3, (lba >> l) as u8);
            self.out(B + 4, (lba >> (l + 8)) as u8);
            self.out(B + 5, (lba >> (l + 16)) as u8);
        }
    }

    fn packet(&mut self, dev: u8, limit: u16, cdb: &[u8]) {
        self.out(B + 6, 0xA0 | dev << 4);
        self.out(B + 1, 0);
        self.out(B + 4, limit as u8);
        self.out(B + 5, (limit >> 8) as u8);
        self.out(B + 7, 0xA0);
        assert_eq!(self.inb(CTL) & ST_DRQ, ST_DRQ, "packet DRQ");
        assert_eq!(self.inb(B + 2) & 3, IR_COD);
        let mut p = [0u8; 12];
        p[..cdb.len()].copy_from_slice(cdb);
        self.write_data(&p);
    }

    /// Collects an ATAPI data-in transfer chunk by chunk.
    fn packet_data(&mut self) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut chunks = 0;
        while self.inb(CTL) & ST_DRQ != 0 {
            assert_eq!(self.inb(B + 2) & 3, IR_IO);
            let n = self.inb(B + 4) as usize | (self.inb(B + 5) as usize) << 8;
            out.extend(self.read_data(n));
            chunks += 1;
        }
        (out, chunks)
    }
}

fn pattern_disk(sectors: usize) -> MemDisk {
    MemDisk::new(
        (0..sectors * 512)
            .map(|i| (i / 512) as u8 ^ (i % 251) as u8)
            .collect(),
    )
}

fn word(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[2 * i], b[2 * i + 1]])
}

#[test]
fn identify_device_as_seabios_does() {
    let disk = pattern_disk(4096);
    let mut r = Rig::with_disk(&disk);
    // ata_detect: the register scratch test.
    r.out(B + 6, 0xA0);
    r.out(B + 2, 0x55);
    r.out(B + 3, 0xAA);
    assert_eq!(
        (r.inb(B + 2), r.inb(B + 3), r.inb(B + 6)),
        (0x55, 0xAA, 0xA0)
    );
    r.out(CTL, CTL_NIEN);
    r.out(B + 7, 0xEC);
    assert_eq!(r.inb(CTL), ST_DRDY | ST_DSC | ST_DRQ);
    let id = r.read_data(512);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    assert_eq!(r.irqs(), 0, "nIEN set: no interrupt");
    let model: String = (27..47)
        .flat_map(|i| word(&id, i).to_be_bytes())
        .map(char::from)
        .collect();
    assert_eq!(model.trim_end(), "OXPC HARDDISK");
    assert_eq!((word(&id, 1), word(&id, 3), word(&id, 6)), (4, 16, 63));
    assert_eq!(word(&id, 60), 4096);
    assert_eq!(word(&id, 100), 4096);
    // IDENTIFY PACKET on a disk is aborted.
    r.out(B + 7, 0xA1);
    assert_eq!(r.status(), ST_DRDY | ST_DSC | ST_ERR);
    assert_eq!(r.inb(B + 1), ERR_ABRT);
}

#[test]
fn write_sectors_then_read_multiple_with_irqs() {
    let disk = pattern_disk(64);
    let mut r = Rig::with_disk(&disk);
    r.out(CTL, 0);
    let data: Vec<u8> = (0..3 * 512).map(|i| (i * 7) as u8).collect();
    r.lba28(0, 10, 3);
    r.out(B + 7, 0x30);
    assert_eq!(r.irqs(), 0, "no interrupt before the first block");
    for (i, block) in data.chunks(512).enumerate() {
        assert_eq!(r.inb(CTL) & (ST_DRQ | ST_BSY), ST_DRQ, "block {i}");
        r.write_data(block);
        assert_eq!(r.irqs(), i as u64 + 1, "an interrupt per block");
        r.status(); // the handler's status read acknowledges
        assert!(!r.rec.level(PRIMARY_IRQ));
    }
    assert_eq!(r.inb(CTL), ST_DRDY | ST_DSC);
    assert_eq!(&disk.data()[10 * 512..13 * 512], &data[..]);
    // Last sector written is in the task file.
    assert_eq!(r.inb(B + 3), 12);

    // Multiple mode starts at 16 sectors; switched off, READ MULTIPLE
    // is refused.
    r.out(B + 7, 0xEC);
    assert_eq!(word(&r.read_data(512), 59), 0x110);
    r.out(B + 2, 0);
    r.out(B + 7, 0xC6);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    r.lba28(0, 10, 3);
    r.out(B + 7, 0xC4);
    assert_eq!(r.status() & ST_ERR, ST_ERR);
    r.out(B + 2, 3);
    r.out(B + 7, 0xC6);
    assert_eq!(r.inb(B + 1), ERR_ABRT, "3 is not a power of two");
    r.status();
    r.out(B + 2, 2);
    r.out(B + 7, 0xC6);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    let before = r.irqs();
    r.lba28(0, 10, 3);
    r.out(B + 7, 0xC4);
    let mut got = Vec::new();
    // 32-bit data port reads, as SeaBIOS does with 32-bit PIO.
    for _ in 0..2 {
        assert_eq!(r.status() & ST_DRQ, ST_DRQ);
        let n = if got.is_empty() { 1024 } else { 512 };
        for _ in 0..n / 4 {
            got.extend((r.ch.read(B, 4)).to_le_bytes());
        }
    }
    assert_eq!(r.irqs() - before, 2, "one interrupt per 2-sector block");
    assert_eq!(got, data);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    assert_eq!(r.ch.read(B, 2), 0xFFFF, "no data left");
}

/// A huge sparse disk: each sector holds its own LBA.
struct BigDisk {
    sectors: u64,
    written: HashMap<u64, Vec<u8>>,
}

impl BlockDevice for BigDisk {
    fn sector_count(&self) -> u64 {
        self.sectors
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> DiskResult<()> {
        crate::disk::check_range(lba, buf.len(), self.sectors)?;
        for (i, s) in buf.chunks_mut(512).enumerate() {
            let l = lba + i as u64;
            match self.written.get(&l) {
                Some(w) => s.copy_from_slice(w),
                None => {
                    s.fill(0);
                    s[..8].copy_from_slice(&l.to_le_bytes());
                }
            }
        }
        Ok(())
    }
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> DiskResult<()> {
        crate::disk::check_range(lba, data.len(), self.sectors)?;
        for (i, s) in data.chunks(512).enumerate() {
            self.written.insert(lba + i as u64, s.to_vec());
        }
        Ok(())
    }
    fn flush(&mut self) -> DiskResult<()> {
        Ok(())
    }
    fn is_read_only(&self) -> bool {
        false
    }
}

#[test]
fn lba48_reads_and_writes_past_28_bits() {
    let mut r = Rig::new();
    let sectors = (1u64 << 33) + 17; // 4 TiB
    r.ch.attach_disk(
        0,
        Box::new(BigDisk {
            sectors,
            written: HashMap::new(),
        }),
    );
    r.out(B + 6, 0xA0);
    r.out(B + 7, 0xEC);
    let id = r.read_data(512);
    let lba28 = word(&id, 60) as u64 | (word(&id, 61) as u64) << 16;
    assert_eq!(lba28, 0x0FFF_FFFF);
    let lba48: u64 = (0..4)
        .map(|i| (word(&id, 100 + i) as u64) << (16 * i))
        .sum();
    assert_eq!(lba48, sectors);

    let lba = (1u64 << 32) + 0x1234_5678;
    r.lba48(lba, 2);
    r.out(B + 7, 0x24);
    let d = r.read_data(1024);
    assert_eq!(u64::from_le_bytes(d[..8].try_into().unwrap()), lba);
    assert_eq!(u64::from_le_bytes(d[512..520].try_into().unwrap()), lba + 1);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    // HOB readback of the last sector's address.
    r.out(CTL, CTL_HOB);
    assert_eq!(r.inb(B + 3), (lba >> 24) as u8);
    assert_eq!(r.inb(B + 4), (lba >> 32) as u8);
    r.out(CTL, 0);
    assert_eq!(r.inb(B + 3), (lba + 1) as u8);

    // WRITE SECTORS EXT, read back.
    r.lba48(sectors - 1, 1);
    r.out(B + 7, 0x34);
    r.write_data(&[0x5A; 512]);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    r.lba48(sectors - 1, 1);
    r.out(B + 7, 0x24);
    assert_eq!(r.read_data(512), vec![0x5A; 512]);
    // One past the end.
    r.lba48(sectors - 1, 2);
    r.out(B + 7, 0x24);
    assert_eq!(r.status(), ST_DRDY | ST_DSC | ST_ERR);
    assert_eq!(r.inb(B + 1) & ERR_IDNF, ERR_IDNF);
}

#[test]
fn chs_addressing_and_initialize_device_parameters() {
    let disk = pattern_disk(2048);
    let mut r = Rig::with_disk(&disk);
    let chs_read = |r: &mut Rig, c: u16, h: u8, s: u8| {
        r.out(B + 6, 0xA0 | h);
        r.out(B + 2, 1);
        r.out(B + 3, s);
        r.out(B + 4, c as u8);
        r.out(B + 5, (c >> 8) as u8);
        r.out(B + 7, 0x20);
        let st = r.status();
        (
            st,
            if st & ST_DRQ != 0 {
                r.read_data(512)
            } else {
                vec![]
            },
        )
    };
    // Default 16 heads x 63 sectors: C1 H2 S3 = (1*16+2)*63+2.
    let (st, d) = chs_read(&mut r, 1, 2, 3);
    assert_eq!(st, ST_DRDY | ST_DSC | ST_DRQ);
    let lba = (16 + 2) * 63 + 2;
    assert_eq!(d, disk.data()[lba * 512..(lba + 1) * 512]);
    // INITIALIZE DEVICE PARAMETERS: 4 heads, 17 sectors.
    r.out(B + 6, 0xA3);
    r.out(B + 2, 17);
    r.out(B + 7, 0x91);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    let (_, d) = chs_read(&mut r, 2, 3, 5);
    let lba = (2 * 4 + 3) * 17 + 4;
    assert_eq!(d, disk.data()[lba * 512..(lba + 1) * 512]);
    // Sector 0, sector beyond the track, head beyond the translation.
    for (c, h, s) in [(0, 0, 0), (0, 0, 18), (0, 4, 1)] {
        let (st, _) = chs_read(&mut r, c, h, s);
        assert_eq!(st, ST_DRDY | ST_DSC | ST_ERR, "C{c} H{h} S{s}");
        assert_eq!(r.inb(B + 1) & ERR_IDNF, ERR_IDNF);
    }
    r.out(B + 6, 0xA0);
    r.out(B + 7, 0xEC);
    let id = r.read_data(512);
    assert_eq!((word(&id, 55), word(&id, 56)), (4, 17));
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let disk = pattern_disk(16);
    let mut r = Rig::with_disk(&disk);
    let before = r.irqs();
    r.lba28(0, 15, 2); // runs off the end
    r.out(B + 7, 0x20);
    assert_eq!(r.irqs(), before + 1, "an error still interrupts");
    assert_eq!(r.status(), ST_DRDY | ST_DSC | ST_ERR);
    assert_eq!(r.inb(B + 1), ERR_IDNF | ERR_ABRT);
    r.lba28(0, 0x0FFF_FFFF, 0); // 256 sectors at the top of LBA28
    r.out(B + 7, 0x30);
    assert_eq!(r.status() & ST_ERR, ST_ERR);
    r.lba28(0, 16, 1);
    r.out(B + 7, 0x40); // READ VERIFY out of range
    assert_eq!(r.status() & ST_ERR, ST_ERR);
    r.lba28(0, 15, 1);
    r.out(B + 7, 0x40);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    for cmd in [0x00u8, 0xC8, 0xCA, 0x25, 0xFF, 0xA0, 0x08] {
        r.out(B + 7, cmd);
        assert_eq!(r.status(), ST_DRDY | ST_DSC | ST_ERR, "cmd {cmd:#x}");
        assert_eq!(r.inb(B + 1), ERR_ABRT);
    }
    // Data port with no transfer.
    assert_eq!(r.ch.read(B, 2), 0xFFFF);
    r.ch.write(B, 4, 0x1234_5678);
    assert_eq!(disk.data()[..512], pattern_disk(16).data()[..512]);
}

#[test]
fn read_only_image_gives_write_protect_error() {
    let disk = pattern_disk(8).read_only();
    let mut r = Rig::with_disk(&disk);
    r.lba28(0, 1, 1);
    r.out(B + 7, 0x30);
    r.write_data(&[0; 512]);
    assert_eq!(r.status(), ST_DRDY | ST_DSC | ST_ERR);
    assert_eq!(r.inb(B + 1), ERR_WP);
    assert_eq!(disk.data(), pattern_disk(8).data());
}

#[test]
fn flush_cache_reaches_the_image() {
    let disk = pattern_disk(8);
    let mut r = Rig::with_disk(&disk);
    for cmd in [0xE7, 0xEA] {
        r.out(B + 7, cmd);
        assert_eq!(r.status(), ST_DRDY | ST_DSC);
    }
    assert_eq!(disk.flushes(), 2);
    r.ch.flush().unwrap();
    assert_eq!(disk.flushes(), 3);
    // Power management and SET FEATURES are accepted.
    for (cmd, feat) in [(0xE0, 0), (0xE1, 0), (0xE3, 0), (0xEF, 0x03), (0xEF, 0x02)] {
        r.out(B + 1, feat);
        r.out(B + 7, cmd);
        assert_eq!(r.status(), ST_DRDY | ST_DSC, "{cmd:#x}");
    }
    r.out(B + 1, 0x99);
    r.out(B + 7, 0xEF);
    assert_eq!(r.status() & ST_ERR, ST_ERR);
}

fn iso(blocks: usize) -> MemDisk {
    MemDisk::new(
        (0..blocks * 2048)
            .map(|i| (i / 2048) as u8 ^ (i / 3) as u8)
            .collect(),
    )
}

#[test]
fn soft_reset_leaves_each_signature() {
    let mut r = Rig::new();
    r.ch.attach_disk(0, Box::new(pattern_disk(8)));
    r.ch.attach_cdrom(1, Some(Box::new(iso(4))));
    r.out(B + 6, 0xB0);
    r.out(B + 4, 0x12);
    r.out(CTL, CTL_SRST | CTL_NIEN);
    assert_eq!(r.inb(CTL) & ST_BSY, ST_BSY);
    r.out(B + 7, 0xEC); // ignored while in reset
    r.out(CTL, CTL_NIEN);
    assert_eq!(r.inb(B + 6) & 0x10, 0, "device 0 selected after reset");
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    assert_eq!(
        (r.inb(B + 2), r.inb(B + 3), r.inb(B + 4), r.inb(B + 5)),
        (1, 1, 0, 0)
    );
    r.out(B + 6, 0xB0);
    assert_eq!(r.status(), 0, "ATAPI: DRDY clear after reset");
    assert_eq!(
        (r.inb(B + 2), r.inb(B + 3), r.inb(B + 4), r.inb(B + 5)),
        (1, 1, 0x14, 0xEB)
    );
    // IDENTIFY DEVICE to the CD: aborted, signature kept.
    r.out(B + 7, 0xEC);
    assert_eq!(r.status(), ST_DRDY | ST_DSC | ST_ERR);
    assert_eq!((r.inb(B + 4), r.inb(B + 5)), (0x14, 0xEB));
    // EXECUTE DEVICE DIAGNOSTIC.
    r.out(CTL, 0);
    r.out(B + 7, CMD_EXECUTE_DIAGNOSTIC);
    assert_eq!(r.inb(B + 1), 0x01);
    assert!(r.rec.level(PRIMARY_IRQ));
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
}

#[test]
fn nien_alt_status_and_absent_devices() {
    let disk = pattern_disk(8);
    let mut r = Rig::with_disk(&disk);
    r.out(CTL, 0);
    r.out(B + 7, 0xEC);
    assert!(r.rec.level(PRIMARY_IRQ));
    assert_eq!(r.inb(CTL), ST_DRDY | ST_DSC | ST_DRQ);
    assert!(r.rec.level(PRIMARY_IRQ), "alt status does not acknowledge");
    r.out(CTL, CTL_NIEN);
    assert!(!r.rec.level(PRIMARY_IRQ), "nIEN masks the line");
    r.out(CTL, 0);
    assert!(r.rec.level(PRIMARY_IRQ), "still pending");
    r.status();
    assert!(!r.rec.level(PRIMARY_IRQ));
    r.read_data(512);
    // The absent slave reads as zeros; commands to it do nothing.
    r.out(B + 6, 0xB0);
    assert_eq!((r.status(), r.inb(CTL), r.inb(B + 1)), (0, 0, 0));
    r.out(B + 7, 0xEC);
    assert_eq!(r.status(), 0);
    // After a reset the absent slave shows no signature, as libata expects
    // of a phantom device.
    r.out(CTL, CTL_SRST);
    r.out(CTL, 0);
    r.out(B + 6, 0xB0);
    let regs: Vec<u8> = (1..=5).map(|i| r.inb(B + i)).collect();
    assert_eq!(regs, [0, 1, 1, 0xFF, 0xFF]);
    // A channel with nothing attached.
    let mut e = Rig::new();
    assert_eq!(e.status(), 0);
    e.out(B + 2, 0x55);
    assert_eq!(e.inb(B + 2), 0);
}

#[test]
fn atapi_identify_inquiry_and_read10() {
    let cd = iso(8);
    let mut r = Rig::new();
    r.ch.attach_cdrom(0, Some(Box::new(cd.clone())));
    r.out(CTL, 0);
    r.out(B + 6, 0xA0);
    r.out(B + 7, 0xA1);
    let id = r.read_data(512);
    assert_eq!(word(&id, 0), 0x85C0);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);

    r.packet(0, 0xFFFE, &[0x12, 0, 0, 0, 36, 0]);
    assert!(r.rec.level(PRIMARY_IRQ));
    let (inq, _) = r.packet_data();
    assert_eq!(inq.len(), 36);
    assert_eq!(inq[0], 0x05);
    assert_eq!(&inq[8..12], b"OXPC");
    assert_eq!(r.inb(B + 2) & 3, IR_IO | IR_COD, "completion");
    assert_eq!(r.status(), ST_DRDY | ST_DSC);

    r.packet(0, 0xFFFE, &[0x25]);
    let (cap, _) = r.packet_data();
    assert_eq!(cap, [0, 0, 0, 7, 0, 0, 8, 0]);

    // READ(10) of blocks 2-4 with a 2048-byte limit: one chunk per block,
    // an interrupt each, then the completion interrupt.
    let before = r.irqs();
    r.packet(0, 2048, &[0x28, 0, 0, 0, 0, 2, 0, 0, 3, 0]);
    let (data, chunks) = r.packet_data();
    assert_eq!(chunks, 3);
    assert_eq!(r.irqs() - before, 4);
    assert_eq!(data, cd.data()[2 * 2048..5 * 2048]);
    // READ(12) with an odd limit: chunks are cut to even sizes.
    r.packet(0, 1001, &[0xA8, 0, 0, 0, 0, 7, 0, 0, 0, 1]);
    let (data, chunks) = r.packet_data();
    assert_eq!(data, cd.data()[7 * 2048..]);
    assert_eq!(chunks, 3);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
}

fn request_sense(r: &mut Rig) -> (u8, u8) {
    r.packet(0, 0xFFFE, &[0x03, 0, 0, 0, 18, 0]);
    let (s, _) = r.packet_data();
    (s[2] & 0x0F, s[12])
}

#[test]
fn atapi_errors_and_media_change() {
    let mut r = Rig::new();
    r.ch.attach_cdrom(0, None);
    r.out(B + 6, 0xA0);
    r.packet(0, 0xFFFE, &[0x00]);
    assert_eq!(r.status(), ST_DRDY | ST_DSC | ST_ERR);
    assert_eq!(r.inb(B + 1) >> 4, 2, "NOT READY");
    assert_eq!(request_sense(&mut r), (2, 0x3A));
    assert_eq!(request_sense(&mut r), (0, 0), "sense cleared");

    assert!(r.ch.change_cd(0, Some(Box::new(iso(4)))));
    // Media event, then the unit attention, then ready.
    r.packet(0, 0xFFFE, &[0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0]);
    let (ev, _) = r.packet_data();
    assert_eq!((ev[4], ev[5]), (2, 2));
    r.packet(0, 0xFFFE, &[0x00]);
    assert_eq!(r.inb(B + 1) >> 4, 6, "UNIT ATTENTION");
    assert_eq!(request_sense(&mut r), (6, 0x28));
    r.packet(0, 0xFFFE, &[0x00]);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);

    // Out of range and unknown commands.
    r.packet(0, 0xFFFE, &[0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0]);
    assert_eq!(r.status() & ST_ERR, ST_ERR);
    assert_eq!(request_sense(&mut r), (5, 0x21));
    r.packet(0, 0xFFFE, &[0xEE]);
    assert_eq!(request_sense(&mut r), (5, 0x20));
    r.packet(0, 0xFFFE, &[0x4A, 0, 0, 0, 0x10, 0, 0, 0, 8, 0]);
    assert_eq!(
        request_sense(&mut r),
        (5, 0x24),
        "asynchronous GESN refused"
    );
    // READ(10) of zero blocks completes with no data.
    r.packet(0, 0xFFFE, &[0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    // DMA packets are refused (PIO only).
    r.out(B + 1, 1);
    r.out(B + 7, 0xA0);
    assert_eq!(r.status() & ST_ERR, ST_ERR);
}

#[test]
fn atapi_toc_mode_sense_configuration() {
    let mut r = Rig::new();
    r.ch.attach_cdrom(0, Some(Box::new(iso(300))));
    r.out(B + 6, 0xA0);
    r.packet(0, 0xFFFE, &[0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0]);
    let (toc, _) = r.packet_data();
    assert_eq!(toc.len(), 12, "cut to the allocation length");
    assert_eq!(&toc[2..4], &[1, 1]);
    r.packet(0, 0xFFFE, &[0x43, 2, 0, 0, 0, 0, 0, 0, 20, 0]);
    let (toc, _) = r.packet_data();
    assert_eq!(toc.len(), 20);
    assert_eq!(toc[14], 0xAA);
    // Lead-out at block 300 = 450 frames = 00:06:00 in MSF.
    assert_eq!(&toc[16..20], &[0, 0, 6, 0]);
    r.packet(0, 0xFFFE, &[0x43, 0, 1, 0, 0, 0, 0, 0, 12, 0]);
    let (sess, _) = r.packet_data();
    assert_eq!(&sess[..4], &[0, 10, 1, 1]);

    r.packet(0, 0xFFFE, &[0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64, 0]);
    let (ms, _) = r.packet_data();
    assert_eq!(ms[8], 0x2A);
    assert_eq!(u16::from_be_bytes([ms[0], ms[1]]) as usize, ms.len() - 2);
    r.packet(0, 0xFFFE, &[0x5A, 0, 0x05, 0, 0, 0, 0, 0, 64, 0]);
    assert_eq!(request_sense(&mut r), (5, 0x24));

    r.packet(0, 0xFFFE, &[0x46, 0, 0, 0, 0, 0, 0, 0x01, 0, 0]);
    let (cfg, _) = r.packet_data();
    assert_eq!(&cfg[6..8], &[0, 8], "current profile CD-ROM");
    assert_eq!(
        u32::from_be_bytes(cfg[..4].try_into().unwrap()) as usize,
        cfg.len() - 4
    );
    for cdb in [
        &[0x1Eu8, 0, 0, 0, 1][..],
        &[0x1B, 0, 0, 0, 1],
        &[0xBB],
        &[0x2B],
    ] {
        r.packet(0, 0xFFFE, cdb);
        assert_eq!(r.status(), ST_DRDY | ST_DSC, "{:#x}", cdb[0]);
    }
}

#[test]
fn garbage_on_every_port() {
    let mut rng = XorShift(77);
    for seed in 1..8u64 {
        let mut r = Rig::new();
        r.ch.attach_disk(0, Box::new(pattern_disk(64)));
        r.ch.attach_cdrom(1, Some(Box::new(iso(4))));
        let ports: Vec<u16> = (B..B + 8).chain([CTL]).collect();
        hammer(&mut r.ch, &ports, 20_000, seed);
        // Random packets to the CD.
        for _ in 0..300 {
            let mut cdb = [0u8; 12];
            for b in &mut cdb {
                *b = rng.next() as u8;
            }
            if rng.next().is_multiple_of(2) {
                cdb[0] = [0x28, 0xA8, 0x43, 0x5A, 0x46, 0x4A, 0x03, 0x12][rng.next() as usize % 8];
            }
            r.out(CTL, 0);
            r.out(B + 1, 0);
            r.packet(1, rng.next() as u16, &cdb);
            for _ in 0..40 {
                if r.inb(CTL) & ST_DRQ == 0 {
                    break;
                }
                r.ch.read(B, 4);
            }
            while r.inb(CTL) & ST_DRQ != 0 {
                r.read_data(0x10000);
            }
        }
    }
}

struct NoRam;

impl crate::dma::GuestMemory for NoRam {
    fn read(&self, _paddr: u32, buf: &mut [u8]) {
        buf.fill(0xFF);
    }
    fn write(&self, _paddr: u32, _data: &[u8]) {}
}

#[test]
fn shares_the_bus_with_the_floppy_controller() {
    use crate::bus::PortBus;
    use std::sync::Mutex;
    let rec = IrqRecorder::new();
    let mut bus = PortBus::new();
    let mut ch = IdeChannel::primary(rec.line(PRIMARY_IRQ));
    ch.attach_disk(0, Box::new(pattern_disk(32768)));
    let geom = ch.disk_geometry(0).unwrap();
    let ch = Arc::new(Mutex::new(ch));
    register(&mut bus, "ide0", &ch).unwrap();
    let dma = Arc::new(Mutex::new(crate::dma::Dma::new()));
    let fdc = crate::floppy::Floppy::new(rec.line(6), dma, Box::new(NoRam));
    let fdc = Arc::new(Mutex::new(fdc));
    crate::floppy::register(&mut bus, &fdc).unwrap();
    let sec = Arc::new(Mutex::new(IdeChannel::secondary(rec.line(SECONDARY_IRQ))));
    register(&mut bus, "ide1", &sec).unwrap();
    assert!(register(&mut bus, "again", &sec).is_err(), "no overlaps");
    assert_eq!(bus.read(0x3F6, 1), 0x50, "IDE alternate status");
    assert_eq!(bus.read(0x3F4, 1), 0x80, "FDC MSR");
    assert_eq!(bus.read(0x3F7, 1), 0x80, "FDC DIR: empty drive");
    assert_eq!(bus.read(0x177, 1), 0x00, "empty secondary");
    let cmos: crate::cmos::DiskGeometry = geom.into();
    assert_eq!((cmos.cylinders, cmos.heads, cmos.sectors), (32, 16, 63));
}

#[test]
fn hardware_reset_restores_power_on_state() {
    let disk = pattern_disk(64);
    let mut r = Rig::with_disk(&disk);
    r.out(B + 2, 4);
    r.out(B + 7, 0xC6); // SET MULTIPLE 4
    r.out(B + 6, 0xA1);
    r.out(B + 2, 9);
    r.out(B + 7, 0x91); // 2 heads, 9 sectors
    r.lba28(0, 0, 2);
    r.out(B + 7, 0x20); // leave a read pending, INTRQ high
    assert!(r.rec.level(PRIMARY_IRQ));
    r.ch.reset();
    assert!(!r.rec.level(PRIMARY_IRQ));
    assert_eq!(r.status(), ST_DRDY | ST_DSC);
    assert_eq!(r.ch.read(B, 2), 0xFFFF, "transfer abandoned");
    r.out(B + 7, 0xEC);
    let id = r.read_data(512);
    assert_eq!(word(&id, 59), 0x110, "multiple mode back to 16");
    assert_eq!(
        (word(&id, 55), word(&id, 56)),
        (1, 63),
        "default translation"
    );
    r.lba28(0, 3, 1);
    r.out(B + 7, 0x20);
    assert_eq!(r.read_data(512), disk.data()[3 * 512..4 * 512]);
}
