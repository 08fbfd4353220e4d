//! System-level architecture: segment loading with descriptor checks,
//! interrupt and exception delivery, I/O permission, and the privileged
//! instructions.

pub mod interrupt;
pub mod interrupt_pm;
pub mod io;
pub mod segment;

use crate::dispatch::Table;

/// Registers the system instruction families.
pub fn register(t: &mut Table) {
    io::register(t);
    segment::register(t);
    interrupt::register(t);
}
