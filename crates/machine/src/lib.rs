//! The PC: wiring, ROM loading, run loop, CLI and front ends.
