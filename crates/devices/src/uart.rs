//! The 16550A UART (COM1 at 0x3F8 on IRQ4, COM2 at 0x2F8 on IRQ3).
//!
//! Models the divisor latch (DLAB), IER, IIR with all five interrupt sources
//! in priority order (line status, received data, character timeout,
//! transmitter empty, modem status), FCR with 16-byte receive FIFO and trigger
//! levels, LCR, MCR with loopback and OUT2 gating the IRQ as PC boards wire it,
//! LSR, MSR with delta bits, and the scratch register. Transmission is
//! instant: a byte written to THR goes to the back end at once and THR is
//! empty again. Host input is pushed with [`Uart::receive`]; the character
//! timeout uses the injected clock and the programmed baud rate. Not
//! modelled: parity/framing errors and break on input (the host sends clean
//! bytes), the transmit FIFO's timing, the 16450/16550 FIFO bug variants.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use crate::bus::widen;
use crate::bus::PortIo;
use crate::clock::SharedClock;
use crate::irq::IrqLine;
pub use crate::sink::ByteSink as SerialBackend;

pub const COM1: u16 = 0x3F8;
pub const COM2: u16 = 0x2F8;

const IER_RDA: u8 = 0x01;
const IER_THRE: u8 = 0x02;
const IER_RLS: u8 = 0x04;
const IER_MS: u8 = 0x08;
const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;
const MCR_LOOP: u8 = 0x10;
const MCR_OUT2: u8 = 0x08;
const FIFO_SIZE: usize = 16;
const UART_CLOCK_HZ: u64 = 1_843_200;

/// The guest-visible registers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub rx: VecDeque<u8>,
    pub ier: u8,
    pub lcr: u8,
    pub mcr: u8,
    /// Sticky LSR error bits (OE, PE, FE, BI).
    pub lsr_errors: u8,
    /// MSR delta bits 0-3.
    pub msr_delta: u8,
    /// Modem input lines from the host side (MSR bits 4-7 outside loopback).
    pub modem_inputs: u8,
    pub scr: u8,
    pub divisor: u16,
    pub fifo_enabled: bool,
    pub rx_trigger: u8,
    /// THR-empty interrupt pending (cleared by IIR read or THR write).
    pub thre_pending: bool,
    /// Last receive-side activity, for the character timeout.
    pub last_rx_ns: u64,
    pub irq_level: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            rx: VecDeque::new(),
            ier: 0,
            lcr: 0x03,
            mcr: 0,
            lsr_errors: 0,
            msr_delta: 0,
            modem_inputs: 0xB0, // DCD, DSR, CTS: a cable to a ready terminal
            scr: 0,
            divisor: 12,
            fifo_enabled: false,
            rx_trigger: 1,
            thre_pending: false,
            last_rx_ns: 0,
            irq_level: false,
        }
    }
}

pub struct Uart {
    pub state: State,
    backend: Box<dyn SerialBackend>,
    irq: IrqLine,
    clock: SharedClock,
}

impl Uart {
    pub fn new(backend: Box<dyn SerialBackend>, irq: IrqLine, clock: SharedClock) -> Self {
        Uart {
            state: State::default(),
            backend,
            irq,
            clock,
        }
    }

    /// Replaces the output back end.
    pub fn set_backend(&mut self, backend: Box<dyn SerialBackend>) {
        self.backend = backend;
    }

    fn rx_capacity(&self) -> usize {
        if self.state.fifo_enabled {
            FIFO_SIZE
        } else {
            1
        }
    }

    /// Whether a byte pushed now would fit (the machine paces host input).
    pub fn can_receive(&self) -> bool {
        self.state.mcr & MCR_LOOP == 0 && self.state.rx.len() < self.rx_capacity()
    }

    /// A byte from the host side. Returns false if it was lost (overrun, or
    /// the UART is in loopback and its input is disconnected).
    pub fn receive(&mut self, byte: u8) -> bool {
        if self.state.mcr & MCR_LOOP != 0 {
            return false;
        }
        let ok = self.push_rx(byte);
        self.update_irq();
        ok
    }

    fn push_rx(&mut self, byte: u8) -> bool {
        self.state.last_rx_ns = self.clock.now_ns();
        if self.state.rx.len() >= self.rx_capacity() {
            self.state.lsr_errors |= LSR_OE;
            return false;
        }
        self.state.rx.push_back(byte);
        true
    }

    /// Sets the host-side modem inputs (MSR bits 4-7: CTS, DSR, RI, DCD).
    pub fn set_modem_inputs(&mut self, lines: u8) {
        let old = self.msr_lines();
        self.state.modem_inputs = lines & 0xF0;
        self.note_msr_change(old);
        self.update_irq();
    }

    fn msr_lines(&self) -> u8 {
        let mcr = self.state.mcr;
        if mcr & MCR_LOOP != 0 {
            (mcr & 0x02) << 3 | (mcr & 0x01) << 5 | (mcr & 0x04) << 4 | (mcr & 0x08) << 4
        } else {
            self.state.modem_inputs
        }
    }

    fn note_msr_change(&mut self, old: u8) {
        let new = self.msr_lines();
        let changed = (old ^ new) >> 4;
        let mut d = changed & 0x0B; // CTS, DSR, DCD: any change
        if old & 0x40 != 0 && new & 0x40 == 0 {
            d |= 0x04; // trailing edge of RI
        }
        self.state.msr_delta |= d;
    }

    /// One character time in nanoseconds at the programmed format and rate.
    fn char_ns(&self) -> u64 {
        let lcr = self.state.lcr;
        let bits = 1 + 5 + (lcr & 3) as u64 + ((lcr >> 3) & 1) as u64 + 1 + ((lcr >> 2) & 1) as u64;
        let div = if self.state.divisor == 0 {
            0x10000
        } else {
            self.state.divisor as u64
        };
        bits * div * 16 * 1_000_000_000 / UART_CLOCK_HZ
    }

    fn timeout_at(&self) -> Option<u64> {
        let s = &self.state;
        (s.fifo_enabled && !s.rx.is_empty() && s.rx.len() < s.rx_trigger as usize)
            .then(|| s.last_rx_ns.saturating_add(4 * self.char_ns()))
    }

    /// The IIR value for the highest-priority pending source.
    fn iir(&self, now: u64) -> u8 {
        let s = &self.state;
        let fifo_bits = if s.fifo_enabled { 0xC0 } else { 0 };
        let trigger = if s.fifo_enabled {
            s.rx_trigger as usize
        } else {
            1
        };
        let id = if s.ier & IER_RLS != 0 && s.lsr_errors != 0 {
            0x06
        } else if s.ier & IER_RDA != 0 && s.rx.len() >= trigger {
            0x04
        } else if s.ier & IER_RDA != 0 && self.timeout_at().is_some_and(|t| now >= t) {
            0x0C
        } else if s.ier & IER_THRE != 0 && s.thre_pending {
            0x02
        } else if s.ier & IER_MS != 0 && s.msr_delta != 0 {
            0x00
        } else {
            0x01
        };
        fifo_bits | id
    }

    fn update_irq(&mut self) {
        let now = self.clock.now_ns();
        let level = self.iir(now) & 1 == 0 && self.state.mcr & MCR_OUT2 != 0;
        if level != self.state.irq_level {
            self.state.irq_level = level;
            self.irq.set_level(level);
        }
    }

    /// Raises the character-timeout interrupt when due; returns when the
    /// next timeout would fall, if one is armed.
    pub fn poll(&mut self, now_ns: u64) -> Option<u64> {
        self.update_irq();
        if self.state.ier & IER_RDA != 0 {
            // A timeout already due has raised its interrupt: nothing to wait for.
            self.timeout_at().filter(|&t| t > now_ns)
        } else {
            None
        }
    }

    fn read_reg(&mut self, reg: u16) -> u8 {
        let dlab = self.state.lcr & 0x80 != 0;
        match reg {
            0 if dlab => self.state.divisor as u8,
            0 => {
                let b = self.state.rx.pop_front().unwrap_or(0);
                self.state.last_rx_ns = self.clock.now_ns();
                b
            }
            1 if dlab => (self.state.divisor >> 8) as u8,
            1 => self.state.ier,
            2 => {
                let v = self.iir(self.clock.now_ns());
                if v & 0x0F == 0x02 {
                    self.state.thre_pending = false;
                }
                v
            }
            3 => self.state.lcr,
            4 => self.state.mcr,
            5 => {
                let v = (u8::from(!self.state.rx.is_empty()) * LSR_DR)
                    | self.state.lsr_errors
                    | LSR_THRE
                    | LSR_TEMT;
                self.state.lsr_errors = 0;
                v
            }
            6 => {
                let v = self.msr_lines() | self.state.msr_delta;
                self.state.msr_delta = 0;
                v
            }
            _ => self.state.scr,
        }
    }

    fn write_reg(&mut self, reg: u16, val: u8) {
        let dlab = self.state.lcr & 0x80 != 0;
        match reg {
            0 if dlab => self.state.divisor = self.state.divisor & 0xFF00 | val as u16,
            0 => {
                if self.state.mcr & MCR_LOOP != 0 {
                    self.push_rx(val);
                } else {
                    self.backend.write(val);
                }
                self.state.thre_pending = true;
            }
            1 if dlab => self.state.divisor = self.state.divisor & 0xFF | (val as u16) << 8,
            1 => {
                let old = self.state.ier;
                self.state.ier = val & 0x0F;
                // Enabling THRE interrupts with THR empty raises one at once.
                if val & IER_THRE != 0 && old & IER_THRE == 0 {
                    self.state.thre_pending = true;
                }
            }
            2 => {
                let enable = val & 1 != 0;
                if enable != self.state.fifo_enabled {
                    self.state.rx.clear();
                }
                self.state.fifo_enabled = enable;
                if val & 0x02 != 0 {
                    self.state.rx.clear();
                }
                self.state.rx_trigger = [1, 4, 8, 14][(val >> 6) as usize];
            }
            3 => self.state.lcr = val,
            4 => {
                let old = self.msr_lines();
                self.state.mcr = val & 0x1F;
                self.note_msr_change(old);
            }
            5 => {} // LSR writes are a factory test
            6 => {}
            _ => self.state.scr = val,
        }
    }
}

impl PortIo for Uart {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let v = self.read_reg(port & 7);
        self.update_irq();
        widen(v, size)
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        self.write_reg(port & 7, val as u8);
        self.update_irq();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use crate::irq::IrqRecorder;
    use crate::sink::CaptureSink;
    use crate::testutil::hammer;
    use std::sync::Arc;

    const B: u16 = COM1;

    fn setup() -> (Uart, CaptureSink, Arc<FakeClock>, Arc<IrqRecorder>) {
        let cap = CaptureSink::new();
        let clock = FakeClock::new(0);
        let rec = IrqRecorder::new();
        let u = Uart::new(Box::new(cap.clone()), rec.line(4), clock.clone());
        (u, cap, clock, rec)
    }

    #[test]
    fn transmit_and_divisor() {
        let (mut u, cap, _, _) = setup();
        u.write(B + 3, 1, 0x83);
        u.write(B, 1, 0x01);
        u.write(B + 1, 1, 0x00);
        assert_eq!(u.read(B, 1), 1);
        u.write(B + 3, 1, 0x03);
        assert_eq!(u.state.divisor, 1);
        for b in b"OK" {
            u.write(B, 1, *b as u32);
        }
        assert_eq!(cap.contents(), b"OK");
        assert_eq!(u.read(B + 5, 1), 0x60);
        u.write(B + 7, 1, 0x5A);
        assert_eq!(u.read(B + 7, 1), 0x5A);
    }

    #[test]
    fn loopback_and_msr() {
        let (mut u, cap, _, _) = setup();
        u.write(B + 4, 1, 0x10); // loopback
        u.write(B, 1, 0x41);
        assert!(cap.contents().is_empty());
        assert_eq!(u.read(B + 5, 1) & 1, 1);
        assert_eq!(u.read(B, 1), 0x41);
        assert!(!u.receive(0x42), "input disconnected in loopback");
        u.read(B + 6, 1);
        u.write(B + 4, 1, 0x1F);
        assert_eq!(u.read(B + 6, 1), 0xF0 | 0x0B);
        assert_eq!(u.read(B + 6, 1), 0xF0);
        u.write(B + 4, 1, 0x1B); // RI (OUT1) falls
        assert_eq!(u.read(B + 6, 1) & 0x0F, 0x04);
    }

    #[test]
    fn fifo_trigger_and_timeout() {
        let (mut u, _, clock, rec) = setup();
        u.write(B + 2, 1, 0x81); // FIFO, trigger 8
        u.write(B + 1, 1, IER_RDA as u32);
        u.write(B + 4, 1, 0x08); // OUT2
        for i in 0..7 {
            u.receive(i);
        }
        assert_eq!(u.read(B + 2, 1), 0xC1, "below trigger");
        u.receive(7);
        assert_eq!(u.read(B + 2, 1), 0xC4);
        assert!(rec.level(4));
        for _ in 0..6 {
            u.read(B, 1);
        }
        assert_eq!(u.read(B + 2, 1), 0xC1);
        assert!(!rec.level(4));
        let due = u.poll(clock.now_ns()).unwrap();
        clock.set(due);
        u.poll(clock.now_ns());
        assert_eq!(u.read(B + 2, 1), 0xCC, "character timeout");
        assert_eq!(u.poll(clock.now_ns()), None, "no deadline in the past");
        assert!(rec.level(4));
        u.read(B, 1);
        u.read(B, 1);
        assert_eq!(u.read(B + 2, 1), 0xC1);
        for i in 0..20 {
            u.receive(i);
        }
        assert_eq!(u.state.rx.len(), 16);
        assert_eq!(u.read(B + 5, 1) as u8 & LSR_OE, LSR_OE);
        assert_eq!(u.read(B + 5, 1) as u8 & LSR_OE, 0, "cleared by reading");
    }

    #[test]
    fn iir_priorities_and_out2_gate() {
        let (mut u, _, _, rec) = setup();
        u.write(B + 1, 1, 0x0F);
        assert!(!rec.level(4), "OUT2 off gates the IRQ");
        u.write(B + 4, 1, 0x08);
        assert!(rec.level(4));
        u.set_modem_inputs(0x30); // DCD dropped
        u.receive(1);
        u.receive(2); // overrun in non-FIFO mode
        assert_eq!(u.read(B + 2, 1), 0x06, "line status first");
        u.read(B + 5, 1);
        assert_eq!(u.read(B + 2, 1), 0x04, "then received data");
        u.read(B, 1);
        assert_eq!(u.read(B + 2, 1), 0x02, "then THR empty");
        assert_eq!(
            u.read(B + 2, 1),
            0x00,
            "IIR read cleared THRE; modem status"
        );
        u.read(B + 6, 1);
        assert_eq!(u.read(B + 2, 1), 0x01);
        assert!(!rec.level(4));
        u.write(B, 1, 0x20);
        assert_eq!(u.read(B + 2, 1), 0x02);
    }

    #[test]
    fn hammer_ports() {
        let (mut u, _, clock, _) = setup();
        let ports: Vec<u16> = (B..B + 8).collect();
        for seed in 1..20 {
            hammer(&mut u, &ports, 3000, seed);
            u.receive(seed as u8);
            clock.advance(seed * 1_000_000);
            u.poll(clock.now_ns());
        }
    }
}
