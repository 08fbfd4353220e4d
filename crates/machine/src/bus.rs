//! The CPU's view of the PC's I/O side: `cpu_interp::Bus` over the port bus
//! and the PIC pair, plus FERR# routed to IRQ13, plus the memory-map side
//! effects of port writes: the A20 gate (8042 output port, port 0x92) and
//! the i440FX PAM registers reach the `Mmu` in [`Bus::sync_memory`], which
//! the CPU calls right after every OUT/OUTS, so the next instruction sees
//! the new map (SeaBIOS writes PAM, then at once copies itself into the
//! shadow RAM it just opened).
//!
//! Port accesses lock only the device they reach; the INTR line is an
//! atomic (see `irq.rs`), so nothing here locks per instruction. Not
//! modelled: memory-map changes made by anything but a port write (there
//! are none on this board).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cpu_interp::Bus;
use devices::bus::lock;
use devices::sysctl::SystemControl;
use devices::{IrqLine, PortBus};

use crate::irq::Interrupts;
use crate::tsc::HostTsc;

/// A PAM window change: (base, length, reads from RAM, writes to RAM).
pub type PamChange = (u32, u32, bool, bool);

/// Memory-map changes devices have asked for and the `Mmu` has not seen
/// yet: the A20 gate's wanted state lives in [`SystemControl`], PAM
/// changes are queued by the i440FX's callback ([`MemorySync::pam_hook`]).
#[derive(Clone)]
pub struct MemorySync {
    sys: Arc<SystemControl>,
    pam_queue: Arc<Mutex<Vec<PamChange>>>,
    pam_dirty: Arc<AtomicBool>,
}

impl MemorySync {
    pub fn new(sys: Arc<SystemControl>) -> MemorySync {
        MemorySync {
            sys,
            pam_queue: Arc::default(),
            pam_dirty: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The callback for the i440FX: queues a PAM window change.
    pub fn pam_hook(&self) -> impl Fn(u32, u32, bool, bool) + Send + 'static {
        let (q, d) = (self.pam_queue.clone(), self.pam_dirty.clone());
        move |base, len, r, w| {
            lock(&q).push((base, len, r, w));
            d.store(true, Ordering::Release);
        }
    }

    /// Applies the pending changes; two atomic loads when there are none.
    pub fn apply(&self, mmu: &mut mmu::Mmu) {
        let a20 = self.sys.a20();
        if a20 != mmu.phys.a20_enabled() {
            mmu.set_a20(a20);
        }
        if self.pam_dirty.swap(false, Ordering::AcqRel) {
            let changes = std::mem::take(&mut *lock(&self.pam_queue));
            for (base, len, r, w) in changes {
                mmu.set_shadow(base, len, r, w);
            }
        }
    }

    /// Drops queued PAM changes (system reset: the registers go to 0).
    pub fn discard_pam(&self) {
        lock(&self.pam_queue).clear();
        self.pam_dirty.store(false, Ordering::Release);
    }
}

pub struct PcBus {
    pub ports: PortBus,
    pub irq: Arc<Interrupts>,
    irq13: IrqLine,
    pub memory: MemorySync,
    /// RDTSC in host time (see `tsc.rs`).
    pub tsc: HostTsc,
    /// Port I/O operations since start (statistics).
    pub io_count: u64,
}

impl PcBus {
    pub fn new(ports: PortBus, irq: Arc<Interrupts>, memory: MemorySync, tsc: HostTsc) -> PcBus {
        let irq13 = IrqLine::new(irq.clone(), 13);
        PcBus {
            ports,
            irq,
            irq13,
            memory,
            tsc,
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

    fn sync_memory(&mut self, mmu: &mut mmu::Mmu) {
        self.memory.apply(mmu);
    }

    fn read_tsc(&mut self, icount: u64, tsc_offset: u64) -> u64 {
        self.tsc.read(icount, tsc_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::PicPorts;
    use std::sync::Mutex;

    fn test_tsc() -> HostTsc {
        let clock =
            crate::clock::MachineClock::new(crate::config::ClockMode::Virtual { ns_per_insn: 10 });
        HostTsc::new(clock)
    }

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
        let mut bus = PcBus::new(
            ports,
            irq,
            MemorySync::new(SystemControl::new()),
            test_tsc(),
        );
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

    #[test]
    fn memory_changes_reach_the_mmu_on_sync() {
        let sys = SystemControl::new();
        let sync = MemorySync::new(sys.clone());
        let mut bus = PcBus::new(PortBus::new(), Interrupts::new(), sync.clone(), test_tsc());
        let mut mmu = mmu::Mmu::new(mmu::PhysMem::new(2 << 20).unwrap());
        mmu.phys.write_u8(0x10_0000, 0x5A);
        sys.set_a20(false);
        (sync.pam_hook())(0xF0000, 0x10000, true, true);
        assert!(mmu.phys.a20_enabled(), "nothing happens before the sync");
        bus.sync_memory(&mut mmu);
        assert!(!mmu.phys.a20_enabled());
        assert_eq!(mmu.phys.read_u8(0x10_0000), mmu.phys.read_u8(0));
        assert_eq!(mmu.phys.shadow_flags(0xF0000), (true, true));
        (sync.pam_hook())(0xF0000, 0x10000, false, false);
        sync.discard_pam();
        bus.sync_memory(&mut mmu);
        assert_eq!(mmu.phys.shadow_flags(0xF0000), (true, true), "discarded");
    }
}
