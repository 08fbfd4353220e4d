//! The interpreter engine: runs decoded blocks, takes external interrupts at
//! instruction boundaries (honouring the STI / MOV SS shadow), delivers
//! exceptions, sleeps in HLT, and drops decoded blocks whose bytes change.

use mmu::Mmu;

use crate::bus::{Bus, Engine, Stop};
use crate::cpu::{Cpu, EXIT_BLOCK, EXIT_EXTERNAL};
use crate::decode::BlockCache;
use crate::state::{fl, CpuState, RunState};
use crate::sys::interrupt;

/// The reference interpreter.
#[derive(Default)]
pub struct Interpreter {
    pub cache: BlockCache,
    dirty_pages: Vec<u32>,
    /// The last instruction run by `run_block_nosync` raised an exception.
    last_faulted: bool,
}

impl Interpreter {
    pub fn new() -> Interpreter {
        Interpreter::default()
    }

    /// Whether the last instruction run by `run_block_nosync` raised an
    /// exception (an engine driving single-step mode itself needs it).
    pub fn last_faulted(&self) -> bool {
        self.last_faulted
    }

    /// Drops decoded blocks of pages written since the last call.
    pub fn sync_code_pages(&mut self, mmu: &mut Mmu) {
        if mmu.smc_pending() {
            self.dirty_pages.clear();
            mmu.take_dirty_code_pages(&mut self.dirty_pages);
            for &p in &self.dirty_pages {
                self.cache.invalidate_page(p);
            }
        }
    }

    /// Takes a pending external interrupt if IF allows it. Returns whether
    /// one was delivered.
    pub fn poll_interrupt(cpu: &mut Cpu) -> bool {
        if !cpu.s.iflag() || !cpu.bus.interrupt_pending() {
            return false;
        }
        let vector = cpu.bus.acknowledge_interrupt();
        cpu.s.run_state = RunState::Running;
        interrupt::deliver_external(cpu, vector);
        true
    }

    /// Executes instructions of the current block (or a single instruction
    /// when `single` is set). Returns after the block ends, control leaves
    /// it, or a handler requests an exit.
    ///
    /// Returns whether a handler asked to leave the block because state the
    /// engine depends on changed (mode, IF, port I/O, an interrupt or
    /// exception was delivered): the caller then looks at the INTR line
    /// again. Blocks that end at ordinary branches do not.
    pub fn run_block(&mut self, cpu: &mut Cpu, single: bool) -> bool {
        let changed = self.run_block_nosync(cpu, single);
        self.sync_code_pages(cpu.mmu);
        changed
    }

    /// `run_block` without draining mmu's dirty-code-page list afterwards:
    /// for an engine (the translator) that keeps its own caches of the same
    /// pages and must drain the list itself to invalidate both.
    pub fn run_block_nosync(&mut self, cpu: &mut Cpu, single: bool) -> bool {
        let block = match self.cache.get(cpu) {
            Ok(b) => b,
            Err(e) => {
                interrupt::deliver_exception(cpu, e);
                cpu.s.exit_request &= !EXIT_BLOCK;
                self.last_faulted = true;
                return true;
            }
        };
        self.last_faulted = false;
        block.exec_count.set(block.exec_count.get().wrapping_add(1));
        let mask = if block.code32 { u32::MAX } else { 0xFFFF };
        for d in block.ops.iter() {
            let next = (d.ins.next_ip() as u32) & mask;
            cpu.s.eip = next;
            if let Err(e) = (d.handler)(cpu, d) {
                cpu.s.eip = d.ins.ip() as u32;
                interrupt::deliver_exception(cpu, e);
                self.last_faulted = true;
                break;
            }
            cpu.s.icount += 1;
            if single || cpu.s.eip != next || cpu.s.exit_request != 0 || cpu.mmu.smc_pending() {
                break;
            }
        }
        let changed = cpu.s.exit_request & EXIT_BLOCK != 0;
        cpu.s.exit_request &= !EXIT_BLOCK;
        changed
    }
}

impl Engine for Interpreter {
    fn run(&mut self, s: &mut CpuState, mmu: &mut Mmu, bus: &mut dyn Bus, budget: u64) -> Stop {
        let end = s.icount.saturating_add(budget);
        let mut cpu = Cpu { s, mmu, bus };
        self.sync_code_pages(cpu.mmu);
        // The INTR line is looked at on entry (the machine may have raised
        // an IRQ between slices) and after blocks that changed state;
        // devices only raise interrupts from port I/O or between slices.
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
                Self::poll_interrupt(&mut cpu);
                poll = false;
            }
            if cpu.s.run_state == RunState::Halted {
                return Stop::Halted;
            }
            // Inside an interrupt shadow, run exactly one instruction
            // before interrupts are looked at again.
            // EFLAGS.TF: run one instruction, then the single-step trap
            // (unless the instruction itself faulted).
            let single_step = cpu.s.eflags & fl::TF != 0;
            poll |= self.run_block(&mut cpu, shadow || single_step) || shadow;
            if single_step && !self.last_faulted && cpu.s.run_state != RunState::Shutdown {
                interrupt::single_step_trap(&mut cpu);
                poll = true;
            }
        }
    }
}
