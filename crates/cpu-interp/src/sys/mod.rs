//! System-level architecture: segment loading with descriptor checks, far
//! transfers and call gates, interrupt and exception delivery, IRET,
//! hardware task switching, I/O permission, and the privileged
//! instructions (control, debug and model-specific registers, descriptor
//! tables, LAR/LSL/VERR/VERW/ARPL).
//!
//! Not modelled: VME/PVI, SYSENTER/SYSEXIT (CPUID claims neither),
//! DR0-3 breakpoints, SMM. Single-step needs the engine to call
//! `interrupt::single_step_trap`.

pub mod access;
pub mod callgate;
pub mod control;
pub mod descriptor;
pub mod far;
pub mod frame;
pub mod interrupt;
pub mod interrupt_pm;
pub mod io;
pub mod iret;
pub mod msr;
pub mod segment;
pub mod sreg;
pub mod tables;
pub mod task;
pub mod tss;

use crate::cpu::Cpu;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};

/// Registers the system instruction families.
pub fn register(t: &mut Table) {
    io::register(t);
    sreg::register(t);
    interrupt::register(t);
    far::register(t);
    control::register(t);
    tables::register(t);
    access::register(t);
    msr::register(t);
}

/// The privilege check of the privileged instructions: #GP(0) unless CPL 0
/// in protected mode (V86 mode runs at CPL 3); always allowed in real mode.
#[inline]
pub fn require_cpl0(cpu: &Cpu) -> Result<()> {
    if cpu.s.protected_mode() && (cpu.s.v86() || cpu.s.cpl != 0) {
        return Err(Exception::GP(0));
    }
    Ok(())
}

/// #UD in real and V86 mode: LLDT, LTR, SLDT, STR, LAR, LSL, VERR, VERW,
/// ARPL exist only in protected mode.
#[inline]
pub fn require_pm(cpu: &Cpu) -> Result<()> {
    if !cpu.s.protected_mode() || cpu.s.v86() {
        return Err(Exception::UD);
    }
    Ok(())
}
