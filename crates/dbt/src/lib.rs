//! Dynamic binary translator: hot guest blocks to host x86-64 code via dynasm-rs (to be built, issue 7).
