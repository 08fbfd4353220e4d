//! The shared stubs at the start of the code buffer: the entry trampoline
//! from Rust, the common epilogue back to Rust, the generic exit, the
//! indirect-jump tail that calls `lookup()`, and the shared halves of
//! callouts, direct exits and refused entries (blocks only load their
//! arguments and jump or call here, which keeps translations small).

use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynasmApi, DynasmLabelApi, VecAssembler};

use cpu_interp::state::fl;

use super::{
    asm, materialise_fsave, reload, spill, FRAME_CTX, FRAME_END, FRAME_END_EARLY, PRECHECK_SPAN,
};
use crate::cache::Stubs;
use crate::codebuf::CodeBuf;
use crate::runtime::{
    callout, callout_light, lookup, CalloutFn, LookupFn, CTX_END_ICOUNT, CTX_EXIT_SLOT,
    CTX_EXIT_TB, ST_EFLAGS, ST_EIP, ST_ICOUNT,
};

/// Signature of the entry trampoline.
pub type EnterFn =
    extern "sysv64" fn(ctx: *mut u8, state: *mut u8, tlb: *const u8, target: *const u8) -> u32;

/// The shared callout sequence around `f` (see `emit_stubs`).
fn callout_stub_body(ops: &mut VecAssembler<X64Relocation>, f: CalloutFn) {
    spill(ops);
    asm!(ops
        ; mov ebp, edi
        ; add QWORD [state + ST_ICOUNT], rbp
        ; sub rsp, 8
        ; mov rdi, QWORD [rsp + 16 + FRAME_CTX]
        ; mov rax, QWORD f as usize as i64
        ; call rax
        ; add rsp, 8
        ; sub QWORD [state + ST_ICOUNT], rbp
        ; mov ebp, eax
    );
    reload(ops);
    asm!(ops ; ret);
}

/// Emits the stubs at offset 0 of `code`.
pub fn emit_stubs(code: &mut CodeBuf) -> Stubs {
    let base = code.addr(0);
    let mut ops: VecAssembler<X64Relocation> = VecAssembler::new(base);
    let lookup_fn: LookupFn = lookup;

    // enter(ctx=rdi, state=rsi, tlb=rdx, target=rcx):
    //   push rbx, rbp, r12..r15; sub rsp, 24       ; 16-byte aligned frame
    //   [rsp] = ctx; [rsp+8] = ctx.end_icount
    //   [rsp+16] = end_icount - PRECHECK_SPAN (0 if below)
    //   r15 = state; r14 = tlb; rbp = target
    //   r12 = eflags & ARITH                          ; flags in fsave
    //   load the eight guest GPRs and icount; jmp rbp
    let enter = ops.offset().0;
    asm!(ops
        ; push rbx
        ; push rbp
        ; push r12
        ; push r13
        ; push r14
        ; push r15
        ; sub rsp, 24
        ; mov [rsp + FRAME_CTX], rdi
        ; mov rax, QWORD [rdi + CTX_END_ICOUNT]
        ; mov [rsp + FRAME_END], rax
        ; xor r8d, r8d
        ; sub rax, PRECHECK_SPAN as i32
        ; cmovb rax, r8
        ; mov [rsp + FRAME_END_EARLY], rax
        ; mov state, rsi
        ; mov tlb, rdx
        ; mov rbp, rcx
        ; mov r12d, DWORD [state + ST_EFLAGS]
        ; and r12d, fl::ARITH as i32
    );
    reload(&mut ops);
    asm!(ops
        ; jmp rbp
    );

    // epilogue: add rsp, 24; pop r15..r12, rbp, rbx; xor eax, eax; ret
    let epilogue = ops.offset().0;
    asm!(ops
        ; ->epilogue:
        ; add rsp, 24
        ; pop r15
        ; pop r14
        ; pop r13
        ; pop r12
        ; pop rbp
        ; pop rbx
        ; xor eax, eax
        ; ret
    );

    // exit_generic: no chainable exit; regs, EIP, flags already in state.
    //   mov rsi, [rsp+ctx]; mov dword [rsi + exit_slot], NO_SLOT; jmp epilogue
    let exit_generic = ops.offset().0;
    asm!(ops
        ; ->exit_generic:
        ; mov rsi, QWORD [rsp + FRAME_CTX]
        ; mov DWORD [rsi + CTX_EXIT_SLOT], -1
        ; jmp ->epilogue
    );

    // indirect_tail: EIP in state, flags in fsave, regs and icount live.
    //   spill; rax = lookup([rsp+ctx])    (fsave survives: callee-saved)
    //   if rax == 0 { materialise fsave; goto exit_generic }
    //   rbp = rax; reload; jmp rbp
    let indirect_tail = ops.offset().0;
    spill(&mut ops);
    asm!(ops
        ; mov rdi, QWORD [rsp + FRAME_CTX]
        ; mov rax, QWORD lookup_fn as usize as i64
        ; call rax
        ; test rax, rax
        ; jz >miss
        ; mov rbp, rax
    );
    reload(&mut ops);
    asm!(ops
        ; jmp rbp
        ; miss:
    );
    materialise_fsave(&mut ops);
    asm!(ops
        ; jmp ->exit_generic
    );
    // callout: `call`ed from blocks with rsi = &Decoded, edi = the
    // instructions the block retired before it; flags already in
    // `CpuState`. Returns the status in ebp with the registers reloaded.
    //   spill; mov ebp, edi; add [state+icount], rbp   ; handler sees them
    //   sub rsp, 8; mov rdi, [rsp+16+ctx]; call callout; add rsp, 8
    //   sub [state+icount], rbp; mov ebp, eax; reload; ret
    let callout_stub = ops.offset().0;
    callout_stub_body(&mut ops, callout);
    // callout_light: the same around `callout_light`.
    let callout_light_stub = ops.offset().0;
    callout_stub_body(&mut ops, callout_light);

    // direct_exit: jumped to with esi = target EIP, edi = exit slot,
    // ebp = block id; flags in fsave.
    //   mov [state+eip], esi; spill; materialise fsave;
    //   mov rsi, [rsp+ctx]; mov [rsi+exit_tb], ebp; mov [rsi+exit_slot], edi
    //   jmp epilogue
    let direct_exit = ops.offset().0;
    asm!(ops ; mov DWORD [state + ST_EIP], esi);
    spill(&mut ops);
    materialise_fsave(&mut ops);
    asm!(ops
        ; mov rsi, QWORD [rsp + FRAME_CTX]
        ; mov DWORD [rsi + CTX_EXIT_TB], ebp
        ; mov DWORD [rsi + CTX_EXIT_SLOT], edi
        ; jmp ->epilogue
    );

    // entry_exit: a refused block entry, esi = the block's EIP.
    //   mov [state+eip], esi; spill; materialise fsave; jmp exit_generic
    let entry_exit = ops.offset().0;
    asm!(ops ; mov DWORD [state + ST_EIP], esi);
    spill(&mut ops);
    materialise_fsave(&mut ops);
    asm!(ops ; jmp ->exit_generic);

    let bytes = ops.finalize().expect("stub labels resolve");
    let off = code.append(&bytes).expect("stubs fit");
    debug_assert_eq!(off, 0);
    Stubs {
        enter: base + enter,
        epilogue: base + epilogue,
        exit_generic: base + exit_generic,
        indirect_tail: base + indirect_tail,
        callout: base + callout_stub,
        callout_light: base + callout_light_stub,
        direct_exit: base + direct_exit,
        entry_exit: base + entry_exit,
        jc: 0,
        end: bytes.len().next_multiple_of(64).min(code.size()),
    }
    .padded(code)
}

impl Stubs {
    fn padded(mut self, code: &mut CodeBuf) -> Stubs {
        let pad = self.end.saturating_sub(code.used);
        if pad > 0 {
            code.append(&vec![0xCC; pad]).expect("stub padding fits");
        }
        self.end = code.used;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use crate::emit::Ops;
    use crate::runtime::{RunCtx, NO_SLOT, ST_EIP, ST_REGS};
    use cpu_interp::harness::TestMachine;

    #[test]
    fn enter_and_leave_round_trip() {
        let mut m = TestMachine::flat32(&[0xF4]);
        let mut cache = Cache::with_size(1 << 16);
        let at = cache.code.addr(cache.code.used);
        // A "block": inc guest EBX (host rbx), set the guest CF through
        // fsave, spill, store EIP, leave through exit_generic.
        let mut ops: Ops = VecAssembler::new(at);
        asm!(ops
            ; inc ebx
            ; or r12d, 1
        );
        spill(&mut ops);
        materialise_fsave(&mut ops);
        asm!(ops ; mov DWORD [state + ST_EIP], 0x1234);
        let rel = cache.stubs.exit_generic as i64 - (at as i64 + ops.offset().0 as i64 + 5);
        ops.push(0xE9);
        ops.extend((rel as i32).to_le_bytes());
        let code = ops.finalize().unwrap();
        let off = cache.code.append(&code).unwrap();
        let entry = cache.code.addr(off);
        m.s.regs = [1, 2, 3, 4, 5, 6, 7, 8];
        let enter_addr = cache.stubs.enter;
        let tlb = m.mmu.tlb.entries[0].as_ptr() as *const u8;
        let mut ctx = RunCtx {
            state: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
            end_icount: u64::MAX,
            exit_tb: 0,
            exit_slot: 0,
            cache: &mut cache,
            callouts: 0,
            lookups: 0,
            lookup_hits: 0,
            soft_exit: false,
            soft_left: 0,
            timing: false,
            callout_ticks: 0,
            callout_hist: std::ptr::null_mut(),
        };
        // SAFETY: the stub has the `EnterFn` signature; the block above
        // follows the register convention and leaves through exit_generic.
        let enter: EnterFn = unsafe { std::mem::transmute::<usize, EnterFn>(enter_addr) };
        let state = ctx.state as *mut u8;
        enter(
            &mut ctx as *mut RunCtx as *mut u8,
            state,
            tlb,
            entry as *const u8,
        );
        assert_eq!(ctx.exit_slot, NO_SLOT);
        assert_eq!(m.s.eip, 0x1234);
        assert_eq!(m.s.regs, [1, 2, 3, 5, 5, 6, 7, 8]);
        assert!(m.s.cf());
        let _ = ST_REGS;
    }
}
