//! The PIIX3 PCI-to-ISA bridge function (00:01.0, 8086:7000): its
//! configuration space with the PIRQ route control registers 0x60-0x63, which
//! say which ISA IRQ each PCI interrupt line (PIRQA-D) drives.
//!
//! The routing is published through a shared [`PirqRouting`] handle so PCI
//! devices can find their ISA IRQ. As on the real chip, routing a PIRQ does
//! not change triggering: the firmware also sets the IRQ level-triggered in
//! the ELCR (0x4D0/0x4D1, in the PIC), which PCI interrupts need. The PIIX3 is
//! a multi-function device: 00:01.1 is the IDE function (added by the IDE
//! device), 00:01.2 USB (absent). Not modelled: the other ISA-bridge
//! registers' effects (top of memory, X-bus, APIC base, SMI), which are
//! stored but do nothing.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::pci::{ConfigSpace, PciFunction};

pub const PIIX3_DEV: u8 = 1;
pub const PIIX3_ISA_FUNC: u8 = 0;
/// Where the IDE issue plugs in 8086:7010.
pub const PIIX3_IDE_FUNC: u8 = 1;
pub const PIRQ_ROUTE: u8 = 0x60;

/// The four PIRQ route registers, shared with PCI devices.
#[derive(Debug)]
pub struct PirqRouting {
    regs: [AtomicU8; 4],
}

impl PirqRouting {
    fn new() -> Arc<Self> {
        Arc::new(PirqRouting {
            regs: std::array::from_fn(|_| AtomicU8::new(0x80)),
        })
    }

    /// The ISA IRQ PIRQ `n` (0 = A) is routed to, if enabled and valid.
    pub fn irq_of_pirq(&self, n: u8) -> Option<u8> {
        let v = self.regs[(n & 3) as usize].load(Ordering::SeqCst);
        let irq = v & 0x0F;
        (v & 0x80 == 0 && matches!(irq, 3..=7 | 9..=12 | 14 | 15)).then_some(irq)
    }

    /// The ISA IRQ for interrupt `pin` (1 = INTA#) of device `dev` on bus 0,
    /// with the usual swizzle PIRQ = (dev + pin - 1) mod 4.
    pub fn irq_of_pin(&self, dev: u8, pin: u8) -> Option<u8> {
        if pin == 0 || pin > 4 {
            return None;
        }
        self.irq_of_pirq((dev.wrapping_add(pin - 1)) & 3)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub config: ConfigSpace,
}

pub struct Piix3 {
    pub state: State,
    routing: Arc<PirqRouting>,
}

impl Default for Piix3 {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix3 {
    pub fn new() -> Self {
        // Header type 0x80: multi-function.
        let mut c = ConfigSpace::new(0x8086, 0x7000, 0x060100, 0x00, 0x80);
        c.set16(0x04, 0x0007);
        c.set16(0x06, 0x0200);
        // QEMU's subsystem IDs: SeaBIOS recognises "Running on QEMU" by them
        // and only then uses fw_cfg and does its full PCI setup.
        c.set16(0x2C, 0x1AF4);
        c.set16(0x2E, 0x1100);
        c.set_writable(0x40, 0xC0);
        c.data[0x4C] = 0x4D; // ISA I/O recovery
        c.data[0x4E] = 0x03; // X-bus chip select
        c.data[0x4F] = 0x00;
        c.data[0x60..0x64].fill(0x80);
        c.data[0x69] = 0x02; // top of memory
        c.data[0x70] = 0x80; // motherboard IRQ route: disabled
        c.data[0x71] = 0x80;
        c.data[0x76] = 0x0C; // motherboard DMA: disabled
        c.data[0x77] = 0x0C;
        c.data[0x78] = 0x02; // PCS
        c.data[0xA0] = 0x08; // SMI control
        c.data[0xA8] = 0x0F;
        Piix3 {
            state: State { config: c },
            routing: PirqRouting::new(),
        }
    }

    /// The routing handle PCI devices use to find their IRQ.
    pub fn routing(&self) -> Arc<PirqRouting> {
        self.routing.clone()
    }

    fn publish(&self) {
        for i in 0..4 {
            let v = self.state.config.data[PIRQ_ROUTE as usize + i];
            self.routing.regs[i].store(v, Ordering::SeqCst);
        }
    }
}

impl PciFunction for Piix3 {
    fn config_read(&mut self, offset: u8) -> u32 {
        self.state.config.read(offset)
    }

    fn config_write(&mut self, offset: u8, size: u8, val: u32) {
        // Reserved bits 4-6 of the route registers read as zero.
        self.state.config.write(offset, size, val);
        for r in &mut self.state.config.data[0x60..0x64] {
            *r &= 0x8F;
        }
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::PortIo;
    use crate::pci::PciBus;

    #[test]
    fn ids_and_pirq_routing() {
        let isa = Piix3::new();
        let routes = isa.routing();
        let mut bus = PciBus::new(None);
        bus.add(PIIX3_DEV, PIIX3_ISA_FUNC, Box::new(isa)).unwrap();
        bus.write(0xCF8, 4, 0x8000_0800);
        assert_eq!(bus.read(0xCFC, 4), 0x7000_8086);
        bus.write(0xCF8, 4, 0x8000_080C);
        assert_eq!(bus.read(0xCFE, 1), 0x80, "multi-function");
        bus.write(0xCF8, 4, 0x8000_0860);
        assert_eq!(bus.read(0xCFC, 4), 0x8080_8080);
        assert_eq!(routes.irq_of_pirq(0), None);
        // SeaBIOS's choice: PIRQA/B -> 10, PIRQC/D -> 11.
        bus.write(0xCFC, 4, 0x0B0B_0A0A);
        assert_eq!(routes.irq_of_pirq(0), Some(10));
        assert_eq!(routes.irq_of_pirq(3), Some(11));
        assert_eq!(routes.irq_of_pin(1, 1), Some(10), "00:01 INTA -> PIRQB");
        assert_eq!(routes.irq_of_pin(2, 1), Some(11));
        assert_eq!(routes.irq_of_pin(2, 0), None);
        bus.write(0xCFC, 1, 0x72); // reserved bits dropped, IRQ 2 invalid
        assert_eq!(bus.read(0xCFC, 1), 0x02);
        assert_eq!(routes.irq_of_pirq(0), None);
        // The IDE slot is free for the IDE function.
        assert!(bus
            .add(
                PIIX3_DEV,
                PIIX3_IDE_FUNC,
                Box::new(crate::pci::PlainFunction::new(ConfigSpace::new(
                    0x8086, 0x7010, 0x010180, 0, 0
                )))
            )
            .is_ok());
    }
}
