//! Benchmarks: guest workloads (`workloads/`, C programs built for the
//! guest) and the interpreter's own CPU-bound loops (`interp_loops`, run
//! by the `interp-mips` binary). The comparison against native and peer
//! emulators is the separate `bench/harness` crate. Performance is
//! measured here, never in timed unit tests.

pub mod interp_loops;
