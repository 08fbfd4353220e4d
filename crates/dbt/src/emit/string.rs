//! String instructions: LODS (DS:ESI, segment override allowed) and STOS
//! (ES:EDI) without REP, with 32-bit addressing, the index register
//! stepped by the operand size up or down per EFLAGS.DF (a constant of
//! the block: DF is part of the key); REP STOS and REP MOVS forwards with flat
//! segments and at most the interpreter's `MAX_ITERS` elements, done a
//! page-sized piece at a time with the host's own `rep stos`/`rep movs`
//! after one TLB check per page; CLD/STD that leave DF as it is (no code;
//! one that changes DF is a callout ending the block). Everything else (REP with DF=1
//! or larger counts, CMPS/SCAS, 16-bit addressing) calls out; a native
//! REP that stops at a TLB miss leaves ECX/ESI/EDI describing the rest,
//! and the callout finishes it as the interpreter would.

use cpu_interp::decode::Decoded;
use cpu_interp::state::ES;
use dynasmrt::{DynasmApi, DynasmLabelApi};
use iced_x86::Mnemonic;

use super::{asm, mem, Emitter};

/// Emits `d` natively if it is a string/direction-flag instruction this
/// module handles.
pub fn emit(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    use Mnemonic::*;
    match d.ins.mnemonic() {
        // DF is part of the key: setting it to what it is does nothing;
        // changing it is a callout that leaves the block (the next block
        // is translated for the new DF).
        Cld => !e.key.df(),
        Std => e.key.df(),
        Lodsb | Lodsw | Lodsd => lods_stos(e, idx, d, false),
        Stosb | Stosw | Stosd if d.ins.has_rep_prefix() => rep_movs_stos(e, idx, d, false),
        Movsb | Movsw | Movsd if d.ins.has_rep_prefix() => rep_movs_stos(e, idx, d, true),
        Stosb | Stosw | Stosd => lods_stos(e, idx, d, true),
        _ => false,
    }
}

/// LODS: `mov esi, r10d; <check seg read>; mov al/ax/eax, [rdi]; <step r10>`
/// STOS: `mov esi, r11d; <check ES write>; mov [rdi], al/ax/eax; <step r11>`
/// step: `lea r, [r+n]` (`[r-n]` in a block translated with DF=1)
fn lods_stos(e: &mut Emitter, idx: usize, d: &Decoded, store: bool) -> bool {
    let size = d.msize;
    let seg = if store { ES } else { d.mem.seg as usize };
    if d.ins.has_rep_prefix() || d.ins.has_repne_prefix() || !d.addr32 || !mem::seg_ok(e, seg) {
        return false;
    }
    if !matches!(size, 1 | 2 | 4) {
        return false;
    }
    let slow = e.begin_slow(idx, false, false);
    if store {
        asm!(e.ops ; mov esi, r11d);
    } else {
        asm!(e.ops ; mov esi, r10d);
    }
    mem::check(e, seg, size, store, slow);
    match (store, size) {
        (false, 4) => asm!(e.ops ; mov eax, DWORD [rdi]),
        (false, 2) => asm!(e.ops ; mov ax, WORD [rdi]),
        (false, _) => asm!(e.ops ; mov al, BYTE [rdi]),
        (true, 4) => asm!(e.ops ; mov DWORD [rdi], eax),
        (true, 2) => asm!(e.ops ; mov WORD [rdi], ax),
        (true, _) => asm!(e.ops ; mov BYTE [rdi], al),
    }
    let n = if e.key.df() {
        -(size as i32)
    } else {
        size as i32
    };
    if store {
        asm!(e.ops ; lea r11d, [r11 + n]);
    } else {
        asm!(e.ops ; lea r10d, [r10 + n]);
    }
    true
}

/// REP STOS / REP MOVS, forwards, flat segments, ECX <= MAX_ITERS:
/// ```text
///   cmp ecx, MAX_ITERS; ja slow                      ; (DF=0 blocks only)
/// top:
///   test ecx, ecx; jz done
///   [movs: mov esi, r10d; <check src read>; push rdi]
///   mov esi, r11d; <check ES write -> fail>          ; rdi = dst host
///   mov ebp, r11d; and ebp, 0xFFF; neg ebp; add ebp, 4096; shr ebp, log2 n
///   cmp ebp, ecx; cmova ebp, ecx                     ; elements this page
///   [movs: same limit for r10d via esi; pop rsi]
///   sub ecx, ebp; lea r11d, [r11+rbp*n]; [lea r10d, [r10+rbp*n]]
///   xchg rcx, rbp; rep stos/movs; mov ecx, ebp; jmp top
/// fail: [add rsp, 8]; jmp slow
/// done:
/// ```
fn rep_movs_stos(e: &mut Emitter, idx: usize, d: &Decoded, movs: bool) -> bool {
    use crate::key::SEG_FLAT;
    let size = d.msize;
    let src_seg = d.mem.seg as usize;
    if d.ins.has_repne_prefix()
        || e.key.df()
        || !d.addr32
        || e.key.seg_class(ES) != SEG_FLAT
        || (movs && e.key.seg_class(src_seg) != SEG_FLAT)
        || !matches!(size, 1 | 2 | 4)
    {
        return false;
    }
    let shift = size.trailing_zeros() as i8;
    let max = cpu_interp::ops::string::MAX_ITERS as i32;
    let slow = e.begin_slow(idx, false, false);
    let fail = e.ops.new_dynamic_label();
    asm!(e.ops
        ; cmp ecx, max
        ; ja =>slow
        ; top:
        ; test ecx, ecx
        ; jz >done
    );
    if movs {
        asm!(e.ops ; mov esi, r10d);
        mem::check(e, src_seg, size, false, slow);
        asm!(e.ops ; push rdi);
    }
    asm!(e.ops ; mov esi, r11d);
    mem::check(e, ES, size, true, if movs { fail } else { slow });
    asm!(e.ops
        ; mov ebp, r11d
        ; and ebp, 0xFFF
        ; neg ebp
        ; add ebp, 4096
        ; shr ebp, shift
        ; cmp ebp, ecx
        ; cmova ebp, ecx
    );
    if movs {
        asm!(e.ops
            ; mov esi, r10d
            ; and esi, 0xFFF
            ; neg esi
            ; add esi, 4096
            ; shr esi, shift
            ; cmp ebp, esi
            ; cmova ebp, esi
            ; pop rsi
        );
    }
    asm!(e.ops ; sub ecx, ebp);
    match size {
        4 => asm!(e.ops ; lea r11d, [r11 + rbp * 4]),
        2 => asm!(e.ops ; lea r11d, [r11 + rbp * 2]),
        _ => asm!(e.ops ; lea r11d, [r11 + rbp]),
    }
    if movs {
        match size {
            4 => asm!(e.ops ; lea r10d, [r10 + rbp * 4]),
            2 => asm!(e.ops ; lea r10d, [r10 + rbp * 2]),
            _ => asm!(e.ops ; lea r10d, [r10 + rbp]),
        }
    }
    asm!(e.ops ; xchg rcx, rbp);
    match (movs, size) {
        (false, 4) => asm!(e.ops ; rep stosd),
        (false, 2) => asm!(e.ops ; rep stosw),
        (false, _) => asm!(e.ops ; rep stosb),
        (true, 4) => asm!(e.ops ; rep movsd),
        (true, 2) => asm!(e.ops ; rep movsw),
        (true, _) => asm!(e.ops ; rep movsb),
    }
    asm!(e.ops
        ; mov ecx, ebp
        ; jmp <top
        ; =>fail
        ; add rsp, 8
        ; jmp =>slow
        ; done:
    );
    true
}
