//! The run-time interface between generated code and Rust: the `RunCtx`
//! block code reaches through a pinned register, the field offsets it
//! uses, and the `extern "sysv64"` helpers it calls (the callout
//! trampoline into the interpreter's handlers, and the indirect-jump
//! lookup).
//!
//! Status protocol of [`callout`]: [`ST_CONTINUE`] (go on with the next
//! instruction of the block), [`ST_EXIT`] (the instruction retired; leave
//! the block: EIP changed, an exit was requested, code was overwritten, or
//! a mode/segment bit the translation depends on changed, the physical
//! memory map changed (A20/PAM through port I/O), or INVLPG ran), [`ST_FAULT`]
//! (the instruction faulted; the exception has been delivered, EIP and
//! everything else are what the interpreter would leave).

use std::mem::offset_of;

use cpu_interp::bus::Bus;
use cpu_interp::cpu::Cpu;
use cpu_interp::decode::Decoded;
use cpu_interp::state::{fl, CpuState, Segment};
use cpu_interp::sys::interrupt;
use mmu::Mmu;

use crate::cache::Cache;

pub const ST_CONTINUE: u32 = 0;
pub const ST_EXIT: u32 = 1;
pub const ST_FAULT: u32 = 2;

/// `exit_slot` value of exits that are not a chainable direct jump.
pub const NO_SLOT: u32 = u32::MAX;

/// What generated code needs besides `CpuState`; lives on the dispatcher's
/// stack for one `run`.
#[repr(C)]
pub struct RunCtx<'a> {
    pub state: *mut CpuState,
    pub mmu: *mut Mmu,
    pub bus: *mut (dyn Bus + 'a),
    /// Block entries leave when `icount` reaches this.
    pub end_icount: u64,
    /// The block and exit slot of the last direct exit (for chaining), or
    /// `NO_SLOT`.
    pub exit_tb: u32,
    pub exit_slot: u32,
    pub cache: *mut Cache,
    pub callouts: u64,
    pub lookups: u64,
    pub lookup_hits: u64,
    /// The last exit left a block the interpreter would have continued
    /// (a translation assumption changed without an exit request): the
    /// dispatcher finishes that block in the interpreter, so block
    /// boundaries (where budgets and interrupts are looked at) match.
    pub soft_exit: bool,
    /// With `soft_exit`: how many instructions of the block are left for
    /// the interpreter (generated code stores it on the way out).
    pub soft_left: u32,
    /// Measure time in callouts (`Dbt::timing`): TSC ticks spent in
    /// handlers run from generated code.
    pub timing: bool,
    pub callout_ticks: u64,
    /// With `timing`: callouts run per `iced_x86::Mnemonic` (indexed by
    /// its number, [`HIST_SIZE`] entries), or null.
    pub callout_hist: *mut u64,
}

/// Entries of the callout histogram (more than there are mnemonics).
pub const HIST_SIZE: usize = 4096;

/// The time-stamp counter (cheap enough to bracket callouts with).
pub fn ticks() -> u64 {
    // SAFETY: RDTSC has no memory effects; every x86-64 CPU has it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

pub const CTX_END_ICOUNT: i32 = offset_of!(RunCtx<'static>, end_icount) as i32;
pub const CTX_EXIT_TB: i32 = offset_of!(RunCtx<'static>, exit_tb) as i32;
pub const CTX_EXIT_SLOT: i32 = offset_of!(RunCtx<'static>, exit_slot) as i32;
pub const CTX_SOFT_EXIT: i32 = offset_of!(RunCtx<'static>, soft_exit) as i32;
pub const CTX_SOFT_LEFT: i32 = offset_of!(RunCtx<'static>, soft_left) as i32;

pub const ST_REGS: i32 = offset_of!(CpuState, regs) as i32;
pub const ST_EIP: i32 = offset_of!(CpuState, eip) as i32;
pub const ST_EFLAGS: i32 = offset_of!(CpuState, eflags) as i32;
pub const ST_ICOUNT: i32 = offset_of!(CpuState, icount) as i32;
pub const ST_EXIT_REQ: i32 = offset_of!(CpuState, exit_request) as i32;
const ST_SEG: i32 = offset_of!(CpuState, seg) as i32;
const SEG_SIZE: i32 = std::mem::size_of::<Segment>() as i32;

/// Offset of segment `i`'s base in `CpuState`.
pub fn st_seg_base(i: usize) -> i32 {
    ST_SEG + SEG_SIZE * i as i32 + offset_of!(Segment, base) as i32
}

/// Offset of segment `i`'s limit in `CpuState`.
pub fn st_seg_limit(i: usize) -> i32 {
    ST_SEG + SEG_SIZE * i as i32 + offset_of!(Segment, limit) as i32
}

/// What a callout compares before and after a handler to see whether the
/// block's assumptions still hold.
#[derive(PartialEq, Eq)]
struct ModeSnap {
    seg: [Segment; 6],
    cpl: u8,
    cr0: u32,
    cr3: u32,
    cr4: u32,
    eflags: u32,
}

impl ModeSnap {
    fn of(s: &CpuState) -> ModeSnap {
        ModeSnap {
            seg: s.seg,
            cpl: s.cpl,
            cr0: s.cr0,
            cr3: s.cr3,
            cr4: s.cr4,
            eflags: s.eflags & (fl::VM | fl::TF | fl::IF | fl::AC | fl::DF),
        }
    }
}

/// Runs the interpreter's handler for `d` from translated code. Registers
/// and flags have been spilled to `CpuState`; on return the flags are
/// settled (`FlagOp::None`) so generated code can read `eflags`.
pub extern "sysv64" fn callout(ctx: &mut RunCtx<'_>, d: &Decoded) -> u32 {
    counted(ctx, d, false)
}

/// [`callout`] for instructions that cannot change the CPU mode, the
/// paging state, the memory map or the interrupt shadow (x87 forms, see
/// `emit::light_callout`): skips comparing those before and after.
pub extern "sysv64" fn callout_light(ctx: &mut RunCtx<'_>, d: &Decoded) -> u32 {
    counted(ctx, d, true)
}

/// Counts and (with timing) times one callout.
#[inline(always)]
fn counted(ctx: &mut RunCtx<'_>, d: &Decoded, light: bool) -> u32 {
    ctx.callouts += 1;
    if ctx.timing {
        let m = d.ins.mnemonic() as usize;
        if !ctx.callout_hist.is_null() && m < HIST_SIZE {
            // SAFETY: a non-null `callout_hist` points to `HIST_SIZE`
            // counters owned by the `Dbt` running this block, which
            // nothing else touches while generated code runs.
            unsafe { *ctx.callout_hist.add(m) += 1 };
        }
        let t0 = ticks();
        let st = run_handler(ctx, d, light);
        ctx.callout_ticks += ticks().wrapping_sub(t0);
        st
    } else {
        run_handler(ctx, d, light)
    }
}

/// The body of [`callout`].
#[inline(always)]
fn run_handler(ctx: &mut RunCtx<'_>, d: &Decoded, light: bool) -> u32 {
    // SAFETY: the dispatcher stores pointers derived from the `&mut`
    // references it was given for this `run` and does not use those
    // references while generated code (and so this callout) runs; nothing
    // else aliases them.
    let mut cpu = unsafe {
        Cpu {
            s: &mut *ctx.state,
            mmu: &mut *ctx.mmu,
            bus: &mut *ctx.bus,
        }
    };
    let mask = if cpu.s.code32() { u32::MAX } else { 0xFFFF };
    let next = (d.ins.next_ip() as u32) & mask;
    // A light callout (x87) cannot change the mode, the memory map or the
    // interrupt shadow, so it skips the snapshot and the checks.
    let before = (!light).then(|| (ModeSnap::of(cpu.s), cpu.mmu.phys.generation()));
    cpu.s.eip = next;
    if let Err(e) = (d.handler)(&mut cpu, d) {
        cpu.s.eip = d.ins.ip() as u32;
        interrupt::deliver_exception(&mut cpu, e);
        cpu.s.settle_flags();
        return ST_FAULT;
    }
    cpu.s.settle_flags();
    if cpu.s.eip != next || cpu.s.exit_request != 0 || cpu.mmu.smc_pending() {
        return ST_EXIT;
    }
    let Some((mode, generation)) = before else {
        return ST_CONTINUE;
    };
    if cpu.s.int_shadow
        || ModeSnap::of(cpu.s) != mode
        || cpu.mmu.phys.generation() != generation
        || d.ins.mnemonic() == iced_x86::Mnemonic::Invlpg
    {
        ctx.soft_exit = true;
        return ST_EXIT;
    }
    ST_CONTINUE
}

/// Indirect jumps and returns: finds the translation for the current
/// CS:EIP, or returns null to leave through the dispatcher.
pub extern "sysv64" fn lookup(ctx: &mut RunCtx<'_>) -> *const u8 {
    ctx.lookups += 1;
    // SAFETY: as in `callout`; `cache` points to the dispatcher's cache,
    // which it does not touch while generated code runs.
    let (s, mmu, cache) = unsafe { (&mut *ctx.state, &mut *ctx.mmu, &mut *ctx.cache) };
    if s.exit_request != 0
        || s.int_shadow
        || s.eflags & fl::TF != 0
        || s.icount >= ctx.end_icount
        || mmu.smc_pending()
    {
        return std::ptr::null();
    }
    match cache.lookup_state(s, mmu) {
        Some(p) => {
            ctx.lookup_hits += 1;
            p
        }
        None => std::ptr::null(),
    }
}

/// Function-pointer types of the helpers, so a signature mismatch with the
/// call sites is a compile error.
pub type CalloutFn = extern "sysv64" fn(&mut RunCtx<'_>, &Decoded) -> u32;
pub type LookupFn = extern "sysv64" fn(&mut RunCtx<'_>) -> *const u8;
const _: CalloutFn = callout;
const _: CalloutFn = callout_light;
const _: LookupFn = lookup;

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::decode::Decoded;
    use cpu_interp::harness::{asm32, TestMachine, CODE_BASE};
    use iced_x86::code_asm::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn decoded(bytes: &[u8]) -> Decoded {
        let mut dec = Decoder::with_ip(32, bytes, CODE_BASE as u64, DecoderOptions::NONE);
        Decoded::new(dec.decode(), true)
    }

    fn ctx<'a>(m: &'a mut TestMachine, cache: &'a mut Cache) -> RunCtx<'a> {
        RunCtx {
            state: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
            end_icount: u64::MAX,
            exit_tb: 0,
            exit_slot: NO_SLOT,
            cache,
            callouts: 0,
            lookups: 0,
            lookup_hits: 0,
            soft_exit: false,
            soft_left: 0,
            timing: false,
            callout_ticks: 0,
            callout_hist: std::ptr::null_mut(),
        }
    }

    #[test]
    fn callout_statuses() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, 5u32).unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        let mut cache = Cache::new();
        let d = decoded(&code);
        let mut c = ctx(&mut m, &mut cache);
        assert_eq!(callout(&mut c, &d), ST_CONTINUE);
        assert_eq!(c.callouts, 1);
        assert_eq!(m.s.regs[0], 5);
        assert_eq!(m.s.eip, CODE_BASE + 5);
        // UD2 faults: delivered through the (empty) IDT, ending in a
        // shutdown, and reported as a fault.
        let d = decoded(&[0x0F, 0x0B]);
        let mut c = ctx(&mut m, &mut cache);
        assert_eq!(callout(&mut c, &d), ST_FAULT);
        // A jump leaves the block.
        let d = decoded(&[0xEB, 0x10]);
        m.s.run_state = Default::default();
        m.s.eip = CODE_BASE;
        let mut c = ctx(&mut m, &mut cache);
        assert_eq!(callout(&mut c, &d), ST_EXIT);
        assert_eq!(m.s.eip, CODE_BASE + 0x12);
    }

    #[test]
    fn offsets_are_inside_the_state() {
        assert!(st_seg_limit(5) < std::mem::size_of::<CpuState>() as i32);
        assert_eq!(st_seg_base(1) - st_seg_base(0), SEG_SIZE);
        const { assert!(CTX_EXIT_SLOT > CTX_END_ICOUNT) };
    }
}
