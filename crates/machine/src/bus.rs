//! The CPU's view of the PC's I/O side: `cpu_interp::Bus` over the port bus
//! and the PIC pair, plus FERR# routed to IRQ13.
//!
//! Port accesses lock only the device they reach; the INTR line is an
//! atomic (see `irq.rs`), so nothing here locks per instruction. Memory
//! side effects of port writes (A20, PAM) are applied by the run loop
//! between slices: `Bus` has no access to the memory map (see the crate
//! header for the gap).

use std::sync::Arc;

use cpu_interp::Bus;
use devices::{IrqLine, PortBus};

use crate::irq::Interrupts;

pub struct PcBus {
    pub ports: PortBus,
    pub irq: Arc<Interrupts>,
    irq13: IrqLine,
    /// Port I/O operations since start (statistics).
    pub io_count: u64,
}

impl PcBus {
    pub fn new(ports: PortBus, irq: Arc<Interrupts>) -> PcBus {
        let irq13 = IrqLine::new(irq.clone(), 13);
        PcBus {
            ports,
            irq,
            irq13,
            io_count: 0,
        }
    }
}

impl Bus for PcBus {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        self.io_count += 1;
        self.ports.read(port, size)
    }

    fn io_write(&mut self, port: u16, size: u8, val: u32) {
        self.io_count += 1;
        self.ports.write(port, size, val)
    }

    fn interrupt_pending(&mut self) -> bool {
        self.irq.pending()
    }

    fn acknowledge_interrupt(&mut self) -> u8 {
        self.irq.acknowledge()
    }

    fn fpu_error(&mut self, asserted: bool) {
        self.irq13.set_level(asserted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::PicPorts;
    use std::sync::Mutex;

    #[test]
    fn ports_and_interrupts() {
        let irq = Interrupts::new();
        let mut ports = PortBus::new();
        ports
            .register(
                0x20,
                0x21,
                "pic1",
                Arc::new(Mutex::new(PicPorts(irq.clone()))),
            )
            .unwrap();
        ports
            .register(
                0xA0,
                0xA1,
                "pic2",
                Arc::new(Mutex::new(PicPorts(irq.clone()))),
            )
            .unwrap();
        let mut bus = PcBus::new(ports, irq);
        assert_eq!(bus.io_read(0x1234, 1), 0xFF, "unclaimed port");
        for (p, v) in [
            (0x20, 0x11),
            (0x21, 0x20),
            (0x21, 0x04),
            (0x21, 0x01),
            (0x21, 0x00),
        ] {
            bus.io_write(p, 1, v);
        }
        for (p, v) in [
            (0xA0, 0x11),
            (0xA1, 0x28),
            (0xA1, 0x02),
            (0xA1, 0x01),
            (0xA1, 0x00),
        ] {
            bus.io_write(p, 1, v);
        }
        assert!(!bus.interrupt_pending());
        bus.fpu_error(true);
        assert!(bus.interrupt_pending());
        assert_eq!(bus.acknowledge_interrupt(), 0x28 + 5);
        assert_eq!(bus.io_count, 11);
    }
}
