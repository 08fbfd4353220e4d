//! Benchmarks: guest workloads and the harness measuring slowdown against native and peers.
