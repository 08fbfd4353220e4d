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

pub mod bus;
pub mod vga;

pub use bus::{PortBus, PortIo};
