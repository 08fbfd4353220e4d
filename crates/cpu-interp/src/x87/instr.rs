//! Registration of the x87 (and MMX/FXSR) instruction handlers with the
//! interpreter's dispatch table; the handlers live in the `ins_*` files.

use crate::dispatch::Table;

/// CPUID leaf-1 EDX bits this module implements: the FPU bit is claimed by
/// `cpuid.rs`; FXSR (FXSAVE/FXRSTOR) and MMX are implemented here.
pub const CPUID_FEATURES: u32 = crate::cpuid::feat::FXSR | crate::cpuid::feat::MMX;

/// Registers the x87/FXSR handlers.
pub fn register(t: &mut Table) {
    super::ins_arith::register(t);
    super::ins_move::register(t);
    super::ins_cmp::register(t);
    super::ins_ctrl::register(t);
    super::ins_trans::register(t);
    super::mmx::register(t);
}
