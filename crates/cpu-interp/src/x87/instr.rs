//! x87 instruction handlers (x87 engineer: register them here).

use crate::dispatch::Table;

/// CPUID leaf-1 EDX bits this module implements (MMX, FXSR once done).
pub const CPUID_FEATURES: u32 = 0;

/// Registers the x87/MMX handlers.
pub fn register(_t: &mut Table) {}
