//! The x87 FPU: the 80-bit extended-precision numerics core (exact, in
//! software, following the x87's IEEE 754 implementation rather than the
//! host's `f64`), its architectural state and its instruction handlers.
//!
//! Numerics: `f80` (the encoding), `env` (control word in, status bits
//! out), `round` (the one rounding routine), `unpack` (operand screening and
//! NaN rules), `arith` (add/sub/mul/div/sqrt), `convert` (memory formats and
//! integer rounding), `misc` (FSCALE, FXTRACT, FPREM/FPREM1), `compare`
//! (FCOM/FUCOM/FTST/FXAM). All of it is checked bit for bit against the
//! host's x87 by `test-suites/tests/x87_oracle.rs`.
//!
//! Machine side: `state` (the register file `CpuState` embeds), `exec`
//! (shared handler plumbing: #NM, #MF/FERR#, status folding, stack faults,
//! memory operands), the handler families `ins_arith`, `ins_move`,
//! `ins_cmp`, `ins_ctrl`, registered by `instr`.
//!
//! Not yet: MMX, and the transcendental instructions.

pub mod arith;
pub mod compare;
pub mod convert;
pub mod env;
pub mod exec;
pub mod f80;
pub mod ins_arith;
pub mod ins_cmp;
pub mod ins_ctrl;
pub mod ins_move;
pub mod instr;
pub mod misc;
pub mod round;
pub mod state;
pub mod unpack;

pub use env::Ctx;
pub use f80::{Class, F80};
pub use instr::{register, CPUID_FEATURES};
pub use state::FpuState;
