//! The outer loop every engine shares: when to look at the INTR line, the
//! STI / MOV SS interrupt shadow, EFLAGS.TF single-stepping, hardware
//! breakpoints (`debugreg`), HLT, shutdown and the instruction budget.
//!
//! An engine supplies a [`BlockRunner`]: its fast path (decoded blocks for
//! the interpreter, translated code for the translator) and the
//! interpreter it falls back on. Whenever an instruction must be looked at
//! on its own (inside a shadow, with TF set, with a breakpoint enabled) the
//! loop runs exactly that one instruction through the interpreter, so the
//! fast paths never need to know about any of it.
//!
//! Devices only raise interrupts from port I/O or between slices, so the
//! INTR line is polled on entry and after blocks that changed state.

use mmu::Mmu;

use crate::bus::{Bus, Stop};
use crate::cpu::{Cpu, EXIT_EXTERNAL};
use crate::debugreg;
use crate::exception::Exception;
use crate::interp::Interpreter;
use crate::state::{fl, CpuState, RunState};
use crate::sys::interrupt;

/// DR6.BS: the #DB came from EFLAGS.TF.
const DR6_BS: u32 = 1 << 14;

/// What an engine plugs into [`drive`].
pub trait BlockRunner {
    /// The interpreter used for instructions run on their own.
    fn interpreter(&mut self) -> &mut Interpreter;
    /// Runs the fast path until it leaves, `icount` reaches `end`, or state
    /// the loop must look at changed; returns whether a handler asked to
    /// leave because such state changed (mode, IF, port I/O, a delivered
    /// interrupt or exception), which makes the loop poll INTR again.
    fn run_blocks(&mut self, cpu: &mut Cpu, end: u64) -> bool;
    /// Drops every cached translation of pages written since the last call.
    fn sync_code_pages(&mut self, mmu: &mut Mmu);
    /// Called before each instruction run on its own (statistics).
    fn note_single(&mut self) {}
}

/// Runs `budget` instructions at most; the engine's `Engine::run`.
pub fn drive<R: BlockRunner + ?Sized>(
    r: &mut R,
    s: &mut CpuState,
    mmu: &mut Mmu,
    bus: &mut dyn Bus,
    budget: u64,
) -> Stop {
    let end = s.icount.saturating_add(budget);
    let mut cpu = Cpu { s, mmu, bus };
    r.sync_code_pages(cpu.mmu);
    let mut poll = true;
    loop {
        if cpu.s.run_state == RunState::Shutdown {
            return Stop::Shutdown;
        }
        if cpu.s.exit_request & EXIT_EXTERNAL != 0 {
            cpu.s.exit_request &= !EXIT_EXTERNAL;
            return Stop::ExitRequest;
        }
        if cpu.s.icount >= end {
            return Stop::Budget;
        }
        let shadow = cpu.s.int_shadow;
        cpu.s.int_shadow = false;
        if !shadow && poll {
            Interpreter::poll_interrupt(&mut cpu);
            poll = false;
        }
        if cpu.s.run_state == RunState::Halted {
            return Stop::Halted;
        }
        if shadow || cpu.s.eflags & fl::TF != 0 || debugreg::armed(cpu.s) {
            // Inside an interrupt shadow exactly one instruction runs
            // before interrupts are looked at again.
            poll |= run_one(r, &mut cpu) || shadow;
        } else {
            // RF only suppresses instruction breakpoints, which are off.
            cpu.s.eflags &= !fl::RF;
            poll |= r.run_blocks(&mut cpu, end);
        }
    }
}

/// Runs the instruction at CS:EIP through the interpreter with the debug
/// checks around it: an instruction breakpoint (a fault, before it), data
/// and I/O breakpoints and TF (one trap after it). Returns whether the
/// loop must poll INTR. (The lockstep engine's interpreter side steps with
/// it too.)
pub fn run_one<R: BlockRunner + ?Sized>(r: &mut R, cpu: &mut Cpu) -> bool {
    let armed = debugreg::armed(cpu.s);
    if armed && cpu.s.eflags & fl::RF == 0 {
        let hits = debugreg::instruction_hits(cpu.s);
        if hits != 0 {
            cpu.s.dr[6] |= hits;
            interrupt::deliver_exception(cpu, Exception::DB);
            return true;
        }
    }
    let accesses = if armed && debugreg::watches_accesses(cpu.s) {
        match r.interpreter().cache.get_ref(cpu) {
            Ok(block) => match block.ops.first() {
                Some(d) => debugreg::accesses(cpu.s, d),
                None => Vec::new(),
            },
            // The fetch faults: the interpreter delivers it below.
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let single_step = cpu.s.eflags & fl::TF != 0;
    cpu.s.eflags &= !fl::RF;
    r.note_single();
    let changed = r.interpreter().run_block_nosync(cpu, true);
    r.sync_code_pages(cpu.mmu);
    if r.interpreter().last_faulted() || cpu.s.run_state == RunState::Shutdown {
        return changed;
    }
    let mut trap = debugreg::access_hits(cpu.s, &accesses);
    if single_step {
        trap |= DR6_BS;
    }
    if trap == 0 {
        return changed;
    }
    cpu.s.dr[6] |= trap;
    interrupt::deliver_exception(cpu, Exception::DB);
    true
}
