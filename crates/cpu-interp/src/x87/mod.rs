//! The x87 FPU and MMX: the 80-bit extended-precision numerics core
//! (exact, in software, following the x87's own IEEE 754 implementation
//! rather than the host's `f64`), the architectural state and the
//! instruction handlers.
//!
//! Numerics: `f80` (the encoding), `env` (control word in, status bits
//! out), `round` (the one rounding routine), `unpack` (operand screening and
//! NaN rules), `arith` (add/sub/mul/div/sqrt), `convert` (memory formats and
//! integer rounding), `misc` (FSCALE, FXTRACT, FPREM/FPREM1), `compare`
//! (FCOM/FUCOM/FTST/FXAM), `consts` (FLDPI...), `trans` (the
//! transcendentals, on the 128-bit working format `wide`), `mmx_ops` (MMX
//! lane arithmetic). All of it is checked against the host's x87 by
//! `test-suites/tests/x87_oracle.rs`, bit for bit (transcendentals: 1 ulp).
//!
//! Why no soft-float crate: `rustc_apfloat` has no precision control with
//! the extended exponent range, no square root, no DE/C1 and LLVM's NaN
//! rules; Berkeley SoftFloat (`softfloat-sys`) keeps rounding mode,
//! precision and flags in C globals, has no DE or C1 and is built for one
//! NaN convention. The x87 specifics (precision control, pseudo-denormals,
//! unsupported encodings, rebiased unmasked results, operand order of
//! exceptions) are most of the work either way, so the core is our own,
//! with u128 arithmetic and one rounding routine.
//!
//! Machine side: `state` (the register file `CpuState` embeds), `exec`
//! (shared handler plumbing: #NM, #MF/FERR#, status folding, stack faults,
//! FIP/FDP/FOP, memory operands), the handler families `ins_arith`,
//! `ins_move`, `ins_cmp`, `ins_ctrl`, `ins_trans` and `mmx`, registered by
//! `instr`.

pub mod arith;
pub mod compare;
pub mod consts;
pub mod convert;
pub mod env;
pub mod exec;
pub mod f80;
pub mod ins_arith;
pub mod ins_cmp;
pub mod ins_ctrl;
pub mod ins_move;
pub mod ins_trans;
pub mod instr;
pub mod misc;
pub mod mmx;
pub mod mmx_ops;
pub mod round;
pub mod state;
pub mod trans;
pub mod unpack;
pub mod wide;

pub use env::Ctx;
pub use f80::{Class, F80};
pub use instr::{register, CPUID_FEATURES};
pub use state::FpuState;
