//! Integer ALU: ADD..CMP, TEST, INC/DEC, NEG/NOT, SHL/SHR/SAR/ROL/ROR by
//! an immediate or CL, two- and three-operand IMUL, SETcc and CMOVcc.
//! The host instruction computes the guest flags (the interpreter's
//! choices for flags the SDM leaves undefined follow the Intel host).

use cpu_interp::decode::Decoded;
use cpu_interp::state::fl;
use dynasmrt::{DynasmApi, DynasmLabelApi};
use iced_x86::Mnemonic;

use super::mov::{operand, Op};
use super::{asm, mem, Emitter};
use crate::liveness::cond_code;

/// Register/memory/immediate shape of a two-operand instruction.
#[derive(Clone, Copy)]
enum Form {
    RR(u8, u8),
    RI(u8, u32),
    RM(u8),
    MR(u8),
    MI(u32),
}

macro_rules! alu_form {
    ($e:expr, $mn:ident, $form:expr, $size:expr) => {
        match ($form, $size) {
            (Form::RR(a, b), 4) => asm!($e.ops ; $mn Rd(a), Rd(b)),
            (Form::RR(a, b), 2) => asm!($e.ops ; $mn Rw(a), Rw(b)),
            (Form::RR(a, b), _) => asm!($e.ops ; $mn Rb(a), Rb(b)),
            (Form::RI(a, i), 4) => asm!($e.ops ; $mn Rd(a), i as i32),
            (Form::RI(a, i), 2) => asm!($e.ops ; $mn Rw(a), i as i16),
            (Form::RI(a, i), _) => asm!($e.ops ; $mn Rb(a), i as i8),
            (Form::RM(a), 4) => asm!($e.ops ; $mn Rd(a), DWORD [rdi]),
            (Form::RM(a), 2) => asm!($e.ops ; $mn Rw(a), WORD [rdi]),
            (Form::RM(a), _) => asm!($e.ops ; $mn Rb(a), BYTE [rdi]),
            (Form::MR(b), 4) => asm!($e.ops ; $mn DWORD [rdi], Rd(b)),
            (Form::MR(b), 2) => asm!($e.ops ; $mn WORD [rdi], Rw(b)),
            (Form::MR(b), _) => asm!($e.ops ; $mn BYTE [rdi], Rb(b)),
            (Form::MI(i), 4) => asm!($e.ops ; $mn DWORD [rdi], i as i32),
            (Form::MI(i), 2) => asm!($e.ops ; $mn WORD [rdi], i as i16),
            (Form::MI(i), _) => asm!($e.ops ; $mn BYTE [rdi], i as i8),
        }
    };
}

macro_rules! unary_form {
    ($e:expr, $mn:ident, $op:expr, $size:expr) => {
        match ($op, $size) {
            (Op::R(a, _), 4) => asm!($e.ops ; $mn Rd(a)),
            (Op::R(a, _), 2) => asm!($e.ops ; $mn Rw(a)),
            (Op::R(a, _), _) => asm!($e.ops ; $mn Rb(a)),
            (_, 4) => asm!($e.ops ; $mn DWORD [rdi]),
            (_, 2) => asm!($e.ops ; $mn WORD [rdi]),
            (_, _) => asm!($e.ops ; $mn BYTE [rdi]),
        }
    };
}

macro_rules! shift_form {
    ($e:expr, $mn:ident, $op:expr, $size:expr, $count:expr) => {
        match ($op, $size, $count) {
            (Op::R(a, _), 4, Some(c)) => asm!($e.ops ; $mn Rd(a), c as i8),
            (Op::R(a, _), 2, Some(c)) => asm!($e.ops ; $mn Rw(a), c as i8),
            (Op::R(a, _), _, Some(c)) => asm!($e.ops ; $mn Rb(a), c as i8),
            (Op::R(a, _), 4, None) => asm!($e.ops ; $mn Rd(a), cl),
            (Op::R(a, _), 2, None) => asm!($e.ops ; $mn Rw(a), cl),
            (Op::R(a, _), _, None) => asm!($e.ops ; $mn Rb(a), cl),
            (_, 4, Some(c)) => asm!($e.ops ; $mn DWORD [rdi], c as i8),
            (_, 2, Some(c)) => asm!($e.ops ; $mn WORD [rdi], c as i8),
            (_, _, Some(c)) => asm!($e.ops ; $mn BYTE [rdi], c as i8),
            (_, 4, None) => asm!($e.ops ; $mn DWORD [rdi], cl),
            (_, 2, None) => asm!($e.ops ; $mn WORD [rdi], cl),
            (_, _, None) => asm!($e.ops ; $mn BYTE [rdi], cl),
        }
    };
}

/// Expands `$m!(mnemonic, args..)` for condition nibble `$cc`.
macro_rules! cc16 {
    ($cc:expr, $m:ident, [$c0:ident $c1:ident $c2:ident $c3:ident $c4:ident $c5:ident $c6:ident $c7:ident $c8:ident $c9:ident $c10:ident $c11:ident $c12:ident $c13:ident $c14:ident $c15:ident], $($args:expr),*) => {
        match $cc & 15 {
            0 => $m!($c0, $($args),*),
            1 => $m!($c1, $($args),*),
            2 => $m!($c2, $($args),*),
            3 => $m!($c3, $($args),*),
            4 => $m!($c4, $($args),*),
            5 => $m!($c5, $($args),*),
            6 => $m!($c6, $($args),*),
            7 => $m!($c7, $($args),*),
            8 => $m!($c8, $($args),*),
            9 => $m!($c9, $($args),*),
            10 => $m!($c10, $($args),*),
            11 => $m!($c11, $($args),*),
            12 => $m!($c12, $($args),*),
            13 => $m!($c13, $($args),*),
            14 => $m!($c14, $($args),*),
            _ => $m!($c15, $($args),*),
        }
    };
}
pub(crate) use cc16;

macro_rules! setcc_one {
    ($mn:ident, $e:expr, $op:expr) => {
        match $op {
            Op::R(a, _) => asm!($e.ops ; $mn Rb(a)),
            _ => asm!($e.ops ; $mn BYTE [rdi]),
        }
    };
}

macro_rules! cmov_one {
    ($mn:ident, $e:expr, $x:expr, $s:expr, $src:expr) => {
        match ($src, $s) {
            (Op::R(y, _), 4) => asm!($e.ops ; $mn Rd($x), Rd(y)),
            (Op::R(y, _), _) => asm!($e.ops ; $mn Rw($x), Rw(y)),
            (_, 4) => asm!($e.ops ; $mn Rd($x), DWORD [rdi]),
            (_, _) => asm!($e.ops ; $mn Rw($x), WORD [rdi]),
        }
    };
}

/// Emits `d` natively if it is an ALU instruction this module handles.
pub fn emit(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    use Mnemonic::*;
    let m = d.ins.mnemonic();
    match m {
        Add | Or | Adc | Sbb | And | Sub | Xor | Cmp | Test => binary(e, idx, d, m),
        Inc | Dec | Neg | Not => unary(e, idx, d, m),
        Shl | Sal | Shr | Sar | Rol | Ror => shift(e, idx, d, m),
        Imul => imul(e, idx, d),
        _ => match cond_code(m) {
            Some(cc) if d.ins.flow_control() == iced_x86::FlowControl::Next => {
                if d.ins.op_count() == 1 {
                    setcc(e, idx, d, cc)
                } else {
                    cmov(e, idx, d, cc)
                }
            }
            _ => false,
        },
    }
}

/// `op dst, src` over registers, an immediate or `[rdi]` after the TLB
/// check (ADC/SBB first bring the guest CF into host EFLAGS).
fn binary(e: &mut Emitter, idx: usize, d: &Decoded, m: Mnemonic) -> bool {
    use Mnemonic::*;
    let (Some(a), Some(b)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    let (form, size) = match (a, b) {
        (Op::R(x, s), Op::R(y, _)) => (Form::RR(x, y), s),
        (Op::R(x, s), Op::I(i)) => (Form::RI(x, i), s),
        (Op::R(x, s), Op::M) => (Form::RM(x), s),
        (Op::M, Op::R(y, _)) => (Form::MR(y), d.msize),
        (Op::M, Op::I(i)) => (Form::MI(i), d.msize),
        _ => return false,
    };
    // TEST is commutative and dynasm only has `test r/m, r`.
    let form = match (form, m) {
        (Form::RM(x), Test) => Form::MR(x),
        (f, _) => f,
    };
    if matches!(form, Form::RM(_) | Form::MR(_) | Form::MI(_)) {
        let write = matches!(form, Form::MR(_) | Form::MI(_)) && !matches!(m, Cmp | Test);
        mem::operand(e, idx, d, write, true);
    }
    if matches!(m, Adc | Sbb) {
        e.need_cf();
    }
    match m {
        Add => alu_form!(e, add, form, size),
        Or => alu_form!(e, or, form, size),
        Adc => alu_form!(e, adc, form, size),
        Sbb => alu_form!(e, sbb, form, size),
        And => alu_form!(e, and, form, size),
        Sub => alu_form!(e, sub, form, size),
        Xor => alu_form!(e, xor, form, size),
        Cmp => alu_form!(e, cmp, form, size),
        _ => alu_form!(e, test, form, size),
    }
    e.wrote_flags();
    true
}

/// inc/dec/neg/not on a register or `[rdi]`. INC/DEC keep CF: if someone
/// reads it later, the old flags are brought into host EFLAGS first.
fn unary(e: &mut Emitter, idx: usize, d: &Decoded, m: Mnemonic) -> bool {
    use Mnemonic::*;
    let Some(a) = operand(e, d, 0) else {
        return false;
    };
    let size = match a {
        Op::R(_, s) => s,
        Op::M => d.msize,
        Op::I(_) => return false,
    };
    let writes = m != Not;
    if a == Op::M {
        mem::operand(e, idx, d, true, writes);
    }
    if matches!(m, Inc | Dec) && e.live(idx) & fl::CF != 0 {
        e.need_cf();
    }
    match m {
        Inc => unary_form!(e, inc, a, size),
        Dec => unary_form!(e, dec, a, size),
        Neg => unary_form!(e, neg, a, size),
        _ => unary_form!(e, not, a, size),
    }
    if writes {
        e.wrote_flags();
    }
    true
}

/// Shifts and rotates by a non-zero immediate or by CL (host CL is guest
/// CL). A zero count changes nothing, so CL counts and the partial-flag
/// rotates first bring the old flags into host EFLAGS.
fn shift(e: &mut Emitter, idx: usize, d: &Decoded, m: Mnemonic) -> bool {
    use Mnemonic::*;
    let (Some(a), Some(b)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    let size = match a {
        Op::R(_, s) => s,
        Op::M => d.msize,
        Op::I(_) => return false,
    };
    let count = match b {
        Op::I(c) if c & 31 != 0 => Some(c & 31),
        Op::R(1, 1) => None,
        _ => return false,
    };
    // Register by CL: a masked count of 0 changes nothing, so the shift
    // is skipped around instead of bringing the old flags into host
    // EFLAGS (a `popfq`).
    if let (Op::R(x, _), None) = (a, count) {
        shift_cl_reg(e, m, x, size);
        return true;
    }
    // Rotates by more than one leave OF undefined and the host's choice is
    // not the interpreter's ("as if the count were 1"): memory by CL calls
    // out, immediate counts get OF recomputed below.
    if matches!(m, Rol | Ror) && count.is_none() {
        return false;
    }
    if a == Op::M {
        mem::operand(e, idx, d, true, true);
    }
    if count.is_none() || matches!(m, Rol | Ror) {
        e.need_host();
    }
    match m {
        Shl | Sal => shift_form!(e, shl, a, size, count),
        Shr => shift_form!(e, shr, a, size, count),
        Sar => shift_form!(e, sar, a, size, count),
        Rol => shift_form!(e, rol, a, size, count),
        _ => shift_form!(e, ror, a, size, count),
    }
    e.wrote_flags();
    if let (Rol | Ror, Some(c)) = (m, count) {
        // Skipped when no one can observe OF before it is overwritten.
        if c != 1 && e.live(idx) & fl::OF != 0 {
            match a {
                // Register: deferred until someone can observe OF.
                Op::R(x, _) => {
                    let (i, j) = rotate_of_bits(m == Rol, size, c);
                    e.of_fix = Some(super::OfFix { reg: x, i, j });
                }
                _ => rotate_of(e, m == Rol, a, size, c),
            }
        }
    }
    true
}

/// Shift or rotate of register `x` by CL, flags ending in `fsave`:
/// ```text
/// <flags to fsave>; [rotates: mov/movzx ebp, x]     ; original value
/// test cl, 31; jz skip
/// shifts:  shl/shr/sar x, cl; pushfq; pop fsave
/// rotates: rol/ror x, cl; pushfq; pop rsi; and esi, CF    ; only CF, OF change
///          and fsave_d, ~(CF|OF); or fsave_d, esi
///          mov esi, ebp; shr esi, n-1; shr ebp, j; xor ebp, esi; and ebp, 1
///          shl ebp, 11; or fsave_d, ebp               ; OF as for a 1-bit rotate
/// skip:
/// ```
/// (OF of the rotates: the top two bits of the original for ROL, its top
/// and bottom bits for ROR, as the interpreter computes it.)
fn shift_cl_reg(e: &mut Emitter, m: Mnemonic, x: u8, size: u8) {
    use Mnemonic::*;
    let a = Op::R(x, size);
    e.to_saved();
    e.protect();
    let rotate = matches!(m, Rol | Ror);
    if rotate {
        match size {
            4 => asm!(e.ops ; mov ebp, Rd(x)),
            2 => asm!(e.ops ; movzx ebp, Rw(x)),
            _ => asm!(e.ops ; movzx ebp, Rb(x)),
        }
    }
    asm!(e.ops
        ; test cl, 31
        ; jz >skip
    );
    match m {
        Shl | Sal => shift_form!(e, shl, a, size, None::<u32>),
        Shr => shift_form!(e, shr, a, size, None::<u32>),
        Sar => shift_form!(e, sar, a, size, None::<u32>),
        Rol => shift_form!(e, rol, a, size, None::<u32>),
        _ => shift_form!(e, ror, a, size, None::<u32>),
    }
    if rotate {
        let n = size as i8 * 8;
        let j = if m == Rol { n - 2 } else { 0 };
        asm!(e.ops
            ; pushfq
            ; pop rsi
            ; and esi, fl::CF as i32
            ; and r12d, !(fl::CF | fl::OF) as i32
            ; or r12d, esi
            ; mov esi, ebp
            ; shr esi, n - 1
            ; shr ebp, j
            ; xor ebp, esi
            ; and ebp, 1
            ; shl ebp, 11
            ; or r12d, ebp
        );
    } else {
        asm!(e.ops
            ; pushfq
            ; pop r12
        );
    }
    asm!(e.ops ; skip:);
    e.fl = super::Fl {
        host: false,
        saved: true,
        mem: false,
    };
    e.of_fix = None;
}

/// OF of ROL/ROR by `c` > 1 as the interpreter defines it (as for a 1-bit
/// rotate of the original value), from bits of the result: ROL: bits
/// (n-1+r)%n ^ (n-2+r)%n; ROR: bits (n-1-r)%n ^ (n-r)%n, r = c % n.
/// `pushfq; pop fsave; mov/movzx ebp, res; mov esi, ebp; shr ebp, i;`
/// `shr esi, j; xor ebp, esi; and ebp, 1; shl ebp, 11;`
/// `and fsave_d, ~OF; or fsave_d, ebp`  (flags now only in fsave)
fn rotate_of(e: &mut Emitter, left: bool, a: Op, size: u8, c: u32) {
    let (i, j) = rotate_of_bits(left, size, c);
    e.protect();
    match (a, size) {
        (Op::R(x, _), 4) => asm!(e.ops ; mov ebp, Rd(x)),
        (Op::R(x, _), 2) => asm!(e.ops ; movzx ebp, Rw(x)),
        (Op::R(x, _), _) => asm!(e.ops ; movzx ebp, Rb(x)),
        (_, 4) => asm!(e.ops ; mov ebp, DWORD [rdi]),
        (_, 2) => asm!(e.ops ; movzx ebp, WORD [rdi]),
        (_, _) => asm!(e.ops ; movzx ebp, BYTE [rdi]),
    }
    asm!(e.ops
        ; mov esi, ebp
        ; shr ebp, i
        ; shr esi, j
        ; xor ebp, esi
        ; and ebp, 1
        ; shl ebp, 11
        ; and r12d, !fl::OF as i32
        ; or r12d, ebp
    );
    if a == Op::M {
        // The slow path rejoins with the flags in host EFLAGS.
        asm!(e.ops ; push r12 ; popfq);
        e.fl.host = true;
    }
}

/// The two result bits whose XOR is the interpreter's OF of a rotate by
/// `c` (see [`rotate_of`]).
fn rotate_of_bits(left: bool, size: u8, c: u32) -> (i8, i8) {
    let n = size as u32 * 8;
    let r = c % n;
    let (i, j) = if left {
        ((n - 1 + r) % n, (n - 2 + r) % n)
    } else {
        ((n + n - 1 - r) % n, (n - r) % n)
    };
    (i as i8, j as i8)
}

/// imul r, r/m | imul r, r/m, imm (16 and 32 bits)
fn imul(e: &mut Emitter, idx: usize, d: &Decoded) -> bool {
    let n = d.ins.op_count();
    if n < 2 {
        return false;
    }
    let (Some(Op::R(x, s)), Some(src)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    if s == 1 || matches!(src, Op::I(_)) {
        return false;
    }
    let imm = if n == 3 {
        match operand(e, d, 2) {
            Some(Op::I(i)) => Some(i),
            _ => return false,
        }
    } else {
        None
    };
    if src == Op::M {
        mem::operand(e, idx, d, false, true);
    }
    match (src, s, imm) {
        (Op::R(y, _), 4, None) => asm!(e.ops ; imul Rd(x), Rd(y)),
        (Op::R(y, _), _, None) => asm!(e.ops ; imul Rw(x), Rw(y)),
        (Op::R(y, _), 4, Some(i)) => asm!(e.ops ; imul Rd(x), Rd(y), i as i32),
        (Op::R(y, _), _, Some(i)) => asm!(e.ops ; imul Rw(x), Rw(y), i as i16),
        (_, 4, None) => asm!(e.ops ; imul Rd(x), DWORD [rdi]),
        (_, _, None) => asm!(e.ops ; imul Rw(x), WORD [rdi]),
        (_, 4, Some(i)) => asm!(e.ops ; imul Rd(x), DWORD [rdi], i as i32),
        (_, _, Some(i)) => asm!(e.ops ; imul Rw(x), WORD [rdi], i as i16),
    }
    e.wrote_flags();
    true
}

/// setcc r8 | setcc [m8]
fn setcc(e: &mut Emitter, idx: usize, d: &Decoded, cc: u8) -> bool {
    let Some(a) = operand(e, d, 0) else {
        return false;
    };
    if matches!(a, Op::I(_)) {
        return false;
    }
    if a == Op::M {
        mem::operand(e, idx, d, true, false);
    }
    e.need_host();
    cc16!(cc, setcc_one, [seto setno setb setae sete setne setbe seta sets setns setp setnp setl setge setle setg], e, a);
    true
}

/// cmovcc r, r/m (the memory operand is read whatever the condition)
fn cmov(e: &mut Emitter, idx: usize, d: &Decoded, cc: u8) -> bool {
    let (Some(Op::R(x, s)), Some(src)) = (operand(e, d, 0), operand(e, d, 1)) else {
        return false;
    };
    if matches!(src, Op::I(_)) || s == 1 {
        return false;
    }
    if src == Op::M {
        mem::operand(e, idx, d, false, false);
    }
    e.need_host();
    cc16!(cc, cmov_one, [cmovo cmovno cmovb cmovae cmove cmovne cmovbe cmova cmovs cmovns cmovp cmovnp cmovl cmovge cmovle cmovg], e, x, s, src);
    true
}
