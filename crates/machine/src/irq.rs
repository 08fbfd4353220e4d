//! The PIC pair as the machine shares it: one mutex around the 8259s plus
//! an atomic copy of their INTR output, so the CPU's per-block "is an
//! interrupt pending?" question is one load instead of a lock.
//!
//! Every path that changes the PICs (device IRQ lines, port I/O, the
//! acknowledge cycle) goes through here and refreshes the copy. Not
//! modelled: an I/O APIC.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use devices::bus::lock;
use devices::{IrqController, PicPair, PortIo};

/// The 8259 pair with a lock-free INTR line.
#[derive(Default)]
pub struct Interrupts {
    pic: Mutex<PicPair>,
    intr: AtomicBool,
}

impl Interrupts {
    pub fn new() -> Arc<Interrupts> {
        Arc::new(Interrupts::default())
    }

    fn update(&self, pic: &PicPair) {
        self.intr.store(pic.interrupt_pending(), Ordering::Release);
    }

    /// The master's INTR output.
    #[inline]
    pub fn pending(&self) -> bool {
        self.intr.load(Ordering::Acquire)
    }

    /// The INTA cycle.
    pub fn acknowledge(&self) -> u8 {
        let mut p = lock(&self.pic);
        let v = p.acknowledge();
        self.update(&p);
        v
    }

    /// A copy of the PIC state (debugging, snapshots).
    pub fn snapshot(&self) -> PicPair {
        lock(&self.pic).clone()
    }
}

impl IrqController for Interrupts {
    fn set_irq(&self, irq: u8, level: bool) {
        let mut p = lock(&self.pic);
        p.set_irq(irq, level);
        self.update(&p);
    }
}

/// The PIC's ports (0x20-0x21, 0xA0-0xA1, 0x4D0-0x4D1) on the port bus.
pub struct PicPorts(pub Arc<Interrupts>);

impl PortIo for PicPorts {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let mut p = lock(&self.0.pic);
        let v = p.read(port, size);
        self.0.update(&p);
        v
    }

    fn write(&mut self, port: u16, size: u8, val: u32) {
        let mut p = lock(&self.0.pic);
        p.write(port, size, val);
        self.0.update(&p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intr_follows_pic() {
        let irq = Interrupts::new();
        let mut ports = PicPorts(irq.clone());
        // ICW1-4 for both chips, vectors 0x08 and 0x70, all unmasked.
        for (p, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01)] {
            ports.write(p, 1, v);
        }
        for (p, v) in [(0xA0, 0x11), (0xA1, 0x70), (0xA1, 0x02), (0xA1, 0x01)] {
            ports.write(p, 1, v);
        }
        ports.write(0x21, 1, 0);
        ports.write(0xA1, 1, 0);
        assert!(!irq.pending());
        irq.set_irq(0, true);
        assert!(irq.pending());
        assert_eq!(irq.acknowledge(), 0x08);
        assert!(!irq.pending(), "in service");
        irq.set_irq(0, false);
        irq.set_irq(8, true);
        assert!(!irq.pending(), "IRQ8 waits for EOI of IRQ0");
        ports.write(0x20, 1, 0x20); // EOI
        assert!(irq.pending());
        assert_eq!(irq.acknowledge(), 0x70);
        // Masking withdraws INTR.
        ports.write(0x20, 1, 0x20);
        ports.write(0xA0, 1, 0x20);
        irq.set_irq(8, false);
        irq.set_irq(1, true);
        assert!(irq.pending());
        ports.write(0x21, 1, 0x02);
        assert!(!irq.pending());
    }
}
