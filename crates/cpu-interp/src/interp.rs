//! The interpreter engine: runs decoded blocks, delivers exceptions, and
//! drops decoded blocks whose bytes change. The outer loop (interrupts at
//! instruction boundaries, the STI / MOV SS shadow, TF, breakpoints, HLT)
//! is `driver`, shared with the translator.

use mmu::Mmu;

use crate::bus::{Bus, Engine, Stop};
use crate::cpu::{Cpu, EXIT_BLOCK};
use crate::decode::BlockCache;
use crate::driver::{self, BlockRunner};
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

    /// Runs blocks back to back (as `run_block` each) until one asks to
    /// leave or changes state the engine must look at (exit request,
    /// interrupt shadow, TF, halt/shutdown), or `icount` reaches `end`.
    /// Returns `run_block`'s "state changed" answer for the last block.
    pub fn run_blocks(&mut self, cpu: &mut Cpu, end: u64) -> bool {
        loop {
            let changed = self.run_block_nosync(cpu, false);
            self.sync_code_pages(cpu.mmu);
            if changed
                || cpu.s.icount >= end
                || cpu.s.exit_request != 0
                || cpu.s.int_shadow
                || cpu.s.eflags & fl::TF != 0
                || cpu.s.run_state != RunState::Running
            {
                return changed;
            }
        }
    }

    /// `run_block` without draining mmu's dirty-code-page list afterwards:
    /// for an engine (the translator) that keeps its own caches of the same
    /// pages and must drain the list itself to invalidate both.
    #[inline(always)]
    pub fn run_block_nosync(&mut self, cpu: &mut Cpu, single: bool) -> bool {
        let block = match self.cache.get_ref(cpu) {
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
        let ops: &[crate::decode::Decoded] = if single {
            &block.ops[..block.ops.len().min(1)]
        } else {
            &block.ops
        };
        for d in ops {
            let next = d.next_eip;
            cpu.s.eip = next;
            if let Err(e) = (d.handler)(cpu, d) {
                cpu.s.eip = d.ins.ip() as u32;
                interrupt::deliver_exception(cpu, e);
                self.last_faulted = true;
                break;
            }
            cpu.s.icount += 1;
            // One combined test in the common case: EIP moved on as
            // expected and no handler asked to leave. Only instructions
            // that may write memory look at the self-modifying-code flag.
            if (cpu.s.eip ^ next) | cpu.s.exit_request != 0
                || (d.smc_check && cpu.mmu.smc_pending())
            {
                break;
            }
        }
        let changed = cpu.s.exit_request & EXIT_BLOCK != 0;
        cpu.s.exit_request &= !EXIT_BLOCK;
        changed
    }
}

impl BlockRunner for Interpreter {
    fn interpreter(&mut self) -> &mut Interpreter {
        self
    }

    fn run_blocks(&mut self, cpu: &mut Cpu, end: u64) -> bool {
        Interpreter::run_blocks(self, cpu, end)
    }

    fn sync_code_pages(&mut self, mmu: &mut Mmu) {
        Interpreter::sync_code_pages(self, mmu)
    }
}

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn run(&mut self, s: &mut CpuState, mmu: &mut Mmu, bus: &mut dyn Bus, budget: u64) -> Stop {
        driver::drive(self, s, mmu, bus, budget)
    }
}
