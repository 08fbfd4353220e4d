//! The PC: wiring of CPU, memory and devices (`board`), firmware placement
//! (`roms`), direct Linux boot (`linux`), the clock (`clock`), the run loop
//! (`run`), and the front ends of the `oxpc` command: headless with COM1
//! on the terminal (`terminal`) and a window (`window`).
//!
//! Known gap: `cpu_interp::Bus` gives the machine no access to the memory
//! map during a port write, so A20 and PAM changes are applied at the next
//! slice boundary (at most [`run::SLICE_INSNS`] instructions later). To
//! keep SeaBIOS's "copy the BIOS into shadow RAM" step correct anyway, the
//! shadow area starts as writable RAM holding the BIOS. Not modelled yet:
//! snapshots of machine state, the translator engine, SMP.

pub mod board;
pub mod bus;
pub mod clock;
pub mod config;
pub mod irq;
pub mod linux;
pub mod pci_vga;
pub mod roms;
pub mod run;
pub mod screen;
pub mod sinks;
pub mod terminal;
pub mod window;

pub use board::{Machine, Outputs};
pub use config::{ClockMode, MachineConfig, VgaKind};
pub use run::{Exit, Input, RunLimits};
