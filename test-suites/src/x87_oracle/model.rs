//! The emulator side of each oracle form: the same frame as `host.rs`
//! (st(0) = a, st(1) = b, a memory operand) run through `cpu_interp::x87`,
//! with just enough stack bookkeeping to say what st(0)..st(2) hold after.

use super::{host, Form, Input, MemKind, Operands, Outcome, SW_MASK};
use cpu_interp::x87::compare::{compare, examine, Relation};
use cpu_interp::x87::env::{ES, EXC_MASK, IE};
use cpu_interp::x87::{arith, convert, misc, Ctx, F80};

const IND: F80 = F80::INDEFINITE;

/// Status word from the operation's flags plus extra condition codes.
fn sw(ctx: &Ctx, cc: u16) -> u16 {
    let f = ctx.flags | cc;
    let es = if f & !ctx.cw & EXC_MASK != 0 { ES } else { 0 };
    (f | es) & SW_MASK
}

fn stack(inp: &Input, ctx: &Ctx, cc: u16, st: [F80; 3]) -> Outcome {
    Outcome { sw: sw(ctx, cc), st, mem: inp.mem, eflags: 0 }
}

/// st(0) = f(st(0), st(1)).
fn bin(inp: &Input, f: fn(F80, F80, &mut Ctx) -> F80, reversed: bool) -> Outcome {
    let mut c = Ctx::new(inp.cw);
    let r = if reversed { f(inp.b, inp.a, &mut c) } else { f(inp.a, inp.b, &mut c) };
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

fn m_fadd(i: &Input) -> Outcome {
    bin(i, arith::add, false)
}
fn m_fsub(i: &Input) -> Outcome {
    bin(i, arith::sub, false)
}
fn m_fsubr(i: &Input) -> Outcome {
    bin(i, arith::sub, true)
}
fn m_fmul(i: &Input) -> Outcome {
    bin(i, arith::mul, false)
}
fn m_fdiv(i: &Input) -> Outcome {
    bin(i, arith::div, false)
}
fn m_fdivr(i: &Input) -> Outcome {
    bin(i, arith::div, true)
}
fn m_fscale(i: &Input) -> Outcome {
    bin(i, misc::scale, false)
}
fn m_faddp(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let r = arith::add(i.b, i.a, &mut c);
    let st = if c.blocks_store() { [i.a, i.b, IND] } else { [r, IND, IND] };
    stack(i, &c, 0, st)
}
fn m_fsqrt(i: &Input) -> Outcome {
    un(i, arith::sqrt)
}
fn m_frndint(i: &Input) -> Outcome {
    un(i, convert::round_to_int)
}
fn m_fxtract(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let (s, e) = misc::xtract(i.a, &mut c);
    let st = if c.blocks_store() { [i.a, i.b, IND] } else { [s, e, i.b] };
    stack(i, &c, 0, st)
}
fn prem(i: &Input, ieee: bool) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let (r, cc) = misc::prem(i.a, i.b, ieee, &mut c);
    let st0 = if c.blocks_store() { i.a } else { r };
    stack(i, &c, cc, [st0, i.b, IND])
}
fn m_fprem(i: &Input) -> Outcome {
    prem(i, false)
}
fn m_fprem1(i: &Input) -> Outcome {
    prem(i, true)
}

fn cmp(i: &Input, b: F80, quiet: bool) -> (Ctx, Relation) {
    let mut c = Ctx::new(i.cw);
    let r = compare(i.a, b, quiet, &mut c);
    (c, r)
}
fn m_fcom(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, false);
    stack(i, &c, r.condition_codes(), [i.a, i.b, IND])
}
fn m_fucom(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, true);
    stack(i, &c, r.condition_codes(), [i.a, i.b, IND])
}
fn m_fcompp(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, false);
    let st = if c.unmasked() { [i.a, i.b, IND] } else { [IND; 3] };
    stack(i, &c, r.condition_codes(), st)
}
fn m_fcomi(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, false);
    let mut o = stack(i, &c, 0, [i.a, i.b, IND]);
    o.eflags = r.eflags() as u8;
    o
}
fn m_fucomip(i: &Input) -> Outcome {
    let (c, r) = cmp(i, i.b, true);
    let st = if c.unmasked() { [i.a, i.b, IND] } else { [i.b, IND, IND] };
    let mut o = stack(i, &c, 0, st);
    o.eflags = r.eflags() as u8;
    o
}
fn m_ftst(i: &Input) -> Outcome {
    let (c, r) = cmp(i, F80::ZERO, false);
    stack(i, &c, r.condition_codes(), [i.a, i.b, IND])
}
fn m_fxam(i: &Input) -> Outcome {
    let c = Ctx::new(i.cw);
    stack(i, &c, examine(i.a), [i.a, i.b, IND])
}
fn m_fabs(i: &Input) -> Outcome {
    stack(i, &Ctx::new(i.cw), 0, [i.a.abs(), i.b, IND])
}
fn m_fchs(i: &Input) -> Outcome {
    stack(i, &Ctx::new(i.cw), 0, [i.a.neg(), i.b, IND])
}
fn m_fxch(i: &Input) -> Outcome {
    stack(i, &Ctx::new(i.cw), 0, [i.b, i.a, IND])
}

fn mem_u64(i: &Input) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&i.mem[..8]);
    u64::from_le_bytes(b)
}

/// A load: only an unmasked IE stops it (an unmasked DE still loads).
fn push(i: &Input, c: &Ctx, r: F80) -> Outcome {
    let st = if c.flags & !c.cw & IE != 0 { [i.a, i.b, IND] } else { [r, i.a, i.b] };
    stack(i, c, 0, st)
}
fn m_fld_m32(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let r = convert::from_f32(mem_u64(i) as u32, &mut c);
    push(i, &c, r)
}
fn m_fld_m64(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let r = convert::from_f64(mem_u64(i), &mut c);
    push(i, &c, r)
}
fn fild(i: &Input, bits: u32) -> Outcome {
    let v = (mem_u64(i) << (64 - bits)) as i64 >> (64 - bits);
    push(i, &Ctx::new(i.cw), convert::from_i64(v))
}
fn m_fild_m16(i: &Input) -> Outcome {
    fild(i, 16)
}
fn m_fild_m32(i: &Input) -> Outcome {
    fild(i, 32)
}
fn m_fild_m64(i: &Input) -> Outcome {
    fild(i, 64)
}
fn m_fbld(i: &Input) -> Outcome {
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
fn m_fst_m32(i: &Input) -> Outcome {
    fst32(i, false)
}
fn m_fst_m64(i: &Input) -> Outcome {
    fst64(i, false)
}
fn m_fstp_m32(i: &Input) -> Outcome {
    fst32(i, true)
}
fn m_fstp_m64(i: &Input) -> Outcome {
    fst64(i, true)
}
fn fist(i: &Input, bits: u32, pop: bool) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let v = convert::to_int(i.a, bits, &mut c).map(|v| v.to_le_bytes());
    store(i, &c, v.as_ref().map(|b| &b[..bits as usize / 8]), pop)
}
fn m_fist_m16(i: &Input) -> Outcome {
    fist(i, 16, false)
}
fn m_fist_m32(i: &Input) -> Outcome {
    fist(i, 32, false)
}
fn m_fistp_m64(i: &Input) -> Outcome {
    fist(i, 64, true)
}
fn m_fbstp(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let v = convert::to_bcd(i.a, &mut c);
    store(i, &c, v.as_ref().map(|b| &b[..]), true)
}
fn m_fadd_m32(i: &Input) -> Outcome {
    let mut c = Ctx::new(i.cw);
    let m = convert::f32_operand(mem_u64(i) as u32, &mut c);
    let r = arith::add(i.a, m, &mut c);
    let st0 = if c.blocks_store() { i.a } else { r };
    stack(i, &c, 0, [st0, i.b, IND])
}

macro_rules! forms {
    ($( $name:ident : $ops:expr, $eflags:expr, $ulps:expr; )*) => {
        vec![$(
            Form {
                name: stringify!($name),
                operands: $ops,
                host: host::$name,
                model: paste_model!($name),
                eflags: $eflags,
                ulps: $ulps,
            },
        )*]
    };
}

macro_rules! paste_model {
    (fadd) => { m_fadd }; (fsub) => { m_fsub }; (fsubr) => { m_fsubr }; (fmul) => { m_fmul };
    (fdiv) => { m_fdiv }; (fdivr) => { m_fdivr }; (faddp) => { m_faddp }; (fsqrt) => { m_fsqrt };
    (frndint) => { m_frndint }; (fscale) => { m_fscale }; (fxtract) => { m_fxtract };
    (fprem) => { m_fprem }; (fprem1) => { m_fprem1 }; (fcom) => { m_fcom }; (fcompp) => { m_fcompp };
    (fucom) => { m_fucom }; (fcomi) => { m_fcomi }; (fucomip) => { m_fucomip }; (ftst) => { m_ftst };
    (fxam) => { m_fxam }; (fabs) => { m_fabs }; (fchs) => { m_fchs }; (fxch) => { m_fxch };
    (fld_m32) => { m_fld_m32 }; (fld_m64) => { m_fld_m64 }; (fst_m32) => { m_fst_m32 };
    (fst_m64) => { m_fst_m64 }; (fstp_m32) => { m_fstp_m32 }; (fstp_m64) => { m_fstp_m64 };
    (fild_m16) => { m_fild_m16 }; (fild_m32) => { m_fild_m32 }; (fild_m64) => { m_fild_m64 };
    (fist_m16) => { m_fist_m16 }; (fist_m32) => { m_fist_m32 }; (fistp_m64) => { m_fistp_m64 };
    (fbld) => { m_fbld }; (fbstp) => { m_fbstp }; (fadd_m32) => { m_fadd_m32 };
}

/// Every form the oracle checks.
pub fn forms() -> Vec<Form> {
    use MemKind::*;
    use Operands::{Mem, Two};
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
    }
}
