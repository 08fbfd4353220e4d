//! Case generation: a random starting state (edge-biased register values,
//! random incoming flags including CF/AF and DF, random or low-entropy
//! memory) and one encoded instruction of a given form. Memory operands
//! are solved so the effective address lands in the middle of the data
//! window; DIV/IDIV cases that would fault are rejected; shift counts
//! favour 0..63; ENTER/LEAVE get a frame pointer inside the stack window.

use iced_x86::{
    Code, Encoder, Instruction, MemoryOperand, Mnemonic, OpCodeOperandKind as K, Register,
};

use super::expect::{expect, Expect, ARITH, DF};
use super::forms::{Form, Mode, Rep, StrOp};
use super::layout::*;
use crate::rng::Rng;

const EAX: usize = 0;
const ECX: usize = 1;
const EDX: usize = 2;
const EBX: usize = 3;
const ESP: usize = 4;
const EBP: usize = 5;
const ESI: usize = 6;
const EDI: usize = 7;

const R8: [Register; 8] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::AH,
    Register::CH,
    Register::DH,
    Register::BH,
];
const R16: [Register; 8] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
];
const R32: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];

/// One test case: the instruction bytes, the starting state and what the
/// SDM defines about the outcome.
#[derive(Clone)]
pub struct Case {
    pub bytes: Vec<u8>,
    /// Runs in a 16-bit code segment.
    pub code16: bool,
    pub input: MachineState,
    pub expect: Expect,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Reg(Register),
    Mem(MemoryOperand),
    Imm(u32),
    ImmS(i32),
}

/// (GPR index, bit shift, width in bytes) of an 8/16/32-bit register.
fn reg_info(r: Register) -> (usize, u32, u8) {
    if let Some(i) = R32.iter().position(|&x| x == r) {
        (i, 0, 4)
    } else if let Some(i) = R16.iter().position(|&x| x == r) {
        (i, 0, 2)
    } else {
        let i = R8.iter().position(|&x| x == r).unwrap_or(0);
        if i < 4 {
            (i, 0, 1)
        } else {
            (i - 4, 8, 1)
        }
    }
}

fn mask(width: u8) -> u32 {
    match width {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

fn reg_get(st: &MachineState, r: Register) -> u32 {
    let (i, sh, w) = reg_info(r);
    (st.regs[i] >> sh) & mask(w)
}

fn reg_set(st: &mut MachineState, r: Register, v: u32) {
    let (i, sh, w) = reg_info(r);
    let m = mask(w) << sh;
    st.regs[i] = (st.regs[i] & !m) | ((v << sh) & m);
}

fn set16(st: &mut MachineState, i: usize, v: u32) {
    st.regs[i] = (st.regs[i] & 0xFFFF_0000) | (v & 0xFFFF);
}

fn mem_get(st: &MachineState, t: u32, width: u8) -> u64 {
    let mut v = 0u64;
    for k in (0..width as usize).rev() {
        v = (v << 8) | st.data[(t as usize + k) % DATA_LEN] as u64;
    }
    v
}

fn kind_width(k: K) -> u8 {
    match k {
        K::r8_or_mem | K::r8_reg | K::r8_opcode | K::al | K::cl => 1,
        K::r16_or_mem | K::r16_reg | K::r16_opcode | K::ax => 2,
        K::r32_or_mem | K::r32_reg | K::r32_opcode | K::eax => 4,
        _ => 0,
    }
}

fn is_shift(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Rol | Ror | Rcl | Rcr | Shl | Sal | Shr | Sar | Shld | Shrd
    )
}

/// Instructions that accept LOCK when their destination is memory.
fn lockable(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Add | Adc
            | And
            | Btc
            | Btr
            | Bts
            | Cmpxchg
            | Cmpxchg8b
            | Dec
            | Inc
            | Neg
            | Not
            | Or
            | Sbb
            | Sub
            | Xor
            | Xadd
            | Xchg
    )
}

/// Registers the instruction uses implicitly and the generator sets.
fn implicit(m: Mnemonic, nops: usize) -> u8 {
    use Mnemonic::*;
    match m {
        Div | Idiv => 0b101,
        Mul | Imul if nops == 1 => 0b101,
        Cmpxchg => 0b1,
        Cmpxchg8b => 0b1111,
        _ => 0,
    }
}

fn shift_count(rng: &mut Rng) -> u32 {
    if rng.chance(3, 4) {
        rng.below(64)
    } else {
        rng.u32() & 0xFF
    }
}

fn random_state(rng: &mut Rng, base: u32) -> MachineState {
    let mut st = MachineState::default();
    for r in st.regs.iter_mut() {
        *r = rng.value();
    }
    st.regs[ESP] = base + STACK_TOP - rng.below(0x40);
    st.eflags = (rng.u32() & (ARITH | DF)) | 2;
    if rng.chance(1, 3) {
        // Low-entropy memory: equal neighbours for CMPS/SCAS, zero BSF
        // sources, matching CMPXCHG operands.
        for b in st.data.iter_mut() {
            *b = rng.below(2) as u8 * 0xFF;
        }
    } else {
        rng.fill(&mut st.data);
    }
    rng.fill(&mut st.stack);
    st
}

fn target(rng: &mut Rng) -> u32 {
    TARGET_LO + rng.below(TARGET_HI - TARGET_LO)
}

/// A memory operand whose effective address is a fresh target in the data
/// window, using only registers outside `used`; sets those registers.
///
/// Sometimes the operand gets an ES override (the same segment as DS) or,
/// with 32-bit addressing, an SS override (flat: the address is then the
/// absolute one, `flat` + target).
fn make_mem(
    rng: &mut Rng,
    a16: bool,
    moffs: bool,
    used: u8,
    st: &mut MachineState,
    flat: u32,
) -> (MemoryOperand, u32) {
    let t = target(rng);
    let over = match rng.below(8) {
        0 => Register::ES,
        1 if !a16 => Register::SS,
        _ => Register::None,
    };
    // The offset the address computation must produce.
    let off = if over == Register::SS { flat + t } else { t };
    if moffs {
        let mo = MemoryOperand::new(
            Register::None,
            Register::None,
            1,
            off as i64,
            if a16 { 2 } else { 4 },
            false,
            over,
        );
        return (mo, t);
    }
    let free = |i: usize| used & (1 << i) == 0;
    if !a16 {
        let cands: Vec<usize> = [EAX, ECX, EDX, EBX, EBP, ESI, EDI]
            .into_iter()
            .filter(|&i| free(i))
            .collect();
        let base = if !cands.is_empty() && rng.chance(4, 5) {
            Some(rng.pick(&cands))
        } else {
            None
        };
        let icands: Vec<usize> = cands.iter().copied().filter(|&i| Some(i) != base).collect();
        let index = if !icands.is_empty() && rng.chance(1, 2) {
            Some(rng.pick(&icands))
        } else {
            None
        };
        let scale = rng.pick(&[1u32, 2, 4, 8]);
        let (mut disp, mut dsize) = match rng.below(3) {
            0 => (0i32, 0u32),
            1 => (rng.u32() as i8 as i32, 1),
            _ => (rng.u32() as i32, 4),
        };
        let scaled = index.map_or(0, |i| st.regs[i].wrapping_mul(scale));
        match base {
            Some(b) => st.regs[b] = off.wrapping_sub(disp as u32).wrapping_sub(scaled),
            None => {
                disp = off.wrapping_sub(scaled) as i32;
                dsize = 4;
            }
        }
        let seg = if over != Register::None {
            over
        } else if base == Some(EBP) {
            Register::DS
        } else {
            Register::None
        };
        let mo = MemoryOperand::new(
            base.map_or(Register::None, |b| R32[b]),
            index.map_or(Register::None, |i| R32[i]),
            if index.is_some() { scale } else { 1 },
            disp as i64,
            dsize,
            false,
            seg,
        );
        (mo, t)
    } else {
        let combos: Vec<(Option<usize>, Option<usize>)> = [
            (Some(EBX), Some(ESI)),
            (Some(EBX), Some(EDI)),
            (Some(EBP), Some(ESI)),
            (Some(EBP), Some(EDI)),
            (Some(ESI), None),
            (Some(EDI), None),
            (Some(EBP), None),
            (Some(EBX), None),
            (None, None),
        ]
        .into_iter()
        .filter(|(b, i)| b.is_none_or(free) && i.is_none_or(free))
        .collect();
        let (base, index) = rng.pick(&combos);
        let (disp, dsize) = match (base, rng.below(3)) {
            (None, _) => (t as i16 as i32, 2u32),
            (_, 0) => (0, 0),
            (_, 1) => (rng.u32() as i8 as i32, 1),
            _ => (rng.u32() as i16 as i32, 2),
        };
        let idx = index.map_or(0, |i| st.regs[i] & 0xFFFF);
        if let Some(b) = base {
            set16(st, b, t.wrapping_sub(disp as u32).wrapping_sub(idx));
        }
        let seg = if over != Register::None {
            over
        } else if base == Some(EBP) {
            Register::DS
        } else {
            Register::None
        };
        let mo = MemoryOperand::new(
            base.map_or(Register::None, |b| R16[b]),
            index.map_or(Register::None, |i| R16[i]),
            1,
            disp as i64,
            dsize,
            false,
            seg,
        );
        (mo, t)
    }
}

fn build(code: Code, ops: &[Op]) -> Option<Instruction> {
    use Op::*;
    let r = match *ops {
        [] => Ok(Instruction::with(code)),
        [Reg(a)] => Instruction::with1(code, a),
        [Mem(a)] => Instruction::with1(code, a),
        [Imm(a)] => Instruction::with1(code, a),
        [ImmS(a)] => Instruction::with1(code, a),
        [Reg(a), Reg(b)] => Instruction::with2(code, a, b),
        [Reg(a), Mem(b)] => Instruction::with2(code, a, b),
        [Mem(a), Reg(b)] => Instruction::with2(code, a, b),
        [Reg(a), Imm(b)] => Instruction::with2(code, a, b),
        [Reg(a), ImmS(b)] => Instruction::with2(code, a, b),
        [Mem(a), Imm(b)] => Instruction::with2(code, a, b),
        [Mem(a), ImmS(b)] => Instruction::with2(code, a, b),
        [Imm(a), Imm(b)] => Instruction::with2(code, a, b),
        [Reg(a), Reg(b), Reg(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Reg(b), Imm(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Reg(b), ImmS(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Mem(b), Imm(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Mem(b), ImmS(c)] => Instruction::with3(code, a, b, c),
        [Mem(a), Reg(b), Reg(c)] => Instruction::with3(code, a, b, c),
        [Mem(a), Reg(b), Imm(c)] => Instruction::with3(code, a, b, c),
        _ => return None,
    };
    r.ok()
}

fn encode(ins: &Instruction, code16: bool) -> Option<Vec<u8>> {
    let mut e = Encoder::new(if code16 { 16 } else { 32 });
    e.encode(ins, 0).ok()?;
    Some(e.take_buffer())
}

/// Generates a case of `form` (None if the form could not be generated
/// without faulting after many tries).
pub fn generate(form: &Form, code16: bool, rng: &mut Rng, base: u32) -> Option<Case> {
    let mut case = match *form {
        Form::Code { code, mode } => (0..64).find_map(|_| gen_code(code, mode, code16, rng, base)),
        Form::Str { op, size, a16, rep } => Some(gen_str(op, size, a16, rep, rng, base)),
        Form::Xlat { a16 } => Some(gen_xlat(a16, rng, base)),
    }?;
    if code16 && !matches!(form, Form::Code { .. }) {
        // The raw forms were built with 32-bit defaults: flip 0x66/0x67.
        case.bytes = flip_size_prefixes(&case.bytes);
    }
    case.code16 = code16;
    Some(case)
}

/// Turns prefix bytes meaning "16-bit" in a 32-bit segment into the same
/// instruction for a 16-bit segment (0x66 and 0x67 toggled).
fn flip_size_prefixes(bytes: &[u8]) -> Vec<u8> {
    let n = bytes.len() - 1;
    let (prefixes, op) = bytes.split_at(n);
    let has = |b| prefixes.contains(&b);
    let mut out = Vec::new();
    if !has(0x66) {
        out.push(0x66);
    }
    if !has(0x67) {
        out.push(0x67);
    }
    out.extend(prefixes.iter().filter(|&&b| b != 0x66 && b != 0x67));
    out.extend_from_slice(op);
    out
}

fn gen_code(code: Code, mode: Mode, code16: bool, rng: &mut Rng, base: u32) -> Option<Case> {
    let mn = code.mnemonic();
    let kinds = code.op_code().op_kinds();
    let mut st = random_state(rng, base);
    let mut ops: Vec<Option<Op>> = vec![None; kinds.len()];
    let mut used = implicit(mn, kinds.len());
    let mut width = 0u8;
    // Register operands first, so the memory operand can avoid them.
    for (n, &k) in kinds.iter().enumerate() {
        let w = kind_width(k);
        if n == 0 {
            width = w;
        }
        let r = match k {
            K::al => Register::AL,
            K::cl => Register::CL,
            K::ax => Register::AX,
            K::eax => Register::EAX,
            K::r8_or_mem | K::r16_or_mem | K::r32_or_mem if mode != Mode::Reg => continue,
            _ if w != 0 => {
                let i = rng.below(8) as usize;
                match w {
                    1 => R8[i],
                    2 => R16[i],
                    _ => R32[i],
                }
            }
            _ => continue,
        };
        used |= 1 << reg_info(r).0;
        ops[n] = Some(Op::Reg(r));
    }
    let mut t = None;
    for (n, &k) in kinds.iter().enumerate() {
        if matches!(
            k,
            K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::mem | K::mem_offs
        ) && ops[n].is_none()
        {
            let (mo, tt) = make_mem(
                rng,
                mode == Mode::Mem16,
                k == K::mem_offs,
                used,
                &mut st,
                base + DATA,
            );
            ops[n] = Some(Op::Mem(mo));
            t = Some(tt);
        }
    }
    for (n, &k) in kinds.iter().enumerate() {
        let op = match k {
            K::imm8_const_1 => Op::Imm(1),
            K::imm8 if is_shift(mn) => Op::Imm(shift_count(rng)),
            K::imm8 if mn == Mnemonic::Aam => Op::Imm(if rng.chance(1, 2) {
                10
            } else {
                1 + rng.below(255)
            }),
            K::imm8 if mn == Mnemonic::Enter => Op::Imm(match rng.below(10) {
                0..=6 => rng.below(4),
                7..=8 => rng.below(32),
                _ => rng.u32() & 0xFF,
            }),
            // The host probes the new stack top: keep it inside the region.
            K::imm16 if mn == Mnemonic::Enter => Op::Imm(if rng.chance(1, 2) {
                rng.below(64)
            } else {
                rng.below(0x4000)
            }),
            K::imm8 => Op::Imm(rng.value() & 0xFF),
            K::imm8sex16 | K::imm8sex32 => Op::ImmS(rng.value() as i8 as i32),
            K::imm16 => Op::Imm(rng.value() & 0xFFFF),
            K::imm32 => Op::Imm(rng.value()),
            _ => continue,
        };
        ops[n] = Some(op);
    }
    let ops: Vec<Op> = ops.into_iter().collect::<Option<Vec<_>>>()?;
    let mut ins = build(code, &ops)?;
    if lockable(mn) && matches!(ops.first(), Some(Op::Mem(_))) && rng.chance(1, 3) {
        ins.set_has_lock_prefix(true);
    }
    let bytes = encode(&ins, code16)?;
    if mn == Mnemonic::Cmpxchg8b {
        width = 8;
    }

    let value = |st: &MachineState, op: &Op, w: u8| -> u64 {
        match *op {
            Op::Reg(r) => reg_get(st, r) as u64,
            Op::Mem(_) => mem_get(st, t.unwrap_or(0), w),
            Op::Imm(v) => v as u64,
            Op::ImmS(v) => v as u32 as u64,
        }
    };

    // Per-instruction adjustments of the starting state.
    use Mnemonic::*;
    match mn {
        _ if is_shift(mn) && ops.iter().any(|o| matches!(o, Op::Reg(Register::CL))) => {
            st.regs[ECX] = (st.regs[ECX] & !0xFF) | shift_count(rng);
        }
        _ if is_shift(mn) => {}
        Bt | Bts | Btr | Btc if matches!(ops[0], Op::Mem(_)) => {
            if let Op::Reg(r) = ops[1] {
                let off = rng.below(0x800).wrapping_sub(0x400);
                reg_set(&mut st, r, off);
            }
        }
        Enter | Leave => {
            st.regs[EBP] = st.regs[ESP]
                .wrapping_add(rng.below(0x100))
                .wrapping_sub(0x80);
            let level = match ops.get(1) {
                Some(Op::Imm(l)) if mn == Enter => l & 31,
                _ => 0,
            };
            if level > 1 {
                // Keep the copied frame-pointer display above the new frame:
                // when they overlap, Intel CPUs read the display after
                // pushing (not in SDM order), which is not worth modelling.
                st.regs[EBP] = st.regs[ESP] + 4 * level + rng.below(0x40);
            }
        }
        Cmpxchg if rng.chance(1, 2) => {
            let v = value(&st, &ops[0], width) as u32;
            let acc = match width {
                1 => Register::AL,
                2 => Register::AX,
                _ => Register::EAX,
            };
            reg_set(&mut st, acc, v);
        }
        Cmpxchg8b if rng.chance(1, 2) => {
            let v = value(&st, &ops[0], 8);
            st.regs[EAX] = v as u32;
            st.regs[EDX] = (v >> 32) as u32;
        }
        Div | Idiv => {
            let d = value(&st, &ops[0], width) as u32;
            bias_dividend(&mut st, mn == Idiv, width, d, rng);
            let d = value(&st, &ops[0], width) as u32;
            if !div_ok(&st, mn == Idiv, width, d) {
                return None;
            }
        }
        _ => {}
    }

    let count = match mn {
        Shld | Shrd => ops.get(2).map_or(0, |o| value(&st, o, 1) as u32),
        _ if is_shift(mn) => ops.get(1).map_or(0, |o| value(&st, o, 1) as u32),
        _ => 0,
    };
    let src_zero = matches!(mn, Bsf | Bsr) && ops.get(1).is_some_and(|o| value(&st, o, width) == 0);
    Some(Case {
        bytes,
        code16,
        input: st,
        expect: expect(mn, width, count, src_zero),
    })
}

fn dividend(st: &MachineState, width: u8) -> u64 {
    match width {
        1 => (st.regs[EAX] & 0xFFFF) as u64,
        2 => (((st.regs[EDX] & 0xFFFF) << 16) | (st.regs[EAX] & 0xFFFF)) as u64,
        _ => ((st.regs[EDX] as u64) << 32) | st.regs[EAX] as u64,
    }
}

fn set_dividend(st: &mut MachineState, width: u8, n: u64) {
    match width {
        1 => set16(st, EAX, n as u32),
        2 => {
            set16(st, EAX, n as u32);
            set16(st, EDX, (n >> 16) as u32);
        }
        _ => {
            st.regs[EAX] = n as u32;
            st.regs[EDX] = (n >> 32) as u32;
        }
    }
}

fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Makes a non-faulting dividend likely: quotient in range.
fn bias_dividend(st: &mut MachineState, signed: bool, width: u8, d: u32, rng: &mut Rng) {
    let bits = width as u32 * 8;
    let d = d & mask(width);
    if d == 0 {
        return;
    }
    if !signed {
        let q = rng.u32() as u64 & mask(width) as u64;
        let r = rng.u32() as u64 % d as u64;
        set_dividend(st, width, q * d as u64 + r);
    } else {
        let ds = sext(d as u64, bits);
        let qmax = 1i64 << (bits - 1);
        let q = match rng.below(3) {
            0 => rng.below(16) as i64 - 8,
            1 => qmax - 1 - rng.below(4) as i64,
            _ => sext(rng.u32() as u64, bits),
        };
        let mut r = (rng.u32() as i64).rem_euclid(ds.abs());
        let prod = q * ds;
        if prod < 0 || (prod == 0 && rng.chance(1, 2)) {
            r = -r;
        }
        set_dividend(st, width, (prod + r) as u64);
    }
}

fn div_ok(st: &MachineState, signed: bool, width: u8, d: u32) -> bool {
    let bits = width as u32 * 8;
    let n = dividend(st, width);
    let d = d & mask(width);
    if d == 0 {
        return false;
    }
    if !signed {
        n / d as u64 <= mask(width) as u64
    } else {
        let n = sext(n, 2 * bits) as i128;
        let d = sext(d as u64, bits) as i128;
        let q = n / d;
        q >= -(1i128 << (bits - 1)) && q < (1i128 << (bits - 1))
    }
}

fn gen_str(op: StrOp, size: u8, a16: bool, rep: Rep, rng: &mut Rng, base: u32) -> Case {
    let mut st = random_state(rng, base);
    let mut bytes = Vec::new();
    if size == 2 {
        bytes.push(0x66);
    }
    if a16 {
        bytes.push(0x67);
    }
    match rep {
        Rep::None => {}
        Rep::Repe => bytes.push(0xF3),
        Rep::Repne => bytes.push(0xF2),
    }
    let opc = match op {
        StrOp::Movs => 0xA4,
        StrOp::Cmps => 0xA6,
        StrOp::Stos => 0xAA,
        StrOp::Lods => 0xAC,
        StrOp::Scas => 0xAE,
    };
    bytes.push(if size == 1 { opc } else { opc + 1 });
    let si = TARGET_LO + 0x40 + rng.below(0x100);
    let di = TARGET_LO + 0x40 + rng.below(0x100);
    let count = rng.below(9);
    if a16 {
        set16(&mut st, ESI, si);
        set16(&mut st, EDI, di);
        if rep != Rep::None {
            set16(&mut st, ECX, count);
        }
    } else {
        st.regs[ESI] = si;
        st.regs[EDI] = di;
        if rep != Rep::None {
            st.regs[ECX] = count;
        }
    }
    if op == StrOp::Scas && rng.chance(1, 2) {
        let v = mem_get(&st, di, size) as u32;
        let m = mask(size);
        st.regs[EAX] = (st.regs[EAX] & !m) | v;
    }
    Case {
        bytes,
        code16: false,
        input: st,
        expect: Expect::ALL,
    }
}

fn gen_xlat(a16: bool, rng: &mut Rng, base: u32) -> Case {
    let mut st = random_state(rng, base);
    let t = target(rng);
    let al = st.regs[EAX] & 0xFF;
    let mut bytes = Vec::new();
    if a16 {
        bytes.push(0x67);
        set16(&mut st, EBX, t.wrapping_sub(al));
    } else {
        st.regs[EBX] = t.wrapping_sub(al);
    }
    bytes.push(0xD7);
    Case {
        bytes,
        code16: false,
        input: st,
        expect: Expect::ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::forms::all_forms;

    #[test]
    fn every_form_generates() {
        let mut rng = Rng::new(3);
        let mut failed = Vec::new();
        for f in all_forms() {
            for code16 in [false, true] {
                if code16 && !f.valid16() {
                    continue;
                }
                match generate(&f, code16, &mut rng, 0x50_0000) {
                    Some(c) => {
                        assert!(!c.bytes.is_empty() && c.bytes.len() <= 15);
                        let bits = if code16 { 16 } else { 32 };
                        let ins = iced_x86::Decoder::new(bits, &c.bytes, 0).decode();
                        assert!(!ins.is_invalid(), "{} {:02x?}", f.name(), c.bytes);
                        assert_eq!(ins.len(), c.bytes.len());
                    }
                    None => failed.push(f.name()),
                }
            }
        }
        assert!(failed.is_empty(), "could not generate: {failed:?}");
    }

    #[test]
    fn memory_operands_hit_the_target() {
        let mut rng = Rng::new(5);
        for _ in 0..200 {
            let c = gen_code(Code::Mov_r32_rm32, Mode::Mem16, false, &mut rng, 0x50_0000).unwrap();
            let mut d = iced_x86::Decoder::new(32, &c.bytes, 0);
            let ins = d.decode();
            let s = &c.input;
            let mut ea = ins.memory_displacement32();
            if ins.memory_base() != Register::None {
                ea = ea.wrapping_add(reg_get(s, ins.memory_base()));
            }
            if ins.memory_index() != Register::None {
                ea = ea.wrapping_add(reg_get(s, ins.memory_index()));
            }
            let ea = ea & 0xFFFF;
            assert!(
                (TARGET_LO..TARGET_HI).contains(&ea),
                "{ea:x} {:02x?}",
                c.bytes
            );
            assert_ne!(
                ins.segment_prefix(),
                Register::SS,
                "no flat SS with 16-bit addresses"
            );
        }
        let mut flat = 0;
        for _ in 0..400 {
            let c = gen_code(Code::Add_rm32_r32, Mode::Mem32, false, &mut rng, 0x50_0000).unwrap();
            let ins = iced_x86::Decoder::new(32, &c.bytes, 0).decode();
            let s = &c.input;
            let mut ea = ins.memory_displacement32();
            if ins.memory_base() != Register::None {
                ea = ea.wrapping_add(reg_get(s, ins.memory_base()));
            }
            if ins.memory_index() != Register::None {
                let i = reg_get(s, ins.memory_index());
                ea = ea.wrapping_add(i.wrapping_mul(ins.memory_index_scale()));
            }
            if ins.memory_segment() == Register::SS && ins.memory_base() != Register::EBP {
                flat += 1;
            }
            if ins.memory_segment() == Register::SS {
                ea = ea.wrapping_sub(0x50_0000 + DATA);
            }
            assert!(
                (TARGET_LO..TARGET_HI).contains(&ea),
                "{ea:x} {:02x?}",
                c.bytes
            );
        }
        assert!(flat > 10, "SS overrides generated");
    }

    #[test]
    fn size_prefixes_flip() {
        assert_eq!(flip_size_prefixes(&[0xA5]), vec![0x66, 0x67, 0xA5]);
        assert_eq!(
            flip_size_prefixes(&[0x66, 0xF3, 0xA5]),
            vec![0x67, 0xF3, 0xA5]
        );
        assert_eq!(flip_size_prefixes(&[0x66, 0x67, 0xD7]), vec![0xD7]);
    }

    #[test]
    fn lock_only_on_memory_destinations() {
        let mut rng = Rng::new(11);
        let mut locked = 0;
        for (code, mode) in [
            (Code::Add_rm32_r32, Mode::Mem32),
            (Code::Add_rm32_r32, Mode::Reg),
            (Code::Add_r32_rm32, Mode::Mem32),
            (Code::Bt_rm32_r32, Mode::Mem16),
        ] {
            for _ in 0..100 {
                let c = gen_code(code, mode, false, &mut rng, 0x50_0000).unwrap();
                let ins = iced_x86::Decoder::new(32, &c.bytes, 0).decode();
                assert!(!ins.is_invalid());
                if ins.has_lock_prefix() {
                    assert_eq!((code, mode), (Code::Add_rm32_r32, Mode::Mem32));
                    locked += 1;
                }
            }
        }
        assert!(locked > 10);
    }

    #[test]
    fn divides_never_fault() {
        let mut rng = Rng::new(9);
        for code in [
            Code::Div_rm8,
            Code::Idiv_rm16,
            Code::Idiv_rm32,
            Code::Div_rm32,
        ] {
            for _ in 0..200 {
                if let Some(c) = gen_code(code, Mode::Reg, false, &mut rng, 0x50_0000) {
                    let ins = iced_x86::Decoder::new(32, &c.bytes, 0).decode();
                    let w = ins.op0_register().size() as u8;
                    let d = reg_get(&c.input, ins.op0_register());
                    assert!(div_ok(&c.input, code.mnemonic() == Mnemonic::Idiv, w, d));
                }
            }
        }
    }
}
