//! What the CPU needs from the machine around it, and the engine interface
//! shared by the interpreter and the translator.

use crate::state::CpuState;

/// The machine as seen from the CPU: I/O ports, the INTR line and the
/// FERR#/IRQ13 path. Guest memory (including MMIO) goes through `mmu::Mmu`.
pub trait Bus {
    fn io_read(&mut self, port: u16, size: u8) -> u32;
    fn io_write(&mut self, port: u16, size: u8, val: u32);
    /// The INTR line: an unmasked interrupt is waiting at the PIC.
    fn interrupt_pending(&mut self) -> bool;
    /// INTA cycle: the vector of the highest-priority pending interrupt.
    fn acknowledge_interrupt(&mut self) -> u8;
    /// FERR# from the x87 with CR0.NE = 0: the PC routes it to IRQ13.
    fn fpu_error(&mut self, _asserted: bool) {}
    /// Applies what the port write just done changed in the memory map
    /// (A20 gate, PAM shadowing), so the next instruction already sees it.
    /// Called by OUT and OUTS right after [`Bus::io_write`].
    fn sync_memory(&mut self, _mmu: &mut mmu::Mmu) {}
    /// The value RDTSC (and RDMSR 0x10) returns. The CPU's own TSC is
    /// `icount + tsc_offset`, one tick per retired instruction; a machine
    /// running in host time returns a value that follows the host clock
    /// instead (never less than the CPU's, never going backwards).
    fn read_tsc(&mut self, icount: u64, tsc_offset: u64) -> u64 {
        icount.wrapping_add(tsc_offset)
    }
}

/// Why an engine returned to its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The instruction budget is used up.
    Budget,
    /// HLT with no interrupt pending; the caller advances time and retries.
    Halted,
    /// Triple fault: the machine must reset.
    Shutdown,
    /// `CpuState::exit_request` was set from outside (e.g. the machine wants
    /// to service devices).
    ExitRequest,
}

/// A CPU engine: runs guest code until the budget (in retired
/// instructions) is used up or something needs the machine's attention.
pub trait Engine {
    fn run(
        &mut self,
        cpu: &mut CpuState,
        mmu: &mut mmu::Mmu,
        bus: &mut dyn Bus,
        budget: u64,
    ) -> Stop;

    /// A short name for logs and reports ("interp", "dbt", ...).
    fn name(&self) -> &'static str {
        "engine"
    }

    /// What the engine has to say at the end of a run (translation
    /// statistics, a lockstep mismatch), for `oxpc run --dbt-stats`.
    fn report(&self) -> Option<String> {
        None
    }

    /// A lockstep engine's first difference between its two engines.
    fn mismatch(&self) -> Option<String> {
        None
    }
}

/// A bus with nothing on it: ports read all ones, no interrupts. For tests.
#[derive(Default)]
pub struct NullBus {
    pub writes: Vec<(u16, u8, u32)>,
}

impl Bus for NullBus {
    fn io_read(&mut self, _port: u16, size: u8) -> u32 {
        match size {
            1 => 0xFF,
            2 => 0xFFFF,
            _ => 0xFFFF_FFFF,
        }
    }
    fn io_write(&mut self, port: u16, size: u8, val: u32) {
        self.writes.push((port, size, val));
    }
    fn interrupt_pending(&mut self) -> bool {
        false
    }
    fn acknowledge_interrupt(&mut self) -> u8 {
        0
    }
}
