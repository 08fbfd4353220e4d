//! Code generation: one decoded block to host x86-64 code.
//!
//! Register convention inside translated code (the `.alias` names in
//! [`asm!`]): guest EAX, ECX, EDX, EBX live in host rax, rcx, rdx, rbx (so
//! AH..BH, CL shift counts, CDQ map directly), guest ESP, EBP, ESI, EDI in
//! r8..r11; `state` = r15 (`CpuState`), `tlb` = r14 (the TLB table of the
//! block's privilege class), `icount` = r13 (`CpuState::icount`, kept in a
//! register so chained blocks do not serialise on memory), `fsave` = r12
//! (a copy of host EFLAGS holding guest flags across a memory access); rsi,
//! rdi, rbp are scratch. The `RunCtx` pointer is at [rsp] and the budget
//! end at [rsp+8] (the entry stub's frame). Guest registers (and icount)
//! are zero-extended in their host registers; they are written back to
//! `CpuState` at every exit and around callouts.
//!
//! Flags: [`Fl`] tracks where the current guest arithmetic flags are (host
//! EFLAGS, `fsave`, `CpuState::eflags`). ALU ops leave them in host EFLAGS;
//! consumers use them there; the TLB check clobbers host EFLAGS, so before
//! a memory access live flags are copied to `fsave`; callouts and exits
//! materialise them into `eflags` (the lazy record is always
//! `FlagOp::None` inside translated code: the dispatcher settles it before
//! entering and callouts settle after handlers).
//!
//! Block boundaries: a block is entered with the flags in `fsave` and
//! checks the budget on entry. Where no flag is live, a block may instead
//! check the budget for its whole length once (the pre-check); its direct
//! exits then jump past the target's entry check, and, if the target
//! never reads incoming flags (its live-in is 0), also past saving them
//! (a patched NOP before the `pushfq`). A failed pre-check leaves for the
//! interpreter to finish the block (`soft_exit`), so blocks end where the
//! interpreter's would and budgets stop both engines at the same place.
//! ROL/ROR by an immediate defer their OF correction ([`OfFix`]) until
//! something can observe OF; a load whose operand a later store of the
//! block reuses checks the TLB for writing once for both
//! (`mov::paired_store`). Callouts, direct-exit stubs and refused entries
//! share their long halves in `stubs` (blocks load arguments and jump).
//!
//! A final short forward Jcc over one MOV/ADD/SUB becomes a CMOV
//! ([`ifconv`]); direct exits into another virtual page under paging probe
//! the jump cache like indirect ones ([`Emitter::direct_exit_with`]); x87
//! callouts use a lighter runtime entry ([`light_callout`]).
//!
//! Precise state: a native instruction does every TLB check before any
//! architectural write; a miss (or a failed segment-limit check) goes to
//! the instruction's out-of-line slow path, which runs the interpreter's
//! handler for the whole instruction as a callout. So faults, page-crossing
//! accesses, MMIO and stores to code pages get exactly the interpreter's
//! behaviour.

pub mod alu;
pub mod bits;
pub mod control;
pub mod ifconv;
pub mod mem;
pub mod mov;
pub mod muldiv;
pub mod string;
pub mod stubs;

use cpu_interp::decode::{Block, Decoded};
use cpu_interp::state::fl;
use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};
use hashbrown::HashMap;

use crate::cache::Stubs;
use crate::key::Key;
use crate::liveness;
use crate::runtime::*;

/// `dynasm!` with the x64 architecture and the pinned-register aliases.
macro_rules! asm {
    ($ops:expr ; $($t:tt)*) => {
        dynasmrt::dynasm!($ops
            ; .arch x64
            ; .alias state, r15
            ; .alias tlb, r14
            ; .alias icount, r13
            ; .alias fsave, r12
            ; $($t)*
        )
    };
}
pub(crate) use asm;

/// Host register number of each guest GPR (EAX..EDI).
pub const HOST: [u8; 8] = [0, 1, 2, 3, 8, 9, 10, 11];

pub type Ops = VecAssembler<X64Relocation>;

/// Frame offset of the `RunCtx` pointer (from rsp inside translated code).
pub const FRAME_CTX: i32 = 0;
/// Frame offset of the budget end (`RunCtx::end_icount`).
pub const FRAME_END: i32 = 8;
/// Frame offset of the budget end less [`PRECHECK_SPAN`] (saturating):
/// a block of at most that many instructions whose icount on entry is
/// below it cannot reach the end (the pre-check's one compare).
pub const FRAME_END_EARLY: i32 = 16;
/// Longest block the one-compare pre-check covers (the interpreter's
/// block size cap).
pub const PRECHECK_SPAN: u32 = cpu_interp::decode::MAX_BLOCK_INSNS as u32;

/// Writes the eight guest registers and icount back to `CpuState`.
/// `mov [state + regs + 4*g], host(g)` for g = 0..7; `mov [state+icount], icount`
pub fn spill(ops: &mut Ops) {
    for (g, &h) in HOST.iter().enumerate() {
        asm!(ops ; mov DWORD [state + ST_REGS + 4 * g as i32], Rd(h));
    }
    asm!(ops ; mov QWORD [state + ST_ICOUNT], icount);
}

/// Loads the eight guest registers and icount from `CpuState`.
/// `mov host(g), [state + regs + 4*g]` for g = 0..7; `mov icount, [state+icount]`
pub fn reload(ops: &mut Ops) {
    for (g, &h) in HOST.iter().enumerate() {
        asm!(ops ; mov Rd(h), DWORD [state + ST_REGS + 4 * g as i32]);
    }
    asm!(ops ; mov icount, QWORD [state + ST_ICOUNT]);
}

/// Copies the guest flags held in `fsave` into `CpuState::eflags`:
/// `mov esi, fsave_d; and esi, ARITH; and [state+eflags], ~ARITH; or [state+eflags], esi`
pub fn materialise_fsave(ops: &mut Ops) {
    asm!(ops
        ; mov esi, r12d
        ; and esi, fl::ARITH as i32
        ; and DWORD [state + ST_EFLAGS], !fl::ARITH as i32
        ; or DWORD [state + ST_EFLAGS], esi
    );
}

/// Where the current guest arithmetic flags are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fl {
    pub host: bool,
    pub saved: bool,
    pub mem: bool,
}

impl Fl {
    pub const MEM: Fl = Fl {
        host: false,
        saved: false,
        mem: true,
    };
}

/// A pending correction of the guest OF (ROL/ROR by an immediate count
/// above 1, whose OF the host computes differently from the interpreter):
/// the guest OF is bit `i` XOR bit `j` of host register `reg`, which still
/// holds the rotate's result. Applied (into `fsave`) only where someone
/// can observe OF: a consumer, a callout, a slow path, a block exit; a
/// later instruction that writes every flag drops it. Applying it is
/// idempotent, so paths that did and did not apply it may join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfFix {
    pub reg: u8,
    pub i: i8,
    pub j: i8,
}

enum Deferred {
    /// Slow path of native instruction `idx`: callout, then back (or,
    /// with `soft`, leave after it and let the interpreter finish the
    /// block: the fast path left state the slow path cannot rebuild).
    Slow {
        label: DynamicLabel,
        back: DynamicLabel,
        idx: usize,
        pre: Fl,
        fix: Option<OfFix>,
        soft: bool,
        writes_flags: bool,
        ends: bool,
    },
    /// Exit stub of direct exit `slot`.
    Direct {
        label: DynamicLabel,
        slot: usize,
        target: u32,
    },
    /// After a callout returned non-zero at instruction `idx`.
    CalloutExit { label: DynamicLabel, idx: usize },
    /// Block entry refused (exit request or budget).
    EntryExit { label: DynamicLabel },
    /// The budget pre-check before instruction `idx` failed: leave there
    /// (flags are dead) and let the dispatcher finish the block in the
    /// interpreter, so it ends where the interpreter's would.
    Budget { label: DynamicLabel, idx: usize },
}

/// A direct exit in the translated code (offsets from the block start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitSite {
    /// The patchable `jmp rel32` reached with the flags in `fsave`; it
    /// initially goes to `stub`, and is patched to the target's entry.
    pub site: usize,
    pub stub: usize,
    pub target: u32,
    /// In blocks with a budget pre-check: a 5-byte NOP before the flags
    /// are saved, patched to a `jmp rel32` to the target's body (past its
    /// budget check) when the target never reads incoming flags.
    pub fast: Option<usize>,
}

/// Result of translating one block.
pub struct Translated {
    pub code: Vec<u8>,
    pub exits: Vec<ExitSite>,
    /// Offset of the code after the entry's budget check.
    pub body: usize,
    /// Flags the block may observe on entry (0: it never reads them).
    pub live_in: u32,
    pub native: u32,
    pub callouts: u32,
}

pub struct Emitter<'a> {
    pub ops: Ops,
    base: usize,
    pub key: Key,
    block: &'a Block,
    tb_id: u32,
    stubs: Stubs,
    pub fl: Fl,
    /// See [`OfFix`].
    pub of_fix: Option<OfFix>,
    /// `rdi` holds the checked host address for this instruction's store
    /// (set by a load of the same operand, see `mov::paired_store`).
    pub ptr_for: Option<usize>,
    soft_slow: bool,
    live: Vec<u32>,
    deferred: Vec<Deferred>,
    exit_sites: Vec<usize>,
    exit_fast: Vec<Option<usize>>,
    exit_targets: Vec<u32>,
    /// Instruction before which the budget pre-check goes (see
    /// [`Emitter::precheck`]).
    precheck_at: Option<usize>,
    /// The block ends at a control transfer (so the interpreter may
    /// finish it from any instruction, see [`Deferred::Slow`]).
    pub ends_at_branch: bool,
    /// The pre-check has been emitted: direct exits may skip the flag save.
    prechecked: bool,
    body: usize,
    live_in: u32,
    stub_offsets: Vec<usize>,
    retired: HashMap<u32, DynamicLabel>,
    cur_back: Option<(DynamicLabel, Fl, bool)>,
    golden: bool,
    pub native: u32,
    pub callouts: u32,
    /// The current instruction emitted its own exits.
    pub ended: bool,
    /// The instruction a final short forward Jcc skips, for
    /// [`ifconv`] (the engine checked it lies in the block's page).
    skip: Option<Decoded>,
}

impl<'a> Emitter<'a> {
    pub fn new(
        block: &'a Block,
        key: Key,
        tb_id: u32,
        base: usize,
        stubs: Stubs,
        golden: bool,
        hint: &dyn Fn(u32) -> Option<u32>,
    ) -> Self {
        let live = liveness::live_after(&block.ops);
        let before = liveness::live_before(&block.ops, &live);
        let live_in = before.first().copied().unwrap_or(liveness::ALL);
        // The last point where no flag is live: a budget check there
        // costs nothing (see `precheck`).
        // A loop back to the block itself gains nothing when the block
        // reads its incoming flags (the back edge must save them anyway).
        let self_loop = block
            .ops
            .last()
            .is_some_and(|d| d.ins.is_jcc_short_or_near() || d.ins.is_jmp_short_or_near())
            && block.ops.last().map(|d| d.ins.near_branch_target() as u32) == Some(key.eip);
        // So does a block whose every direct exit goes to a translation
        // known to read its incoming flags (`hint`: target EIP -> live-in).
        let last = block.ops.last();
        let targets = last.map(|d| {
            let next = (d.ins.next_ip() as u32) & if key.code32() { u32::MAX } else { 0xFFFF };
            match d.ins.flow_control() {
                iced_x86::FlowControl::ConditionalBranch => {
                    vec![d.ins.near_branch_target() as u32, next]
                }
                iced_x86::FlowControl::UnconditionalBranch | iced_x86::FlowControl::Call => {
                    vec![d.ins.near_branch_target() as u32]
                }
                iced_x86::FlowControl::Next => vec![next],
                _ => vec![],
            }
        });
        let useless = targets.is_some_and(|t| {
            t.iter().all(|&t| {
                let l = if t == key.eip { Some(live_in) } else { hint(t) };
                l.is_some_and(|l| l != 0)
            })
        });
        // Leaving mid-block for the interpreter to finish (the pre-check's
        // and paired loads' exits) needs the interpreter's block from there
        // to end where this one does: at its control transfer, not at a
        // size cap.
        let ends_at_branch = block
            .ops
            .last()
            .is_some_and(|d| d.ins.flow_control() != iced_x86::FlowControl::Next);
        let precheck_at = if (self_loop && live_in != 0) || useless || !ends_at_branch {
            None
        } else {
            before.iter().rposition(|&l| l == 0)
        };
        Emitter {
            ops: VecAssembler::new(base),
            base,
            key,
            block,
            tb_id,
            stubs,
            fl: Fl {
                host: false,
                saved: true,
                mem: false,
            },
            of_fix: None,
            ptr_for: None,
            soft_slow: false,
            live,
            deferred: Vec::new(),
            exit_sites: Vec::new(),
            exit_fast: Vec::new(),
            exit_targets: Vec::new(),
            precheck_at,
            ends_at_branch,
            prechecked: false,
            body: 0,
            live_in,
            stub_offsets: Vec::new(),
            retired: HashMap::new(),
            cur_back: None,
            golden,
            native: 0,
            callouts: 0,
            ended: false,
            skip: None,
        }
    }

    /// The budget pre-check has been emitted (and passed, on this path).
    pub fn prechecked(&self) -> bool {
        self.prechecked
    }

    fn here(&self) -> usize {
        self.base + self.ops.offset().0
    }

    /// `jmp rel32` to an absolute address (a shared stub).
    pub fn jmp_abs(&mut self, target: usize) {
        let rel = target as i64 - (self.here() as i64 + 5);
        let rel = i32::try_from(rel).expect("stub within the code buffer");
        self.ops.push(0xE9);
        self.ops.extend(rel.to_le_bytes());
    }

    /// An external pointer as it is baked into code.
    fn ext(&self, p: usize, placeholder: u64) -> i64 {
        if self.golden {
            placeholder as i64
        } else {
            p as i64
        }
    }

    fn decoded_ptr(&self, idx: usize) -> i64 {
        let p = &self.block.ops[idx] as *const Decoded as usize;
        self.ext(p, 0x0000_6000_0000_0000 + idx as u64 * 0x100)
    }

    /// Mask of EIP values (16-bit code wraps at 64 KiB).
    pub fn eip_mask(&self) -> u32 {
        if self.key.code32() {
            u32::MAX
        } else {
            0xFFFF
        }
    }

    pub fn next_eip(&self, idx: usize) -> u32 {
        (self.block.ops[idx].ins.next_ip() as u32) & self.eip_mask()
    }

    pub fn live(&self, idx: usize) -> u32 {
        self.live[idx]
    }

    /// The block's decoded instructions.
    pub fn block_ops(&self) -> &'a [Decoded] {
        &self.block.ops
    }

    /// The next slow path registered leaves the block after its callout
    /// (see [`Deferred::Slow`]).
    pub fn next_slow_is_soft(&mut self) {
        self.soft_slow = true;
    }

    // ---- flags -------------------------------------------------------

    /// Makes host EFLAGS hold the guest flags.
    /// from fsave: `push fsave; popfq`
    /// from memory: `mov esi, [state+eflags]; and esi, ARITH; push rsi; popfq`
    pub fn need_host(&mut self) {
        self.apply_of_fix();
        if self.fl.host {
            return;
        }
        if self.fl.saved {
            asm!(self.ops ; push fsave ; popfq);
        } else {
            asm!(self.ops
                ; mov esi, DWORD [state + ST_EFLAGS]
                ; and esi, fl::ARITH as i32
                ; push rsi
                ; popfq
            );
        }
        self.fl.host = true;
    }

    /// Before code that clobbers host EFLAGS: keep a copy if host EFLAGS
    /// hold the only copy. `pushfq; pop fsave`
    pub fn protect(&mut self) {
        if self.fl.host && !self.fl.saved && !self.fl.mem {
            asm!(self.ops ; pushfq ; pop fsave);
            self.fl.saved = true;
        }
        self.fl.host = false;
    }

    /// Materialises the flags into `CpuState::eflags`.
    /// `[pushfq; pop fsave;] mov esi, fsave_d; and esi, ARITH;`
    /// `and [state+eflags], ~ARITH; or [state+eflags], esi`
    pub fn to_mem(&mut self) {
        self.apply_of_fix();
        if self.fl.mem {
            return;
        }
        self.protect();
        materialise_fsave(&mut self.ops);
        self.fl.mem = true;
        self.fl.host = false;
    }

    /// Makes `fsave` hold the flags: the convention at block boundaries
    /// (a block is entered with the guest flags in `fsave`).
    /// from host: `pushfq; pop fsave`; from memory:
    /// `mov fsave_d, [state+eflags]; and fsave_d, ARITH`
    pub fn to_saved(&mut self) {
        self.apply_of_fix();
        if self.fl.saved {
            return;
        }
        if self.fl.host {
            asm!(self.ops ; pushfq ; pop fsave);
        } else {
            asm!(self.ops
                ; mov r12d, DWORD [state + ST_EFLAGS]
                ; and r12d, fl::ARITH as i32
            );
            self.fl.host = false;
        }
        self.fl.saved = true;
    }

    /// A native op just wrote all arithmetic flags in host EFLAGS.
    pub fn wrote_flags(&mut self) {
        self.fl = Fl {
            host: true,
            saved: false,
            mem: false,
        };
        self.of_fix = None;
    }

    /// Makes host CF the guest CF, for an instruction that reads only CF
    /// and then writes every other flag itself (ADC, SBB, INC, DEC):
    /// `bt fsave_d, 0` or `bt dword [state+eflags], 0` (far cheaper than
    /// `popfq`; the other host flags are garbage until the instruction).
    pub fn need_cf(&mut self) {
        if self.fl.host {
            return;
        }
        if self.fl.saved {
            asm!(self.ops ; bt r12d, 0);
        } else {
            asm!(self.ops ; bt DWORD [state + ST_EFLAGS], 0);
        }
    }

    /// Writes the pending OF correction into `fsave` (flags then only
    /// there): `[pushfq; pop fsave;] mov ebp, reg; shr ebp, i; mov esi, reg;`
    /// `shr esi, j; xor ebp, esi; and ebp, 1; shl ebp, 11;`
    /// `and fsave_d, ~OF; or fsave_d, ebp`
    pub fn apply_of_fix(&mut self) {
        let Some(f) = self.of_fix.take() else {
            return;
        };
        self.protect();
        debug_assert!(self.fl.saved, "a pending OF fix keeps the flags in fsave");
        asm!(self.ops
            ; mov ebp, Rd(f.reg)
            ; shr ebp, f.i
            ; mov esi, Rd(f.reg)
            ; shr esi, f.j
            ; xor ebp, esi
            ; and ebp, 1
            ; shl ebp, 11
            ; and r12d, !fl::OF as i32
            ; or r12d, ebp
        );
        self.fl = Fl {
            host: false,
            saved: true,
            mem: false,
        };
    }

    // ---- exits -------------------------------------------------------

    /// Label of "add `k` to icount and leave" (one per `k` per block).
    fn retired_label(&mut self, k: u32) -> DynamicLabel {
        if let Some(&l) = self.retired.get(&k) {
            return l;
        }
        let l = self.ops.new_dynamic_label();
        self.retired.insert(k, l);
        l
    }

    /// Direct exit to `target` after `retired` instructions: chainable.
    /// `add icount, retired; jmp stub` (the 5-byte jmp is
    /// patched to the target block's entry once that exists).
    pub fn direct_exit(&mut self, target: u32, retired: u32) {
        self.direct_exit_with(target, retired, &|_| {});
    }

    /// [`Emitter::direct_exit`] running `prep` on the flag-saving path
    /// just before the flags are saved (after the fast path's NOP).
    pub fn direct_exit_with(&mut self, target: u32, retired: u32, prep: &dyn Fn(&mut Emitter)) {
        if self.key.paging()
            && self.key.cs_base.wrapping_add(target) & mmu::PAGE_MASK
                != self.key.linear() & mmu::PAGE_MASK
        {
            // Into another virtual page under paging: never chained (see
            // the engine's chaining rule), so rather than returning to
            // the dispatcher, probe the jump cache inline like an
            // indirect jump. That probe translates the target's linear
            // address through the current TLB (which every paging change
            // flushes or updates) and compares the physical address, EIP,
            // mode, CS base and limit, so it finds exactly what the
            // dispatcher would; a miss goes to `lookup()`, then the
            // dispatcher.
            // mov dword [state+eip], target; <indirect exit>
            prep(self);
            asm!(self.ops ; mov DWORD [state + ST_EIP], target as i32);
            self.indirect_exit(retired);
            return;
        }
        let mut fast = None;
        if self.prechecked {
            // lea icount, [icount+retired]      ; host flags untouched
            // fast: nop5                        ; patched: jmp target body
            // next: <save flags to fsave>
            asm!(self.ops ; lea icount, [icount + retired as i32]);
            fast = Some(self.ops.offset().0);
            self.ops.extend(crate::codebuf::NOP5);
            prep(self);
            self.to_saved();
        } else {
            prep(self);
            self.to_saved();
            if retired > 0 {
                asm!(self.ops ; add icount, retired as i32);
            }
        }
        let label = self.ops.new_dynamic_label();
        let slot = self.exit_sites.len();
        self.exit_sites.push(self.ops.offset().0);
        self.exit_fast.push(fast);
        self.exit_targets.push(target);
        asm!(self.ops ; jmp =>label);
        self.deferred.push(Deferred::Direct {
            label,
            slot,
            target,
        });
    }

    /// Budget pre-check before instruction `idx`, where no flag is live:
    /// `cmp icount, [rsp+end_early]; jae budget_idx` (or, for a block
    /// longer than the span, `lea rsi, [icount + n]; cmp rsi, [rsp+end];
    /// jae budget_idx`, n = the block's length). When it passes, the block's direct exits know
    /// the target's own entry check would pass too, so they may jump past
    /// it, and past saving flags the target never reads.
    fn precheck(&mut self, idx: usize) {
        // An if-converted branch retires one more instruction.
        let n = (self.block.ops.len() + self.skip.is_some() as usize) as i32;
        let label = self.ops.new_dynamic_label();
        if n as u32 <= PRECHECK_SPAN {
            // Conservative within PRECHECK_SPAN of the end: failing leaves
            // for the interpreter, which is exact.
            asm!(self.ops
                ; cmp icount, QWORD [rsp + FRAME_END_EARLY]
                ; jae =>label
            );
        } else {
            asm!(self.ops
                ; lea rsi, [icount + n]
                ; cmp rsi, QWORD [rsp + FRAME_END]
                ; jae =>label
            );
        }
        self.deferred.push(Deferred::Budget { label, idx });
        // Dead flags: whatever fsave holds will do.
        self.of_fix = None;
        self.fl = Fl {
            host: false,
            saved: true,
            mem: false,
        };
        self.prechecked = true;
    }

    /// Indirect exit: EIP already stored in `CpuState`. Probes the jump
    /// cache inline (the target's physical address comes from the TLB's
    /// execute tag, which a paging change flushes), else `lookup()`:
    /// ```text
    /// add icount, retired
    /// mov ebp, [state+eip]; add ebp, cs_base                 ; linear
    /// mov edi, ebp; shr edi, 7; and edi, (TLB_SIZE-1)<<5
    /// mov esi, ebp; and esi, PAGE_MASK; cmp esi, [tlb+rdi+exec]; jne miss
    /// and ebp, 0xFFF; or ebp, [tlb+rdi+paddr]                 ; physical
    /// mov edi, ebp; shr edi, JC_BITS; xor edi, ebp; and edi, JC_SIZE-1
    /// shl edi, 5; mov rsi, jc; add rdi, rsi
    /// cmp ebp, [rdi]; jne miss; mov esi, [state+eip]; cmp esi, [rdi+4]; jne miss
    /// cmp [rdi+16], mode; jne miss; cmp [rdi+8], cs_base; jne miss
    /// cmp [rdi+12], cs_limit; jne miss; jmp [rdi+24]
    /// miss: jmp indirect_tail
    /// ```
    pub fn indirect_exit(&mut self, retired: u32) {
        use crate::cache::{JC_BITS, JC_SIZE};
        self.to_saved();
        asm!(self.ops ; add icount, retired as i32);
        let cs_base = self.key.cs_base as i32;
        let cs_limit = self.key.cs_limit as i32;
        let mode = self.key.mode as i32;
        let jc = self.ext(self.stubs.jc, 0x0000_7000_0000_0000);
        let idx_mask = ((mmu::TLB_SIZE as i32) - 1) << 5;
        let exec = mmu::TLB_ENTRY_EXEC_OFFSET as i32;
        let paddr = mmu::TLB_ENTRY_PADDR_OFFSET as i32;
        asm!(self.ops ; mov ebp, DWORD [state + ST_EIP]);
        if cs_base != 0 {
            asm!(self.ops ; add ebp, cs_base);
        }
        asm!(self.ops
            ; mov edi, ebp
            ; shr edi, 7
            ; and edi, idx_mask
            ; mov esi, ebp
            ; and esi, mmu::PAGE_MASK as i32
            ; cmp esi, DWORD [tlb + rdi + exec]
            ; jne >miss
            ; and ebp, 0xFFF
            ; or ebp, DWORD [tlb + rdi + paddr]
            ; mov edi, ebp
            ; shr edi, JC_BITS as i8
            ; xor edi, ebp
            ; and edi, (JC_SIZE - 1) as i32
            ; shl edi, 5
            ; mov rsi, QWORD jc
            ; add rdi, rsi
            ; cmp ebp, DWORD [rdi]
            ; jne >miss
            ; mov esi, DWORD [state + ST_EIP]
            ; cmp esi, DWORD [rdi + 4]
            ; jne >miss
            ; cmp DWORD [rdi + 16], mode
            ; jne >miss
            ; cmp DWORD [rdi + 8], cs_base
            ; jne >miss
            ; cmp DWORD [rdi + 12], cs_limit
            ; jne >miss
            ; jmp QWORD [rdi + 24]
            ; miss:
        );
        let t = self.stubs.indirect_tail;
        self.jmp_abs(t);
    }

    // ---- callouts ----------------------------------------------------

    /// `mov rsi, &decoded[idx]; mov edi, idx; call callout_stub` (the
    /// shared stub spills, lets the handler see the `idx` instructions
    /// retired before it in the block, calls `callout`, reloads, and
    /// returns the status in ebp).
    fn call_handler(&mut self, idx: usize) {
        self.call_stub(idx, self.stubs.callout);
    }

    /// [`Emitter::call_handler`] through the given callout stub.
    fn call_stub(&mut self, idx: usize, stub: usize) {
        let dp = self.decoded_ptr(idx);
        asm!(self.ops
            ; mov rsi, QWORD dp
            ; mov edi, idx as i32
        );
        let rel = stub as i64 - (self.here() as i64 + 5);
        let rel = i32::try_from(rel).expect("stub within the code buffer");
        self.ops.push(0xE8);
        self.ops.extend(rel.to_le_bytes());
    }

    /// Instruction `idx` as a callout:
    /// `materialise flags; <call_handler>; test ebp, ebp; jnz exit_idx`
    pub fn callout(&mut self, idx: usize) {
        self.callouts += 1;
        self.ptr_for = None;
        self.to_mem();
        let stub = if light_callout(&self.block.ops[idx]) {
            self.stubs.callout_light
        } else {
            self.stubs.callout
        };
        self.call_stub(idx, stub);
        let label = self.ops.new_dynamic_label();
        asm!(self.ops
            ; test ebp, ebp
            ; jnz =>label
        );
        self.deferred.push(Deferred::CalloutExit { label, idx });
        self.fl = Fl::MEM;
    }

    /// Starts a native instruction with a slow path: saves live flags,
    /// returns the label the fast path jumps to on a miss.
    pub fn begin_slow(&mut self, idx: usize, writes_flags: bool, ends: bool) -> DynamicLabel {
        self.protect();
        self.ptr_for = None;
        let soft = std::mem::take(&mut self.soft_slow);
        let label = self.ops.new_dynamic_label();
        let back = self.ops.new_dynamic_label();
        self.deferred.push(Deferred::Slow {
            label,
            back,
            idx,
            pre: self.fl,
            fix: self.of_fix,
            soft,
            writes_flags,
            ends,
        });
        self.cur_back = Some((back, self.fl, writes_flags));
        label
    }

    /// Ends the fast path of the current instruction (its slow path
    /// rejoins here).
    pub fn end_slow(&mut self) {
        if let Some((back, pre, writes_flags)) = self.cur_back.take() {
            asm!(self.ops ; =>back);
            // The slow path arrives with the flags in host EFLAGS (if the
            // instruction writes them) or where they were before it (plus
            // memory): keep only what both paths guarantee.
            let slow = if writes_flags {
                Fl {
                    host: true,
                    saved: false,
                    mem: false,
                }
            } else {
                Fl {
                    host: false,
                    saved: pre.saved,
                    mem: true,
                }
            };
            self.fl = Fl {
                host: self.fl.host && slow.host,
                saved: self.fl.saved && slow.saved,
                mem: self.fl.mem && slow.mem,
            };
            debug_assert!(
                self.fl.host || self.fl.saved || self.fl.mem,
                "flags lost at a join"
            );
        }
    }

    // ---- the block ---------------------------------------------------

    fn translate_ins(&mut self, idx: usize) {
        let d = &self.block.ops[idx];
        if let Some(f) = self.of_fix {
            if !keeps_of_fix(d, f.reg) {
                self.apply_of_fix();
            }
        }
        let handled = mov::emit(self, idx, d)
            || alu::emit(self, idx, d)
            || muldiv::emit(self, idx, d)
            || bits::emit(self, idx, d)
            || string::emit(self, idx, d)
            || control::emit(self, idx, d);
        if handled {
            self.native += 1;
            self.end_slow();
        } else {
            self.callout(idx);
        }
    }

    /// The final Jcc `idx` if-converted over `skip` (see [`ifconv`]).
    fn try_ifconv(&mut self, idx: usize) -> bool {
        let Some(skip) = self.skip else {
            return false;
        };
        let d = &self.block.ops[idx];
        let Some(cc) = liveness::cond_code(d.ins.mnemonic()) else {
            return false;
        };
        let target = d.ins.near_branch_target() as u32;
        if target > self.key.cs_limit {
            return false;
        }
        ifconv::emit(self, idx, cc, target, &skip)
    }

    /// Emits the whole block.
    pub fn translate(mut self) -> Translated {
        // Entry (flags in fsave): leave at once if the budget is used up;
        // chained jumps land here too. (Exit requests are only made by
        // handlers, and a callout that sees one leaves the block.)
        // cmp icount, [rsp+end]; jae entry_exit
        let entry_exit = self.ops.new_dynamic_label();
        asm!(self.ops
            ; cmp icount, QWORD [rsp + FRAME_END]
            ; jae =>entry_exit
        );
        self.deferred
            .push(Deferred::EntryExit { label: entry_exit });
        self.body = self.ops.offset().0;
        let n = self.block.ops.len();
        for idx in 0..n {
            if self.precheck_at == Some(idx) {
                self.precheck(idx);
            }
            if idx + 1 == n && self.try_ifconv(idx) {
                self.native += 1;
                self.ended = true;
                break;
            }
            self.translate_ins(idx);
            if self.ended {
                break;
            }
        }
        if !self.ended {
            let next = self.next_eip(n - 1);
            self.direct_exit(next, n as u32);
        }
        self.emit_deferred();
        self.finish()
    }

    fn emit_deferred(&mut self) {
        self.stub_offsets = vec![0; self.exit_sites.len()];
        while !self.deferred.is_empty() {
            let list = std::mem::take(&mut self.deferred);
            for d in list {
                self.emit_one_deferred(d);
            }
        }
        // "add k to icount and leave", for each k used:
        // add qword [state+icount], k; jmp exit_generic
        let mut ks: Vec<(u32, DynamicLabel)> = self.retired.iter().map(|(&k, &l)| (k, l)).collect();
        ks.sort_by_key(|&(k, _)| k);
        for (k, l) in ks {
            asm!(self.ops ; =>l);
            if k > 0 {
                asm!(self.ops ; add QWORD [state + ST_ICOUNT], k as i32);
            }
            let t = self.stubs.exit_generic;
            self.jmp_abs(t);
        }
    }

    fn emit_one_deferred(&mut self, d: Deferred) {
        match d {
            // slow_idx: materialise flags; <call_handler>;
            //   status -> exit stubs; [restore host flags]; jmp back
            Deferred::Slow {
                label,
                back,
                idx,
                pre,
                fix,
                soft,
                writes_flags,
                ends,
            } => {
                asm!(self.ops ; =>label);
                self.fl = pre;
                self.fl.host = false;
                self.of_fix = fix;
                self.to_mem();
                self.call_handler(idx);
                if ends {
                    let fault = self.retired_label(idx as u32);
                    let done = self.retired_label(idx as u32 + 1);
                    asm!(self.ops
                        ; cmp ebp, ST_FAULT as i32
                        ; je =>fault
                        ; jmp =>done
                    );
                } else if soft {
                    // cmp ebp, FAULT; je retired(idx); ctx.soft_left = n-idx-1;
                    // test ebp, ebp; jnz retired(idx+1); ctx.soft_exit = 1;
                    // jmp retired(idx+1)
                    let fault = self.retired_label(idx as u32);
                    let done = self.retired_label(idx as u32 + 1);
                    let left = (self.block.ops.len() - idx - 1) as i32;
                    asm!(self.ops
                        ; cmp ebp, ST_FAULT as i32
                        ; je =>fault
                        ; mov rsi, QWORD [rsp + FRAME_CTX]
                        ; mov DWORD [rsi + CTX_SOFT_LEFT], left
                        ; test ebp, ebp
                        ; jnz =>done
                        ; mov BYTE [rsi + CTX_SOFT_EXIT], 1
                        ; jmp =>done
                    );
                } else {
                    let l = self.ops.new_dynamic_label();
                    asm!(self.ops
                        ; test ebp, ebp
                        ; jnz =>l
                    );
                    self.deferred.push(Deferred::CalloutExit { label: l, idx });
                    self.fl = Fl::MEM;
                    if writes_flags {
                        self.need_host();
                    }
                    asm!(self.ops ; jmp =>back);
                }
            }
            // stub: mov esi, target; mov edi, slot; mov ebp, id;
            //   jmp direct_exit (shared: spill, EIP, chaining record)
            Deferred::Direct {
                label,
                slot,
                target,
            } => {
                self.stub_offsets[slot] = self.ops.offset().0;
                let id = self.tb_id as i32;
                asm!(self.ops
                    ; =>label
                    ; mov esi, target as i32
                    ; mov edi, slot as i32
                    ; mov ebp, id
                );
                let t = self.stubs.direct_exit;
                self.jmp_abs(t);
            }
            // cmp ebp, FAULT; je retired(idx);
            //   ctx.soft_left = n - idx - 1 (for a soft exit); jmp retired(idx+1)
            Deferred::CalloutExit { label, idx } => {
                let fault = self.retired_label(idx as u32);
                let done = self.retired_label(idx as u32 + 1);
                let left = (self.block.ops.len() - idx - 1) as i32;
                asm!(self.ops
                    ; =>label
                    ; cmp ebp, ST_FAULT as i32
                    ; je =>fault
                    ; mov rsi, QWORD [rsp + FRAME_CTX]
                    ; mov DWORD [rsi + CTX_SOFT_LEFT], left
                    ; jmp =>done
                );
            }
            // spill; mov dword [state+eip], eip(idx); ctx.soft_exit = 1;
            //   ctx.soft_left = n - idx; jmp retired(idx)
            Deferred::Budget { label, idx } => {
                asm!(self.ops ; =>label);
                spill(&mut self.ops);
                materialise_fsave(&mut self.ops);
                let e_ip = (self.block.ops[idx].ins.ip() as u32 & self.eip_mask()) as i32;
                let done = self.retired_label(idx as u32);
                let left = (self.block.ops.len() - idx) as i32;
                asm!(self.ops
                    ; mov DWORD [state + ST_EIP], e_ip
                    ; mov rsi, QWORD [rsp + FRAME_CTX]
                    ; mov BYTE [rsi + CTX_SOFT_EXIT], 1
                    ; mov DWORD [rsi + CTX_SOFT_LEFT], left
                    ; jmp =>done
                );
            }
            // mov esi, block_eip; jmp entry_exit (shared: EIP, spill, flags)
            Deferred::EntryExit { label } => {
                let e_ip = self.key.eip as i32;
                asm!(self.ops
                    ; =>label
                    ; mov esi, e_ip
                );
                let t = self.stubs.entry_exit;
                self.jmp_abs(t);
            }
        }
    }

    fn finish(self) -> Translated {
        let code = self.ops.finalize().expect("block labels resolve");
        let mut exits = Vec::with_capacity(self.exit_sites.len());
        for (i, &site) in self.exit_sites.iter().enumerate() {
            assert_eq!(code[site], 0xE9, "direct exits are jmp rel32");
            exits.push(ExitSite {
                site,
                stub: self.stub_offsets[i],
                target: self.exit_targets[i],
                fast: self.exit_fast[i],
            });
        }
        Translated {
            code,
            exits,
            body: self.body,
            live_in: self.live_in,
            native: self.native,
            callouts: self.callouts,
        }
    }
}

/// Whether `d` may run through [`crate::runtime::callout_light`]: x87
/// instructions (FPU feature) change no segment, control register, mode
/// flag, memory map or interrupt shadow, so the checks for those after the
/// handler are skipped (exits for faults, exit requests, SMC and EIP
/// changes stay).
pub fn light_callout(d: &Decoded) -> bool {
    d.ins
        .cpuid_features()
        .contains(&iced_x86::CpuidFeature::FPU)
}

/// Whether a pending [`OfFix`] on host register `reg` may stay pending
/// across `d`: `d` neither reads OF on its fast path nor changes `reg`
/// before writing every flag itself (its slow path, taken before any
/// write, applies the fix).
fn keeps_of_fix(d: &Decoded, reg: u8) -> bool {
    use iced_x86::{Mnemonic::*, OpKind, Register};
    let writes_reg = || {
        d.ins.op0_kind() == OpKind::Register && {
            let r = d.ins.op0_register().full_register32();
            (Register::EAX..=Register::EDI).contains(&r)
                && HOST[r as usize - Register::EAX as usize] == reg
        }
    };
    match d.ins.mnemonic() {
        Mov | Movzx | Movsx | Lea | Nop => !writes_reg(),
        // Write OF (a CL count or a callout applies the fix first).
        Add | Or | And | Sub | Xor | Cmp | Test | Inc | Dec | Neg | Shl | Sal | Shr | Sar => true,
        Imul => d.ins.op_count() >= 2,
        _ => false,
    }
}

/// Translates `block` for `key` to code that will live at `base`.
pub fn translate(
    block: &Block,
    key: Key,
    tb_id: u32,
    base: usize,
    stubs: Stubs,
    golden: bool,
) -> Translated {
    let hints = Hints {
        live_in: &|_| None,
        skip: None,
    };
    translate_with(block, key, tb_id, base, stubs, golden, &hints)
}

/// What the engine knows beyond the block (see [`translate_with`]).
pub struct Hints<'h> {
    /// Live-in flags of already translated targets (eip -> live-in).
    pub live_in: &'h dyn Fn(u32) -> Option<u32>,
    /// The instruction a final short forward Jcc skips ([`ifconv`]).
    pub skip: Option<Decoded>,
}

/// [`translate`] knowing the live-in flags of some already translated
/// targets (`hints.live_in`), to skip a budget pre-check no exit can use,
/// and the instruction a final branch skips.
pub fn translate_with(
    block: &Block,
    key: Key,
    tb_id: u32,
    base: usize,
    stubs: Stubs,
    golden: bool,
    hints: &Hints,
) -> Translated {
    let mut e = Emitter::new(block, key, tb_id, base, stubs, golden, hints.live_in);
    e.skip = hints.skip;
    e.translate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::harness::{asm32, TestMachine, CODE_BASE};
    use iced_x86::code_asm::*;

    fn emitter_for(m: &mut TestMachine) -> std::rc::Rc<Block> {
        m.decoded_block().unwrap()
    }

    #[test]
    fn flag_locations_follow_the_protocol() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.add(eax, ebx).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        let b = emitter_for(&mut m);
        let key = Key::of(&m.s, CODE_BASE);
        let mut e = Emitter::new(&b, key, 0, 0x1000_0000, Stubs::default(), true, &|_| None);
        assert_eq!(
            e.fl,
            Fl {
                host: false,
                saved: true,
                mem: false
            },
            "blocks start with the flags in fsave"
        );
        e.wrote_flags();
        e.protect();
        assert!(e.fl.saved && !e.fl.host);
        e.need_host();
        assert!(e.fl.host);
        e.to_mem();
        assert!(e.fl.mem && !e.fl.host);
        e.callout(0);
        assert_eq!(e.fl, Fl::MEM);
        e.to_saved();
        assert!(e.fl.saved && e.fl.mem);
    }

    #[test]
    fn every_direct_exit_is_a_patchable_jmp() {
        let code = asm32(CODE_BASE as u64, |a| {
            let mut l = a.create_label();
            a.cmp(eax, 1).unwrap();
            a.je(l).unwrap();
            a.set_label(&mut l).unwrap();
            a.nop().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        let b = emitter_for(&mut m);
        let key = Key::of(&m.s, CODE_BASE);
        let t = translate(&b, key, 0, 0x1000_0000, Stubs::default(), true);
        assert_eq!(t.exits.len(), 2);
        for &ExitSite { site, stub, .. } in &t.exits {
            assert_eq!(t.code[site], 0xE9);
            let rel = i32::from_le_bytes(t.code[site + 1..site + 5].try_into().unwrap());
            assert_eq!(
                site as i64 + 5 + rel as i64,
                stub as i64,
                "initially to its stub"
            );
        }
        assert_eq!((t.native, t.callouts), (2, 0));
    }
}
