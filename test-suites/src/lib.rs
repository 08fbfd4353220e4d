//! Conformance runners and OS boot tests: the conformance suite generic
//! over the CPU engine (`engine_suite`, instantiated per engine by
//! `tests/engines.rs`), the host-CPU oracle for the
//! integer instruction set (`oracle`, run on every engine), the x87 oracle (its own test target
//! includes `x87_oracle` by path) and the interpreter fuzz test
//! (`tests/fuzz_interp.rs`), which share the deterministic generator in
//! `rng`.
//!
//! The oracle needs an x86-64 Linux host (it runs guest instructions
//! natively in a 32-bit compatibility-mode segment); elsewhere it is not
//! built.

pub mod engine_suite;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod oracle;
pub mod rng;
