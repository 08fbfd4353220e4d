//! The PC: wiring of CPU, memory and devices (`board`), firmware placement
//! (`roms`), direct Linux boot (`linux`), the clock (`clock`), the run loop
//! (`run`), and the front ends of the `oxpc` command: headless with COM1
//! on the terminal (`terminal`) and a window (`window`); scripted consoles
//! for tests (`script`).
//!
//! A20 and PAM changes reach the memory map right after the OUT that made
//! them (`cpu_interp::Bus::sync_memory`, see `bus.rs`), so the shadow area
//! starts as ROM and SeaBIOS copies itself into shadow RAM, as on QEMU's
//! i440FX. Not modelled yet:
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
pub mod script;
pub mod sinks;
pub mod terminal;
pub mod tsc;
pub mod window;

pub use board::{Machine, Outputs};
pub use config::{ClockMode, MachineConfig, VgaKind};
pub use run::{Exit, Input, RunLimits};
