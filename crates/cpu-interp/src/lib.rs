//! The reference interpreter for the i686: integer ISA, x87, real,
//! protected and virtual-8086 mode.
//!
//! Guest code is decoded with `iced-x86` into cached blocks (`decode`),
//! executed by small per-form handlers (`ops`, `sys`, `x87`) found through
//! one table (`dispatch`), with lazy arithmetic flags (`flags`). All guest
//! memory goes through `mmu`. `CpuState` is the plain-data state the
//! translator shares.
//!
//! Not modelled: SMM, the local APIC, machine checks, caches, SSE.

pub mod bus;
pub mod cpu;
pub mod cpuid;
pub mod debugreg;
pub mod decode;
pub mod dispatch;
pub mod driver;
pub mod exception;
pub mod flags;
pub mod harness;
pub mod interp;
pub mod ops;
pub mod state;
pub mod sys;
pub mod x87;

pub use bus::{Bus, Engine, NullBus, Stop};
pub use cpu::Cpu;
pub use exception::Exception;
pub use interp::Interpreter;
pub use state::CpuState;
