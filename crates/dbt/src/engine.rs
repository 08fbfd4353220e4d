//! The translator engine: the dispatcher loop around translated code.
//!
//! The outer loop (shutdown, external exit requests, budget, interrupt
//! polling with the STI/MOV SS shadow, TF, breakpoints, HLT) is the one
//! every engine shares, `cpu_interp::driver`. Each step
//! looks the current CS:EIP up in the translation cache; a miss runs the
//! block in the interpreter, whose per-block `exec_count` decides when to
//! translate it. After every block the dirty-code-page list is drained once
//! for both caches (interpreter and translations), and the physical map
//! generation is checked (A20/PAM changes flush everything).
//!
//! Chaining rule (correct under SMC and paging changes): a direct exit is
//! patched to its target only if both keys have the same mode word, CS base
//! and limit, and either paging is off (linear to physical is then fixed
//! until the map generation changes, which flushes everything) or the
//! target lies in the same *virtual* page as the source block's first byte.
//! Every chain is entered through the dispatcher or `lookup()`, which
//! translate the entry's linear page through the current TLB; all blocks
//! reachable by patched jumps lie in that same virtual page, so they are
//! the right physical code for as long as that one translation holds, and
//! a paging change that could alter it is a callout that leaves the chain
//! (MOV CR3/CR0/CR4, INVLPG, task switch). SMC drops the written page's
//! translations and unpatches every jump into them. Direct exits across
//! virtual pages under paging are never patched: they probe the jump cache
//! inline like indirect jumps (`Emitter::direct_exit_with`), whose probe
//! translates the target through the current TLB, so it validates the
//! target exactly as the dispatcher would.
//!
//! Blocks mostly made of x87 instructions (callouts) are not translated
//! but left to the interpreter, which runs them faster ([`Dbt::declines`]).
//! A block ending in a short forward Jcc over one MOV/ADD/SUB is
//! translated with the branch if-converted (`emit::ifconv`); the engine
//! reads the skipped instruction from the block's page.

use std::rc::Rc;
use std::time::Instant;

use cpu_interp::bus::{Bus, Engine, Stop};
use cpu_interp::cpu::{Cpu, EXIT_BLOCK};
use cpu_interp::decode::Block;
use cpu_interp::driver::{self, BlockRunner};
use cpu_interp::state::{CpuState, RunState};
use cpu_interp::Interpreter;
use mmu::Mmu;

use crate::cache::{Cache, ExitRec, TransBlock};
use crate::emit;
use crate::emit::stubs::EnterFn;
use crate::key::Key;
use crate::runtime::{self, RunCtx, NO_SLOT};
use crate::stats::Stats;

/// Most declined keys remembered (the set is cleared when full).
const MAX_DECLINED: usize = 4096;

/// Default executions of a block before it is translated.
pub const DEFAULT_THRESHOLD: u32 = 16;

/// The translator engine. One `Dbt` serves one machine: its translations
/// and the code-page marks they rely on live in that machine's `Mmu`.
pub struct Dbt {
    pub interp: Interpreter,
    pub cache: Cache,
    /// Interpreted executions of a block before translation (0: translate
    /// on first sight).
    pub threshold: u32,
    /// Patch direct exits to their targets.
    pub chaining: bool,
    pub stats: Stats,
    /// Measure where time goes (TSC ticks in `run`, in generated code and
    /// in callouts; see `Stats`). Off by default: it reads the TSC at
    /// every block entry from the dispatcher and around every callout.
    pub timing: bool,
    /// With `timing`: callouts run per mnemonic (see `Stats::hot_callouts`).
    callout_hist: Vec<u64>,
    dirty: Vec<u32>,
    map_generation: Option<u64>,
    /// Keys of hot blocks left to the interpreter (see [`Dbt::declines`]).
    /// Code rewritten at such a key stays declined until the next flush
    /// or the set fills (a matter of speed, not of results).
    declined: hashbrown::HashSet<Key>,
    /// Every block translated is written here, guest and host code
    /// (`oxpc run --dbt-dump`).
    pub dump: Option<Box<dyn std::io::Write>>,
}

impl Default for Dbt {
    fn default() -> Self {
        Self::new()
    }
}

impl Dbt {
    pub fn new() -> Dbt {
        Dbt::with_threshold(DEFAULT_THRESHOLD)
    }

    pub fn with_threshold(threshold: u32) -> Dbt {
        Dbt::with_cache_size(threshold, crate::cache::CODE_SIZE)
    }

    /// A translator with a `code_size`-byte code buffer (small buffers
    /// exercise the flush-when-full path).
    pub fn with_cache_size(threshold: u32, code_size: usize) -> Dbt {
        Dbt {
            interp: Interpreter::new(),
            cache: Cache::with_size(code_size),
            threshold,
            chaining: true,
            stats: Stats::default(),
            // `OXPC_DBT_TIMING=1` turns the time and callout accounting on
            // for front ends that do not set `timing` themselves.
            timing: std::env::var_os("OXPC_DBT_TIMING").is_some(),
            callout_hist: vec![0; runtime::HIST_SIZE],
            dirty: Vec::new(),
            map_generation: None,
            declined: hashbrown::HashSet::new(),
            dump: None,
        }
    }

    /// Statistics including the cache's own counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.flushes = self.cache.flushes;
        s.hot_callouts = hot_callouts(&self.callout_hist, 12);
        s.invalidations = self.cache.invalidations;
        s
    }

    /// Drops decoded blocks and translations of pages written since the
    /// last call.
    pub fn sync_code_pages(&mut self, mmu: &mut Mmu) {
        if mmu.smc_pending() {
            self.dirty.clear();
            mmu.take_dirty_code_pages(&mut self.dirty);
            for &p in &self.dirty {
                self.interp.cache.invalidate_page(p);
                self.cache.invalidate_page(p);
            }
        }
    }

    /// Drops everything if the physical memory map changed.
    fn check_map(&mut self, mmu: &Mmu) {
        let g = mmu.phys.generation();
        if self.map_generation != Some(g) {
            if self.map_generation.is_some() {
                self.declined.clear();
                self.interp.cache.clear();
                self.cache.flush();
            }
            self.map_generation = Some(g);
        }
    }

    /// Whether `block` is better left to the interpreter: x87 instructions
    /// run as callouts, and a callout costs more than the interpreter's
    /// own step, so a block where they are at least half of the
    /// instructions runs slower translated (measured with `dbt_mips`'s
    /// x87 loop).
    pub fn declines(block: &Block) -> bool {
        let x87 = block.ops.iter().filter(|d| emit::light_callout(d)).count();
        2 * x87 >= block.ops.len()
    }

    /// Translates the current block if it is hot enough.
    fn maybe_translate(&mut self, cpu: &mut Cpu, key: Key) -> Option<u32> {
        let block = self.interp.cache.get(cpu).ok()?;
        // Blocks end at page boundaries: a block whose last instruction
        // runs into the next page is left to the interpreter, which checks
        // that page's mapping on every lookup (`BlockCache`), whereas a
        // translation is found by its first byte's address alone.
        if block.exec_count.get() < self.threshold
            || block.ops.is_empty()
            || !block.cached
            || block.pages[1] != block.pages[0]
        {
            return None;
        }
        if Dbt::declines(&block) {
            if self.declined.len() >= MAX_DECLINED {
                self.declined.clear();
            }
            self.declined.insert(key);
            self.stats.declined += 1;
            return None;
        }
        let skip = Dbt::skipped_insn(key, &block, cpu.mmu);
        self.translate_skipping(key, block, skip)
    }

    /// Translates `block` for `key` into the cache (flushing it if full).
    /// None if the block does not fit even in an empty buffer (it is then
    /// interpreted).
    pub fn translate(&mut self, key: Key, block: Rc<Block>) -> Option<u32> {
        self.translate_skipping(key, block, None)
    }

    /// The instruction a final short forward Jcc of `block` skips, if it
    /// lies in the block's page and is a form `emit::ifconv` converts.
    fn skipped_insn(key: Key, block: &Block, mmu: &mut Mmu) -> Option<cpu_interp::decode::Decoded> {
        let last = block.ops.last()?;
        let next_lin = key.cs_base.wrapping_add(last.ins.next_ip() as u32);
        let target = last.ins.near_branch_target() as u32;
        let target_lin = key.cs_base.wrapping_add(target);
        let page = key.linear() & mmu::PAGE_MASK;
        if target <= last.ins.next_ip() as u32
            || target > key.cs_limit
            || next_lin & mmu::PAGE_MASK != page
            || target_lin.wrapping_sub(1) & mmu::PAGE_MASK != page
        {
            return None;
        }
        // Same virtual page as the block, so the same physical page.
        let pa = (key.paddr & mmu::PAGE_MASK) | (next_lin & 0xFFF);
        let mut buf = [0u8; emit::ifconv::WINDOW];
        let page_left = 0x1000 - (next_lin & 0xFFF) as usize;
        let limit_left = key.cs_limit.wrapping_sub(last.ins.next_ip() as u32) as usize + 1;
        let n = buf.len().min(page_left).min(limit_left);
        mmu.phys.read_bytes(pa, &mut buf[..n]);
        emit::ifconv::skipped(last, &buf[..n], key.code32())
    }

    /// [`Dbt::translate`] with the instruction a final Jcc skips.
    fn translate_skipping(
        &mut self,
        key: Key,
        block: Rc<Block>,
        skip: Option<cpu_interp::decode::Decoded>,
    ) -> Option<u32> {
        let t0 = Instant::now();
        let mut tr = None;
        for _ in 0..2 {
            let id = self.cache.next_id();
            let base = self.cache.code.addr(self.cache.code.used);
            // Live-in flags of translated targets in the same page.
            let cache = &self.cache;
            let hint = |t: u32| {
                let lin = key.cs_base.wrapping_add(t);
                if lin & !0xFFF != key.linear() & !0xFFF {
                    return None;
                }
                let k = Key {
                    paddr: (key.paddr & !0xFFF) | (lin & 0xFFF),
                    eip: t,
                    ..key
                };
                cache
                    .get(&k)
                    .and_then(|id| cache.block(id))
                    .map(|b| b.live_in)
            };
            let hints = emit::Hints {
                live_in: &hint,
                skip,
            };
            let t = emit::translate_with(&block, key, id, base, self.cache.stubs, false, &hints);
            if t.code.len() <= self.cache.code.free() {
                tr = Some(t);
                break;
            }
            self.cache.flush();
        }
        let tr = tr?;
        let off = self
            .cache
            .code
            .append(&tr.code)
            .expect("checked free space");
        // The block's bytes were registered with mmu's code tracking when
        // the interpreter decoded it (translations are only made from live
        // decoded blocks), so a write to them invalidates both caches.
        let exits = tr
            .exits
            .iter()
            .map(|x| ExitRec {
                site: off + x.site,
                stub: off + x.stub,
                target_eip: x.target,
                fast: x.fast.map(|f| off + f),
                chained: None,
            })
            .collect();
        let id = self.cache.insert(TransBlock {
            key,
            entry: off,
            body: off + tr.body,
            live_in: tr.live_in,
            len: tr.code.len(),
            pages: block.pages,
            block,
            exits,
            incoming: Vec::new(),
        });
        self.stats.blocks += 1;
        self.stats.bytes += tr.code.len() as u64;
        self.stats.native_insns += tr.native as u64;
        self.stats.callout_insns += tr.callouts as u64;
        self.stats.translate_time += t0.elapsed();
        if self.dump.is_some() {
            self.dump_translation(id);
        }
        Some(id)
    }

    /// Runs translated block `id` (and whatever it chains to). Returns
    /// whether a callout requested a block exit (`EXIT_BLOCK`).
    fn exec(&mut self, cpu: &mut Cpu, id: u32, end: u64) -> bool {
        let Some(entry) = self.cache.entry_addr(id) else {
            return false;
        };
        cpu.s.settle_flags();
        let enter_addr = self.cache.stubs.enter;
        let user = (cpu.s.cpl == 3) as usize;
        let tlb = cpu.mmu.tlb.entries[user].as_ptr() as *const u8;
        let mut ctx = RunCtx {
            state: &mut *cpu.s,
            mmu: &mut *cpu.mmu,
            bus: &mut *cpu.bus,
            end_icount: end,
            exit_tb: 0,
            exit_slot: NO_SLOT,
            cache: &mut self.cache,
            callouts: 0,
            lookups: 0,
            lookup_hits: 0,
            soft_exit: false,
            soft_left: 0,
            timing: self.timing,
            callout_ticks: 0,
            callout_hist: if self.timing {
                self.callout_hist.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            },
        };
        let t0 = if self.timing { runtime::ticks() } else { 0 };
        // SAFETY: `enter_addr` is the entry stub emitted by `emit_stubs`
        // with exactly the `EnterFn` signature; the code buffer is
        // executable and outlives this call.
        let enter: EnterFn = unsafe { std::mem::transmute::<usize, EnterFn>(enter_addr) };
        let state = ctx.state as *mut u8;
        enter(
            &mut ctx as *mut RunCtx as *mut u8,
            state,
            tlb,
            entry as *const u8,
        );
        if self.timing {
            self.stats.exec_ticks += runtime::ticks().wrapping_sub(t0);
            self.stats.callout_ticks += ctx.callout_ticks;
        }
        self.stats.entries += 1;
        self.stats.callouts += ctx.callouts;
        self.stats.lookups += ctx.lookups;
        self.stats.lookup_hits += ctx.lookup_hits;
        let (src, slot, soft) = (ctx.exit_tb, ctx.exit_slot, ctx.soft_exit);
        let soft_left = ctx.soft_left;
        let mut changed = cpu.s.exit_request & EXIT_BLOCK != 0;
        cpu.s.exit_request &= !EXIT_BLOCK;
        if self.chaining && slot != NO_SLOT {
            self.try_chain(cpu, src, slot);
        }
        if soft && cpu.s.run_state == RunState::Running {
            // The interpreter would have gone on with this block: finish
            // it there, without a budget check or interrupt poll between.
            // One instruction at a time, the `soft_left` the translated
            // block had left: a fresh interpreter block from here could
            // run past the end of a block cut at the size cap.
            self.stats.interp_blocks += 1;
            for _ in 0..soft_left {
                self.sync_code_pages(cpu.mmu);
                if cpu.s.run_state != RunState::Running {
                    break;
                }
                // Where the interpreter's block would go on; an
                // instruction that goes elsewhere (a taken branch, or a
                // REP string instruction that stops after a chunk and runs
                // again) ends its block, and the budget is looked at.
                let next = match self.interp.cache.get_ref(cpu) {
                    Ok(b) => b.ops.first().map(|d| d.next_eip),
                    Err(_) => None,
                };
                let c = self.interp.run_block_nosync(cpu, true);
                changed |= c;
                if c || self.interp.last_faulted()
                    || cpu.mmu.smc_pending()
                    || next != Some(cpu.s.eip)
                {
                    break;
                }
            }
        }
        changed
    }

    /// Patches exit `slot` of block `src` to the block now at CS:EIP if
    /// the chaining rule (module docs) allows it.
    fn try_chain(&mut self, cpu: &mut Cpu, src: u32, slot: u32) {
        let Some(skey) = self.cache.block(src).map(|b| b.key) else {
            return;
        };
        let Some(key) = Key::current(cpu.s, cpu.mmu) else {
            return;
        };
        let same_page = skey.linear() & mmu::PAGE_MASK == key.linear() & mmu::PAGE_MASK;
        if key.mode != skey.mode
            || key.cs_base != skey.cs_base
            || key.cs_limit != skey.cs_limit
            || (key.paging() && !same_page)
        {
            return;
        }
        if let Some(dst) = self.cache.get(&key) {
            if self.cache.chain(src, slot, dst) {
                self.stats.chains += 1;
            }
        }
    }

    /// Runs the current block, a declined one ([`Dbt::declines`]), in the
    /// interpreter, and the next ones for as long as they are declined too
    /// (stopping where `Interpreter::run_blocks` would), without looking
    /// for translations.
    fn run_declined(&mut self, cpu: &mut Cpu, end: u64) -> bool {
        let mut changed = false;
        let eip0 = cpu.s.eip;
        loop {
            self.stats.interp_blocks += 1;
            changed |= self.interp.run_block_nosync(cpu, false);
            self.sync_code_pages(cpu.mmu);
            if changed
                || cpu.s.icount >= end
                || cpu.s.exit_request != 0
                || cpu.s.int_shadow
                || cpu.s.eflags & cpu_interp::state::fl::TF != 0
                || cpu.s.run_state != RunState::Running
            {
                break;
            }
            self.check_map(cpu.mmu);
            // Whether the next block counts as declined only decides who
            // runs it, never the results: a loop back to the first
            // block's EIP (CS and mode changes end the loop above) is
            // taken as declined without computing its key.
            if cpu.s.eip == eip0 {
                continue;
            }
            match Key::current(cpu.s, cpu.mmu) {
                Some(key) if self.declined.contains(&key) => {}
                _ => break,
            }
        }
        changed
    }

    /// One block: translated if possible, interpreted otherwise. Returns
    /// whether a handler asked to leave because engine-visible state
    /// changed (the INTR line is then looked at again).
    fn step(&mut self, cpu: &mut Cpu, end: u64) -> bool {
        self.check_map(cpu.mmu);
        let tb = match Key::current(cpu.s, cpu.mmu) {
            Some(key) => match self.cache.get(&key) {
                Some(id) => {
                    self.stats.hits += 1;
                    Some(id)
                }
                None if self.declined.contains(&key) => {
                    return self.run_declined(cpu, end);
                }
                None => self.maybe_translate(cpu, key),
            },
            None => None,
        };
        let changed = match tb {
            Some(id) => self.exec(cpu, id, end),
            None => {
                self.stats.interp_blocks += 1;
                self.interp.run_block_nosync(cpu, false)
            }
        };
        self.sync_code_pages(cpu.mmu);
        changed
    }
}

impl Engine for Dbt {
    fn name(&self) -> &'static str {
        "dbt"
    }

    fn report(&self) -> Option<String> {
        Some(self.stats().to_string())
    }

    /// The outer loop every engine shares (`cpu_interp::driver`): this
    /// engine's fast path is [`Dbt::step`]; interrupt shadows, EFLAGS.TF
    /// and enabled hardware breakpoints run single instructions in the
    /// interpreter.
    fn run(&mut self, s: &mut CpuState, mmu: &mut Mmu, bus: &mut dyn Bus, budget: u64) -> Stop {
        let t0 = if self.timing { runtime::ticks() } else { 0 };
        let stop = driver::drive(self, s, mmu, bus, budget);
        if self.timing {
            self.stats.run_ticks += runtime::ticks().wrapping_sub(t0);
        }
        stop
    }
}

impl BlockRunner for Dbt {
    fn interpreter(&mut self) -> &mut Interpreter {
        &mut self.interp
    }

    fn run_blocks(&mut self, cpu: &mut Cpu, end: u64) -> bool {
        self.step(cpu, end)
    }

    fn sync_code_pages(&mut self, mmu: &mut Mmu) {
        Dbt::sync_code_pages(self, mmu)
    }

    fn note_single(&mut self) {
        self.stats.interp_blocks += 1;
    }
}

/// The `n` mnemonics with the most callouts, most first.
fn hot_callouts(hist: &[u64], n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(usize, u64)> = hist
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(i, &c)| (i, c))
        .collect();
    v.sort_by_key(|&(_, c)| std::cmp::Reverse(c));
    let names: Vec<iced_x86::Mnemonic> = iced_x86::Mnemonic::values().collect();
    v.into_iter()
        .take(n)
        .map(|(i, c)| {
            let name = names
                .get(i)
                .map_or_else(|| format!("#{i}"), |m| format!("{m:?}"));
            (name, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::harness::{asm32, TestMachine, CODE_BASE};
    use cpu_interp::Stop;
    use iced_x86::code_asm::*;

    fn block_of(m: &mut TestMachine) -> Rc<Block> {
        m.decoded_block().unwrap()
    }

    #[test]
    fn x87_heavy_blocks_are_declined_and_still_run() {
        let code = asm32(CODE_BASE as u64, |a| {
            let mut top = a.create_label();
            a.fninit().unwrap();
            a.mov(ecx, 10u32).unwrap();
            a.fld1().unwrap();
            a.set_label(&mut top).unwrap();
            a.fld(st0).unwrap();
            a.faddp(st1, st0).unwrap();
            a.dec(ecx).unwrap();
            a.jnz(top).unwrap();
            a.fistp(dword_ptr(0x40000)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        let b = block_of(&mut m);
        assert!(Dbt::declines(&b), "4 of the first block's 7 are x87");
        let mut d = Dbt::with_threshold(0);
        let stop = d.run(&mut m.s, &mut m.mmu, &mut m.bus, 100_000);
        assert_eq!(stop, Stop::Halted);
        assert_eq!(m.mmu.phys.read_u32(0x40000), 1 << 10);
        assert!(d.stats().declined >= 1);
    }

    #[test]
    fn integer_blocks_are_not_declined() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.fld1().unwrap();
            a.add(eax, ebx).unwrap();
            a.sub(ecx, edx).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        let b = block_of(&mut m);
        assert!(!Dbt::declines(&b));
    }
}
