//! The integer families' undefined-flag choices checked against the host
//! CPU: each case runs the instruction natively (`asm!`) and through the
//! interpreter's pure helpers, with pseudo-random operands, counts and
//! incoming flags, and compares result and all six arithmetic flags.
//!
//! Only built on x86-64 hosts. The project models a P6-family Intel CPU;
//! on an AMD host the undefined flags differ, so these tests are skipped
//! unless the host vendor is Intel.
#![cfg(target_arch = "x86_64")]

use std::arch::asm;

use cpu_interp::flags::{FlagOp, LazyFlags};
use cpu_interp::ops::alu::{compute, AluOp};
use cpu_interp::ops::bits::bit_scan;
use cpu_interp::ops::flag_names;
use cpu_interp::ops::muldiv::{div, mul};
use cpu_interp::ops::shift::{shift, shld, ShiftOp};
use cpu_interp::state::fl;

const ARITH: u32 = fl::ARITH;

fn intel_host() -> bool {
    let r = std::arch::x86_64::__cpuid(0);
    r.ebx == u32::from_le_bytes(*b"Genu")
}

/// xorshift64*: deterministic operands.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }
    /// A value biased towards interesting bit patterns.
    fn operand(&mut self) -> u32 {
        match self.next() % 6 {
            0 => 0,
            1 => 0x8000_0000 >> (self.next() % 32),
            2 => !(self.next() & 0xF),
            3 => self.next() & 0xFF,
            _ => self.next(),
        }
    }
}

macro_rules! native_rm_cl {
    ($ins:literal, $size:expr, $v:expr, $c:expr, $f:expr) => {{
        let mut v: u64 = $v as u64;
        let out: u64;
        let fin: u64 = ($f | 0x202) as u64;
        // SAFETY: only registers and the stack (pushfq/popfq) are touched.
        unsafe {
            match $size {
                1 => asm!("push {fi}", "popfq", concat!($ins, " {v:l}, cl"), "pushfq", "pop {o}",
                    v = inout(reg_abcd) v, fi = in(reg) fin, o = lateout(reg) out, in("cl") $c as u8),
                2 => asm!("push {fi}", "popfq", concat!($ins, " {v:x}, cl"), "pushfq", "pop {o}",
                    v = inout(reg) v, fi = in(reg) fin, o = lateout(reg) out, in("cl") $c as u8),
                _ => asm!("push {fi}", "popfq", concat!($ins, " {v:e}, cl"), "pushfq", "pop {o}",
                    v = inout(reg) v, fi = in(reg) fin, o = lateout(reg) out, in("cl") $c as u8),
            }
        }
        (v as u32 & mask($size), out as u32 & ARITH)
    }};
}

fn mask(size: u8) -> u32 {
    u32::MAX >> (32 - size as u32 * 8)
}

fn native_shift(op: ShiftOp, size: u8, v: u32, c: u32, f: u32) -> (u32, u32) {
    match op {
        ShiftOp::Rol => native_rm_cl!("rol", size, v, c, f),
        ShiftOp::Ror => native_rm_cl!("ror", size, v, c, f),
        ShiftOp::Rcl => native_rm_cl!("rcl", size, v, c, f),
        ShiftOp::Rcr => native_rm_cl!("rcr", size, v, c, f),
        ShiftOp::Shl => native_rm_cl!("shl", size, v, c, f),
        ShiftOp::Shr => native_rm_cl!("shr", size, v, c, f),
        ShiftOp::Sar => native_rm_cl!("sar", size, v, c, f),
    }
}

#[test]
fn shifts_match_host() {
    if !intel_host() {
        return;
    }
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut bad = Vec::new();
    for op in [
        ShiftOp::Rol,
        ShiftOp::Ror,
        ShiftOp::Rcl,
        ShiftOp::Rcr,
        ShiftOp::Shl,
        ShiftOp::Shr,
        ShiftOp::Sar,
    ] {
        for size in [1u8, 2, 4] {
            for i in 0..3000u32 {
                let v = rng.operand() & mask(size);
                let c = if i < 64 { i % 32 } else { rng.next() % 32 };
                let f = rng.next() & ARITH;
                let host = native_shift(op, size, v, c, f);
                let emu = shift(op, size, v, c, f).unwrap_or((v, f));
                if host != emu && bad.len() < 40 {
                    bad.push(format!(
                        "{op:?}{} {v:#x},{c} in[{}]: host {:#x} [{}] emu {:#x} [{}]",
                        size * 8,
                        flag_names(f),
                        host.0,
                        flag_names(host.1),
                        emu.0,
                        flag_names(emu.1)
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

macro_rules! native_dbl {
    ($ins:literal, $size:expr, $v:expr, $s:expr, $c:expr, $f:expr) => {{
        let mut v: u64 = $v as u64;
        let out: u64;
        let fin: u64 = ($f | 0x202) as u64;
        // SAFETY: only registers and the stack (pushfq/popfq) are touched.
        unsafe {
            match $size {
                2 => asm!("push {fi}", "popfq", concat!($ins, " {v:x}, {s:x}, cl"), "pushfq", "pop {o}",
                    v = inout(reg) v, s = in(reg) $s as u64, fi = in(reg) fin, o = lateout(reg) out, in("cl") $c as u8),
                _ => asm!("push {fi}", "popfq", concat!($ins, " {v:e}, {s:e}, cl"), "pushfq", "pop {o}",
                    v = inout(reg) v, s = in(reg) $s as u64, fi = in(reg) fin, o = lateout(reg) out, in("cl") $c as u8),
            }
        }
        (v as u32 & mask($size), out as u32 & ARITH)
    }};
}

#[test]
fn double_shifts_match_host() {
    if !intel_host() {
        return;
    }
    let mut rng = Rng(0xDEAD_BEEF_0BAD_F00D);
    let mut bad = Vec::new();
    for left in [true, false] {
        for size in [2u8, 4] {
            for i in 0..4000u32 {
                let v = rng.operand() & mask(size);
                let s = rng.operand() & mask(size);
                let c = if i < 64 { i % 32 } else { rng.next() % 32 };
                let f = rng.next() & ARITH;
                let host = if left {
                    native_dbl!("shld", size, v, s, c, f)
                } else {
                    native_dbl!("shrd", size, v, s, c, f)
                };
                let emu = shld(left, size, v, s, c).unwrap_or((v, f));
                if host != emu && bad.len() < 40 {
                    bad.push(format!(
                        "{}{} {v:#x},{s:#x},{c} in[{}]: host {:#x} [{}] emu {:#x} [{}]",
                        if left { "shld" } else { "shrd" },
                        size * 8,
                        flag_names(f),
                        host.0,
                        flag_names(host.1),
                        emu.0,
                        flag_names(emu.1)
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

/// Native one-operand MUL/IMUL: (low, high, flags)
fn native_mul(signed: bool, size: u8, a: u32, b: u32, f: u32) -> (u32, u32, u32) {
    let fin: u64 = (f | 0x202) as u64;
    let (mut ax, mut dx, out): (u64, u64, u64) = (a as u64, 0, 0);
    let _ = out;
    let o: u64;
    // SAFETY: only registers and the stack (pushfq/popfq) are touched.
    unsafe {
        match (signed, size) {
            (false, 1) => asm!("push {fi}", "popfq", "mul {b:l}", "pushfq", "pop {o}",
                inout("rax") ax, b = in(reg_abcd) b as u64, fi = in(reg) fin, o = lateout(reg) o),
            (true, 1) => asm!("push {fi}", "popfq", "imul {b:l}", "pushfq", "pop {o}",
                inout("rax") ax, b = in(reg_abcd) b as u64, fi = in(reg) fin, o = lateout(reg) o),
            (false, 2) => asm!("push {fi}", "popfq", "mul {b:x}", "pushfq", "pop {o}",
                inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64, fi = in(reg) fin, o = lateout(reg) o),
            (true, 2) => asm!("push {fi}", "popfq", "imul {b:x}", "pushfq", "pop {o}",
                inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64, fi = in(reg) fin, o = lateout(reg) o),
            (false, _) => asm!("push {fi}", "popfq", "mul {b:e}", "pushfq", "pop {o}",
                inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64, fi = in(reg) fin, o = lateout(reg) o),
            (true, _) => asm!("push {fi}", "popfq", "imul {b:e}", "pushfq", "pop {o}",
                inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64, fi = in(reg) fin, o = lateout(reg) o),
        }
    }
    let (lo, hi) = if size == 1 {
        (ax as u32 & 0xFF, (ax as u32 >> 8) & 0xFF)
    } else {
        (ax as u32 & mask(size), dx as u32 & mask(size))
    };
    (lo, hi, o as u32 & ARITH)
}

#[test]
fn multiplies_match_host() {
    if !intel_host() {
        return;
    }
    let mut rng = Rng(0x0F0F_1234_5555_AAAA);
    let mut bad = Vec::new();
    for signed in [false, true] {
        for size in [1u8, 2, 4] {
            for _ in 0..3000 {
                let a = rng.operand() & mask(size);
                let b = rng.operand() & mask(size);
                let f = rng.next() & ARITH;
                let host = native_mul(signed, size, a, b, f);
                let emu = mul(signed, size, a, b);
                if host != emu && bad.len() < 40 {
                    bad.push(format!(
                        "{}mul{} {a:#x}*{b:#x}: host {:#x}:{:#x} [{}] emu {:#x}:{:#x} [{}]",
                        if signed { "i" } else { "" },
                        size * 8,
                        host.1,
                        host.0,
                        flag_names(host.2),
                        emu.1,
                        emu.0,
                        flag_names(emu.2)
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

#[test]
fn bit_scans_match_host() {
    if !intel_host() {
        return;
    }
    let mut rng = Rng(0x7777_0000_1111_2222);
    let mut bad = Vec::new();
    for forward in [true, false] {
        for size in [2u8, 4] {
            for _ in 0..2000 {
                let v = rng.operand() & mask(size);
                let f = rng.next() & ARITH;
                let fin: u64 = (f | 0x202) as u64;
                let mut d: u64 = 0x5A5A_5A5A;
                let o: u64;
                // SAFETY: only registers and the stack are touched.
                unsafe {
                    match (forward, size) {
                        (true, 2) => {
                            asm!("push {fi}", "popfq", "bsf {d:x}, {v:x}", "pushfq", "pop {o}",
                            d = inout(reg) d, v = in(reg) v as u64, fi = in(reg) fin, o = lateout(reg) o)
                        }
                        (false, 2) => {
                            asm!("push {fi}", "popfq", "bsr {d:x}, {v:x}", "pushfq", "pop {o}",
                            d = inout(reg) d, v = in(reg) v as u64, fi = in(reg) fin, o = lateout(reg) o)
                        }
                        (true, _) => {
                            asm!("push {fi}", "popfq", "bsf {d:e}, {v:e}", "pushfq", "pop {o}",
                            d = inout(reg) d, v = in(reg) v as u64, fi = in(reg) fin, o = lateout(reg) o)
                        }
                        (false, _) => {
                            asm!("push {fi}", "popfq", "bsr {d:e}, {v:e}", "pushfq", "pop {o}",
                            d = inout(reg) d, v = in(reg) v as u64, fi = in(reg) fin, o = lateout(reg) o)
                        }
                    }
                }
                let (i, ef) = bit_scan(forward, size, v);
                let emu_d = i
                    .map(|i| i & mask(size))
                    .unwrap_or(0x5A5A_5A5A & mask(size));
                let host = (d as u32 & mask(size), o as u32 & ARITH);
                if host != (emu_d, ef) && bad.len() < 20 {
                    bad.push(format!(
                        "bs{}{} {v:#x} in[{}]: host {:#x} [{}] emu {emu_d:#x} [{}]",
                        if forward { "f" } else { "r" },
                        size * 8,
                        flag_names(f),
                        host.0,
                        flag_names(host.1),
                        flag_names(ef)
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

macro_rules! native_rm_r {
    ($ins:literal, $size:expr, $a:expr, $b:expr, $f:expr) => {{
        let mut v: u64 = $a as u64;
        let out: u64;
        let fin: u64 = ($f | 0x202) as u64;
        // SAFETY: only registers and the stack (pushfq/popfq) are touched.
        unsafe {
            match $size {
                1 => asm!("push {fi}", "popfq", concat!($ins, " {v:l}, {b:l}"), "pushfq", "pop {o}",
                    v = inout(reg_abcd) v, b = in(reg_abcd) $b as u64, fi = in(reg) fin, o = lateout(reg) out),
                2 => asm!("push {fi}", "popfq", concat!($ins, " {v:x}, {b:x}"), "pushfq", "pop {o}",
                    v = inout(reg) v, b = in(reg) $b as u64, fi = in(reg) fin, o = lateout(reg) out),
                _ => asm!("push {fi}", "popfq", concat!($ins, " {v:e}, {b:e}"), "pushfq", "pop {o}",
                    v = inout(reg) v, b = in(reg) $b as u64, fi = in(reg) fin, o = lateout(reg) out),
            }
        }
        (v as u32 & mask($size), out as u32 & ARITH)
    }};
}

macro_rules! native_rm {
    ($ins:literal, $size:expr, $a:expr, $f:expr) => {{
        let mut v: u64 = $a as u64;
        let out: u64;
        let fin: u64 = ($f | 0x202) as u64;
        // SAFETY: only registers and the stack (pushfq/popfq) are touched.
        unsafe {
            match $size {
                1 => asm!("push {fi}", "popfq", concat!($ins, " {v:l}"), "pushfq", "pop {o}",
                    v = inout(reg_abcd) v, fi = in(reg) fin, o = lateout(reg) out),
                2 => asm!("push {fi}", "popfq", concat!($ins, " {v:x}"), "pushfq", "pop {o}",
                    v = inout(reg) v, fi = in(reg) fin, o = lateout(reg) out),
                _ => asm!("push {fi}", "popfq", concat!($ins, " {v:e}"), "pushfq", "pop {o}",
                    v = inout(reg) v, fi = in(reg) fin, o = lateout(reg) out),
            }
        }
        (v as u32 & mask($size), out as u32 & ARITH)
    }};
}

fn native_alu(op: AluOp, size: u8, a: u32, b: u32, f: u32) -> (u32, u32) {
    match op {
        AluOp::Add => native_rm_r!("add", size, a, b, f),
        AluOp::Or => native_rm_r!("or", size, a, b, f),
        AluOp::Adc => native_rm_r!("adc", size, a, b, f),
        AluOp::Sbb => native_rm_r!("sbb", size, a, b, f),
        AluOp::And => native_rm_r!("and", size, a, b, f),
        AluOp::Sub => native_rm_r!("sub", size, a, b, f),
        AluOp::Xor => native_rm_r!("xor", size, a, b, f),
        AluOp::Cmp => {
            let (_, fl) = native_rm_r!("cmp", size, a, b, f);
            (a, fl)
        }
    }
}

/// The lazy-flag ALU (`ops::alu::compute` + `flags::LazyFlags`) against
/// the host, including INC/DEC (CF kept) and NEG.
#[test]
fn alu_and_lazy_flags_match_host() {
    let mut rng = Rng(0x5151_2323_8989_0101);
    let mut bad = Vec::new();
    let ops = [
        AluOp::Add,
        AluOp::Or,
        AluOp::Adc,
        AluOp::Sbb,
        AluOp::And,
        AluOp::Sub,
        AluOp::Xor,
        AluOp::Cmp,
    ];
    for op in ops {
        for size in [1u8, 2, 4] {
            for _ in 0..2000 {
                let a = rng.operand() & mask(size);
                let b = rng.operand() & mask(size);
                let f = rng.next() & ARITH;
                let host = native_alu(op, size, a, b, f);
                let (r, lf) = compute(op, size, a, b, f & fl::CF != 0);
                let emu = (if op == AluOp::Cmp { a } else { r }, lf.arith(f));
                if host != emu && bad.len() < 40 {
                    bad.push(format!(
                        "{op:?}{} {a:#x},{b:#x} in[{}]: host {:#x} [{}] emu {:#x} [{}]",
                        size * 8,
                        flag_names(f),
                        host.0,
                        flag_names(host.1),
                        emu.0,
                        flag_names(emu.1)
                    ));
                }
            }
        }
    }
    for (name, fop) in [("inc", FlagOp::Inc), ("dec", FlagOp::Dec)] {
        for size in [1u8, 2, 4] {
            for _ in 0..2000 {
                let a = rng.operand() & mask(size);
                let f = rng.next() & ARITH;
                let host = if fop == FlagOp::Inc {
                    native_rm!("inc", size, a, f)
                } else {
                    native_rm!("dec", size, a, f)
                };
                let r = if fop == FlagOp::Inc {
                    a.wrapping_add(1)
                } else {
                    a.wrapping_sub(1)
                } & mask(size);
                let mut lf = LazyFlags::default();
                lf.set(fop, size, a, 1, r);
                let emu = (r, lf.arith(f));
                if host != emu && bad.len() < 40 {
                    bad.push(format!(
                        "{name}{} {a:#x}: host {host:x?} emu {emu:x?}",
                        size * 8
                    ));
                }
            }
        }
    }
    for size in [1u8, 2, 4] {
        for _ in 0..2000 {
            let a = rng.operand() & mask(size);
            let f = rng.next() & ARITH;
            let host = native_rm!("neg", size, a, f);
            let (r, lf) = compute(AluOp::Sub, size, 0, a, false);
            let emu = (r, lf.arith(f));
            if host != emu && bad.len() < 40 {
                bad.push(format!(
                    "neg{} {a:#x}: host {host:x?} emu {emu:x?}",
                    size * 8
                ));
            }
        }
    }
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

/// Native DIV/IDIV of `n` (2*size bytes) by `b`; only called when the
/// quotient fits (else the host would raise #DE in this process).
fn native_div(signed: bool, size: u8, n: u64, b: u32) -> (u32, u32) {
    let (lo, hi) = match size {
        1 => (n & 0xFFFF, 0),
        2 => (n & 0xFFFF, (n >> 16) & 0xFFFF),
        _ => (n & 0xFFFF_FFFF, n >> 32),
    };
    let (mut ax, mut dx) = (lo, hi);
    // SAFETY: registers only; the caller guarantees no #DE.
    unsafe {
        match (signed, size) {
            (false, 1) => asm!("div {b:l}", inout("rax") ax, b = in(reg_abcd) b as u64),
            (true, 1) => asm!("idiv {b:l}", inout("rax") ax, b = in(reg_abcd) b as u64),
            (false, 2) => asm!("div {b:x}", inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64),
            (true, 2) => asm!("idiv {b:x}", inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64),
            (false, _) => asm!("div {b:e}", inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64),
            (true, _) => asm!("idiv {b:e}", inout("rax") ax, inout("rdx") dx, b = in(reg) b as u64),
        }
    }
    if size == 1 {
        (ax as u32 & 0xFF, (ax as u32 >> 8) & 0xFF)
    } else {
        (ax as u32 & mask(size), dx as u32 & mask(size))
    }
}

/// DIV/IDIV: results against the host where the quotient fits, and #DE
/// exactly where the true quotient does not fit (checked with i128).
#[test]
fn divides_match_host() {
    let mut rng = Rng(0x0DD0_1357_2468_ACE0);
    let mut bad = Vec::new();
    for signed in [false, true] {
        for size in [1u8, 2, 4] {
            let bits = size as u32 * 8;
            for i in 0..3000 {
                let hi = if i % 3 == 0 { 0 } else { rng.operand() as u64 };
                let n = ((hi << 32) | rng.operand() as u64) & (u64::MAX >> (64 - 2 * bits));
                let b = rng.operand() & mask(size);
                let emu = div(signed, size, n, b);
                // The true quotient, and whether it fits.
                let fits = if b == 0 {
                    false
                } else if signed {
                    let sh = 128 - 2 * bits;
                    let nn = ((n as i128) << sh) >> sh;
                    let bb = ((b as i128) << (128 - bits)) >> (128 - bits);
                    let q = nn / bb;
                    q >= -(1i128 << (bits - 1)) && q < (1i128 << (bits - 1))
                } else {
                    (n / b as u64) >> bits == 0
                };
                match emu {
                    Ok(r) if fits => {
                        let host = native_div(signed, size, n, b);
                        if host != r && bad.len() < 40 {
                            bad.push(format!(
                                "div{signed}{bits} {n:#x}/{b:#x}: host {host:x?} emu {r:x?}"
                            ));
                        }
                    }
                    Err(_) if !fits => {}
                    _ => {
                        if bad.len() < 40 {
                            bad.push(format!(
                                "div{signed}{bits} {n:#x}/{b:#x}: fits {fits} emu {emu:x?}"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

/// BSWAP with a 16-bit operand (undefined in the SDM): the host clears
/// the low word; so does the interpreter.
#[test]
fn bswap16_matches_host() {
    if !intel_host() {
        return;
    }
    let mut v: u64 = 0x1122_3344;
    // SAFETY: registers only; 66 0F C8 is BSWAP AX.
    unsafe { asm!(".byte 0x66, 0x0f, 0xc8", inout("rax") v) };
    let code = cpu_interp::harness::asm32(cpu_interp::harness::CODE_BASE as u64, |a| {
        a.mov(iced_x86::code_asm::eax, 0x1122_3344u32).unwrap();
        a.db(&[0x66, 0x0F, 0xC8]).unwrap();
        a.hlt().unwrap();
    });
    let mut m = cpu_interp::harness::TestMachine::flat32(&code);
    m.run();
    assert_eq!(m.s.regs[0], v as u32);
}
