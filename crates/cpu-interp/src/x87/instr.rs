//! Registration of the x87 (and MMX/FXSR) instruction handlers with the
//! interpreter's dispatch table; the handlers live in the `ins_*` files.

use crate::dispatch::Table;

/// CPUID leaf-1 EDX bits this module implements: the FPU bit is claimed by
/// `cpuid.rs`; FXSR (FXSAVE/FXRSTOR, CR4.OSFXSR) is implemented here. MMX is
/// not yet.
pub const CPUID_FEATURES: u32 = crate::cpuid::feat::FXSR;

/// Registers the x87/FXSR handlers.
pub fn register(t: &mut Table) {
    super::ins_arith::register(t);
    super::ins_move::register(t);
    super::ins_cmp::register(t);
    super::ins_ctrl::register(t);
}
