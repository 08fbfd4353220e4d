//! The lockstep engine: runs the translator and, from the same state, the
//! interpreter, block by block, and stops at the first difference.
//!
//! The translator runs on the real machine (its `Mmu` and bus); what it
//! sees of the machine is recorded (`events.rs`): port I/O, INTR polls and
//! acknowledgements, the memory map after each OUT (A20, PAM), DMA writes
//! made by devices, and MMIO accesses (the real machine's MMIO handlers are
//! wrapped to record them). The interpreter runs on a shadow machine
//! (`shadow.rs`: a copy of the CPU state and RAM, the same ROMs, MMIO
//! regions that replay the recording), single-stepping until it has
//! retired as many instructions as the translator did (plus a faulting
//! instruction whose exception the translator delivered), with the
//! recording replayed strictly in order: a port or MMIO access, or an
//! interrupt acknowledgement, that differs from the recorded one is a
//! difference. An interrupt the translator took at a block boundary is
//! taken by the interpreter at the same instruction boundary, because a
//! recorded poll is only answered when it is the next event.
//!
//! After each step (one translated or interpreted block) the complete
//! architectural state is compared (`compare.rs`), and the RAM pages
//! either engine wrote during the step (from the write permissions of the
//! TLB entries installed during the step, which both sides then forget,
//! symmetrically, so that both walk the page tables again at their next
//! write); all of RAM is compared every `mem_every` steps, and when `run`
//! returns if it is small. Between `run` calls the
//! shadow takes over what the machine changed outside the engines (a
//! reset, the TSC over idle time, DMA by devices, map changes).
//!
//! Leaves out: RAM written from outside the engines other than by DMA
//! (snapshot restore) is not mirrored; page-table accessed/dirty bits the
//! walkers set, and a page written through an entry evicted within the
//! same step, are only caught by the periodic full comparison.

mod compare;
mod dump;
mod events;
mod shadow;

use std::collections::VecDeque;
use std::fmt;

use cpu_interp::bus::{Bus, Engine, Stop};
use cpu_interp::cpu::{Cpu, EXIT_BLOCK};
use cpu_interp::state::{fl, CpuState, RunState, CS, EAX};
use cpu_interp::Interpreter;
use cpu_interp::{debugreg, driver};
use mmu::Mmu;

use crate::disasm;
use crate::engine::Dbt;

pub use compare::{brief, diff_page, diff_ram, diff_state};
pub use events::{Event, MapState, MmioAccess};

use events::{apply, unreplayed, Recorder, Replay, SharedMmio};
use shadow::Shadow;

/// Most single steps the interpreter takes to follow one translator step
/// (a translated block retires far fewer; this only bounds a runaway).
const MAX_FOLLOW: u32 = 1 << 20;

/// RAM this small is compared whole whenever `run` returns.
const SMALL_RAM: u32 = 4 << 20;

/// The first difference found.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// CS:EIP where the compared step started.
    pub cs: u16,
    pub eip: u32,
    pub what: String,
    /// Guest instructions of the block the step ran.
    pub guest: String,
    /// Host code of its translation (empty if it was interpreted).
    pub host: String,
    pub dbt: CpuState,
    pub interp: CpuState,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lockstep mismatch at {:04X}:{:08X}: {}",
            self.cs, self.eip, self.what
        )?;
        writeln!(f, "guest block:\n{}", self.guest)?;
        writeln!(f, "host code:\n{}", self.host)?;
        writeln!(f, "dbt:    {}", brief(&self.dbt))?;
        write!(f, "interp: {}", brief(&self.interp))
    }
}

/// Translator and interpreter side by side.
pub struct Lockstep {
    pub dbt: Dbt,
    pub interp: Interpreter,
    shadow: Option<Shadow>,
    mmio: SharedMmio,
    /// Compare all of RAM every this many steps (0: never; see `run` for
    /// what is compared at each step and when `run` returns).
    pub mem_every: u64,
    /// Steps (blocks) compared, and full RAM comparisons made.
    pub steps: u64,
    pub full_compares: u64,
    pub mismatch: Option<Mismatch>,
    /// What `run` returns once a difference was found. `Shutdown` (the
    /// default) suits tests driving the engine; a whole machine would
    /// reset on it, so it sets `Halted`, and the CPU is then left halted
    /// with IF clear, which ends the machine's run loop.
    pub on_mismatch: Stop,
    /// Test hook: after the first step that ran a translated block at or
    /// past this retired count, the interpreter's EAX is corrupted (to
    /// show that a difference is reported).
    pub inject_at: Option<u64>,
    written: Vec<u32>,
}

impl Default for Lockstep {
    fn default() -> Self {
        Self::new(Dbt::new())
    }
}

impl Lockstep {
    pub fn new(dbt: Dbt) -> Lockstep {
        Lockstep {
            dbt,
            interp: Interpreter::new(),
            shadow: None,
            mmio: SharedMmio::default(),
            mem_every: 1 << 20,
            steps: 0,
            full_compares: 0,
            mismatch: None,
            on_mismatch: Stop::Shutdown,
            inject_at: None,
            written: Vec::new(),
        }
    }

    /// The engine for a whole machine: stops it (rather than resetting
    /// it) at a difference.
    pub fn for_machine(dbt: Dbt) -> Lockstep {
        Lockstep {
            on_mismatch: Stop::Halted,
            ..Lockstep::new(dbt)
        }
    }

    /// The interpreter catches up with the translator's retired count.
    /// Returns the differences the replay found.
    fn follow(&mut self, target: &CpuState, log: &mut VecDeque<Event>) -> Vec<String> {
        let sh = self.shadow.as_mut().expect("shadow machine");
        // Code written from outside since the last step (DMA, the host)
        // must not run from stale decoded blocks.
        self.interp.sync_code_pages(&mut sh.mmu);
        let mut bus = Replay {
            log,
            errors: Vec::new(),
            deferred: Vec::new(),
        };
        let mut cpu = Cpu {
            s: &mut sh.cpu,
            mmu: &mut sh.mmu,
            bus: &mut bus,
        };
        // Past the translator's count only instructions that fault (and
        // so retire nothing) may run: the translator delivered their
        // exception (or a double fault) inside its step.
        let mut extra = 2;
        for _ in 0..MAX_FOLLOW {
            if cpu.s.run_state == RunState::Shutdown || cpu.s.icount > target.icount {
                break;
            }
            if cpu.s.icount == target.icount {
                let there = cpu.s.eip == target.eip
                    && cpu.s.seg[CS] == target.seg[CS]
                    && cpu.s.run_state == target.run_state;
                if there || extra == 0 {
                    break;
                }
                extra -= 1;
            }
            let shadow = cpu.s.int_shadow;
            cpu.s.int_shadow = false;
            if !shadow {
                Interpreter::poll_interrupt(&mut cpu);
            }
            if cpu.s.run_state == RunState::Halted {
                break;
            }
            // The shared outer loop's rules (`cpu_interp::driver`): inside
            // a shadow, with TF or with a breakpoint enabled one
            // instruction with its debug checks; otherwise RF is cleared
            // and whole decoded blocks run while they cannot overshoot the
            // translator's count (a block ends early at exits, I/O and
            // faults, which is where the translator looks at INTR too).
            if shadow || cpu.s.eflags & fl::TF != 0 || debugreg::armed(cpu.s) {
                driver::run_one(&mut self.interp, &mut cpu);
            } else {
                let left = target.icount.saturating_sub(cpu.s.icount);
                let single = left == 0
                    || self
                        .interp
                        .cache
                        .get(&mut cpu)
                        .map_or(true, |b| b.ops.len() as u64 > left);
                cpu.s.eflags &= !fl::RF;
                self.interp.run_block(&mut cpu, single);
            }
            cpu.s.exit_request &= !EXIT_BLOCK;
        }
        let Replay {
            log,
            mut errors,
            deferred,
        } = bus;
        for e in deferred.iter().chain(log.iter()) {
            apply(e, &mut sh.mmu);
        }
        errors.extend(unreplayed(log));
        let mut m = self.mmio.lock().unwrap_or_else(|e| e.into_inner());
        errors.append(&mut m.errors);
        errors.extend(
            m.queue
                .drain(..)
                .map(|a| format!("recorded mmio {a:X?} not replayed")),
        );
        errors
    }

    /// Compares all of RAM.
    fn full_compare(&mut self, mmu: &Mmu) -> Option<String> {
        let sh = self.shadow.as_ref()?;
        self.full_compares += 1;
        diff_ram(&mmu.phys, &sh.mmu.phys).map(|a| {
            format!(
                "RAM differs at {a:#x} (full comparison)\n{}",
                compare::ram_context(&mmu.phys, &sh.mmu.phys, a)
            )
        })
    }

    /// Compares the pages either side wrote during the last step: those
    /// the TLB entries installed during the step allow writes to. Both
    /// sides then forget those write permissions, so each refills (and
    /// walks, setting the same accessed/dirty bits) at its next write.
    fn written_compare(&mut self, mmu: &mut Mmu) -> Option<String> {
        let sh = self.shadow.as_mut()?;
        self.written.clear();
        sh.take_written_pages(&mut self.written);
        mmu.tlb.writable_pages(&mut self.written, true);
        self.written.sort_unstable();
        self.written.dedup();
        self.pages_compare(mmu, "written in this step")
    }

    /// When `run` returns, all of a small RAM.
    fn return_compare(&mut self, mmu: &mut Mmu) -> Option<String> {
        if mmu.phys.ram_size() <= SMALL_RAM {
            return self.full_compare(mmu);
        }
        None
    }

    fn pages_compare(&self, mmu: &Mmu, why: &str) -> Option<String> {
        let sh = self.shadow.as_ref()?;
        self.written.iter().find_map(|&p| {
            diff_page(&mmu.phys, &sh.mmu.phys, p).map(|a| {
                format!(
                    "RAM differs at {a:#x} ({why})\n{}",
                    compare::ram_context(&mmu.phys, &sh.mmu.phys, a)
                )
            })
        })
    }

    fn report(&mut self, start: &CpuState, mmu: &mut Mmu, dbt: &CpuState, what: String) {
        let key = Dbt::key_for(start, mmu);
        let translated = key.and_then(|k| {
            let b = self
                .dbt
                .cache
                .get(&k)
                .and_then(|id| self.dbt.cache.block(id))?;
            Some((disasm::guest_block(&b.block), self.dbt.host_code(&k)))
        });
        let (guest, host) = match translated {
            Some(t) => t,
            None => (
                format!(
                    "(interpreted)\n{}",
                    dump::interpreted_block(&mut self.dbt.interp, start, mmu)
                ),
                String::new(),
            ),
        };
        let interp = self
            .shadow
            .as_ref()
            .map(|s| s.cpu.clone())
            .unwrap_or_else(|| dbt.clone());
        self.mismatch = Some(Mismatch {
            cs: start.seg[CS].selector,
            eip: start.eip,
            what,
            guest,
            host,
            dbt: dbt.clone(),
            interp,
        });
    }

    /// What `run` returns after a difference.
    fn stopped(&self, s: &mut CpuState) -> Stop {
        if self.on_mismatch == Stop::Halted {
            s.run_state = RunState::Halted;
            s.eflags &= !fl::IF;
        }
        self.on_mismatch
    }

    /// Whether the block at `start` ran (or is now) translated.
    fn translated(&self, start: &CpuState, mmu: &mut Mmu) -> bool {
        Dbt::key_for(start, mmu).is_some_and(|k| self.dbt.cache.get(&k).is_some())
    }
}

impl Engine for Lockstep {
    fn name(&self) -> &'static str {
        "lockstep"
    }

    fn report(&self) -> Option<String> {
        let mut r = format!(
            "lockstep: {} blocks compared, {} full RAM comparisons\n{}",
            self.steps,
            self.full_compares,
            self.dbt.stats()
        );
        if let Some(m) = &self.mismatch {
            r.push_str(&format!("\n{m}"));
        }
        Some(r)
    }

    fn mismatch(&self) -> Option<String> {
        self.mismatch.as_ref().map(|m| m.to_string())
    }

    fn run(&mut self, s: &mut CpuState, mmu: &mut Mmu, bus: &mut dyn Bus, budget: u64) -> Stop {
        if self.mismatch.is_some() {
            return self.stopped(s);
        }
        match &mut self.shadow {
            None => self.shadow = Some(Shadow::new(s, mmu, &self.mmio)),
            Some(sh) => sh.sync_from(s, mmu),
        }
        {
            let mut m = self.mmio.lock().unwrap_or_else(|e| e.into_inner());
            m.queue.clear();
            m.errors.clear();
        }
        let end = s.icount.saturating_add(budget);
        loop {
            let start = s.clone();
            let mut log = VecDeque::new();
            let stop = {
                let mut rec = Recorder { bus, log: &mut log };
                self.dbt.run(s, mmu, &mut rec, 1)
            };
            // DMA not announced through an OUT (e.g. started by an IN).
            for (a, d) in mmu.phys.take_dma_log() {
                log.push_back(Event::Dma(a, d));
            }
            let errors = self.follow(s, &mut log);
            self.steps += 1;
            if self.inject_at.is_some_and(|n| s.icount >= n) && self.translated(&start, mmu) {
                self.inject_at = None;
                if let Some(sh) = &mut self.shadow {
                    sh.cpu.regs[EAX] ^= 0x8000_0000;
                }
            }
            let shadow_state = &self.shadow.as_ref().expect("shadow").cpu;
            let mut what = diff_state(s, shadow_state);
            if !errors.is_empty() {
                what = Some(match what {
                    Some(w) => format!("{w}; {}", errors.join("; ")),
                    None => errors.join("; "),
                });
            }
            if what.is_none() {
                what = self.written_compare(mmu);
            }
            let finishing = !matches!(stop, Stop::Budget) || s.icount >= end;
            if what.is_none() && self.mem_every != 0 && self.steps.is_multiple_of(self.mem_every) {
                what = self.full_compare(mmu);
            }
            if what.is_none() && finishing {
                what = self.return_compare(mmu);
            }
            if let Some(w) = what {
                let dbt_state = s.clone();
                self.report(&start, mmu, &dbt_state, w);
                return self.stopped(s);
            }
            if !finishing {
                continue;
            }
            return stop;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::harness::*;
    use cpu_interp::state::{EBX, ECX, EDX};
    use iced_x86::code_asm::*;

    /// RDTSC after other instructions of a translated block.
    fn rdtsc_loop() -> Vec<u8> {
        asm32(CODE_BASE as u64, |a| {
            let mut top = a.create_label();
            a.xor(ecx, ecx).unwrap();
            a.set_label(&mut top).unwrap();
            a.mov(ebx, edx).unwrap();
            a.rdtsc().unwrap();
            a.add(ecx, 1).unwrap();
            a.cmp(ecx, 50).unwrap();
            a.jne(top).unwrap();
            a.hlt().unwrap();
        })
    }

    /// Regression: a callout saw the block's starting instruction count
    /// (RDTSC in a translated block read a TSC short by the instructions
    /// retired before it in the block), found by lockstep in Linux's
    /// delay-loop calibration.
    #[test]
    fn rdtsc_in_a_translated_block_counts_the_instructions_before_it() {
        let code = rdtsc_loop();
        let mut r = TestMachine::flat32(&code);
        r.run();
        let mut m = TestMachine::flat32(&code);
        let mut d = Dbt::with_threshold(0);
        assert_eq!(
            d.run(&mut m.s, &mut m.mmu, &mut m.bus, 1_000_000),
            Stop::Halted
        );
        assert!(d.stats().blocks >= 1, "translated");
        assert_eq!(m.s.icount, r.s.icount);
        assert_eq!(
            (m.s.regs[EAX], m.s.regs[EDX], m.s.regs[EBX]),
            (r.s.regs[EAX], r.s.regs[EDX], r.s.regs[EBX]),
            "TSC read inside the block"
        );
        let mut m = TestMachine::flat32(&code);
        let mut l = Lockstep::new(Dbt::with_threshold(0));
        assert_eq!(
            l.run(&mut m.s, &mut m.mmu, &mut m.bus, 1_000_000),
            Stop::Halted
        );
        assert!(l.mismatch.is_none(), "{}", l.mismatch.unwrap());
        assert_eq!(m.s.regs[ECX], 50);
    }

    /// A device register in MMIO: reads return what the real device said,
    /// writes are checked, and a state difference is still found.
    #[test]
    fn mmio_is_replayed_to_the_interpreter() {
        struct Counter(u32);
        impl mmu::Mmio for Counter {
            fn read(&mut self, _: u64, _: u8) -> u32 {
                self.0 += 1;
                self.0
            }
            fn write(&mut self, _: u64, _: u8, v: u32) {
                self.0 = v;
            }
        }
        const DEV: u32 = 0xE000_0000;
        let code = asm32(CODE_BASE as u64, |a| {
            let mut top = a.create_label();
            a.mov(dword_ptr(DEV), 100u32).unwrap();
            a.mov(ecx, 20u32).unwrap();
            a.set_label(&mut top).unwrap();
            a.add(eax, dword_ptr(DEV)).unwrap();
            a.dec(ecx).unwrap();
            a.jnz(top).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu
            .phys
            .add_mmio(DEV, 0x1000, Box::new(Counter(0)))
            .unwrap();
        m.mmu.flush_all();
        let mut l = Lockstep::new(Dbt::with_threshold(0));
        assert_eq!(
            l.run(&mut m.s, &mut m.mmu, &mut m.bus, 1_000_000),
            Stop::Halted
        );
        assert!(l.mismatch.is_none(), "{}", l.mismatch.unwrap());
        assert_eq!(m.s.regs[EAX], (101..=120).sum::<u32>());
    }

    /// Raises INTR (vector 0x20) on every OUT to port 0x80, like a device
    /// completing a command.
    #[derive(Default)]
    struct IrqOnOut {
        pending: bool,
    }

    impl Bus for IrqOnOut {
        fn io_read(&mut self, _: u16, _: u8) -> u32 {
            0
        }
        fn io_write(&mut self, port: u16, _: u8, _: u32) {
            self.pending |= port == 0x80;
        }
        fn interrupt_pending(&mut self) -> bool {
            self.pending
        }
        fn acknowledge_interrupt(&mut self) -> u8 {
            self.pending = false;
            0x20
        }
    }

    /// An interrupt the translator takes right after the OUT that raised
    /// it, in the middle of a hot loop, is taken by the interpreter at the
    /// same instruction boundary: the handler records where (CX) it came.
    #[test]
    fn an_interrupt_is_taken_at_the_same_instruction_on_both_sides() {
        use cpu_interp::state::ESI;
        let handler = asm16(0x300, |a| {
            a.mov(word_ptr(si), cx).unwrap();
            a.add(si, 2).unwrap();
            a.iret().unwrap();
        });
        let code = asm16(0, |a| {
            let mut top = a.create_label();
            a.xor(cx, cx).unwrap();
            a.xor(si, si).unwrap();
            a.sti().unwrap();
            a.set_label(&mut top).unwrap();
            a.inc(ax).unwrap();
            a.out(0x80, al).unwrap();
            a.inc(cx).unwrap();
            a.cmp(cx, 40).unwrap();
            a.jne(top).unwrap();
            a.hlt().unwrap();
        });
        let setup = |m: &mut TestMachine| {
            m.mmu.phys.write_bytes(0x10300, &handler);
            m.mmu.phys.write_u16(0x20 * 4, 0x300);
            m.mmu.phys.write_u16(0x20 * 4 + 2, 0x1000);
        };
        let mut m = TestMachine::real(&code);
        setup(&mut m);
        let mut l = Lockstep::new(Dbt::with_threshold(0));
        let mut bus = IrqOnOut::default();
        assert_eq!(l.run(&mut m.s, &mut m.mmu, &mut bus, 100_000), Stop::Halted);
        assert!(l.mismatch.is_none(), "{}", l.mismatch.unwrap());
        assert_eq!(m.s.regs[ESI] & 0xFFFF, 80, "40 interrupts");
        // Each was taken right after its OUT, before INC CX.
        for i in 0..40u32 {
            assert_eq!(u32::from(m.mmu.phys.read_u16(0x30000 + 2 * i)), i);
        }
        assert!(l.dbt.stats().blocks >= 1, "the loop was translated");
    }

    #[test]
    fn an_injected_difference_is_reported_with_code_and_states() {
        let code = rdtsc_loop();
        let mut m = TestMachine::flat32(&code);
        let mut l = Lockstep::for_machine(Dbt::with_threshold(0));
        l.inject_at = Some(20);
        assert_eq!(
            l.run(&mut m.s, &mut m.mmu, &mut m.bus, 1_000_000),
            Stop::Halted
        );
        assert_eq!(m.s.run_state, RunState::Halted, "left halted");
        assert_eq!(m.s.eflags & fl::IF, 0, "with interrupts off");
        let text = l.mismatch.as_ref().expect("reported").to_string();
        for w in [
            "lockstep mismatch at 0008:",
            "regs",
            "rdtsc",
            "host code:\n",
            "dbt:    eip=",
            "interp: eip=",
        ] {
            assert!(text.contains(w), "{w:?} in {text}");
        }
        assert!(!l.mismatch.as_ref().unwrap().host.is_empty());
        // Further runs stop at once.
        let before = m.s.icount;
        assert_eq!(l.run(&mut m.s, &mut m.mmu, &mut m.bus, 100), Stop::Halted);
        assert_eq!(m.s.icount, before);
    }
}
