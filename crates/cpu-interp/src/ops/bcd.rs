//! Decimal adjust instructions: DAA, DAS, AAA, AAS, AAM imm8 (#DE on 0),
//! AAD imm8.
//!
//! The flags the SDM leaves undefined cannot be checked natively (these
//! opcodes are invalid in 64-bit mode), so they follow Bochs' model of
//! P6-class CPUs: DAA/DAS clear OF; AAA/AAS set SF, ZF and PF from the
//! final AL and clear OF; AAM and AAD set SF, ZF, PF from AL and clear OF,
//! AF and CF (QEMU agrees for AAM/AAD).

use iced_x86::Code;

use super::{arith_flags, flag_if, set_arith_flags};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::flags::szp;
use crate::state::*;

/// DAA (`sub` false) / DAS (`sub` true) on AL with flags `f`: (AL, flags)
pub fn daa_das(sub: bool, al: u8, f: u32) -> (u8, u32) {
    let (cf_in, af_in) = (f & fl::CF != 0, f & fl::AF != 0);
    let mut r = al;
    let mut af = false;
    let mut cf = false;
    if al & 0x0F > 9 || af_in {
        // CF = old CF or the carry/borrow out of AL +/- 6 (SDM pseudo-code).
        let (v, carry) = if sub {
            r.overflowing_sub(6)
        } else {
            r.overflowing_add(6)
        };
        r = v;
        cf = cf_in || carry;
        af = true;
    }
    if al > 0x99 || cf_in {
        r = if sub {
            r.wrapping_sub(0x60)
        } else {
            r.wrapping_add(0x60)
        };
        cf = true;
    }
    (
        r,
        szp(r as u32, 1) | flag_if(af, fl::AF) | flag_if(cf, fl::CF),
    )
}

/// AAA (`sub` false) / AAS (`sub` true) on AX with flags `f`: (AX, flags)
pub fn aaa_aas(sub: bool, ax: u16, f: u32) -> (u16, u32) {
    let mut ax = ax;
    let adjust = (ax & 0x0F) > 9 || f & fl::AF != 0;
    if adjust {
        ax = if sub {
            // AX -= 6 (the borrow reaches AH), then AH -= 1.
            ax.wrapping_sub(6).wrapping_sub(0x100)
        } else {
            ax.wrapping_add(0x106)
        };
    }
    ax &= 0xFF0F;
    (
        ax,
        szp(ax as u32 & 0xFF, 1) | flag_if(adjust, fl::AF | fl::CF),
    )
}

fn daa(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    bcd_al(cpu, false)
}
fn das(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    bcd_al(cpu, true)
}
fn bcd_al(cpu: &mut Cpu, sub: bool) -> Result<()> {
    let (al, f) = daa_das(sub, cpu.s.regs[EAX] as u8, arith_flags(cpu));
    cpu.set_gpr(EAX, 1, al as u32);
    set_arith_flags(cpu, f);
    Ok(())
}

fn aaa(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    ascii_ax(cpu, false)
}
fn aas(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    ascii_ax(cpu, true)
}
fn ascii_ax(cpu: &mut Cpu, sub: bool) -> Result<()> {
    let (ax, f) = aaa_aas(sub, cpu.s.regs[EAX] as u16, arith_flags(cpu));
    cpu.set_gpr(EAX, 2, ax as u32);
    set_arith_flags(cpu, f);
    Ok(())
}

/// AAM imm8: AH = AL / imm8, AL = AL % imm8
fn aam(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let base = d.ins.immediate8() as u32;
    if base == 0 {
        return Err(Exception::DE);
    }
    let al = cpu.s.regs[EAX] & 0xFF;
    let (q, r) = (al / base, al % base);
    cpu.set_gpr(EAX, 2, q << 8 | r);
    set_arith_flags(cpu, szp(r, 1));
    Ok(())
}

/// AAD imm8: AL = AL + AH * imm8, AH = 0
fn aad(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let base = d.ins.immediate8() as u32;
    let ax = cpu.s.regs[EAX];
    let (al, ah) = (ax & 0xFF, (ax >> 8) & 0xFF);
    let r = al.wrapping_add(ah.wrapping_mul(base)) & 0xFF;
    cpu.set_gpr(EAX, 2, r);
    set_arith_flags(cpu, szp(r, 1));
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Daa, daa);
    t.set(Das, das);
    t.set(Aaa, aaa);
    t.set(Aas, aas);
    t.set(Aam_imm8, aam);
    t.set(Aad_imm8, aad);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::flag_names;

    #[track_caller]
    fn expect_daa(sub: bool, al: u8, f: u32, res: u8, flags: &str) {
        let (r, nf) = daa_das(sub, al, f);
        assert_eq!(r, res, "{al:#x}");
        assert_eq!(flag_names(nf), flags, "{al:#x}");
    }

    #[test]
    fn daa_das_cases() {
        // 0x19 + 0x28 = 0x41 (AF set) -> 0x47
        expect_daa(false, 0x41, fl::AF, 0x47, "PF AF");
        // 0x99 + 0x01 = 0x9A -> 0x00 carry
        expect_daa(false, 0x9A, 0, 0x00, "CF PF AF ZF");
        expect_daa(false, 0x79, 0, 0x79, "");
        expect_daa(false, 0x80, 0, 0x80, "SF");
        // 0x10 - 0x01 = 0x0F (AF) -> 0x09
        expect_daa(true, 0x0F, fl::AF, 0x09, "PF AF");
        // 0x00 - 0x01 = 0xFF (CF AF) -> 0x99
        expect_daa(true, 0xFF, fl::AF | fl::CF, 0x99, "CF PF AF SF");
    }

    #[test]
    fn aaa_aas_cases() {
        // '9' + '5' = 0x6E -> AX 0x0104
        assert_eq!(aaa_aas(false, 0x006E, 0), (0x0104, fl::AF | fl::CF));
        assert_eq!(aaa_aas(false, 0x0035, 0), (0x0005, fl::PF));
        // '3' - '5' = 0xFE with AF -> AH-1, AL 8
        assert_eq!(aaa_aas(true, 0x01FE, fl::AF), (0x0008, fl::AF | fl::CF));
        assert_eq!(aaa_aas(true, 0x0003, 0), (0x0003, fl::PF));
    }
}
