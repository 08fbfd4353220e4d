//! The 8259A programmable interrupt controller pair of the PC/AT: master at
//! 0x20/0x21, slave at 0xA0/0xA1 cascaded on master input 2, and the PIIX
//! edge/level control registers (ELCR) at 0x4D0/0x4D1.
//!
//! Models ICW1-ICW4, OCW1-OCW3, edge and level triggering, specific and
//! non-specific EOI, automatic EOI (with rotation), special mask mode, the
//! poll command, priority rotation, and spurious IRQ7/IRQ15. Not modelled:
//! MCS-80 mode, buffered mode, special fully nested mode (accepted, treated as
//! fully nested), and ICW1's LTIM bit (the ELCR decides triggering, as on PIIX).

use serde::{Deserialize, Serialize};
use std::sync::Mutex;

use crate::bus::{lock, widen, PortIo};
use crate::irq::IrqController;

/// One 8259A: its guest-visible registers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChipState {
    pub irr: u8,
    pub imr: u8,
    pub isr: u8,
    /// Input levels as last driven (for edge detection).
    pub lines: u8,
    /// Edge/level control: a set bit means level-triggered.
    pub elcr: u8,
    /// Which bits of the ELCR the guest may set.
    pub elcr_mask: u8,
    pub vector_base: u8,
    /// The lowest-priority input is `priority_add - 1` (rotation).
    pub priority_add: u8,
    /// 0 = operational, 1..=3 waiting for ICW2..ICW4.
    pub init_step: u8,
    pub icw4_needed: bool,
    pub single: bool,
    pub auto_eoi: bool,
    pub rotate_on_auto_eoi: bool,
    pub special_mask: bool,
    pub read_isr: bool,
    pub poll: bool,
    pub sfnm: bool,
}

impl ChipState {
    fn new(elcr_mask: u8) -> Self {
        ChipState {
            elcr_mask,
            ..Default::default()
        }
    }

    /// Priority level (0 = highest) of the best set bit of `mask`, or 8.
    fn priority(&self, mask: u8) -> u8 {
        (0..8)
            .find(|p| mask & (1 << ((p + self.priority_add) & 7)) != 0)
            .unwrap_or(8)
    }

    /// The input that would be delivered now, if any.
    fn pending_irq(&self, is_master: bool) -> Option<u8> {
        let req = self.irr & !self.imr;
        let p = self.priority(req);
        if p == 8 {
            return None;
        }
        let mut in_service = self.isr;
        if self.special_mask {
            in_service &= !self.imr;
        }
        if is_master && self.sfnm {
            in_service &= !(1 << 2);
        }
        let cur = self.priority(in_service);
        (p < cur).then_some((p + self.priority_add) & 7)
    }

    fn set_line(&mut self, irq: u8, level: bool) {
        let bit = 1u8 << (irq & 7);
        if self.elcr & bit != 0 {
            if level {
                self.irr |= bit;
            } else {
                self.irr &= !bit;
            }
        } else if level && self.lines & bit == 0 {
            self.irr |= bit;
        }
        if level {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
    }

    /// The interrupt-acknowledge cycle for `irq`.
    fn ack(&mut self, irq: u8) {
        let bit = 1u8 << irq;
        if self.auto_eoi {
            if self.rotate_on_auto_eoi {
                self.priority_add = (irq + 1) & 7;
            }
        } else {
            self.isr |= bit;
        }
        // Edge-triggered requests are consumed; a level request stays while
        // the line is high (its IRR tracks the line).
        if self.elcr & bit == 0 {
            self.irr &= !bit;
        }
    }

    fn eoi(&mut self, irq: u8, rotate: bool) {
        self.isr &= !(1 << irq);
        if rotate {
            self.priority_add = (irq + 1) & 7;
        }
    }

    fn write_cmd(&mut self, val: u8) {
        if val & 0x10 != 0 {
            // ICW1: start initialisation.
            self.init_step = 1;
            self.icw4_needed = val & 1 != 0;
            self.single = val & 2 != 0;
            if val & 0x08 != 0 {
                log::debug!("pic: ICW1 LTIM ignored (ELCR decides triggering)");
            }
            self.imr = 0;
            self.isr = 0;
            self.irr &= self.elcr & self.lines; // level requests survive
            self.priority_add = 0;
            self.special_mask = false;
            self.read_isr = false;
            self.poll = false;
            self.auto_eoi = false;
            self.rotate_on_auto_eoi = false;
            self.sfnm = false;
        } else if val & 0x08 != 0 {
            // OCW3.
            if val & 0x04 != 0 {
                self.poll = true;
            }
            if val & 0x02 != 0 {
                self.read_isr = val & 1 != 0;
            }
            if val & 0x40 != 0 {
                self.special_mask = val & 0x20 != 0;
            }
        } else {
            // OCW2.
            let level = val & 7;
            match val >> 5 {
                0 => self.rotate_on_auto_eoi = false,
                4 => self.rotate_on_auto_eoi = true,
                1 | 5 => {
                    let p = self.priority(self.isr);
                    if p != 8 {
                        let irq = (p + self.priority_add) & 7;
                        self.eoi(irq, val >> 5 == 5);
                    }
                }
                3 => self.eoi(level, false),
                7 => self.eoi(level, true),
                6 => self.priority_add = (level + 1) & 7,
                _ => {} // 2: no operation
            }
        }
    }

    fn write_data(&mut self, val: u8) {
        match self.init_step {
            1 => {
                self.vector_base = val & 0xF8;
                self.init_step = if self.single {
                    if self.icw4_needed {
                        3
                    } else {
                        0
                    }
                } else {
                    2
                };
            }
            2 => self.init_step = if self.icw4_needed { 3 } else { 0 },
            3 => {
                self.auto_eoi = val & 2 != 0;
                self.sfnm = val & 0x10 != 0;
                if val & 1 == 0 {
                    log::debug!("pic: ICW4 without 8086 mode ignored");
                }
                self.init_step = 0;
            }
            _ => self.imr = val,
        }
    }
}

/// The cascaded pair as one device. The CPU side calls
/// [`PicPair::interrupt_pending`] and [`PicPair::acknowledge`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PicPair {
    pub master: ChipState,
    pub slave: ChipState,
}

impl Default for PicPair {
    fn default() -> Self {
        Self::new()
    }
}

impl PicPair {
    pub fn new() -> Self {
        PicPair {
            // IRQ0-2 (timer, keyboard, cascade) and IRQ8/IRQ13 are always edge.
            master: ChipState::new(0xF8),
            slave: ChipState::new(0xDE),
        }
    }

    /// Propagates the slave's output to master input 2. The cascade input
    /// follows the slave's INT output as a level, so a request the slave
    /// withdraws is withdrawn from the master too.
    fn update_cascade(&mut self) {
        let out = self.slave.pending_irq(false).is_some();
        if out {
            self.master.irr |= 4;
            self.master.lines |= 4;
        } else {
            self.master.irr &= !4;
            self.master.lines &= !4;
        }
    }

    /// Drives input `irq` (0..=15).
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        match irq {
            // Master input 2 is the cascade; the ISA bus's IRQ2 pin is wired
            // to IRQ9 on the AT.
            2 => self.set_irq(9, level),
            0..=7 => self.master.set_line(irq, level),
            8..=15 => {
                self.slave.set_line(irq - 8, level);
                self.update_cascade();
            }
            _ => log::warn!("pic: irq {irq} out of range"),
        }
    }

    /// The INTR output of the master.
    pub fn interrupt_pending(&self) -> bool {
        self.master.pending_irq(true).is_some()
    }

    /// The interrupt-acknowledge cycle: returns the vector. With nothing
    /// pending this is the spurious IRQ7 (or IRQ15) vector, with no ISR bit set.
    pub fn acknowledge(&mut self) -> u8 {
        let vector = match self.master.pending_irq(true) {
            None => self.master.vector_base | 7,
            Some(2) if !self.master.single => {
                self.master.ack(2);
                match self.slave.pending_irq(false) {
                    Some(s) => {
                        self.slave.ack(s);
                        self.slave.vector_base | s
                    }
                    None => self.slave.vector_base | 7,
                }
            }
            Some(irq) => {
                self.master.ack(irq);
                self.master.vector_base | irq
            }
        };
        self.update_cascade();
        vector
    }

    /// The poll command's answer for one chip: 0x80 | irq and an implied ack.
    fn poll(&mut self, slave: bool) -> u8 {
        let chip = if slave {
            &mut self.slave
        } else {
            &mut self.master
        };
        chip.poll = false;
        let v = match chip.pending_irq(!slave) {
            Some(irq) => {
                chip.ack(irq);
                0x80 | irq
            }
            None => 0,
        };
        self.update_cascade();
        v
    }
}

impl PortIo for PicPair {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let v = match port {
            0x20 | 0xA0 => {
                let slave = port == 0xA0;
                let chip = if slave { &self.slave } else { &self.master };
                if chip.poll {
                    self.poll(slave)
                } else if chip.read_isr {
                    chip.isr
                } else {
                    chip.irr
                }
            }
            0x21 => {
                if self.master.poll {
                    self.poll(false)
                } else {
                    self.master.imr
                }
            }
            0xA1 => {
                if self.slave.poll {
                    self.poll(true)
                } else {
                    self.slave.imr
                }
            }
            0x4D0 => self.master.elcr,
            0x4D1 => self.slave.elcr,
            _ => 0xFF,
        };
        // Wider accesses see the next port as all ones (an 8-bit device).
        widen(v, size)
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        let val = val as u8;
        match port {
            0x20 => self.master.write_cmd(val),
            0x21 => self.master.write_data(val),
            0xA0 => self.slave.write_cmd(val),
            0xA1 => self.slave.write_data(val),
            0x4D0 => self.master.elcr = val & self.master.elcr_mask,
            0x4D1 => self.slave.elcr = val & self.slave.elcr_mask,
            _ => log::debug!("pic: write {val:#x} to unknown port {port:#x}"),
        }
        // Level inputs whose trigger mode changed re-evaluate from the lines.
        for chip in [&mut self.master, &mut self.slave] {
            let lvl = chip.elcr;
            chip.irr = (chip.irr & !lvl) | (chip.lines & lvl);
        }
        self.update_cascade();
    }
}

impl IrqController for Mutex<PicPair> {
    fn set_irq(&self, irq: u8, level: bool) {
        lock(self).set_irq(irq, level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hammer;

    /// The BIOS's standard initialisation: vectors 0x08 and 0x70.
    fn init(pic: &mut PicPair, icw4: u32) {
        pic.write(0x20, 1, 0x11);
        pic.write(0x21, 1, 0x08);
        pic.write(0x21, 1, 0x04);
        pic.write(0x21, 1, icw4);
        pic.write(0xA0, 1, 0x11);
        pic.write(0xA1, 1, 0x70);
        pic.write(0xA1, 1, 0x02);
        pic.write(0xA1, 1, icw4);
        pic.write(0x21, 1, 0);
        pic.write(0xA1, 1, 0);
    }

    fn edge(pic: &mut PicPair, irq: u8) {
        pic.set_irq(irq, true);
        pic.set_irq(irq, false);
    }

    #[test]
    fn priority_and_nonspecific_eoi() {
        let mut pic = PicPair::new();
        init(&mut pic, 0x01);
        edge(&mut pic, 3);
        edge(&mut pic, 1);
        assert!(pic.interrupt_pending());
        assert_eq!(pic.acknowledge(), 0x09);
        // IRQ3 is lower priority than the in-service IRQ1.
        assert!(!pic.interrupt_pending());
        edge(&mut pic, 0);
        assert!(pic.interrupt_pending(), "IRQ0 preempts IRQ1");
        assert_eq!(pic.acknowledge(), 0x08);
        pic.write(0x20, 1, 0x20); // EOI clears IRQ0
        assert!(!pic.interrupt_pending());
        pic.write(0x20, 1, 0x20); // EOI clears IRQ1
        assert_eq!(pic.acknowledge(), 0x0B);
        pic.write(0x20, 1, 0x0B); // read ISR
        assert_eq!(pic.read(0x20, 1), 0x08);
        pic.write(0x20, 1, 0x63); // specific EOI 3
        assert_eq!(pic.read(0x20, 1), 0);
    }

    #[test]
    fn masks_and_slave_cascade() {
        let mut pic = PicPair::new();
        init(&mut pic, 0x01);
        pic.write(0xA1, 1, 0x01); // mask IRQ8
        edge(&mut pic, 8);
        assert!(!pic.interrupt_pending());
        assert_eq!(pic.read(0xA1, 1), 0x01);
        pic.write(0xA1, 1, 0x00);
        assert!(pic.interrupt_pending());
        assert_eq!(pic.acknowledge(), 0x70);
        pic.write(0x20, 1, 0x0B);
        assert_eq!(pic.read(0x20, 1), 0x04, "master ISR has the cascade");
        edge(&mut pic, 14);
        assert!(!pic.interrupt_pending(), "slave busy with IRQ8");
        pic.write(0xA0, 1, 0x20);
        pic.write(0x20, 1, 0x20);
        assert_eq!(pic.acknowledge(), 0x76);
    }

    #[test]
    fn spurious_irq7_and_irq15() {
        let mut pic = PicPair::new();
        init(&mut pic, 0x01);
        assert_eq!(pic.acknowledge(), 0x0F);
        pic.write(0x20, 1, 0x0B);
        assert_eq!(pic.read(0x20, 1), 0, "spurious sets no ISR bit");
        // Slave request withdrawn between INTR and INTA.
        pic.write(0x4D1, 1, 0x08); // IRQ11 level
        pic.set_irq(11, true);
        assert!(pic.interrupt_pending());
        let was = pic.master.clone();
        pic.set_irq(11, false);
        // Withdrawn before INTA: the master's cascade request is gone too,
        // so the master answers with its own spurious vector.
        assert_eq!(pic.clone().acknowledge(), 0x0F);
        // Withdrawn between the master's and the slave's part of INTA
        // (modelled by keeping the master's view): the slave's spurious IRQ15.
        pic.master = was;
        assert_eq!(pic.acknowledge(), 0x77);
        pic.write(0x20, 1, 0x0B);
        assert_eq!(pic.read(0x20, 1), 0x04, "the master still needs its EOI");
    }

    #[test]
    fn level_triggered_stays_until_line_drops() {
        let mut pic = PicPair::new();
        init(&mut pic, 0x01);
        pic.write(0x4D1, 1, 0xFF);
        assert_eq!(pic.read(0x4D1, 1), 0xDE);
        pic.set_irq(10, true);
        assert_eq!(pic.acknowledge(), 0x72);
        pic.write(0xA0, 1, 0x20);
        pic.write(0x20, 1, 0x20);
        assert!(pic.interrupt_pending(), "still asserted");
        pic.set_irq(10, false);
        assert!(!pic.interrupt_pending());
        // Edge input needs a new edge.
        pic.set_irq(3, true);
        assert_eq!(pic.acknowledge(), 0x0B);
        pic.write(0x20, 1, 0x20);
        assert!(!pic.interrupt_pending());
    }

    #[test]
    fn auto_eoi_and_rotation() {
        let mut pic = PicPair::new();
        init(&mut pic, 0x03); // auto EOI
        edge(&mut pic, 5);
        assert_eq!(pic.acknowledge(), 0x0D);
        pic.write(0x20, 1, 0x0B);
        assert_eq!(pic.read(0x20, 1), 0, "no ISR bit in auto-EOI mode");
        // Set priority: IRQ4 lowest, so IRQ5 now beats IRQ0.
        pic.write(0x20, 1, 0xC4);
        edge(&mut pic, 0);
        edge(&mut pic, 5);
        assert_eq!(pic.acknowledge(), 0x0D);
        assert_eq!(pic.acknowledge(), 0x08);
        // Rotate on non-specific EOI.
        let mut pic = PicPair::new();
        init(&mut pic, 0x01);
        edge(&mut pic, 1);
        assert_eq!(pic.acknowledge(), 0x09);
        pic.write(0x20, 1, 0xA0);
        assert_eq!(pic.master.priority_add, 2);
    }

    #[test]
    fn special_mask_and_poll() {
        let mut pic = PicPair::new();
        init(&mut pic, 0x01);
        edge(&mut pic, 1);
        assert_eq!(pic.acknowledge(), 0x09);
        edge(&mut pic, 4);
        assert!(!pic.interrupt_pending());
        pic.write(0x21, 1, 0x02); // mask the in-service IRQ1
        pic.write(0x20, 1, 0x68); // set special mask
        assert!(pic.interrupt_pending(), "lower priority allowed");
        pic.write(0x20, 1, 0x48); // reset special mask
        assert!(!pic.interrupt_pending());
        pic.write(0x20, 1, 0x20);
        // Poll
        pic.write(0x20, 1, 0x0C);
        assert_eq!(pic.read(0x20, 1), 0x84);
        pic.write(0x20, 1, 0x0C);
        assert_eq!(pic.read(0x20, 1), 0x00);
    }

    #[test]
    fn isa_irq2_is_irq9() {
        let mut pic = PicPair::new();
        init(&mut pic, 0x01);
        edge(&mut pic, 2);
        assert_eq!(pic.acknowledge(), 0x71);
    }

    #[test]
    fn hammer_ports() {
        let mut pic = PicPair::new();
        for seed in 1..20 {
            hammer(
                &mut pic,
                &[0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1],
                2000,
                seed,
            );
            for i in 0..16 {
                pic.set_irq(i, seed & 1 == 0);
            }
            pic.set_irq(200, true);
            let _ = pic.acknowledge();
        }
    }
}
