//! The x87 FPU: the 80-bit extended-precision numerics core (exact, in
//! software, following the x87's IEEE 754 implementation rather than the
//! host's `f64`), and its architectural state.
//!
//! Modules: `f80` (the encoding), `env` (control word in, status bits out),
//! `round` (the one rounding routine), `unpack` (operand screening and NaN
//! rules), `arith` (add/sub/mul/div/sqrt), `convert` (memory formats and
//! integer rounding), `misc` (FSCALE, FXTRACT, FPREM/FPREM1), `compare`
//! (FCOM/FUCOM/FTST/FXAM), `state` (the register file CpuState embeds).

pub mod arith;
pub mod compare;
pub mod convert;
pub mod env;
pub mod f80;
pub mod instr;
pub mod misc;
pub mod round;
pub mod state;
pub mod unpack;

pub use instr::{register, CPUID_FEATURES};
pub use state::FpuState;

pub use env::Ctx;
pub use f80::{Class, F80};
