//! The MC146818 real-time clock and CMOS RAM (ports 0x70/0x71), with the
//! configuration bytes a PC BIOS (SeaBIOS in particular) reads.
//!
//! Time is an injected wall-clock base (Unix seconds at machine time zero)
//! plus the machine clock; guest writes to the time registers move the base.
//! Models binary and BCD formats, 12/24-hour mode, the alarm, periodic and
//! update-ended interrupts on IRQ8 (reading status C clears them), status
//! A-D, UIP, the SET bit freezing the clock, the NMI mask (port 0x70 bit 7),
//! and 128 bytes of NVRAM with memory size, equipment, floppy, hard-disk and
//! boot-order bytes and the 0x2E/0x2F checksum. Not modelled: the divider
//! chain reset (DV bits other than 010 keep running), daylight saving,
//! square-wave output, the extended 256-byte bank.

use serde::{Deserialize, Serialize};

use crate::bus::widen;
use crate::bus::PortIo;
use crate::clock::SharedClock;
use crate::irq::IrqLine;

const REG_A: usize = 0x0A;
const REG_B: usize = 0x0B;
const REG_C: usize = 0x0C;
const REG_D: usize = 0x0D;
const B_SET: u8 = 0x80;
const B_PIE: u8 = 0x40;
const B_AIE: u8 = 0x20;
const B_UIE: u8 = 0x10;
const B_BINARY: u8 = 0x04;
const B_24H: u8 = 0x02;
const C_IRQF: u8 = 0x80;
const C_PF: u8 = 0x40;
const C_AF: u8 = 0x20;
const C_UF: u8 = 0x10;
/// Register 0x32: the IBM century byte.
const REG_CENTURY: usize = 0x32;
const NS: u64 = 1_000_000_000;
/// Update-in-progress lasts 244 µs before each second boundary.
const UIP_NS: u64 = 244_000;

/// Floppy drive types for CMOS byte 0x10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloppyType {
    None = 0,
    K360 = 1,
    M1_2 = 2,
    K720 = 3,
    M1_44 = 4,
    M2_88 = 5,
}

/// Boot devices as QEMU encodes them in CMOS 0x3D/0x38.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BootDevice {
    Floppy = 1,
    HardDisk = 2,
    CdRom = 3,
    Network = 4,
}

/// A hard disk's geometry for the CMOS drive tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskGeometry {
    pub cylinders: u16,
    pub heads: u8,
    pub sectors: u8,
}

/// What the machine tells the CMOS at construction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CmosConfig {
    pub ram_bytes: u64,
    /// RAM below 4 GiB ends here at most; the rest is reported above 4 GiB.
    pub below_4g_limit: u64,
    pub floppies: [FloppyType; 2],
    pub hard_disks: [Option<DiskGeometry>; 2],
    /// BIOS CHS translation per ATA drive (primary master, primary slave,
    /// secondary master, secondary slave): 0 none, 1 LBA, 2 large, 3 r-echs.
    /// Stored two bits per drive in byte 0x39, as QEMU does.
    pub ata_translation: [u8; 4],
    /// Up to three boot devices in order.
    pub boot_order: Vec<BootDevice>,
    pub cpus: u8,
    /// Unix time at machine time zero.
    pub wall_clock_base: i64,
}

impl Default for CmosConfig {
    fn default() -> Self {
        CmosConfig {
            ram_bytes: 64 << 20,
            below_4g_limit: 0xE000_0000,
            floppies: [FloppyType::None; 2],
            hard_disks: [None; 2],
            ata_translation: [0; 4],
            boot_order: vec![BootDevice::Floppy, BootDevice::HardDisk, BootDevice::CdRom],
            cpus: 1,
            wall_clock_base: 0,
        }
    }
}

/// Guest-visible state: the 128 bytes (time registers are computed on read)
/// and the time base.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub ram: Vec<u8>,
    pub index: u8,
    pub nmi_masked: bool,
    /// Unix seconds at machine time zero (moved by guest time writes).
    pub base_secs: i64,
    /// While SET is on: the frozen time the guest is editing.
    pub frozen_secs: Option<i64>,
    /// Machine time up to which periodic/update/alarm events were processed.
    pub last_event_ns: u64,
    pub irq_level: bool,
}

pub struct Cmos {
    pub state: State,
    clock: SharedClock,
    irq8: IrqLine,
}

fn bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

fn unbcd(v: u8) -> u8 {
    (v >> 4).min(9) * 10 + (v & 0xF).min(9)
}

/// Civil date from days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Broken-down time: (year, month, day, weekday 1=Sunday, hour, min, sec).
fn split(secs: i64) -> (i64, u8, u8, u8, u8, u8, u8) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wday = ((days + 4).rem_euclid(7) + 1) as u8;
    (
        y,
        m,
        d,
        wday,
        (rem / 3600) as u8,
        (rem / 60 % 60) as u8,
        (rem % 60) as u8,
    )
}

impl Cmos {
    pub fn new(config: &CmosConfig, clock: SharedClock, irq8: IrqLine) -> Self {
        let mut ram = vec![0u8; 128];
        ram[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
        ram[REG_B] = B_24H;
        ram[REG_D] = 0x80; // valid RAM and time
        Self::fill_config(&mut ram, config);
        let now = clock.now_ns();
        Cmos {
            state: State {
                ram,
                index: 0,
                nmi_masked: false,
                base_secs: config.wall_clock_base,
                frozen_secs: None,
                last_event_ns: now,
                irq_level: false,
            },
            clock,
            irq8,
        }
    }

    fn fill_config(ram: &mut [u8], c: &CmosConfig) {
        let mut put16 = |lo: usize, v: u64| {
            let v = v.min(0xFFFF);
            ram[lo] = v as u8;
            ram[lo + 1] = (v >> 8) as u8;
        };
        put16(0x15, 640);
        let ext_kib = c.ram_bytes.saturating_sub(1 << 20) / 1024;
        put16(0x17, ext_kib);
        put16(0x30, ext_kib);
        let below = c.ram_bytes.min(c.below_4g_limit);
        put16(0x34, below.saturating_sub(16 << 20) / 65536);
        let above = (c.ram_bytes - below) / 65536;
        ram[0x5B] = above as u8;
        ram[0x5C] = (above >> 8) as u8;
        ram[0x5D] = (above >> 16) as u8;
        ram[0x5F] = c.cpus.saturating_sub(1);
        ram[0x10] = (c.floppies[0] as u8) << 4 | c.floppies[1] as u8;
        let nfloppy = c
            .floppies
            .iter()
            .filter(|f| **f != FloppyType::None)
            .count() as u8;
        // Equipment: FPU present, PS/2 mouse, VGA (00), floppies.
        ram[0x14] = 0x06
            | if nfloppy > 0 {
                0x01 | (nfloppy - 1) << 6
            } else {
                0
            };
        // Hard disks: type 0xF (extended) with geometry tables at 0x1B/0x24.
        let mut types = 0u8;
        for (i, g) in c.hard_disks.iter().enumerate() {
            let Some(g) = g else { continue };
            types |= 0xF0 >> (4 * i);
            ram[0x19 + i] = 47; // user-defined type
            let b = 0x1B + 9 * i;
            ram[b] = g.cylinders as u8;
            ram[b + 1] = (g.cylinders >> 8) as u8;
            ram[b + 2] = g.heads;
            ram[b + 3] = 0xFF; // write precompensation: none
            ram[b + 4] = 0xFF;
            ram[b + 5] = 0xC0 | u8::from(g.heads > 8) << 3;
            ram[b + 6] = g.cylinders as u8;
            ram[b + 7] = (g.cylinders >> 8) as u8;
            ram[b + 8] = g.sectors;
        }
        ram[0x12] = types;
        ram[0x39] = c
            .ata_translation
            .iter()
            .enumerate()
            .fold(0, |acc, (i, t)| acc | (t & 3) << (2 * i));
        let boot = |i: usize| c.boot_order.get(i).map_or(0, |d| *d as u8);
        ram[0x3D] = boot(1) << 4 | boot(0);
        ram[0x38] = boot(2) << 4; // bit 0 clear: floppy boot signature checked
        let sum: u16 = ram[0x10..=0x2D].iter().map(|&b| b as u16).sum();
        ram[0x2E] = (sum >> 8) as u8;
        ram[0x2F] = sum as u8;
        ram[REG_CENTURY] = 0; // computed from the clock
    }

    pub fn nmi_masked(&self) -> bool {
        self.state.nmi_masked
    }

    /// Current guest time in Unix seconds and the nanoseconds into the second.
    fn now_secs(&self, now: u64) -> (i64, u64) {
        match self.state.frozen_secs {
            Some(s) => (s, 0),
            None => (
                self.state.base_secs.wrapping_add((now / NS) as i64),
                now % NS,
            ),
        }
    }

    fn binary(&self) -> bool {
        self.state.ram[REG_B] & B_BINARY != 0
    }

    fn enc(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            bcd(v)
        }
    }

    fn dec(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            unbcd(v)
        }
    }

    fn enc_hour(&self, h: u8) -> u8 {
        if self.state.ram[REG_B] & B_24H != 0 {
            self.enc(h)
        } else {
            let h12 = match h % 12 {
                0 => 12,
                x => x,
            };
            self.enc(h12) | if h >= 12 { 0x80 } else { 0 }
        }
    }

    fn dec_hour(&self, v: u8) -> u8 {
        if self.state.ram[REG_B] & B_24H != 0 {
            self.dec(v) % 24
        } else {
            let h = self.dec(v & 0x7F) % 12;
            h + if v & 0x80 != 0 { 12 } else { 0 }
        }
    }

    fn time_reg(&self, reg: usize, secs: i64) -> u8 {
        let (y, mo, d, wd, h, mi, s) = split(secs);
        match reg {
            0 => self.enc(s),
            2 => self.enc(mi),
            4 => self.enc_hour(h),
            6 => self.enc(wd),
            7 => self.enc(d),
            8 => self.enc(mo),
            9 => self.enc(y.rem_euclid(100) as u8),
            REG_CENTURY => self.enc(y.div_euclid(100).rem_euclid(100) as u8),
            _ => 0,
        }
    }

    /// A guest write to a time register: rebuild the time with that field.
    fn set_time_reg(&mut self, reg: usize, val: u8, now: u64) {
        let (secs, _) = self.now_secs(now);
        let (y, mo, d, _, h, mi, s) = split(secs);
        let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (y, mo, d, h, mi, s);
        match reg {
            0 => s = self.dec(val) % 60,
            2 => mi = self.dec(val) % 60,
            4 => h = self.dec_hour(val),
            7 => d = self.dec(val).clamp(1, 31),
            8 => mo = self.dec(val).clamp(1, 12),
            9 => y = y.div_euclid(100) * 100 + (self.dec(val) % 100) as i64,
            REG_CENTURY => y = (self.dec(val) % 100) as i64 * 100 + y.rem_euclid(100),
            _ => return, // weekday is derived from the date
        }
        let new = days_from_civil(y, mo, d) * 86_400 + h as i64 * 3600 + mi as i64 * 60 + s as i64;
        match &mut self.state.frozen_secs {
            Some(f) => *f = new,
            None => self.state.base_secs = new.wrapping_sub((now / NS) as i64),
        }
    }

    /// The periodic interrupt period from status A, if enabled.
    fn periodic_ns(&self) -> Option<u64> {
        let rate = self.state.ram[REG_A] & 0x0F;
        match rate {
            0 => None,
            1 | 2 => Some(NS * (1 << (rate + 6)) / 32_768),
            r => Some(NS * (1 << (r - 1)) / 32_768),
        }
    }

    fn alarm_matches(&self, secs: i64) -> bool {
        let r = &self.state.ram;
        [(1, 0), (3, 2), (5, 4)].iter().all(|&(alarm, reg)| {
            let a = r[alarm];
            a & 0xC0 == 0xC0 || a == self.time_reg(reg, secs)
        })
    }

    fn update_irq(&mut self) {
        let c = self.state.ram[REG_C] & 0x70;
        let en = self.state.ram[REG_B] & (B_PIE | B_AIE | B_UIE);
        let level = c & en != 0;
        if level {
            self.state.ram[REG_C] |= C_IRQF;
        }
        if level != self.state.irq_level {
            self.state.irq_level = level;
            self.irq8.set_level(level);
        }
    }

    /// Processes periodic, update-ended and alarm events up to `now_ns` and
    /// returns when the next enabled event is due.
    pub fn poll(&mut self, now_ns: u64) -> Option<u64> {
        let last = self.state.last_event_ns;
        if now_ns > last {
            self.state.last_event_ns = now_ns;
            if let Some(p) = self.periodic_ns() {
                if now_ns / p > last / p {
                    self.state.ram[REG_C] |= C_PF;
                }
            }
            if self.state.frozen_secs.is_none() && now_ns / NS > last / NS {
                self.state.ram[REG_C] |= C_UF;
                // Alarm: check every second boundary crossed (at most a day).
                let first = last / NS + 1;
                let end = (now_ns / NS).min(first + 86_400);
                for s in first..=end {
                    let secs = self.state.base_secs.wrapping_add(s as i64);
                    if self.alarm_matches(secs) {
                        self.state.ram[REG_C] |= C_AF;
                        break;
                    }
                }
            }
            self.update_irq();
        }
        let b = self.state.ram[REG_B];
        let mut next: Option<u64> = None;
        if b & B_PIE != 0 {
            if let Some(p) = self.periodic_ns() {
                next = Some((now_ns / p + 1) * p);
            }
        }
        if b & (B_UIE | B_AIE) != 0 && self.state.frozen_secs.is_none() {
            let s = (now_ns / NS + 1) * NS;
            next = Some(next.map_or(s, |n| n.min(s)));
        }
        next
    }

    fn read_reg(&mut self, reg: usize, now: u64) -> u8 {
        match reg {
            0 | 2 | 4 | 6 | 7 | 8 | 9 | REG_CENTURY => self.time_reg(reg, self.now_secs(now).0),
            REG_A => {
                let (_, frac) = self.now_secs(now);
                let uip = self.state.frozen_secs.is_none() && frac >= NS - UIP_NS;
                self.state.ram[REG_A] & 0x7F | if uip { 0x80 } else { 0 }
            }
            REG_C => {
                self.poll(now);
                let v = self.state.ram[REG_C];
                self.state.ram[REG_C] = 0;
                self.update_irq();
                v
            }
            _ => self.state.ram[reg & 0x7F],
        }
    }

    fn write_reg(&mut self, reg: usize, val: u8, now: u64) {
        match reg {
            0 | 2 | 4 | 6 | 7 | 8 | 9 | REG_CENTURY => self.set_time_reg(reg, val, now),
            REG_A => self.state.ram[REG_A] = val & 0x7F,
            REG_B => {
                self.poll(now);
                let old = self.state.ram[REG_B];
                let mut val = val;
                if val & B_SET != 0 {
                    val &= !B_UIE; // SET clears UIE
                    if old & B_SET == 0 {
                        self.state.frozen_secs = Some(self.now_secs(now).0);
                    }
                } else if let Some(f) = self.state.frozen_secs.take() {
                    self.state.base_secs = f.wrapping_sub((now / NS) as i64);
                }
                self.state.ram[REG_B] = val;
                self.update_irq();
            }
            REG_C | REG_D => {} // read-only
            _ => self.state.ram[reg & 0x7F] = val,
        }
    }
}

impl PortIo for Cmos {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let v = match port & 1 {
            0 => 0xFF, // the index register is write-only
            _ => {
                let now = self.clock.now_ns();
                self.read_reg(self.state.index as usize, now)
            }
        };
        widen(v, size)
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        let val = val as u8;
        if port & 1 == 0 {
            self.state.index = val & 0x7F;
            self.state.nmi_masked = val & 0x80 != 0;
        } else {
            let now = self.clock.now_ns();
            self.write_reg(self.state.index as usize, val, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use crate::irq::IrqRecorder;
    use crate::testutil::hammer;
    use std::sync::Arc;

    /// 2024-02-29 23:59:58 UTC, a Thursday.
    const T: i64 = 1_709_251_198;

    fn setup(config: CmosConfig) -> (Cmos, Arc<FakeClock>, Arc<IrqRecorder>) {
        let clock = FakeClock::new(0);
        let rec = IrqRecorder::new();
        let c = Cmos::new(&config, clock.clone(), rec.line(8));
        (c, clock, rec)
    }

    fn rd(c: &mut Cmos, reg: u8) -> u8 {
        c.write(0x70, 1, reg as u32);
        c.read(0x71, 1) as u8
    }

    fn wr(c: &mut Cmos, reg: u8, v: u8) {
        c.write(0x70, 1, reg as u32);
        c.write(0x71, 1, v as u32);
    }

    fn cfg() -> CmosConfig {
        CmosConfig {
            wall_clock_base: T,
            ..Default::default()
        }
    }

    #[test]
    fn bcd_binary_and_12h() {
        let (mut c, clock, _) = setup(cfg());
        assert_eq!(rd(&mut c, 0), 0x58);
        assert_eq!(rd(&mut c, 2), 0x59);
        assert_eq!(rd(&mut c, 4), 0x23);
        assert_eq!(rd(&mut c, 6), 5, "Thursday");
        assert_eq!(rd(&mut c, 7), 0x29);
        assert_eq!(rd(&mut c, 8), 0x02);
        assert_eq!(rd(&mut c, 9), 0x24);
        assert_eq!(rd(&mut c, 0x32), 0x20);
        clock.advance(3 * NS);
        assert_eq!(
            (rd(&mut c, 7), rd(&mut c, 8), rd(&mut c, 0)),
            (0x01, 0x03, 0x01)
        );
        wr(&mut c, 0x0B, B_BINARY); // binary, 12 hour
        assert_eq!(rd(&mut c, 4), 12, "00:00 is 12 AM");
        assert_eq!(rd(&mut c, 0), 1);
        wr(&mut c, 0x0B, 0); // BCD 12 hour
        clock.advance(13 * 3600 * NS);
        assert_eq!(rd(&mut c, 4), 0x81, "1 PM");
    }

    #[test]
    fn set_time_with_set_bit() {
        let (mut c, clock, _) = setup(cfg());
        wr(&mut c, 0x0B, B_SET | B_24H);
        wr(&mut c, 4, 0x10);
        wr(&mut c, 2, 0x20);
        wr(&mut c, 0, 0x30);
        clock.advance(5 * NS);
        assert_eq!(rd(&mut c, 0), 0x30, "frozen while SET");
        wr(&mut c, 0x0B, B_24H);
        clock.advance(2 * NS);
        assert_eq!(
            (rd(&mut c, 4), rd(&mut c, 2), rd(&mut c, 0)),
            (0x10, 0x20, 0x32)
        );
        assert_eq!(rd(&mut c, 7), 0x29, "date kept");
    }

    #[test]
    fn periodic_interrupt_and_status_c() {
        let (mut c, clock, rec) = setup(cfg());
        wr(&mut c, 0x0A, 0x26); // 1024 Hz
        wr(&mut c, 0x0B, B_24H | B_PIE);
        let next = c.poll(clock.now_ns()).unwrap();
        assert_eq!(next, 976_562);
        clock.set(next);
        c.poll(clock.now_ns());
        assert!(rec.level(8));
        assert_eq!(rd(&mut c, 0x0C) & 0xC0, C_IRQF | C_PF);
        assert!(!rec.level(8), "reading C drops IRQ8");
        assert_eq!(rd(&mut c, 0x0C), 0);
        clock.advance(976_563);
        c.poll(clock.now_ns());
        assert_eq!(rec.edges(8), 2);
    }

    #[test]
    fn update_ended_and_alarm() {
        let (mut c, clock, rec) = setup(cfg());
        wr(&mut c, 0x0B, B_24H | B_UIE);
        clock.set(NS);
        c.poll(clock.now_ns());
        // PF is set at its rate whether or not PIE enables the interrupt.
        assert_eq!(rd(&mut c, 0x0C) & !C_PF, C_IRQF | C_UF);
        // Alarm at 00:00:00 (2 s after T), any hour.
        wr(&mut c, 0x0B, B_24H | B_AIE);
        wr(&mut c, 1, 0x00);
        wr(&mut c, 3, 0x00);
        wr(&mut c, 5, 0xC0); // don't care
        clock.set(2 * NS + 5);
        c.poll(clock.now_ns());
        assert!(rec.level(8));
        assert_eq!(rd(&mut c, 0x0C) & !C_PF, C_IRQF | C_AF | C_UF);
    }

    #[test]
    fn uip_before_second_boundary() {
        let (mut c, clock, _) = setup(cfg());
        clock.set(NS - 100_000);
        assert_eq!(rd(&mut c, 0x0A) & 0x80, 0x80);
        clock.set(NS + 100_000);
        assert_eq!(rd(&mut c, 0x0A) & 0x80, 0);
        assert_eq!(rd(&mut c, 0x0D), 0x80);
    }

    #[test]
    fn memory_and_config_bytes() {
        let (mut c, _, _) = setup(CmosConfig {
            ram_bytes: 32 << 20,
            floppies: [FloppyType::M1_44, FloppyType::None],
            hard_disks: [
                Some(DiskGeometry {
                    cylinders: 1024,
                    heads: 16,
                    sectors: 63,
                }),
                None,
            ],
            boot_order: vec![BootDevice::HardDisk, BootDevice::Floppy],
            ata_translation: [1, 0, 2, 0],
            ..cfg()
        });
        assert_eq!((rd(&mut c, 0x15), rd(&mut c, 0x16)), (0x80, 0x02));
        assert_eq!((rd(&mut c, 0x30), rd(&mut c, 0x31)), (0x00, 0x7C)); // 31 MiB
        assert_eq!((rd(&mut c, 0x17), rd(&mut c, 0x18)), (0x00, 0x7C));
        assert_eq!((rd(&mut c, 0x34), rd(&mut c, 0x35)), (0x00, 0x01)); // 16 MiB / 64K
        assert_eq!(rd(&mut c, 0x10), 0x40);
        assert_eq!(rd(&mut c, 0x14), 0x07);
        assert_eq!(rd(&mut c, 0x12), 0xF0);
        assert_eq!(
            (rd(&mut c, 0x1B), rd(&mut c, 0x1C), rd(&mut c, 0x1D)),
            (0, 4, 16)
        );
        assert_eq!(rd(&mut c, 0x23), 63);
        assert_eq!(rd(&mut c, 0x3D), 0x12);
        assert_eq!(rd(&mut c, 0x38), 0x00);
        assert_eq!(rd(&mut c, 0x39), 0x21);
        let sum: u16 = (0x10..=0x2D).map(|r| rd(&mut c, r) as u16).sum();
        assert_eq!(
            sum,
            (rd(&mut c, 0x2E) as u16) << 8 | rd(&mut c, 0x2F) as u16
        );
        // Big memory: extended capped, above-4G bytes.
        let (mut c, _, _) = setup(CmosConfig {
            ram_bytes: 5 << 30,
            ..cfg()
        });
        assert_eq!((rd(&mut c, 0x30), rd(&mut c, 0x31)), (0xFF, 0xFF));
        assert_eq!((rd(&mut c, 0x34), rd(&mut c, 0x35)), (0x00, 0xDF));
        let above = (5u64 << 30) - 0xE000_0000;
        assert_eq!(
            rd(&mut c, 0x5B) as u64 | (rd(&mut c, 0x5C) as u64) << 8,
            above >> 16
        );
    }

    #[test]
    fn nmi_mask_and_nvram() {
        let (mut c, _, _) = setup(cfg());
        c.write(0x70, 1, 0x80 | 0x40);
        assert!(c.nmi_masked());
        c.write(0x71, 1, 0xAB);
        c.write(0x70, 1, 0x40);
        assert!(!c.nmi_masked());
        assert_eq!(c.read(0x71, 1), 0xAB);
        assert_eq!(c.read(0x71, 2), 0xFFAB);
    }

    #[test]
    fn dates_round_trip() {
        for &s in &[0i64, 951_782_400, T, 4_102_444_800, -86_400] {
            let (y, m, d, _, h, mi, se) = split(s);
            let back =
                days_from_civil(y, m, d) * 86_400 + h as i64 * 3600 + mi as i64 * 60 + se as i64;
            assert_eq!(back, s);
        }
    }

    #[test]
    fn hammer_ports() {
        let (mut c, clock, _) = setup(cfg());
        for seed in 1..20 {
            hammer(&mut c, &[0x70, 0x71], 3000, seed);
            clock.advance(seed * 123_456_789);
            c.poll(clock.now_ns());
        }
    }
}
