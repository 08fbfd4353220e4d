//! MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV.
//!
//! CF = OF report a significant upper half. The flags the SDM leaves
//! undefined follow the Intel host (checked in `tests/int_host.rs`):
//! SF from the sign bit of the low half, PF from its low byte, ZF and AF
//! cleared. DIV/IDIV leave the flags unchanged and raise #DE for a zero
//! divisor or a quotient that does not fit (including IDIV of the most
//! negative dividend by -1); registers are not touched on #DE.

use iced_x86::{Code, Mnemonic};

use super::{flag_if, mask, set_arith_flags, sext, sign};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::flags::parity;
use crate::state::*;

/// Full product of `a * b` at `size` bytes: (low half, high half, flags).
pub fn mul(signed: bool, size: u8, a: u32, b: u32) -> (u32, u32, u32) {
    let bits = size as u32 * 8;
    let m = mask(size);
    let (full, overflow) = if signed {
        let p = sext(a, size) as i32 as i64 * sext(b, size) as i32 as i64;
        let lo = p as u32 & m;
        (p as u64, sext(lo, size) as i32 as i64 != p)
    } else {
        let p = (a & m) as u64 * (b & m) as u64;
        (p, p >> bits != 0)
    };
    let lo = full as u32 & m;
    let hi = (full >> bits) as u32 & m;
    let f = flag_if(overflow, fl::CF | fl::OF)
        | flag_if(lo & sign(size) != 0, fl::SF)
        | flag_if(parity(lo), fl::PF);
    (lo, hi, f)
}

/// Quotient and remainder of `dividend` (2*size bytes) by `divisor`, or
/// #DE.
pub fn div(signed: bool, size: u8, dividend: u64, divisor: u32) -> Result<(u32, u32)> {
    let m = mask(size);
    let divisor = divisor & m;
    if divisor == 0 {
        return Err(Exception::DE);
    }
    if signed {
        let bits = size as u32 * 16;
        let sh = 64 - bits;
        let n = ((dividend << sh) as i64) >> sh;
        let dv = sext(divisor, size) as i32 as i64;
        let q = n.checked_div(dv).ok_or(Exception::DE)?;
        let r = n.checked_rem(dv).ok_or(Exception::DE)?;
        if sext(q as u32 & m, size) as i32 as i64 != q {
            return Err(Exception::DE);
        }
        Ok((q as u32 & m, r as u32 & m))
    } else {
        let dividend = dividend & (u64::MAX >> (64 - size as u32 * 16));
        let q = dividend / divisor as u64;
        if q > m as u64 {
            return Err(Exception::DE);
        }
        Ok((q as u32, (dividend % divisor as u64) as u32))
    }
}

/// Reads the implicit accumulator pair of `size`: AX, DX:AX or EDX:EAX.
fn acc_pair(cpu: &Cpu, size: u8) -> u64 {
    match size {
        1 => cpu.s.regs[EAX] as u64 & 0xFFFF,
        2 => ((cpu.s.regs[EDX] as u64 & 0xFFFF) << 16) | (cpu.s.regs[EAX] as u64 & 0xFFFF),
        _ => ((cpu.s.regs[EDX] as u64) << 32) | cpu.s.regs[EAX] as u64,
    }
}

/// MUL / IMUL r/m (one operand): AX, DX:AX or EDX:EAX = acc * r/m
fn mul_rm(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let b = cpu.read_op(d, 0)?;
    let size = d.width;
    let a = cpu.gpr(EAX, size);
    let signed = d.ins.mnemonic() == Mnemonic::Imul;
    let (lo, hi, f) = mul(signed, size, a, b);
    if size == 1 {
        cpu.set_gpr(EAX, 2, hi << 8 | lo);
    } else {
        cpu.set_gpr(EAX, size, lo);
        cpu.set_gpr(EDX, size, hi);
    }
    set_arith_flags(cpu, f);
    Ok(())
}

/// IMUL r, r/m and IMUL r, r/m, imm
fn imul_r(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let (a, b) = if d.ins.op_count() == 3 {
        (cpu.read_op(d, 1)?, cpu.read_op(d, 2)?)
    } else {
        (cpu.read_op(d, 0)?, cpu.read_op(d, 1)?)
    };
    let (lo, _, f) = mul(true, d.width, a, b);
    cpu.write_op(d, 0, lo)?;
    set_arith_flags(cpu, f);
    Ok(())
}

/// DIV / IDIV r/m: quotient to AL/AX/EAX, remainder to AH/DX/EDX
fn div_rm(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let b = cpu.read_op(d, 0)?;
    let size = d.width;
    let n = acc_pair(cpu, size);
    let signed = d.ins.mnemonic() == Mnemonic::Idiv;
    let (q, r) = div(signed, size, n, b)?;
    if size == 1 {
        cpu.set_gpr(EAX, 2, r << 8 | q);
    } else {
        cpu.set_gpr(EAX, size, q);
        cpu.set_gpr(EDX, size, r);
    }
    // The flags are unchanged, as on the host.
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(
        &[Mul_rm8, Mul_rm16, Mul_rm32, Imul_rm8, Imul_rm16, Imul_rm32],
        mul_rm,
    );
    t.set_all(
        &[
            Imul_r16_rm16,
            Imul_r32_rm32,
            Imul_r16_rm16_imm16,
            Imul_r32_rm32_imm32,
            Imul_r16_rm16_imm8,
            Imul_r32_rm32_imm8,
        ],
        imul_r,
    );
    t.set_all(
        &[Div_rm8, Div_rm16, Div_rm32, Idiv_rm8, Idiv_rm16, Idiv_rm32],
        div_rm,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::flag_names;

    #[track_caller]
    fn expect_mul(signed: bool, size: u8, a: u32, b: u32, lo: u32, hi: u32, flags: &str) {
        let (l, h, f) = mul(signed, size, a, b);
        assert_eq!((l, h), (lo, hi), "{a:#x}*{b:#x}");
        assert_eq!(flag_names(f), flags, "{a:#x}*{b:#x}");
    }

    #[test]
    fn mul_forms() {
        expect_mul(false, 1, 0x80, 2, 0, 1, "CF PF OF");
        expect_mul(false, 4, 0xFFFF_FFFF, 0xFFFF_FFFF, 1, 0xFFFF_FFFE, "CF OF");
        expect_mul(false, 2, 3, 5, 15, 0, "PF");
        expect_mul(true, 1, 0xFF, 0xFF, 1, 0, "");
        expect_mul(true, 1, 0x80, 0xFF, 0x80, 0, "CF SF OF");
        expect_mul(true, 2, 0x8000, 1, 0x8000, 0xFFFF, "PF SF");
        expect_mul(true, 4, 0x4000_0000, 2, 0x8000_0000, 0, "CF PF SF OF");
    }

    #[test]
    fn div_forms() {
        assert_eq!(div(false, 1, 100, 7), Ok((14, 2)));
        assert_eq!(div(false, 1, 0x100, 1), Err(Exception::DE));
        assert_eq!(div(false, 4, 5, 0), Err(Exception::DE));
        assert_eq!(
            div(false, 4, 0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF),
            Err(Exception::DE)
        );
        assert_eq!(div(false, 2, 0xFFFE_0001, 0xFFFF), Ok((0xFFFF, 0)));
        // -7 / 2 = -3 rem -1
        assert_eq!(div(true, 1, 0xFFF9, 2), Ok((0xFD, 0xFF)));
        // 0x80 / -1 = -128 fits
        assert_eq!(div(true, 1, 0x80, 0xFF), Ok((0x80, 0)));
        // -128 / -1 overflows
        assert_eq!(div(true, 1, 0xFF80, 0xFF), Err(Exception::DE));
        assert_eq!(
            div(true, 4, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF),
            Err(Exception::DE)
        );
        assert_eq!(div(true, 2, 0xFFFF_8000, 1), Ok((0x8000, 0)));
        assert_eq!(div(true, 2, 0x0000_8000, 1), Err(Exception::DE));
    }
}
