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
//! Precise state: a native instruction does every TLB check before any
//! architectural write; a miss (or a failed segment-limit check) goes to
//! the instruction's out-of-line slow path, which runs the interpreter's
//! handler for the whole instruction as a callout. So faults, page-crossing
//! accesses, MMIO and stores to code pages get exactly the interpreter's
//! behaviour.

pub mod alu;
pub mod control;
pub mod mem;
pub mod mov;
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

enum Deferred {
    /// Slow path of native instruction `idx`: callout, then back.
    Slow {
        label: DynamicLabel,
        back: DynamicLabel,
        idx: usize,
        pre: Fl,
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
}

/// Result of translating one block.
pub struct Translated {
    pub code: Vec<u8>,
    /// Per direct exit: (jmp site offset, stub offset, target EIP).
    pub exits: Vec<(usize, usize, u32)>,
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
    live: Vec<u32>,
    deferred: Vec<Deferred>,
    exit_sites: Vec<usize>,
    exit_targets: Vec<u32>,
    stub_offsets: Vec<usize>,
    retired: HashMap<u32, DynamicLabel>,
    cur_back: Option<(DynamicLabel, Fl, bool)>,
    golden: bool,
    pub native: u32,
    pub callouts: u32,
    /// The current instruction emitted its own exits.
    pub ended: bool,
}

impl<'a> Emitter<'a> {
    pub fn new(
        block: &'a Block,
        key: Key,
        tb_id: u32,
        base: usize,
        stubs: Stubs,
        golden: bool,
    ) -> Self {
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
            live: liveness::live_after(&block.ops),
            deferred: Vec::new(),
            exit_sites: Vec::new(),
            exit_targets: Vec::new(),
            stub_offsets: Vec::new(),
            retired: HashMap::new(),
            cur_back: None,
            golden,
            native: 0,
            callouts: 0,
            ended: false,
        }
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

    // ---- flags -------------------------------------------------------

    /// Makes host EFLAGS hold the guest flags.
    /// from fsave: `push fsave; popfq`
    /// from memory: `mov esi, [state+eflags]; and esi, ARITH; push rsi; popfq`
    pub fn need_host(&mut self) {
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
        self.to_saved();
        if retired > 0 {
            asm!(self.ops ; add icount, retired as i32);
        }
        let label = self.ops.new_dynamic_label();
        let slot = self.exit_sites.len();
        self.exit_sites.push(self.ops.offset().0);
        self.exit_targets.push(target);
        asm!(self.ops ; jmp =>label);
        self.deferred.push(Deferred::Direct {
            label,
            slot,
            target,
        });
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

    /// `spill; rdi = ctx; rsi = &decoded[idx]; call callout`
    fn call_handler(&mut self, idx: usize) {
        let f: CalloutFn = callout;
        let fp = self.ext(f as usize, 0x0000_5000_0000_0000);
        let dp = self.decoded_ptr(idx);
        spill(&mut self.ops);
        asm!(self.ops
            ; mov rdi, QWORD [rsp + FRAME_CTX]
            ; mov rsi, QWORD dp
            ; mov rax, QWORD fp
            ; call rax
        );
    }

    /// Instruction `idx` as a callout:
    /// `materialise flags; spill; call callout(ctx, &d); test eax, eax;`
    /// `jnz exit_idx; reload`
    pub fn callout(&mut self, idx: usize) {
        self.callouts += 1;
        self.to_mem();
        self.call_handler(idx);
        let label = self.ops.new_dynamic_label();
        asm!(self.ops
            ; test eax, eax
            ; jnz =>label
        );
        self.deferred.push(Deferred::CalloutExit { label, idx });
        reload(&mut self.ops);
        self.fl = Fl::MEM;
    }

    /// Starts a native instruction with a slow path: saves live flags,
    /// returns the label the fast path jumps to on a miss.
    pub fn begin_slow(&mut self, idx: usize, writes_flags: bool, ends: bool) -> DynamicLabel {
        self.protect();
        let label = self.ops.new_dynamic_label();
        let back = self.ops.new_dynamic_label();
        self.deferred.push(Deferred::Slow {
            label,
            back,
            idx,
            pre: self.fl,
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
        let handled = mov::emit(self, idx, d)
            || alu::emit(self, idx, d)
            || string::emit(self, idx, d)
            || control::emit(self, idx, d);
        if handled {
            self.native += 1;
            self.end_slow();
        } else {
            self.callout(idx);
        }
    }

    /// Emits the whole block.
    pub fn translate(mut self) -> Translated {
        // Entry (flags in fsave): leave at once if an exit was requested
        // or the budget is used up; chained jumps land here too.
        // cmp dword [state+exit_request], 0; jne entry_exit
        // cmp icount, [rsp+end]; jae entry_exit
        let entry_exit = self.ops.new_dynamic_label();
        asm!(self.ops
            ; cmp DWORD [state + ST_EXIT_REQ], 0
            ; jne =>entry_exit
            ; cmp icount, QWORD [rsp + FRAME_END]
            ; jae =>entry_exit
        );
        self.deferred
            .push(Deferred::EntryExit { label: entry_exit });
        let n = self.block.ops.len();
        for idx in 0..n {
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
            // slow_idx: materialise flags; spill; call callout(ctx, &d);
            //   status -> exit stubs; reload; [restore host flags]; jmp back
            Deferred::Slow {
                label,
                back,
                idx,
                pre,
                writes_flags,
                ends,
            } => {
                asm!(self.ops ; =>label);
                self.fl = pre;
                self.fl.host = false;
                self.to_mem();
                self.call_handler(idx);
                if ends {
                    let fault = self.retired_label(idx as u32);
                    let done = self.retired_label(idx as u32 + 1);
                    asm!(self.ops
                        ; cmp eax, ST_FAULT as i32
                        ; je =>fault
                        ; jmp =>done
                    );
                } else {
                    let l = self.ops.new_dynamic_label();
                    asm!(self.ops
                        ; test eax, eax
                        ; jnz =>l
                    );
                    self.deferred.push(Deferred::CalloutExit { label: l, idx });
                    reload(&mut self.ops);
                    self.fl = Fl::MEM;
                    if writes_flags {
                        self.need_host();
                    }
                    asm!(self.ops ; jmp =>back);
                }
            }
            // stub: spill; mov dword [state+eip], target;
            //   mov rsi, [rsp+ctx]; mov dword [rsi+exit_tb], id;
            //   mov dword [rsi+exit_slot], slot; jmp epilogue
            Deferred::Direct {
                label,
                slot,
                target,
            } => {
                self.stub_offsets[slot] = self.ops.offset().0;
                asm!(self.ops ; =>label);
                spill(&mut self.ops);
                materialise_fsave(&mut self.ops);
                let id = self.tb_id as i32;
                asm!(self.ops
                    ; mov DWORD [state + ST_EIP], target as i32
                    ; mov rsi, QWORD [rsp + FRAME_CTX]
                    ; mov DWORD [rsi + CTX_EXIT_TB], id
                    ; mov DWORD [rsi + CTX_EXIT_SLOT], slot as i32
                );
                let t = self.stubs.epilogue;
                self.jmp_abs(t);
            }
            // cmp eax, FAULT; je retired(idx); jmp retired(idx+1)
            Deferred::CalloutExit { label, idx } => {
                let fault = self.retired_label(idx as u32);
                let done = self.retired_label(idx as u32 + 1);
                asm!(self.ops
                    ; =>label
                    ; cmp eax, ST_FAULT as i32
                    ; je =>fault
                    ; jmp =>done
                );
            }
            // spill; mov dword [state+eip], block_eip; jmp exit_generic
            Deferred::EntryExit { label } => {
                asm!(self.ops ; =>label);
                spill(&mut self.ops);
                materialise_fsave(&mut self.ops);
                let e_ip = self.key.eip as i32;
                asm!(self.ops ; mov DWORD [state + ST_EIP], e_ip);
                let t = self.stubs.exit_generic;
                self.jmp_abs(t);
            }
        }
    }

    fn finish(self) -> Translated {
        let code = self.ops.finalize().expect("block labels resolve");
        let mut exits = Vec::with_capacity(self.exit_sites.len());
        for (i, &site) in self.exit_sites.iter().enumerate() {
            assert_eq!(code[site], 0xE9, "direct exits are jmp rel32");
            exits.push((site, self.stub_offsets[i], self.exit_targets[i]));
        }
        Translated {
            code,
            exits,
            native: self.native,
            callouts: self.callouts,
        }
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
    Emitter::new(block, key, tb_id, base, stubs, golden).translate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::cpu::Cpu;
    use cpu_interp::harness::{asm32, TestMachine, CODE_BASE};
    use iced_x86::code_asm::*;

    fn emitter_for(m: &mut TestMachine) -> std::rc::Rc<Block> {
        let mut cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
        };
        m.interp.cache.get(&mut cpu).unwrap()
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
        let mut e = Emitter::new(&b, key, 0, 0x1000_0000, Stubs::default(), true);
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
        for &(site, stub, _) in &t.exits {
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
