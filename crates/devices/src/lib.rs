//! The PC's devices, one per file, each behind the [`PortIo`] trait.
//!
//! Models: 8259A PIC pair, 8254 PIT, MC146818 CMOS/RTC, 8042 keyboard
//! controller with PS/2 keyboard and mouse, 16550A UARTs, 8237 DMA, POST/debug
//! ports, PCI configuration mechanism #1 with i440FX/PIIX3, QEMU's fw_cfg,
//! and VGA with the Bochs VBE interface. Devices never read the wall clock:
//! time is injected by the machine. Devices never own the CPU or the window.
//!
//! A guest can program any device with any value: unknown ports and bad
//! commands are logged and ignored, never a panic.
//!
//! Wiring: devices raise interrupts through [`IrqLine`]s into the
//! [`PicPair`]; A20 and reset requests go to the shared [`SystemControl`];
//! timed devices (PIT, CMOS, UARTs) are advanced by the machine calling their
//! `poll(now_ns)`, which returns when they next need it. [`Platform`] builds
//! the standard PC port map from all of them.

pub mod bus;
pub mod clock;
pub mod cmos;
pub mod debugport;
pub mod disk;
pub mod dma;
pub mod floppy;
pub mod fw_cfg;
pub mod i440fx;
pub mod i8042;
pub mod ide;
pub mod irq;
pub mod keycode;
pub mod pci;
pub mod pic;
pub mod piix3;
pub mod pit;
pub mod platform;
pub mod port92;
pub mod ps2kbd;
pub mod ps2mouse;
pub mod sink;
pub mod sysctl;
pub mod uart;
pub mod vga;

#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod testutil;

pub use bus::{PortBus, PortIo};
pub use clock::{Clock, FakeClock, SharedClock};
pub use dma::{Dma, DmaDirection, GuestMemory};
pub use irq::{IrqController, IrqLine};
pub use keycode::KeyCode;
pub use pci::{ConfigSpace, PciBus, PciFunction};
pub use pic::PicPair;
pub use platform::{Platform, PlatformConfig};
pub use sink::{ByteSink, CaptureSink, FileSink, NullSink, StdoutSink};
pub use sysctl::SystemControl;
