//! The standard PC port map, assembled: every device of this crate created,
//! connected to the PIC pair and the shared system-control lines, and
//! registered on one [`PortBus`]. The machine may use this or wire devices
//! itself; VGA (and later IDE/floppy) are registered by the machine on the
//! same bus.
//!
//! Port map: DMA 0x00-0x0F/0xC0-0xDF/0x81-0x8F, PIC 0x20/0x21/0xA0/0xA1 and
//! ELCR 0x4D0/0x4D1, PIT 0x40-0x43 and port B 0x61, 8042 0x60/0x64, CMOS
//! 0x70/0x71, POST 0x80, port A 0x92, COM1 0x3F8 (IRQ4), COM2 0x2F8 (IRQ3),
//! debug console 0xE9, SeaBIOS log 0x402, fw_cfg 0x510/0x511, PCI 0xCF8-0xCFF
//! with i440FX at 00:00.0 and PIIX3 at 00:01.0.

use std::sync::{Arc, Mutex};

use crate::bus::{lock, BusError, PortBus, SharedDevice};
use crate::clock::SharedClock;
use crate::cmos::{Cmos, CmosConfig};
use crate::debugport::{DebugCon, PostPort};
use crate::dma::Dma;
use crate::fw_cfg::FwCfg;
use crate::i440fx::{I440fx, PamCallback};
use crate::i8042::I8042;
use crate::irq::{IrqController, IrqLine};
use crate::pci::{PciBus, PciError};
use crate::pic::PicPair;
use crate::piix3::{Piix3, PirqRouting, PIIX3_DEV, PIIX3_ISA_FUNC};
use crate::pit::Pit;
use crate::port92::Port92;
use crate::sink::{ByteSink, NullSink};
use crate::sysctl::SystemControl;
use crate::uart::{SerialBackend, Uart, COM1, COM2};

/// What the machine chooses when building the platform.
pub struct PlatformConfig {
    pub cmos: CmosConfig,
    pub cpus: u16,
    pub com1: Box<dyn SerialBackend>,
    pub com2: Box<dyn SerialBackend>,
    /// Port 0xE9.
    pub debugcon: Box<dyn ByteSink>,
    /// Port 0x402.
    pub firmware_log: Box<dyn ByteSink>,
    pub post_log: Option<Box<dyn ByteSink>>,
    /// PAM changes of the i440FX; `None` leaves PCI out (an ISA-only PC).
    pub pam: Option<PamCallback>,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            cmos: CmosConfig::default(),
            cpus: 1,
            com1: Box::new(NullSink),
            com2: Box::new(NullSink),
            debugcon: Box::new(NullSink),
            firmware_log: Box::new(NullSink),
            post_log: None,
            pam: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Pci(#[from] PciError),
}

/// Handles to every device, for the machine's run loop and front ends.
pub struct Platform {
    pub bus: PortBus,
    pub pic: Arc<Mutex<PicPair>>,
    pub pit: Arc<Mutex<Pit>>,
    pub cmos: Arc<Mutex<Cmos>>,
    pub kbc: Arc<Mutex<I8042>>,
    pub com1: Arc<Mutex<Uart>>,
    pub com2: Arc<Mutex<Uart>>,
    pub dma: Arc<Mutex<Dma>>,
    pub post: Arc<Mutex<PostPort>>,
    pub fw_cfg: Arc<Mutex<FwCfg>>,
    pub pci: Option<Arc<Mutex<PciBus>>>,
    pub pirq: Option<Arc<PirqRouting>>,
    pub sys: Arc<SystemControl>,
}

fn reg<T: crate::bus::PortIo + 'static>(
    bus: &mut PortBus,
    ranges: &[(u16, u16)],
    name: &'static str,
    dev: &Arc<Mutex<T>>,
) -> Result<(), BusError> {
    for &(a, b) in ranges {
        let shared: SharedDevice = dev.clone();
        bus.register(a, b, name, shared)?;
    }
    Ok(())
}

impl Platform {
    pub fn new(cfg: PlatformConfig, clock: SharedClock) -> Result<Self, PlatformError> {
        let sys = SystemControl::new();
        let pic = Arc::new(Mutex::new(PicPair::new()));
        let ctrl: Arc<dyn IrqController> = pic.clone();
        let line = |n| IrqLine::new(ctrl.clone(), n);
        let pit = Arc::new(Mutex::new(Pit::new(clock.clone(), line(0))));
        let cmos = Arc::new(Mutex::new(Cmos::new(&cfg.cmos, clock.clone(), line(8))));
        let kbc = Arc::new(Mutex::new(I8042::new(sys.clone(), line(1), line(12))));
        let com1 = Arc::new(Mutex::new(Uart::new(cfg.com1, line(4), clock.clone())));
        let com2 = Arc::new(Mutex::new(Uart::new(cfg.com2, line(3), clock.clone())));
        let dma = Arc::new(Mutex::new(Dma::new()));
        let post = Arc::new(Mutex::new(PostPort::new(cfg.post_log)));
        let port92 = Arc::new(Mutex::new(Port92::new(sys.clone())));
        let debugcon = Arc::new(Mutex::new(DebugCon::new(cfg.debugcon)));
        let fwlog = Arc::new(Mutex::new(DebugCon::new(cfg.firmware_log)));
        let fw_cfg = Arc::new(Mutex::new(FwCfg::new(cfg.cmos.ram_bytes, cfg.cpus)));

        let mut bus = PortBus::new();
        reg(
            &mut bus,
            &[(0x00, 0x0F), (0xC0, 0xDF), (0x81, 0x8F)],
            "dma",
            &dma,
        )?;
        reg(
            &mut bus,
            &[(0x20, 0x21), (0xA0, 0xA1), (0x4D0, 0x4D1)],
            "pic",
            &pic,
        )?;
        reg(&mut bus, &[(0x40, 0x43), (0x61, 0x61)], "pit", &pit)?;
        reg(&mut bus, &[(0x60, 0x60), (0x64, 0x64)], "i8042", &kbc)?;
        reg(&mut bus, &[(0x70, 0x71)], "cmos", &cmos)?;
        reg(&mut bus, &[(0x80, 0x80)], "post", &post)?;
        reg(&mut bus, &[(0x92, 0x92)], "port92", &port92)?;
        reg(&mut bus, &[(COM1, COM1 + 7)], "com1", &com1)?;
        reg(&mut bus, &[(COM2, COM2 + 7)], "com2", &com2)?;
        reg(&mut bus, &[(0xE9, 0xE9)], "debugcon", &debugcon)?;
        reg(&mut bus, &[(0x402, 0x402)], "firmware-log", &fwlog)?;
        reg(&mut bus, &[(0x510, 0x511)], "fw_cfg", &fw_cfg)?;

        let (pci, pirq) = match cfg.pam {
            Some(pam) => {
                let mut p = PciBus::new(Some(sys.clone()));
                p.add(0, 0, Box::new(I440fx::new(pam)))?;
                let isa = Piix3::new();
                let pirq = isa.routing();
                p.add(PIIX3_DEV, PIIX3_ISA_FUNC, Box::new(isa))?;
                let p = Arc::new(Mutex::new(p));
                reg(&mut bus, &[(0xCF8, 0xCFF)], "pci", &p)?;
                (Some(p), Some(pirq))
            }
            None => (None, None),
        };

        Ok(Platform {
            bus,
            pic,
            pit,
            cmos,
            kbc,
            com1,
            com2,
            dma,
            post,
            fw_cfg,
            pci,
            pirq,
            sys,
        })
    }

    /// Runs the timed devices up to `now_ns`; returns the earliest time any
    /// of them wants to be polled again.
    pub fn poll(&self, now_ns: u64) -> Option<u64> {
        [
            lock(&self.pit).poll(now_ns),
            lock(&self.cmos).poll(now_ns),
            lock(&self.com1).poll(now_ns),
            lock(&self.com2).poll(now_ns),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The CPU's INTR line.
    pub fn interrupt_pending(&self) -> bool {
        lock(&self.pic).interrupt_pending()
    }

    /// The interrupt-acknowledge cycle: the vector to deliver.
    pub fn acknowledge_interrupt(&self) -> u8 {
        lock(&self.pic).acknowledge()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use crate::sink::CaptureSink;
    use crate::testutil::XorShift;

    fn platform() -> (Platform, Arc<FakeClock>, CaptureSink, CaptureSink) {
        let clock = FakeClock::new(0);
        let com1 = CaptureSink::new();
        let log = CaptureSink::new();
        let cfg = PlatformConfig {
            com1: Box::new(com1.clone()),
            firmware_log: Box::new(log.clone()),
            pam: Some(Box::new(|_, _, _, _| {})),
            ..Default::default()
        };
        (Platform::new(cfg, clock.clone()).unwrap(), clock, com1, log)
    }

    #[test]
    fn timer_interrupt_reaches_the_cpu() {
        let (p, clock, com1, log) = platform();
        let b = &p.bus;
        for (port, v) in [
            (0x20, 0x11),
            (0x21, 0x08),
            (0x21, 0x04),
            (0x21, 0x01),
            (0x21, 0xFE),
        ] {
            b.write(port, 1, v);
        }
        b.write(0x43, 1, 0x34);
        b.write(0x40, 1, 0x00);
        b.write(0x40, 1, 0x00); // 65536: 54.9 ms
        let next = p.poll(clock.now_ns()).unwrap();
        if p.interrupt_pending() {
            // Programming raised OUT0: one initial request.
            assert_eq!(p.acknowledge_interrupt(), 0x08);
            b.write(0x20, 1, 0x20);
        }
        assert!(!p.interrupt_pending());
        clock.set(next);
        p.poll(clock.now_ns());
        assert!(p.interrupt_pending());
        assert_eq!(p.acknowledge_interrupt(), 0x08);
        b.write(0x3F8, 1, b'Z' as u32);
        b.write(0x402, 1, b'L' as u32);
        assert_eq!(com1.contents(), b"Z");
        assert_eq!(log.contents(), b"L");
        assert_eq!(b.read(0x402, 1), 0xE9);
        b.write(0xCF8, 4, 0x8000_0000);
        assert_eq!(b.read(0xCFC, 4), 0x1237_8086);
    }

    #[test]
    fn keyboard_interrupt_through_pic() {
        let (p, _, _, _) = platform();
        let b = &p.bus;
        for (port, v) in [
            (0x20, 0x11),
            (0x21, 0x08),
            (0x21, 0x04),
            (0x21, 0x01),
            (0x21, 0xFD),
        ] {
            b.write(port, 1, v);
        }
        lock(&p.kbc).key_event(crate::keycode::KeyCode::Enter, true);
        assert!(p.interrupt_pending());
        assert_eq!(p.acknowledge_interrupt(), 0x09);
        assert_eq!(b.read(0x60, 1), 0x1C);
    }

    /// The robustness check: random writes and reads on every port.
    #[test]
    fn every_port_with_garbage() {
        let (p, clock, _, _) = platform();
        let mut rng = XorShift(0x1234_5678);
        for round in 0..3u32 {
            for port in 0..=0xFFFFu16 {
                let r = rng.next();
                let size = [1u8, 2, 4][(r % 3) as usize];
                p.bus.write(port, size, (r >> 16) as u32);
                let _ = p.bus.read(port, size);
            }
            clock.advance(10_000_000 * (round as u64 + 1));
            p.poll(clock.now_ns());
            for _ in 0..20 {
                if p.interrupt_pending() {
                    p.acknowledge_interrupt();
                }
            }
            p.sys.take_reset();
        }
    }
}
