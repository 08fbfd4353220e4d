//! Operand and control-word generation for the x87 oracle: a small
//! xorshift generator (deterministic per form) and biased pickers that
//! favour edge cases and values near rounding boundaries.

use super::{Input, MemKind, Operands};
use cpu_interp::x87::F80;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// A significand with structure near rounding boundaries of 24/53/64 bits.
fn sig(r: &mut Rng) -> u64 {
    let j = 1u64 << 63;
    match r.below(8) {
        0 => j,
        1 => !0,
        2 => {
            // exactly representable at p bits, perhaps +- a little
            let p = [24u32, 53, 64][r.below(3) as usize];
            let top = (r.next() | j) & (!0u64 << (64 - p));
            match r.below(4) {
                0 => top,
                1 => top.wrapping_add(1 << (63 - p.min(63))) | j,
                2 => top.wrapping_sub(1) | j,
                _ => top | (1u64 << (63 - p.min(63))),
            }
        }
        3 => j | (r.next() & 0xFF),
        4 => j | (r.next() << 40),
        _ => r.next() | j,
    }
}

fn exp(r: &mut Rng) -> u16 {
    match r.below(10) {
        0 => r.below(0x7FFF) as u16,
        1 => 1 + r.below(70) as u16,
        2 => 0x7FFE - r.below(70) as u16,
        3 => 15296 + r.below(130) as u16, // around the f64 denormal range (15309..15361)
        4 => (0x3FFF - 126 - 40) as u16 + r.below(60) as u16, // near f32 denormals
        5 => (0x3FFF + 1023 - 3) as u16 + r.below(6) as u16, // near f64 overflow
        _ => 0x3FFF - 70 + r.below(140) as u16,
    }
}

/// An extended operand: mostly normal numbers, often an edge case.
pub fn f80(r: &mut Rng) -> F80 {
    let sign = r.chance(1, 2);
    if r.chance(1, 4) {
        let s = r.next();
        return match r.below(13) {
            0 => F80::new(sign, 0, 0),
            1 => F80::new(sign, 0x7FFF, 1 << 63),
            2 => F80::new(
                sign,
                0x7FFF,
                (3 << 62) | (s >> 2 & if r.chance(1, 2) { 0 } else { !0 }),
            ),
            3 => F80::new(sign, 0x7FFF, (1 << 63) | (s >> 2).max(1)),
            4 => F80::INDEFINITE,
            5 => F80::new(sign, 0, s >> (1 + r.below(63))),
            6 => F80::new(sign, 0, s | 1 << 63),
            7 => F80::new(sign, 1 + r.below(0x7FFE) as u16, s >> 1),
            8 => F80::new(sign, 0x7FFF, s >> 1),
            9 => F80::new(sign, 0x7FFE, !0),
            10 => F80::new(sign, 1, 1 << 63),
            11 => F80::new(
                sign,
                0x3FFF + r.below(64) as u16,
                (1 << 63) | ((s >> 1) & !(!0u64 >> r.below(64))),
            ),
            _ => F80::new(sign, 0x3FFF, 1 << 63),
        };
    }
    F80::new(sign, exp(r), sig(r))
}

/// A second operand, often related to the first (close exponents,
/// cancellation, equal values).
fn related(r: &mut Rng, a: F80) -> F80 {
    match r.below(6) {
        0 => a,
        1 => a.neg(),
        2 => {
            let d = r.below(70) as i32 - 35;
            let e = (a.exp() + d).clamp(1, 0x7FFE) as u16;
            F80::new(r.chance(1, 2), e, sig(r))
        }
        3 => F80::new(!a.sign(), a.se & 0x7FFF, a.sig ^ (1 << r.below(63))),
        _ => f80(r),
    }
}

fn cw(r: &mut Rng) -> u16 {
    let pc = [0u16, 2, 3, 3][r.below(4) as usize];
    let rc = r.below(4) as u16;
    let masks = if r.chance(3, 4) {
        0x3F
    } else {
        r.below(64) as u16
    };
    0x0040 | masks | (pc << 8) | (rc << 10)
}

fn mem(r: &mut Rng, k: MemKind) -> [u8; 10] {
    let mut m = [0u8; 10];
    let s = r.next();
    match k {
        MemKind::F32 => {
            let v: u32 = match r.below(6) {
                0 => (s as u32) & 0x807F_FFFF,
                1 => (s as u32) | 0x7F80_0000,
                2 => (s as u32) & 0x8000_0000 | 0x7F80_0000 | (s >> 40) as u32 & 0x3F_FFFF,
                _ => s as u32,
            };
            m[..4].copy_from_slice(&v.to_le_bytes());
        }
        MemKind::F64 => {
            let v: u64 = match r.below(6) {
                0 => s & 0x800F_FFFF_FFFF_FFFF,
                1 => s | 0x7FF0_0000_0000_0000,
                2 => s & 0x8007_FFFF_FFFF_FFFF | 0x7FF0_0000_0000_0000,
                _ => s,
            };
            m[..8].copy_from_slice(&v.to_le_bytes());
        }
        MemKind::I16 => m[..2].copy_from_slice(&(s as u16 >> r.below(16)).to_le_bytes()),
        MemKind::I32 => m[..4].copy_from_slice(&(s as u32 >> r.below(32)).to_le_bytes()),
        MemKind::I64 => m[..8].copy_from_slice(&(s >> r.below(64)).to_le_bytes()),
        MemKind::Bcd => {
            let digits = r.below(19);
            for i in 0..9 {
                let lo = if 2 * i < digits { r.below(10) } else { 0 } as u8;
                let hi = if 2 * i + 1 < digits { r.below(10) } else { 0 } as u8;
                m[i as usize] = (hi << 4) | lo;
            }
            m[9] = if r.chance(1, 2) { 0x80 } else { 0 };
        }
    }
    m
}

/// One input for a form.
pub fn input(r: &mut Rng, ops: Operands) -> Input {
    let mut a = f80(r);
    let b = related(r, a);
    if let Operands::TwoIn(lo, hi) = ops {
        if r.chance(7, 8) {
            let e = lo + r.below((hi - lo + 1) as u64) as u16;
            a = F80::new(r.chance(1, 2), e, sig(r));
        }
    }
    if ops == Operands::Mmx {
        let lanes = |r: &mut Rng| match r.below(4) {
            0 => r.next() & 0x8080_8080_8080_8080 | 0x7F7F_7F7F_7F7F_7F7F & r.next() >> 60,
            1 => [0, !0, 0x8000_8000_8000_8000, 0x7FFF_7FFF_7FFF_7FFF][r.below(4) as usize],
            _ => r.next(),
        };
        let a = F80 {
            sig: lanes(r),
            se: 0,
        };
        let b = if r.chance(1, 3) {
            F80 {
                sig: r.below(70),
                se: 0,
            }
        } else {
            F80 {
                sig: lanes(r),
                se: 0,
            }
        };
        return Input {
            cw: 0x037F,
            a,
            b,
            mem: [0xA5; 10],
        };
    }
    let mem = match ops {
        Operands::Mmx => unreachable!(),
        Operands::Two | Operands::TwoIn(..) => {
            let mut m = [0xA5u8; 10];
            m[0] = r.next() as u8;
            m
        }
        Operands::Mem(k) => mem(r, k),
    };
    Input {
        cw: cw(r),
        a,
        b,
        mem,
    }
}
