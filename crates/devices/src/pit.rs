//! The 8254 programmable interval timer (ports 0x40-0x43) and the PC's
//! system control port B (0x61) that gates channel 2 and reads back OUT2.
//!
//! Counters are not ticked: each channel remembers when counting started and
//! computes its count and OUT level from the injected clock at 1.193182 MHz.
//! Models all six modes, binary and BCD counting, lobyte/hibyte/lohi access,
//! the counter-latch and read-back commands, gate 2 from port 0x61 (with the
//! speaker-data bit, OUT2 and the refresh toggle), and IRQ0 from OUT0 delivered
//! by [`Pit::poll`]. Not modelled: a new count written in modes 2/3 taking
//! effect only at the end of the current period (it restarts at once), the
//! one-clock load delay, and the speaker sound itself.

use serde::{Deserialize, Serialize};

use crate::bus::widen;
use crate::bus::PortIo;
use crate::clock::SharedClock;
use crate::irq::IrqLine;

/// The PIT's input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;

fn ns_to_ticks(ns: u64) -> u64 {
    (ns as u128 * PIT_HZ as u128 / 1_000_000_000) as u64
}

/// The first instant at which `ticks` whole ticks have elapsed.
fn ticks_to_ns(ticks: u64) -> u64 {
    let t = ticks as u128 * 1_000_000_000;
    t.div_ceil(PIT_HZ as u128).min(u64::MAX as u128) as u64
}

fn to_bcd(v: u32) -> u16 {
    let v = v % 10000;
    (((v / 1000) << 12) | ((v / 100 % 10) << 8) | ((v / 10 % 10) << 4) | (v % 10)) as u16
}

fn from_bcd(v: u16) -> u32 {
    let d = |s: u16| ((v >> s) & 0xF).min(9) as u32;
    d(12) * 1000 + d(8) * 100 + d(4) * 10 + d(0)
}

/// One counter's guest-visible state.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Channel {
    pub mode: u8,
    pub bcd: bool,
    /// 1 = LSB only, 2 = MSB only, 3 = LSB then MSB.
    pub access: u8,
    /// The count register as written (0 means the maximum).
    pub reload: u16,
    /// Time counting (re)started; `None` while waiting for a count or trigger.
    pub start_ns: Option<u64>,
    /// The count held while gate is low in modes 0/4 (counting suspended).
    pub frozen_at: Option<u64>,
    pub gate: bool,
    pub latched: Option<u16>,
    /// In lohi access, the next read/write byte is the MSB.
    pub read_msb: bool,
    pub write_msb: bool,
    pub write_lsb: u8,
    pub status_latched: Option<u8>,
    pub null_count: bool,
}

impl Channel {
    /// The number of input clocks of one full count.
    fn period(&self) -> u64 {
        match (self.reload, self.bcd) {
            (0, false) => 0x10000,
            (0, true) => 10000,
            (n, false) => n as u64,
            (n, true) => (from_bcd(n) as u64).max(1),
        }
    }

    fn modulus(&self) -> u64 {
        if self.bcd {
            10000
        } else {
            0x10000
        }
    }

    fn mode(&self) -> u8 {
        match self.mode {
            6 => 2,
            7 => 3,
            m => m,
        }
    }

    /// Ticks elapsed since counting began, if counting.
    fn elapsed(&self, now: u64) -> Option<u64> {
        if let Some(t) = self.frozen_at {
            return Some(t);
        }
        self.start_ns.map(|s| ns_to_ticks(now.saturating_sub(s)))
    }

    /// The counting element's value now.
    fn count(&self, now: u64) -> u16 {
        let n = self.period();
        let m = self.modulus();
        let Some(t) = self.elapsed(now) else {
            return self.encode(n % m);
        };
        let v = match self.mode() {
            2 => n - t % n,
            3 => {
                let p = t % n;
                let high = n.div_ceil(2);
                let phase = if p < high { p } else { p - high };
                (n - 2 * phase) & !1
            }
            _ => (n + m - t % m) % m,
        };
        self.encode(v % m)
    }

    fn encode(&self, v: u64) -> u16 {
        if self.bcd {
            to_bcd(v as u32)
        } else {
            v as u16
        }
    }

    /// The OUT pin now.
    fn out(&self, now: u64) -> bool {
        let n = self.period();
        let t = self.elapsed(now);
        match self.mode() {
            0 => t.is_some_and(|t| t >= n),
            1 => t.is_none_or(|t| t >= n),
            2 => match t {
                Some(t) if self.gate => t % n != n - 1,
                _ => true,
            },
            3 => match t {
                Some(t) if self.gate => t % n < n.div_ceil(2),
                _ => true,
            },
            _ => t != Some(n), // modes 4/5: low for one clock at terminal count
        }
    }

    /// Rising edges of OUT in the tick interval (t0, t1].
    fn rising_edges(&self, t0: u64, t1: u64) -> u64 {
        let n = self.period();
        if t1 <= t0 || self.frozen_at.is_some() {
            return 0;
        }
        match self.mode() {
            0 | 1 => u64::from(t0 < n && n <= t1),
            2 | 3 if self.gate => t1 / n - t0 / n,
            4 | 5 => u64::from(t0 < n + 1 && n < t1),
            _ => 0,
        }
    }

    /// The first tick after `t` at which OUT rises, if it ever does.
    fn next_edge(&self, t: u64) -> Option<u64> {
        let n = self.period();
        if self.frozen_at.is_some() {
            return None;
        }
        match self.mode() {
            0 | 1 => (t < n).then_some(n),
            2 | 3 if self.gate => Some((t / n + 1) * n),
            4 | 5 => (t < n + 1).then_some(n + 1),
            _ => None,
        }
    }

    fn status(&self, now: u64) -> u8 {
        let rw = self.access & 3;
        (u8::from(self.out(now)) << 7)
            | (u8::from(self.null_count) << 6)
            | (rw << 4)
            | ((self.mode & 7) << 1)
            | u8::from(self.bcd)
    }

    fn load(&mut self, val: u16, now: u64) {
        self.reload = val;
        self.null_count = false;
        self.frozen_at = None;
        match self.mode() {
            1 | 5 => {} // waits for a gate trigger; a running count continues
            0 | 4 if !self.gate => {
                self.start_ns = Some(now);
                self.frozen_at = Some(0);
            }
            _ => self.start_ns = Some(now),
        }
    }

    fn set_gate(&mut self, gate: bool, now: u64) {
        if gate == self.gate {
            return;
        }
        self.gate = gate;
        match self.mode() {
            0 | 4 => {
                if gate {
                    if let Some(t) = self.frozen_at.take() {
                        self.start_ns = Some(now.saturating_sub(ticks_to_ns(t)));
                    }
                } else if let Some(t) = self.elapsed(now) {
                    self.frozen_at = Some(t);
                }
            }
            1 | 5 if gate && !self.null_count => self.start_ns = Some(now),
            2 | 3 if gate && self.start_ns.is_some() => self.start_ns = Some(now),
            _ => {}
        }
    }

    fn read_byte(&mut self, now: u64) -> u8 {
        if let Some(s) = self.status_latched.take() {
            return s;
        }
        let v = match self.latched {
            Some(v) => v,
            None => self.count(now),
        };
        let (byte, done) = match self.access {
            1 => (v as u8, true),
            2 => ((v >> 8) as u8, true),
            _ => {
                let b = if self.read_msb {
                    (v >> 8) as u8
                } else {
                    v as u8
                };
                self.read_msb = !self.read_msb;
                (b, !self.read_msb)
            }
        };
        if done {
            self.latched = None;
        }
        byte
    }

    fn write_byte(&mut self, b: u8, now: u64) {
        match self.access {
            1 => self.load(b as u16, now),
            2 => self.load((b as u16) << 8, now),
            _ => {
                if self.write_msb {
                    self.write_msb = false;
                    self.load(u16::from_le_bytes([self.write_lsb, b]), now);
                } else {
                    self.write_lsb = b;
                    self.write_msb = true;
                    if self.mode() == 0 {
                        // Writing the first byte stops a mode 0 count.
                        if let Some(t) = self.elapsed(now) {
                            self.frozen_at = Some(t);
                        }
                    }
                }
            }
        }
    }

    fn control(&mut self, val: u8, now: u64) {
        let access = (val >> 4) & 3;
        if access == 0 {
            if self.latched.is_none() {
                self.latched = Some(self.count(now));
                self.read_msb = false;
            }
            return;
        }
        self.access = access;
        self.mode = (val >> 1) & 7;
        self.bcd = val & 1 != 0;
        self.latched = None;
        self.status_latched = None;
        self.read_msb = false;
        self.write_msb = false;
        self.null_count = true;
        self.start_ns = None;
        self.frozen_at = None;
    }
}

/// Everything the guest can see of the PIT and port 0x61.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub channels: [Channel; 3],
    /// Port 0x61 bits 0-3 as written (gate 2, speaker data, parity/IOCHK masks).
    pub port61: u8,
    /// Time of the last [`Pit::poll`], for IRQ0 edge accounting.
    pub last_poll_ns: u64,
}

/// The 8254 with its IRQ0 line and clock.
pub struct Pit {
    pub state: State,
    clock: SharedClock,
    irq0: IrqLine,
}

impl Pit {
    pub fn new(clock: SharedClock, irq0: IrqLine) -> Self {
        let now = clock.now_ns();
        let mut state = State {
            last_poll_ns: now,
            ..Default::default()
        };
        state.channels[0].gate = true;
        state.channels[1].gate = true;
        for c in &mut state.channels {
            c.access = 3;
        }
        Pit { state, clock, irq0 }
    }

    /// Delivers IRQ0 edges due by `now_ns` and returns when the next one is
    /// due, so the machine can schedule the next call.
    pub fn poll(&mut self, now_ns: u64) -> Option<u64> {
        let ch = &self.state.channels[0];
        let last = self.state.last_poll_ns.min(now_ns);
        self.state.last_poll_ns = now_ns;
        let out = ch.out(now_ns);
        let Some(start) = ch.start_ns else {
            self.irq0.set_level(out);
            return None;
        };
        // Ticks since counting began, at the last poll (0 if it began since).
        let t0 = ns_to_ticks(last.saturating_sub(start));
        let t1 = ns_to_ticks(now_ns.saturating_sub(start));
        if ch.rising_edges(t0, t1) > 0 {
            // Several missed periods still make one request, as on a PIC.
            self.irq0.set_level(false);
            self.irq0.set_level(true);
        }
        self.irq0.set_level(out);
        ch.next_edge(t1)
            .map(|t| start.saturating_add(ticks_to_ns(t)))
    }

    /// Whether the speaker is sounding (gate 2 and speaker data both set).
    pub fn speaker_on(&self) -> bool {
        self.state.port61 & 3 == 3
    }

    /// OUT of channel `ch` now.
    pub fn out(&self, ch: usize) -> bool {
        self.state.channels[ch % 3].out(self.clock.now_ns())
    }

    fn read_byte(&mut self, port: u16, now: u64) -> u8 {
        match port {
            0x40..=0x42 => self.state.channels[(port - 0x40) as usize].read_byte(now),
            0x61 => {
                let refresh = (now / 15_085) & 1 == 1;
                (self.state.port61 & 0x0F)
                    | (u8::from(refresh) << 4)
                    | (u8::from(self.state.channels[2].out(now)) << 5)
            }
            _ => 0xFF, // 0x43 is write-only
        }
    }

    fn write_byte(&mut self, port: u16, val: u8, now: u64) {
        match port {
            0x40..=0x42 => {
                self.state.channels[(port - 0x40) as usize].write_byte(val, now);
                if port == 0x40 {
                    self.poll(now);
                }
            }
            0x43 => {
                let sel = val >> 6;
                if sel == 3 {
                    // Read-back: bit 5 clear latches counts, bit 4 clear status.
                    for (i, ch) in self.state.channels.iter_mut().enumerate() {
                        if val & (2 << i) == 0 {
                            continue;
                        }
                        if val & 0x10 == 0 && ch.status_latched.is_none() {
                            ch.status_latched = Some(ch.status(now));
                        }
                        if val & 0x20 == 0 && ch.latched.is_none() {
                            ch.latched = Some(ch.count(now));
                            ch.read_msb = false;
                        }
                    }
                } else {
                    self.state.channels[sel as usize].control(val, now);
                    if sel == 0 {
                        self.poll(now);
                    }
                }
            }
            0x61 => {
                self.state.port61 = val & 0x0F;
                self.state.channels[2].set_gate(val & 1 != 0, now);
            }
            _ => {}
        }
    }
}

impl PortIo for Pit {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let now = self.clock.now_ns();
        widen(self.read_byte(port, now), size)
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        let now = self.clock.now_ns();
        self.write_byte(port, val as u8, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use crate::irq::IrqRecorder;
    use crate::testutil::hammer;
    use std::sync::Arc;

    fn setup() -> (Pit, Arc<FakeClock>, Arc<IrqRecorder>) {
        let clock = FakeClock::new(1_000_000);
        let rec = IrqRecorder::new();
        (Pit::new(clock.clone(), rec.line(0)), clock, rec)
    }

    fn read16(pit: &mut Pit, port: u16) -> u16 {
        let lo = pit.read(port, 1) as u16;
        lo | (pit.read(port, 1) as u16) << 8
    }

    #[test]
    fn mode2_counts_and_fires_irq0_on_time() {
        let (mut pit, clock, rec) = setup();
        pit.write(0x43, 1, 0x34); // ch0 lohi mode 2
        pit.write(0x40, 1, 0x9C);
        pit.write(0x40, 1, 0x2E); // 11932 = 10 ms
        let t0 = clock.now_ns();
        // Programming mode 2 raises OUT0: that first edge is not a period.
        let base = rec.edges(0);
        clock.set(t0 + 5_000_000);
        pit.write(0x43, 1, 0x00); // latch
        let c = read16(&mut pit, 0x40);
        assert!((5960..=5970).contains(&c), "count {c}");
        let next = pit.poll(clock.now_ns()).unwrap();
        assert_eq!(rec.edges(0) - base, 0);
        assert!((t0 + 9_999_000..=t0 + 10_001_000).contains(&next), "{next}");
        clock.set(next - 1);
        pit.poll(clock.now_ns());
        assert_eq!(rec.edges(0) - base, 0);
        clock.set(next);
        pit.poll(clock.now_ns());
        assert_eq!(rec.edges(0) - base, 1);
        clock.set(t0 + 35_000_000);
        let n2 = pit.poll(clock.now_ns()).unwrap();
        assert_eq!(
            rec.edges(0) - base,
            2,
            "missed periods merge into one request"
        );
        assert!(n2 > t0 + 39_999_000 && n2 < t0 + 40_001_000);
    }

    #[test]
    fn mode0_one_shot_and_bcd() {
        let (mut pit, clock, rec) = setup();
        pit.write(0x43, 1, 0x31); // ch0 lohi mode 0 BCD
        pit.write(0x40, 1, 0x00);
        pit.write(0x40, 1, 0x10); // 1000 (BCD)
        assert!(!pit.out(0));
        clock.advance(ticks_to_ns(250));
        pit.write(0x43, 1, 0x00);
        assert_eq!(read16(&mut pit, 0x40), 0x0750);
        clock.advance(ticks_to_ns(750));
        pit.poll(clock.now_ns());
        assert!(pit.out(0));
        assert_eq!(rec.edges(0), 1);
        clock.advance(1_000_000_000);
        assert_eq!(pit.poll(clock.now_ns()), None);
        assert_eq!(rec.edges(0), 1);
    }

    #[test]
    fn mode3_square_wave_and_lobyte_access() {
        let (mut pit, clock, _) = setup();
        pit.write(0x43, 1, 0x56); // ch1 lobyte mode 3
        pit.write(0x41, 1, 100);
        assert!(pit.out(1));
        clock.advance(ticks_to_ns(10));
        assert_eq!(pit.read(0x41, 1), 80);
        clock.advance(ticks_to_ns(45));
        assert!(!pit.out(1));
        clock.advance(ticks_to_ns(50));
        assert!(pit.out(1));
    }

    #[test]
    fn readback_status_and_count() {
        let (mut pit, clock, _) = setup();
        pit.write(0x43, 1, 0xB4); // ch2 lohi mode 2
        pit.write(0x43, 1, 0xE8); // read-back status ch2
        assert_eq!(pit.read(0x42, 1), 0x80 | 0x40 | 0x30 | 0x04);
        pit.write(0x61, 1, 0x01); // gate 2 on
        pit.write(0x42, 1, 0x00);
        pit.write(0x42, 1, 0x01); // 256
        clock.advance(ticks_to_ns(6));
        pit.write(0x43, 1, 0xC8); // read-back count+status ch2
        assert_eq!(pit.read(0x42, 1), 0x34 | 0x80);
        clock.advance(ticks_to_ns(100));
        assert_eq!(read16(&mut pit, 0x42), 250, "latched value");
        assert_eq!(read16(&mut pit, 0x42), 150, "live value");
    }

    #[test]
    fn port61_gate_out2_refresh() {
        let (mut pit, clock, _) = setup();
        pit.write(0x43, 1, 0xB0); // ch2 lohi mode 0
        pit.write(0x42, 1, 100);
        pit.write(0x42, 1, 0);
        clock.advance(ticks_to_ns(500));
        assert_eq!(pit.read(0x61, 1) & 0x20, 0, "gate low: not counting");
        pit.write(0x61, 1, 0x03);
        assert!(pit.speaker_on());
        clock.advance(ticks_to_ns(50));
        assert_eq!(pit.read(0x61, 1) & 0x20, 0);
        clock.advance(ticks_to_ns(60));
        assert_eq!(pit.read(0x61, 1) & 0x23, 0x23);
        let a = pit.read(0x61, 1) & 0x10;
        clock.advance(15_085);
        assert_ne!(pit.read(0x61, 1) & 0x10, a, "refresh toggles");
    }

    #[test]
    fn mode1_and_mode5_gate_triggered() {
        let (mut pit, clock, _) = setup();
        pit.write(0x43, 1, 0x92); // ch2 lobyte mode 1
        pit.write(0x42, 1, 10);
        assert!(pit.out(2));
        pit.write(0x61, 1, 1);
        assert!(!pit.out(2));
        clock.advance(ticks_to_ns(10));
        assert!(pit.out(2));
        pit.write(0x61, 1, 0);
        pit.write(0x43, 1, 0x9A); // mode 5
        pit.write(0x42, 1, 10);
        pit.write(0x61, 1, 1);
        clock.advance(ticks_to_ns(10));
        assert!(!pit.out(2), "strobe at terminal count");
        clock.advance(ticks_to_ns(1));
        assert!(pit.out(2));
    }

    #[test]
    fn hammer_ports() {
        let (mut pit, clock, _) = setup();
        for seed in 1..20 {
            hammer(&mut pit, &[0x40, 0x41, 0x42, 0x43, 0x61], 2000, seed);
            clock.advance(seed * 7_777_777);
            pit.poll(clock.now_ns());
            let _ = pit.out(2);
        }
    }
}
