//! The emulator side of each oracle form: the same frame as `host.rs`
//! (st(0) = a, st(1) = b, a memory operand) run through `cpu_interp::x87`,
//! with just enough stack bookkeeping to say what st(0)..st(2) hold after.

use super::{host, Form, Input, MemKind, Operands, Outcome, SW_MASK};
use cpu_interp::x87::compare::{compare, examine, Relation};
use cpu_interp::x87::consts::{constant, L2E, L2T, LG2, LN2, PI};
use cpu_interp::x87::env::{ES, EXC_MASK, IE};
use cpu_interp::x87::trans::{self, Trig};
use cpu_interp::x87::{arith, convert, misc, Ctx, F80};

const IND: F80 = F80::INDEFINITE;

/// Status word from the operation's flags plus extra condition codes.
fn sw(ctx: &Ctx, cc: u16) -> u16 {
    let f = ctx.flags | cc;
    let es = if f & !ctx.cw & EXC_MASK != 0 { ES } else { 0 };
    (f | es) & SW_MASK
}

fn stack(inp: &Input, ctx: &Ctx, cc: u16, st: [F80; 3]) -> Outcome {
    Outcome {
        sw: sw(ctx, cc),
        st,
        mem: inp.mem,
        eflags: 0,
    }
}

/// st(0) = f(st(0), st(1)).
fn bin(inp: &Input, f: fn(F80, F80, &mut Ctx) -> F80, reversed: bool) -> Outcome {
    let mut c = Ctx::new(inp.cw);
    let r = if reversed {
        f(inp.b, inp.a, &mut c)
    } else {
        f(inp.a, inp.b, &mut c)
    };
    let st0 = if c.blocks_store() { inp.a } else { r };
    stack(inp, &c, 0, [st0, inp.b, IND])
}

/// st(0) = f(st(0)).
fn un(inp: &Input, f: fn(F80, &mut Ctx) -> F80) -> Outcome {
    let mut c = Ctx::new(inp.cw);
    let r = f(inp.a, &mut c);
    let st0 = if c.blocks_store() { inp.a } else { r };
    stack(inp, &c, 0, [st0, inp.b, IND])
}

fn fadd(i: &Input) -> Outcome {
    bin(i, arith::add, false)
}
fn fsub(i: &Input) -> Outcome {
    bin(i, arith::sub, false)
}
fn fsubr(i: &Input) -> Outcome {
    bin(i, arith::sub, true)
}
fn fmul(i: &Input) -> Outcome {
    bin(i, arith::mul, false)
}
fn fdiv(i: &Input) -> Outcome {
    bin(i, arith::div, false)
}
fn fdivr(i: &Input) -> Outcome {
    bin(i, arith::div, true)
}
fn fscale(i: &Input) -> Outcome {
    bin(i, misc::scale, false)
}
fn faddp(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let r = arith::add(i.b, i.a, &mut c);
    let st = if c.blocks_store() {
        [i.a, i.b, IND]
    } else {
        [r, IND, IND]
    };
    stack(i, &c, 0, st)
}
fn fsqrt(i: &Input) -> Outcome {
    un(i, arith::sqrt)
}
fn frndint(i: &Input) -> Outcome {
    un(i, convert::round_to_int)
}
fn fxtract(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let (s, e) = misc::xtract(i.a, &mut c);
    let st = if c.blocks_store() {
        [i.a, i.b, IND]
    } else {
        [s, e, i.b]
    };
    stack(i, &c, 0, st)
}
fn prem(i: &Input, ieee: bool) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let (r, cc) = misc::prem(i.a, i.b, ieee, &mut c);
    let st0 = if c.blocks_store() { i.a } else { r };
    // From FNINIT's status, "C0/C3 unchanged" reads as zero.
    let cc = if c.blocks_store() { 0 } else { cc.unwrap_or(0) };
    stack(i, &c, cc, [st0, i.b, IND])
}
fn fprem(i: &Input) -> Outcome {
    prem(i, false)
}
fn fprem1(i: &Input) -> Outcome {
    prem(i, true)
}

fn cmp(i: &Input, b: F80, quiet: bool) -> (Ctx, Relation) {
    let mut c = Ctx::new(i.cw);
    let r = compare(i.a, b, quiet, &mut c);
    (c, r)
}
fn fcom(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, false);
    stack(i, &c, r.condition_codes(), [i.a, i.b, IND])
}
fn fucom(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, true);
    stack(i, &c, r.condition_codes(), [i.a, i.b, IND])
}
fn fcompp(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, false);
    let st = if c.unmasked() {
        [i.a, i.b, IND]
    } else {
        [IND; 3]
    };
    stack(i, &c, r.condition_codes(), st)
}
fn fcomi(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, false);
    let mut o = stack(i, &c, 0, [i.a, i.b, IND]);
    o.eflags = r.eflags() as u8;
    o
}
fn fucomip(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, true);
    let st = if c.unmasked() {
        [i.a, i.b, IND]
    } else {
        [i.b, IND, IND]
    };
    let mut o = stack(i, &c, 0, st);
    o.eflags = r.eflags() as u8;
    o
}
fn ftst(i: &Input) -> Outcome {
    let (c, r) = cmp(i, F80::ZERO, false);
    stack(i, &c, r.condition_codes(), [i.a, i.b, IND])
}
fn fxam(i: &Input) -> Outcome {
    let c = Ctx::new(i.cw);
    stack(i, &c, examine(i.a), [i.a, i.b, IND])
}
fn fabs(i: &Input) -> Outcome {
    stack(i, &Ctx::new(i.cw), 0, [i.a.abs(), i.b, IND])
}
fn fchs(i: &Input) -> Outcome {
    stack(i, &Ctx::new(i.cw), 0, [i.a.neg(), i.b, IND])
}
fn fxch(i: &Input) -> Outcome {
    stack(i, &Ctx::new(i.cw), 0, [i.b, i.a, IND])
}

fn mem_u64(i: &Input) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&i.mem[..8]);
    u64::from_le_bytes(b)
}

/// A load: only an unmasked IE stops it (an unmasked DE still loads).
fn push(i: &Input, c: &Ctx, r: F80) -> Outcome {
    let st = if c.flags & !c.cw & IE != 0 {
        [i.a, i.b, IND]
    } else {
        [r, i.a, i.b]
    };
    stack(i, c, 0, st)
}
fn fld_m32(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let r = convert::from_f32(mem_u64(i) as u32, &mut c);
    push(i, &c, r)
}
fn fld_m64(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let r = convert::from_f64(mem_u64(i), &mut c);
    push(i, &c, r)
}
fn fild(i: &Input, bits: u32) -> Outcome {
    let v = (mem_u64(i) << (64 - bits)) as i64 >> (64 - bits);
    push(i, &Ctx::new(i.cw), convert::from_i64(v))
}
fn fild_m16(i: &Input) -> Outcome {
    fild(i, 16)
}
fn fild_m32(i: &Input) -> Outcome {
    fild(i, 32)
}
fn fild_m64(i: &Input) -> Outcome {
    fild(i, 64)
}
fn fbld(i: &Input) -> Outcome {
    push(i, &Ctx::new(i.cw), convert::from_bcd(i.mem))
}

/// A store of `bytes` (None = suppressed) from st(0), popping if `pop`.
fn store(i: &Input, c: &Ctx, bytes: Option<&[u8]>, pop: bool) -> Outcome {
    let mut o = stack(i, c, 0, [i.a, i.b, IND]);
    if let Some(b) = bytes {
        o.mem[..b.len()].copy_from_slice(b);
        if pop {
            o.st = [i.b, IND, IND];
        }
    }
    o
}
fn fst32(i: &Input, pop: bool) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let v = convert::to_f32(i.a, &mut c).map(|v| v.to_le_bytes());
    store(i, &c, v.as_ref().map(|b| &b[..]), pop)
}
fn fst64(i: &Input, pop: bool) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let v = convert::to_f64(i.a, &mut c).map(|v| v.to_le_bytes());
    store(i, &c, v.as_ref().map(|b| &b[..]), pop)
}
fn fst_m32(i: &Input) -> Outcome {
    fst32(i, false)
}
fn fst_m64(i: &Input) -> Outcome {
    fst64(i, false)
}
fn fstp_m32(i: &Input) -> Outcome {
    fst32(i, true)
}
fn fstp_m64(i: &Input) -> Outcome {
    fst64(i, true)
}
fn fist(i: &Input, bits: u32, pop: bool) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let v = convert::to_int(i.a, bits, &mut c).map(|v| v.to_le_bytes());
    store(i, &c, v.as_ref().map(|b| &b[..bits as usize / 8]), pop)
}
fn fist_m16(i: &Input) -> Outcome {
    fist(i, 16, false)
}
fn fist_m32(i: &Input) -> Outcome {
    fist(i, 32, false)
}
fn fistp_m64(i: &Input) -> Outcome {
    fist(i, 64, true)
}
fn fbstp(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let v = convert::to_bcd(i.a, &mut c);
    store(i, &c, v.as_ref().map(|b| &b[..]), true)
}
fn fadd_m32(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let m = convert::f32_operand(mem_u64(i) as u32, &mut c);
    let r = arith::add(i.a, m, &mut c);
    let st0 = if c.blocks_store() { i.a } else { r };
    stack(i, &c, 0, [st0, i.b, IND])
}

fn trig1(i: &Input, f: fn(F80, &mut Ctx) -> Trig<F80>) -> Outcome {
    let mut c = Ctx::new(i.cw);
    match f(i.a, &mut c) {
        Trig::OutOfRange => stack(i, &c, trans::OUT_OF_RANGE, [i.a, i.b, IND]),
        Trig::Done(_) if c.blocks_store() => stack(i, &c, 0, [i.a, i.b, IND]),
        Trig::Done(r) => stack(i, &c, 0, [r, i.b, IND]),
    }
}
fn fsin(i: &Input) -> Outcome {
    trig1(i, trans::fsin)
}
fn fcos(i: &Input) -> Outcome {
    trig1(i, trans::fcos)
}
fn fptan(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    match trans::fptan(i.a, &mut c) {
        Trig::OutOfRange => stack(i, &c, trans::OUT_OF_RANGE, [i.a, i.b, IND]),
        Trig::Done(_) if c.blocks_store() => stack(i, &c, 0, [i.a, i.b, IND]),
        Trig::Done((t, one)) => stack(i, &c, 0, [one, t, i.b]),
    }
}
fn fsincos(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    match trans::fsincos(i.a, &mut c) {
        Trig::OutOfRange => stack(i, &c, trans::OUT_OF_RANGE, [i.a, i.b, IND]),
        Trig::Done(_) if c.blocks_store() => stack(i, &c, 0, [i.a, i.b, IND]),
        Trig::Done((s, co)) => stack(i, &c, 0, [co, s, i.b]),
    }
}
fn f2xm1(i: &Input) -> Outcome {
    un(i, trans::f2xm1)
}
/// st(1) = f(st(1), st(0)), pop.
fn y_x(i: &Input, f: fn(F80, F80, &mut Ctx) -> F80) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let r = f(i.b, i.a, &mut c);
    let st = if c.blocks_store() {
        [i.a, i.b, IND]
    } else {
        [r, IND, IND]
    };
    stack(i, &c, 0, st)
}
fn fpatan(i: &Input) -> Outcome {
    y_x(i, trans::fpatan)
}
fn fyl2x(i: &Input) -> Outcome {
    y_x(i, trans::fyl2x)
}
fn fyl2xp1(i: &Input) -> Outcome {
    y_x(i, trans::fyl2xp1)
}
fn konst(i: &Input, k: fn(u16) -> F80) -> Outcome {
    let c = Ctx::new(i.cw);
    stack(i, &c, 0, [k(i.cw), i.a, i.b])
}
fn fldpi(i: &Input) -> Outcome {
    konst(i, |cw| constant(PI, cw))
}
fn fldl2t(i: &Input) -> Outcome {
    konst(i, |cw| constant(L2T, cw))
}
fn fldl2e(i: &Input) -> Outcome {
    konst(i, |cw| constant(L2E, cw))
}
fn fldlg2(i: &Input) -> Outcome {
    konst(i, |cw| constant(LG2, cw))
}
fn fldln2(i: &Input) -> Outcome {
    konst(i, |cw| constant(LN2, cw))
}

/// MMX forms: mm0 = op(mm0, mm1) stored to memory.
fn mmx(i: &Input, id: u8, imm: Option<u64>) -> Outcome {
    let r = cpu_interp::x87::mmx_ops::op(id, i.a.sig, imm.unwrap_or(i.b.sig));
    let mut mem = i.mem;
    mem[..8].copy_from_slice(&r.to_le_bytes());
    Outcome {
        sw: 0,
        st: [IND; 3],
        mem,
        eflags: 0,
    }
}

macro_rules! mmx_models {
    ($($name:ident = $id:expr),* $(,)?) => { $(fn $name(i: &Input) -> Outcome { mmx(i, $id, None) })* };
}
mmx_models!(
    paddb = 0,
    paddw = 1,
    paddd = 2,
    paddsb = 3,
    paddsw = 4,
    paddusb = 5,
    paddusw = 6,
    psubb = 7,
    psubw = 8,
    psubd = 9,
    psubsb = 10,
    psubsw = 11,
    psubusb = 12,
    psubusw = 13,
    pcmpeqb = 14,
    pcmpeqw = 15,
    pcmpeqd = 16,
    pcmpgtb = 17,
    pcmpgtw = 18,
    pcmpgtd = 19,
    pmullw = 20,
    pmulhw = 21,
    pmaddwd = 22,
    pand = 23,
    pandn = 24,
    por = 25,
    pxor = 26,
    packsswb = 27,
    packssdw = 28,
    packuswb = 29,
    punpcklbw = 30,
    punpcklwd = 31,
    punpckldq = 32,
    punpckhbw = 33,
    punpckhwd = 34,
    punpckhdq = 35,
    psllw = 36,
    pslld = 37,
    psllq = 38,
    psrlw = 39,
    psrld = 40,
    psrlq = 41,
    psraw = 42,
    psrad = 43,
);
fn psraw_imm(i: &Input) -> Outcome {
    mmx(i, 42, Some(5))
}
fn psllq_imm(i: &Input) -> Outcome {
    mmx(i, 38, Some(37))
}

macro_rules! forms {
    ($( $name:ident : $ops:expr, $eflags:expr, $ulps:expr; )*) => {
        vec![$(
            Form {
                name: stringify!($name),
                operands: $ops,
                host: host::$name,
                model: $name,
                eflags: $eflags,
                ulps: $ulps,
            },
        )*]
    };
}

/// Every form the oracle checks.
pub fn forms() -> Vec<Form> {
    use MemKind::*;
    use Operands::{Mem, Mmx, Two, TwoIn};
    forms! {
        fadd: Two, false, 0;
        fsub: Two, false, 0;
        fsubr: Two, false, 0;
        fmul: Two, false, 0;
        fdiv: Two, false, 0;
        fdivr: Two, false, 0;
        faddp: Two, false, 0;
        fsqrt: Two, false, 0;
        frndint: Two, false, 0;
        fscale: Two, false, 0;
        fxtract: Two, false, 0;
        fprem: Two, false, 0;
        fprem1: Two, false, 0;
        fcom: Two, false, 0;
        fcompp: Two, false, 0;
        fucom: Two, false, 0;
        fcomi: Two, true, 0;
        fucomip: Two, true, 0;
        ftst: Two, false, 0;
        fxam: Two, false, 0;
        fabs: Two, false, 0;
        fchs: Two, false, 0;
        fxch: Two, false, 0;
        fld_m32: Mem(F32), false, 0;
        fld_m64: Mem(F64), false, 0;
        fst_m32: Two, false, 0;
        fst_m64: Two, false, 0;
        fstp_m32: Two, false, 0;
        fstp_m64: Two, false, 0;
        fild_m16: Mem(I16), false, 0;
        fild_m32: Mem(I32), false, 0;
        fild_m64: Mem(I64), false, 0;
        fist_m16: Two, false, 0;
        fist_m32: Two, false, 0;
        fistp_m64: Two, false, 0;
        fbld: Mem(Bcd), false, 0;
        fbstp: Two, false, 0;
        fadd_m32: Mem(F32), false, 0;
        fldpi: Two, false, 0;
        fldl2t: Two, false, 0;
        fldl2e: Two, false, 0;
        fldlg2: Two, false, 0;
        fldln2: Two, false, 0;
        fsin: TwoIn(0x3F80, 0x403F), false, 1;
        fcos: TwoIn(0x3F80, 0x403F), false, 1;
        fsincos: TwoIn(0x3F80, 0x403F), false, 1;
        fptan: TwoIn(0x3F80, 0x403F), false, 1;
        fpatan: TwoIn(0x3F00, 0x4100), false, 1;
        f2xm1: TwoIn(0x3F00, 0x3FFE), false, 1;
        fyl2x: TwoIn(0x3F00, 0x4100), false, 1;
        fyl2xp1: TwoIn(0x3F00, 0x3FFC), false, 1;
        paddb: Mmx, false, 0;
        paddw: Mmx, false, 0;
        paddd: Mmx, false, 0;
        paddsb: Mmx, false, 0;
        paddsw: Mmx, false, 0;
        paddusb: Mmx, false, 0;
        paddusw: Mmx, false, 0;
        psubb: Mmx, false, 0;
        psubw: Mmx, false, 0;
        psubd: Mmx, false, 0;
        psubsb: Mmx, false, 0;
        psubsw: Mmx, false, 0;
        psubusb: Mmx, false, 0;
        psubusw: Mmx, false, 0;
        pcmpeqb: Mmx, false, 0;
        pcmpeqw: Mmx, false, 0;
        pcmpeqd: Mmx, false, 0;
        pcmpgtb: Mmx, false, 0;
        pcmpgtw: Mmx, false, 0;
        pcmpgtd: Mmx, false, 0;
        pmullw: Mmx, false, 0;
        pmulhw: Mmx, false, 0;
        pmaddwd: Mmx, false, 0;
        pand: Mmx, false, 0;
        pandn: Mmx, false, 0;
        por: Mmx, false, 0;
        pxor: Mmx, false, 0;
        packsswb: Mmx, false, 0;
        packssdw: Mmx, false, 0;
        packuswb: Mmx, false, 0;
        punpcklbw: Mmx, false, 0;
        punpcklwd: Mmx, false, 0;
        punpckldq: Mmx, false, 0;
        punpckhbw: Mmx, false, 0;
        punpckhwd: Mmx, false, 0;
        punpckhdq: Mmx, false, 0;
        psllw: Mmx, false, 0;
        pslld: Mmx, false, 0;
        psllq: Mmx, false, 0;
        psrlw: Mmx, false, 0;
        psrld: Mmx, false, 0;
        psrlq: Mmx, false, 0;
        psraw: Mmx, false, 0;
        psrad: Mmx, false, 0;
        psraw_imm: Mmx, false, 0;
        psllq_imm: Mmx, false, 0;
    }
}
