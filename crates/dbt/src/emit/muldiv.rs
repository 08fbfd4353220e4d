//! One-operand MUL/IMUL (AX, DX:AX or EDX:EAX = accumulator * r/m) and
//! DIV (all sizes) / IDIV (32 bits) natively. The host computes what the
//! interpreter does (CF = OF on a significant upper half, SF/PF from the
//! low half, ZF/AF cleared; the Intel host's choices it copies). DIV/IDIV
//! leave the flags alone, so they live in `fsave` across the checks.
//!
//! A division that would raise #DE (zero divisor, quotient too large,
//! IDIV by -1) takes the instruction's slow path: the interpreter's
//! handler raises #DE with the registers untouched. Leaves out IDIV of
//! 8 and 16 bits (callouts).

use cpu_interp::decode::Decoded;
use dynasmrt::{DynasmApi, DynasmLabelApi};
use iced_x86::Mnemonic;

use super::mov::{operand, Op};
use super::{asm, mem, Emitter};

/// Emits `d` natively if it is a one-operand MUL/IMUL or a DIV/IDIV this
/// module handles.
pub fn emit(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    match d.ins.mnemonic() {
        Mnemonic::Mul => mul(e, idx, d, false),
        Mnemonic::Imul if d.ins.op_count() == 1 => mul(e, idx, d, true),
        Mnemonic::Div => div(e, idx, d, false),
        Mnemonic::Idiv => div(e, idx, d, true),
        _ => false,
    }
}

/// The source operand and its size.
fn source(e: &Emitter, d: &Decoded) -> Option<(Op, u8)> {
    match operand(e, d, 0)? {
        Op::R(x, s) => Some((Op::R(x, s), s)),
        Op::M if matches!(d.msize, 1 | 2 | 4) => Some((Op::M, d.msize)),
        _ => None,
    }
}

/// `[<check>;] mul/imul r/m` (host rax/rdx are guest EAX/EDX)
fn mul(e: &mut Emitter, idx: usize, d: &Decoded, signed: bool) -> bool {
    let Some((src, size)) = source(e, d) else {
        return false;
    };
    if src == Op::M {
        mem::operand(e, idx, d, false, true);
    }
    match (signed, src, size) {
        (false, Op::R(x, _), 4) => asm!(e.ops ; mul Rd(x)),
        (false, Op::R(x, _), 2) => asm!(e.ops ; mul Rw(x)),
        (false, Op::R(x, _), _) => asm!(e.ops ; mul Rb(x)),
        (false, _, 4) => asm!(e.ops ; mul DWORD [rdi]),
        (false, _, 2) => asm!(e.ops ; mul WORD [rdi]),
        (false, _, _) => asm!(e.ops ; mul BYTE [rdi]),
        (true, Op::R(x, _), 4) => asm!(e.ops ; imul Rd(x)),
        (true, Op::R(x, _), 2) => asm!(e.ops ; imul Rw(x)),
        (true, Op::R(x, _), _) => asm!(e.ops ; imul Rb(x)),
        (true, _, 4) => asm!(e.ops ; imul DWORD [rdi]),
        (true, _, 2) => asm!(e.ops ; imul WORD [rdi]),
        (true, _, _) => asm!(e.ops ; imul BYTE [rdi]),
    }
    e.wrote_flags();
    true
}

/// DIV r/m:  `movzx/mov esi, divisor; test esi, esi; jz slow;`
/// `cmp <high half>, esi; jae slow; div esi/si/sil`
/// IDIV r/m32: `mov esi, divisor; test esi, esi; jz slow; cmp esi, -1; je slow;`
/// `mov rbp, rdx; shl rbp, 32; mov edi, eax; or rbp, rdi; mov rax, rbp; cqo;`
/// `movsxd rsi, esi; idiv rsi; movsxd rdi, eax; cmp rdi, rax; jne undo;`
/// `mov eax, eax; mov edx, edx` ... `undo: mov eax, ebp; shr rbp, 32; mov edx, ebp; jmp slow`
fn div(e: &mut Emitter, idx: usize, d: &Decoded, signed: bool) -> bool {
    let Some((src, size)) = source(e, d) else {
        return false;
    };
    if signed && size != 4 {
        return false;
    }
    // Flags are unchanged: keep them in fsave across the checks.
    let slow = e.begin_slow(idx, false, false);
    match (src, size) {
        (Op::M, _) => {
            mem::ea(e, d);
            mem::check(e, d.mem.seg as usize, size, false, slow);
            match size {
                4 => asm!(e.ops ; mov esi, DWORD [rdi]),
                2 => asm!(e.ops ; movzx esi, WORD [rdi]),
                _ => asm!(e.ops ; movzx esi, BYTE [rdi]),
            }
        }
        (Op::R(x, _), 4) => asm!(e.ops ; mov esi, Rd(x)),
        (Op::R(x, _), 2) => asm!(e.ops ; movzx esi, Rw(x)),
        (Op::R(x, _), _) => asm!(e.ops ; movzx esi, Rb(x)),
        _ => return false,
    }
    asm!(e.ops
        ; test esi, esi
        ; jz =>slow
    );
    if signed {
        let undo = e.ops.new_dynamic_label();
        asm!(e.ops
            ; cmp esi, -1
            ; je =>slow
            ; mov rbp, rdx
            ; shl rbp, 32
            ; mov edi, eax
            ; or rbp, rdi
            ; mov rax, rbp
            ; cqo
            ; movsxd rsi, esi
            ; idiv rsi
            ; movsxd rdi, eax
            ; cmp rdi, rax
            ; jne =>undo
            ; mov eax, eax
            ; mov edx, edx
            ; jmp >done
            ; =>undo
            ; mov eax, ebp
            ; shr rbp, 32
            ; mov edx, ebp
            ; jmp =>slow
            ; done:
        );
    } else {
        match size {
            4 => asm!(e.ops
                ; cmp edx, esi
                ; jae =>slow
                ; div esi
            ),
            2 => asm!(e.ops
                ; cmp dx, si
                ; jae =>slow
                ; div si
            ),
            _ => asm!(e.ops
                ; movzx ebp, ah
                ; cmp ebp, esi
                ; jae =>slow
                ; div sil
            ),
        }
    }
    // Host flags are whatever the checks and the division left; the
    // guest's are still in fsave (begin_slow saved them).
    e.fl.host = false;
    debug_assert!(e.fl.saved || e.fl.mem);
    true
}
