//! The x87 FPU (being written, issue 5).
