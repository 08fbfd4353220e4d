//! The translator's differential fuzzer: random 32-bit guest programs,
//! biased to the instructions the translator handles natively (ALU, moves,
//! shifts, IMUL, SETcc/CMOVcc, PUSH/POP/CALL/RET, Jcc) with loads and
//! stores, plus callout instructions, forward branches, a loop so blocks
//! get hot and chained, self-modifying stores into the program, and
//! accesses that fault (a not-present page, a page-crossing access into
//! it, writes to a read-only page, #DE), the other native forms with
//! their flag and fault edge cases (`native.rs`), and small budgets that
//! stop both engines inside the loop. Each program runs on the
//! interpreter and on the translator from the same random state; the final
//! CPU state, the stop reason and all of RAM must agree.
//!
//! Programs are generated as raw bytes (the encodings are regular enough),
//! so every register form, including AH..BH, is reachable. Destination
//! registers are EAX..EBX (and their parts) so the base pointers ESI
//! (data page), EDI (just below a not-present page) and EBP (read-only
//! page) stay meaningful.

mod native;

use std::time::{Duration, Instant};

use cpu_interp::harness::{TestMachine, CODE_BASE, DATA_BASE};
use cpu_interp::state::*;
use cpu_interp::{Engine, Interpreter, Stop};

/// xorshift64*: small, deterministic, good enough for test generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next() >> 33) as u32 % n.max(1)
    }
    pub fn u8(&mut self) -> u8 {
        self.next() as u8
    }
    pub fn u32(&mut self) -> u32 {
        self.next() as u32
    }
    pub fn chance(&mut self, pct: u32) -> bool {
        self.below(100) < pct
    }
}

/// The not-present page (EDI points 64 bytes below it).
pub const FAULT_PAGE: u32 = 0x50000;
/// A read-only page (EBP points into it).
pub const RO_PAGE: u32 = 0x51000;
/// Exception handlers: vector v at HANDLERS + 16 v records v and halts.
pub const HANDLERS: u32 = CODE_BASE + 0x8000;
/// Where the handler records the vector.
pub const VECTOR_SLOT: u32 = DATA_BASE + 0xF80;
const IDT: u32 = 0x800;
/// Loop counter (dword at ESI + 0xFFC).
const COUNTER: i32 = 0xFFC;

/// One generated test case.
pub struct Program {
    pub code: Vec<u8>,
    pub regs: [u32; 8],
    pub eflags: u32,
    pub data: Vec<u8>,
}

struct Gen<'a> {
    rng: &'a mut Rng,
    out: Vec<u8>,
    /// Offsets of rel32 fields of CALLs to the subroutine.
    calls: Vec<usize>,
}

impl Gen<'_> {
    fn b(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    fn d32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// A destination register number for `size` (8-bit: any of AL..BH).
    fn dst(&mut self, size: u8) -> u8 {
        if size == 1 {
            self.rng.below(8) as u8
        } else {
            self.rng.below(4) as u8
        }
    }
    fn src(&mut self) -> u8 {
        self.rng.below(8) as u8
    }
    /// Operand-size prefix and the "w" bit for a size.
    fn size(&mut self) -> u8 {
        match self.rng.below(6) {
            0 => 1,
            1 => 2,
            _ => 4,
        }
    }
    fn prefix(&mut self, size: u8) {
        if size == 2 {
            self.b(&[0x66]);
        }
    }
    fn imm(&mut self, size: u8) {
        match size {
            1 => {
                let v = self.rng.u8();
                self.b(&[v]);
            }
            2 => {
                let v = self.rng.u32() as u16;
                self.b(&v.to_le_bytes());
            }
            _ => {
                let v = self.interesting();
                self.d32(v);
            }
        }
    }
    fn interesting(&mut self) -> u32 {
        match self.rng.below(6) {
            0 => 0,
            1 => 1,
            2 => 0x7FFF_FFFF,
            3 => 0x8000_0000,
            4 => 0xFFFF_FFFF,
            _ => self.rng.u32(),
        }
    }
    /// ModRM (+SIB/disp) for a memory operand with `reg` in the reg field.
    /// `write`: the access may store (then EBP is a fault source).
    fn modrm_mem(&mut self, reg: u8) {
        let reg = (reg & 7) << 3;
        match self.rng.below(20) {
            0 | 1 => {
                // [edi + disp8]: near / across the not-present page
                let d = self.rng.below(72) as u8;
                self.b(&[0x47 | reg, d]);
            }
            2 => {
                // [ebp + disp8]: the read-only page
                let d = self.rng.below(128) as u8;
                self.b(&[0x45 | reg, d]);
            }
            3 => {
                // [esi + eax*1 + disp8]-style: index masked small via disp
                let d = self.rng.below(64) as u8;
                let scale = (self.rng.below(2) as u8) << 6;
                self.b(&[0x44 | reg, 0x06 | scale | (2 << 3), d]);
            }
            _ => {
                // [esi + disp32] inside the data page
                let d = self.rng.below(0xF00);
                self.b(&[0x86 | reg]);
                self.d32(d);
            }
        }
    }
    fn modrm_reg(&mut self, reg: u8, rm: u8) {
        self.b(&[0xC0 | ((reg & 7) << 3) | (rm & 7)]);
    }

    /// Emits one random instruction (or a short group).
    fn insn(&mut self, depth: u32) {
        let w = |s: u8| u8::from(s != 1);
        if self.rng.chance(20) {
            return self.native_form();
        }
        match self.rng.below(100) {
            // ALU r/m, r  and  r, r/m
            0..=17 => {
                let s = self.size();
                let op = self.rng.below(8) as u8;
                self.prefix(s);
                if self.rng.chance(50) {
                    self.b(&[op * 8 + w(s)]);
                    if self.rng.chance(60) {
                        let (d, r) = (self.dst(s), self.src());
                        self.modrm_reg(r, d);
                    } else {
                        let r = self.src();
                        self.modrm_mem(r);
                    }
                } else {
                    self.b(&[op * 8 + 2 + w(s)]);
                    let d = self.dst(s);
                    if self.rng.chance(50) {
                        let r = self.src();
                        self.modrm_reg(d, r);
                    } else {
                        self.modrm_mem(d);
                    }
                }
            }
            // ALU r/m, imm (0x80 / 0x81 / 0x83), TEST r/m, imm
            18..=27 => {
                let s = self.size();
                let op = self.rng.below(9) as u8;
                self.prefix(s);
                let sx8 = s != 1 && self.rng.chance(40);
                if op == 8 {
                    self.b(&[0xF6 + w(s)]);
                } else {
                    self.b(&[if s == 1 {
                        0x80
                    } else if sx8 {
                        0x83
                    } else {
                        0x81
                    }]);
                }
                let reg = if op == 8 { 0 } else { op };
                if self.rng.chance(60) {
                    let d = self.dst(s);
                    self.modrm_reg(reg, d);
                } else {
                    self.modrm_mem(reg);
                }
                self.imm(if sx8 { 1 } else { s });
            }
            // INC/DEC/NEG/NOT
            28..=33 => {
                let s = self.size();
                self.prefix(s);
                let (opc, reg) = match self.rng.below(4) {
                    0 => (0xFE, 0),
                    1 => (0xFE, 1),
                    2 => (0xF6, 3),
                    _ => (0xF6, 2),
                };
                self.b(&[opc + w(s)]);
                if self.rng.chance(70) {
                    let d = self.dst(s);
                    self.modrm_reg(reg, d);
                } else {
                    self.modrm_mem(reg);
                }
            }
            // shifts / rotates by imm, 1 or CL (RCL/RCR become callouts)
            34..=41 => {
                let s = self.size();
                self.prefix(s);
                let reg = [4, 5, 7, 0, 1, 2, 3, 4][self.rng.below(8) as usize];
                let form = self.rng.below(3);
                self.b(&[[0xC0, 0xD0, 0xD2][form as usize] + w(s)]);
                if self.rng.chance(70) {
                    let d = self.dst(s);
                    self.modrm_reg(reg, d);
                } else {
                    self.modrm_mem(reg);
                }
                if form == 0 {
                    let c = self.rng.below(40) as u8;
                    self.b(&[c]);
                }
            }
            // IMUL r, r/m (, imm)
            42..=45 => {
                let s = if self.rng.chance(25) { 2 } else { 4 };
                self.prefix(s);
                let d = self.dst(s);
                match self.rng.below(3) {
                    0 => self.b(&[0x0F, 0xAF]),
                    1 => self.b(&[0x6B]),
                    _ => self.b(&[0x69]),
                }
                let form = self.out[self.out.len() - 1];
                if self.rng.chance(60) {
                    let r = self.src();
                    self.modrm_reg(d, r);
                } else {
                    self.modrm_mem(d);
                }
                match form {
                    0x6B => self.imm(1),
                    0x69 => self.imm(s),
                    _ => {}
                }
            }
            // MOV
            46..=57 => {
                let s = self.size();
                self.prefix(s);
                match self.rng.below(4) {
                    0 => {
                        self.b(&[0x88 + w(s)]);
                        let (d, r) = (self.dst(s), self.src());
                        self.modrm_reg(r, d);
                    }
                    1 => {
                        self.b(&[0x8A + w(s)]);
                        let d = self.dst(s);
                        self.modrm_mem(d);
                    }
                    2 => {
                        self.b(&[0x88 + w(s)]);
                        let r = self.src();
                        self.modrm_mem(r);
                    }
                    _ => {
                        self.b(&[0xC6 + w(s)]);
                        self.modrm_mem(0);
                        self.imm(s);
                    }
                }
            }
            // MOVZX / MOVSX / LEA
            58..=62 => {
                let s = if self.rng.chance(25) { 2 } else { 4 };
                self.prefix(s);
                let d = self.dst(s);
                match self.rng.below(3) {
                    0 | 1 => {
                        let opc = [0xB6, 0xB7, 0xBE, 0xBF][self.rng.below(4) as usize];
                        self.b(&[0x0F, opc]);
                        if self.rng.chance(50) {
                            let r = self.src();
                            self.modrm_reg(d, r);
                        } else {
                            self.modrm_mem(d);
                        }
                    }
                    _ => {
                        self.b(&[0x8D]);
                        self.modrm_mem(d);
                    }
                }
            }
            // SETcc / CMOVcc
            63..=68 => {
                let cc = self.rng.below(16) as u8;
                if self.rng.chance(50) {
                    self.b(&[0x0F, 0x90 + cc]);
                    if self.rng.chance(70) {
                        let d = self.dst(1);
                        self.modrm_reg(0, d);
                    } else {
                        self.modrm_mem(0);
                    }
                } else {
                    let s = if self.rng.chance(25) { 2 } else { 4 };
                    self.prefix(s);
                    self.b(&[0x0F, 0x40 + cc]);
                    let d = self.dst(s);
                    if self.rng.chance(60) {
                        let r = self.src();
                        self.modrm_reg(d, r);
                    } else {
                        self.modrm_mem(d);
                    }
                }
            }
            // PUSH then POP
            69..=72 => {
                match self.rng.below(3) {
                    0 => {
                        let v = self.rng.u8();
                        self.b(&[0x6A, v]);
                    }
                    1 => {
                        self.b(&[0x68]);
                        let v = self.rng.u32();
                        self.d32(v);
                    }
                    _ => {
                        let r = self.src();
                        self.b(&[0x50 + r]);
                    }
                }
                if depth < 2 && self.rng.chance(40) {
                    self.insn(depth + 1);
                }
                let d = self.dst(4);
                self.b(&[0x58 + d]);
            }
            // CALL the subroutine
            73..=74 => {
                self.b(&[0xE8]);
                self.calls.push(self.out.len());
                self.d32(0);
            }
            // forward Jcc over one 32-bit MOV/ADD/SUB (the translator's
            // if-conversion), then often something that reads the flags
            75..=76 if depth < 2 => {
                let cc = self.rng.below(16) as u8;
                let (d, r) = (self.dst(4), self.src());
                let body: Vec<u8> = match self.rng.below(6) {
                    0 => vec![0x89, 0xC0 | (r << 3) | d],
                    1 => vec![0x01, 0xC0 | (r << 3) | d],
                    2 => vec![0x29, 0xC0 | (r << 3) | d],
                    3 => vec![0x83, 0xE8 | d, self.rng.u8()],
                    4 => {
                        let mut v = vec![0x81, 0xC0 | d];
                        v.extend(self.interesting().to_le_bytes());
                        v
                    }
                    _ => {
                        let mut v = vec![0xB8 + d];
                        v.extend(self.interesting().to_le_bytes());
                        v
                    }
                };
                self.b(&[0x70 + cc, body.len() as u8]);
                self.b(&body);
                match self.rng.below(4) {
                    // pushfd; pop r: every flag into a register
                    0 => {
                        let d = self.dst(4);
                        self.b(&[0x9C, 0x58 + d]);
                    }
                    // setcc r8
                    1 => {
                        let (c, d) = (self.rng.below(16) as u8, self.dst(1));
                        self.b(&[0x0F, 0x90 + c, 0xC0 | d]);
                    }
                    _ => {}
                }
            }
            // forward Jcc over a few instructions
            77..=80 if depth < 2 => {
                let mut inner = Gen {
                    rng: self.rng,
                    out: Vec::new(),
                    calls: Vec::new(),
                };
                let n = 1 + inner.rng.below(3);
                for _ in 0..n {
                    inner.insn(depth + 1);
                }
                let (body, calls) = (inner.out, inner.calls);
                if body.len() < 120 && calls.is_empty() {
                    let cc = self.rng.below(16) as u8;
                    self.b(&[0x70 + cc, body.len() as u8]);
                    self.b(&body);
                }
            }
            // XCHG r,r / CDQ / CWDE / flag ops
            81..=84 => match self.rng.below(12) {
                7 => {
                    let op = 0xFC + self.rng.below(2) as u8;
                    self.b(&[op]);
                }
                8 | 9 => {
                    // lods / stos, byte, word or dword
                    let s = self.size();
                    self.prefix(s);
                    let base = if self.rng.chance(50) { 0xAC } else { 0xAA };
                    self.b(&[base + u8::from(s != 1)]);
                }
                10 => self.b(&[0xFC]),
                0 => {
                    let (d, r) = (self.dst(4), self.dst(4));
                    self.b(&[0x87]);
                    self.modrm_reg(r, d);
                }
                1 => self.b(&[0x99]),
                2 => self.b(&[0x98]),
                3 => {
                    let f = 0xF8 + self.rng.below(2) as u8;
                    self.b(&[f]);
                }
                4 => self.b(&[0xF5]),
                5 => self.b(&[0x9E]),
                _ => self.b(&[0x9F]),
            },
            // callouts: BT, BSWAP, MUL, DIV, RCL, XADD, BSF, PUSHFD/POPFD, REP STOSB
            85..=92 => match self.rng.below(9) {
                0 => {
                    self.b(&[0x0F, 0xA3]);
                    let (d, r) = (self.dst(4), self.src());
                    self.modrm_reg(r, d);
                }
                1 => {
                    let d = self.dst(4);
                    self.b(&[0x0F, 0xC8 + d]);
                }
                2 => {
                    self.b(&[0xF7]);
                    let r = self.src();
                    self.modrm_reg(4, r);
                }
                3 => {
                    // xor edx, edx; div ecx/ebx: #DE on a zero divisor
                    self.b(&[0x31, 0xD2, 0xF7]);
                    let r = [1u8, 3][self.rng.below(2) as usize];
                    self.modrm_reg(6, r);
                }
                4 => {
                    self.b(&[0xD1]);
                    let d = self.dst(4);
                    self.modrm_reg(2, d);
                }
                5 => {
                    self.b(&[0x0F, 0xC1]);
                    let (d, r) = (self.dst(4), self.dst(4));
                    self.modrm_reg(r, d);
                }
                6 => {
                    self.b(&[0x0F, 0xBC]);
                    let (d, r) = (self.dst(4), self.src());
                    self.modrm_reg(d, r);
                }
                7 => self.b(&[0x9C, 0x9D]),
                _ => {
                    // and ecx, 31; push esi; push edi; lea edi, [esi + disp];
                    // [lea esi, [esi + disp2]]; rep movs/stos (b/w/d); pop edi; pop esi
                    self.b(&[0x83, 0xE1, 0x1F, 0x56, 0x57, 0x8D, 0xBE]);
                    let disp = 0x800 + self.rng.below(0x800) - (self.rng.below(2) * 0x7C0);
                    self.d32(disp);
                    let movs = self.rng.chance(50);
                    if movs {
                        self.b(&[0x8D, 0xB6]);
                        let d2 = self.rng.below(0xF00);
                        self.d32(d2);
                    }
                    let s = self.size();
                    self.b(&[0xF3]);
                    self.prefix(s);
                    let op = if movs { 0xA4 } else { 0xAA } + u8::from(s != 1);
                    self.b(&[op, 0x5F, 0x5E]);
                }
            },
            // self-modifying store into the program
            93..=94 => {
                let off = self.rng.below(160);
                let v = self.rng.u8();
                self.b(&[0xC6, 0x05]);
                self.d32(CODE_BASE + off);
                self.b(&[v]);
            }
            // 16-bit operand ALU r,r with high bytes
            _ => {
                let op = self.rng.below(8) as u8;
                self.b(&[op * 8]);
                let (d, r) = (self.dst(1), self.src());
                self.modrm_reg(r, d);
            }
        }
    }
}

/// Generates program number `seed`.
pub fn generate(seed: u64) -> Program {
    let mut rng = Rng::new(seed);
    let mut g = Gen {
        rng: &mut rng,
        out: Vec::new(),
        calls: Vec::new(),
    };
    // mov dword [esi + COUNTER], iters
    let iters = 1 + g.rng.below(30);
    g.b(&[0xC7, 0x86]);
    g.d32(COUNTER as u32);
    g.d32(iters);
    let top = g.out.len();
    let n = 4 + g.rng.below(60);
    for _ in 0..n {
        g.insn(0);
    }
    // dec dword [esi + COUNTER]; jnz top; hlt
    g.b(&[0xFF, 0x8E]);
    g.d32(COUNTER as u32);
    let rel = top as i64 - (g.out.len() as i64 + 6);
    g.b(&[0x0F, 0x85]);
    g.d32(rel as i32 as u32);
    g.b(&[0xF4]);
    // sub: add eax, ecx; ret
    let sub = g.out.len();
    g.b(&[0x01, 0xC8, 0xC3]);
    for &c in &g.calls.clone() {
        let rel = sub as i64 - (c as i64 + 4);
        g.out[c..c + 4].copy_from_slice(&(rel as i32).to_le_bytes());
    }
    let code = g.out;
    let mut regs = [0u32; 8];
    for r in regs.iter_mut().take(4) {
        *r = match rng.below(4) {
            0 => rng.below(16),
            1 => 0xFFFF_FFFF - rng.below(4),
            _ => rng.u32(),
        };
    }
    regs[ESP] = cpu_interp::harness::STACK_TOP;
    regs[ESI] = DATA_BASE;
    regs[EDI] = FAULT_PAGE - 64;
    regs[EBP] = RO_PAGE + 0x100;
    let eflags = (rng.u32() & fl::ARITH) | fl::FIXED1;
    let data = (0..4096).map(|_| rng.u8()).collect();
    Program {
        code,
        regs,
        eflags,
        data,
    }
}

/// A machine loaded with `p`: flat 32-bit paged mode, IDT whose every
/// exception vector records itself and halts.
pub fn machine(p: &Program) -> TestMachine {
    let mut m = TestMachine::flat32_paged(&p.code);
    for v in 0..32u32 {
        let h = HANDLERS + v * 16;
        // mov dword [VECTOR_SLOT], v; hlt
        let mut stub = vec![0xC7, 0x05];
        stub.extend_from_slice(&VECTOR_SLOT.to_le_bytes());
        stub.extend_from_slice(&v.to_le_bytes());
        stub.push(0xF4);
        m.mmu.phys.write_bytes(h, &stub);
        let gate = h as u64;
        let desc = (gate & 0xFFFF) | (0x08 << 16) | (0x8E00u64 << 32) | ((gate >> 16) << 48);
        m.mmu.phys.write_u64(IDT + v * 8, desc);
    }
    m.s.idtr = DescTable {
        base: IDT,
        limit: 32 * 8 - 1,
    };
    let pte = |page: u32| 0x2000 + (page >> 12) * 4;
    m.mmu.phys.write_u32(pte(FAULT_PAGE), 0);
    m.mmu.phys.write_u32(pte(RO_PAGE), RO_PAGE | 1);
    m.mmu.phys.write_bytes(DATA_BASE, &p.data);
    m.mmu.flush_all();
    m.s.regs = p.regs;
    m.s.set_eflags_raw(p.eflags);
    m
}

/// A real-mode machine loaded with `p`: the same bytes run as 16-bit code
/// (different instructions, 16-bit addressing, real-mode segments with
/// 64 KiB limits); every IVT vector points at a HLT.
pub fn machine_real(p: &Program) -> TestMachine {
    let mut m = TestMachine::real(&p.code);
    let handler = 0xF000u16;
    m.mmu.phys.write_u8(0x10000 + handler as u32, 0xF4);
    for v in 0..256u32 {
        m.mmu.phys.write_u16(v * 4, handler);
        m.mmu.phys.write_u16(v * 4 + 2, 0x1000);
    }
    m.mmu.phys.write_bytes(0x30000, &p.data);
    m.s.regs = p.regs;
    m.s.regs[ESP] = 0xFFF0;
    m.s.set_eflags_raw(p.eflags);
    m
}

/// Outcome of a fuzzing run.
#[derive(Default, Debug)]
pub struct Report {
    pub programs: u64,
    pub instructions: u64,
    pub differences: u64,
    /// Description of the first difference.
    pub first: Option<String>,
}

/// Compares the two finished machines.
fn compare(a: &mut TestMachine, sa: Stop, b: &mut TestMachine, sb: Stop) -> Option<String> {
    let mut d = Vec::new();
    if sa != sb {
        d.push(format!("stop {sa:?} vs {sb:?}"));
    }
    if a.s.regs != b.s.regs {
        d.push(format!("regs {:08X?} vs {:08X?}", a.s.regs, b.s.regs));
    }
    if a.s.eip != b.s.eip {
        d.push(format!("eip {:08X} vs {:08X}", a.s.eip, b.s.eip));
    }
    if a.s.get_eflags() != b.s.get_eflags() {
        d.push(format!(
            "eflags {:08X} vs {:08X}",
            a.s.get_eflags(),
            b.s.get_eflags()
        ));
    }
    if a.s.icount != b.s.icount {
        d.push(format!("icount {} vs {}", a.s.icount, b.s.icount));
    }
    if a.s.cr2 != b.s.cr2 || a.s.run_state != b.s.run_state {
        d.push(format!(
            "cr2/run {:08X}/{:?} vs {:08X}/{:?}",
            a.s.cr2, a.s.run_state, b.s.cr2, b.s.run_state
        ));
    }
    let size = a.mmu.phys.ram_size();
    let mut x = vec![0u8; 1 << 16];
    let mut y = vec![0u8; 1 << 16];
    let mut off = 0u32;
    while off < size {
        let n = ((size - off) as usize).min(x.len());
        a.mmu.phys.read_ram_raw(off, &mut x[..n]);
        b.mmu.phys.read_ram_raw(off, &mut y[..n]);
        if x[..n] != y[..n] {
            let i = x[..n]
                .iter()
                .zip(&y[..n])
                .position(|(p, q)| p != q)
                .unwrap_or(0);
            d.push(format!(
                "RAM at {:#x}: {:02X} vs {:02X}",
                off as usize + i,
                x[i],
                y[i]
            ));
            break;
        }
        off += n as u32;
    }
    (!d.is_empty()).then(|| d.join("; "))
}

/// Runs program `seed` on the interpreter and on `dbt`; None if they agree.
/// Every fourth program runs in real mode.
pub fn check_one(seed: u64, budget: u64, dbt: &mut dyn Engine) -> (u64, Option<String>) {
    let p = generate(seed);
    // Every fifth program stops on a small budget, somewhere inside its
    // loop: both engines must stop at the same block boundary.
    let budget = if seed % 5 == 2 {
        budget.min(10 + seed / 5 % 300)
    } else {
        budget
    };
    let real = seed % 4 == 3;
    let make = |p: &Program| if real { machine_real(p) } else { machine(p) };
    let mut a = make(&p);
    let mut interp = Interpreter::new();
    let sa = interp.run(&mut a.s, &mut a.mmu, &mut a.bus, budget);
    let mut b = make(&p);
    let sb = dbt.run(&mut b.s, &mut b.mmu, &mut b.bus, budget);
    let diff = compare(&mut a, sa, &mut b, sb).map(|d| {
        let code: String = p.code.iter().map(|x| format!("{x:02x}")).collect();
        let mode = if real { "real mode" } else { "flat32" };
        format!("seed {seed} ({mode}): {d}\n  code: {code}")
    });
    (a.s.icount, diff)
}

/// Runs programs from `seed` until `max_programs` or `max_time`, with a
/// fresh translator from `make` for each (its argument varies the
/// translation threshold).
pub fn run(
    seed: u64,
    max_programs: u64,
    max_time: Duration,
    budget: u64,
    make: &mut dyn FnMut(u64) -> Box<dyn Engine>,
) -> Report {
    let t0 = Instant::now();
    let mut r = Report::default();
    for i in 0..max_programs {
        if t0.elapsed() > max_time {
            break;
        }
        let s = seed.wrapping_add(i);
        let mut e = make(s);
        let (n, diff) = check_one(s, budget, e.as_mut());
        r.programs += 1;
        r.instructions += n;
        if let Some(d) = diff {
            r.differences += 1;
            if r.first.is_none() {
                r.first = Some(d);
            }
        }
    }
    r
}
