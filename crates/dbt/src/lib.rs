//! The dynamic binary translator: hot guest blocks become host x86-64 code.
//!
//! Models: block selection by hotness (the interpreter's per-block
//! `exec_count`), translation of the interpreter's decoded blocks with
//! `dynasm` (guest GPRs pinned in host registers, guest flags kept in host
//! EFLAGS between producer and consumer, the softmmu TLB fast path inlined
//! for memory operands), a translation cache keyed by physical EIP and the
//! mode bits the code depends on, direct-jump chaining with unchaining on
//! invalidation, an indirect-jump lookup, callouts to the interpreter's
//! handlers for everything not translated natively (and as the slow path of
//! every native memory access), self-modifying-code invalidation shared with
//! the interpreter, and a lockstep engine comparing both engines block by
//! block.
//!
//! Leaves out: x87/MMX code generation (callouts), register allocation
//! across more than one block, a return-address stack, translation of
//! 16-bit stack operations (callouts), and concurrent execution (one thread
//! owns the engine and the code buffer).

pub mod cache;
pub mod codebuf;
pub mod disasm;
pub mod emit;
pub mod engine;
pub mod key;
pub mod liveness;
pub mod lockstep;
pub mod runtime;
pub mod stats;

pub use engine::Dbt;
pub use lockstep::{Lockstep, Mismatch};
pub use stats::Stats;
