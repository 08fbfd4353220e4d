//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR by 1, CL or
//! imm8, and the double shifts SHLD/SHRD.
//!
//! The count is masked to 5 bits; a masked count of 0 changes nothing
//! (a memory operand is still read, so it may fault). RCL/RCR rotate
//! through CF modulo 9 (bytes) or 17 (words).
//!
//! Flags the SDM leaves undefined are computed as the P6-family Intel
//! host does (checked natively in `tests/int_host.rs`): OF for counts
//! above 1 is computed as if the count were 1; AF is cleared by the
//! shifts and left alone by the rotates; SHLD/SHRD of a word by more than
//! 16 shift in bits of the destination again (48-bit `dst:src:dst`).

use iced_x86::Mnemonic;

use super::{arith_flags, flag_if, mask, set_arith_flags, sext};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;
use crate::flags::szp;
use crate::state::fl;

/// The eight shift/rotate operations, in ModRM reg order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShiftOp {
    Rol,
    Ror,
    Rcl,
    Rcr,
    Shl,
    Shr,
    Sar,
}

#[inline(always)]
fn bit(v: u32, n: u32) -> bool {
    (v >> n) & 1 != 0
}

/// Computes `op v, count` at `size` bytes with arithmetic flags `f` on
/// entry. `count` must already be masked to 5 bits. Returns the result
/// and the new arithmetic flags, or `None` when nothing changes.
#[inline(always)]
pub fn shift(op: ShiftOp, size: u8, v: u32, count: u32, f: u32) -> Option<(u32, u32)> {
    if count == 0 {
        return None;
    }
    let n = size as u32 * 8;
    let m = mask(size);
    let v = v & m;
    let cf_in = f & fl::CF != 0;
    let top = bit(v, n - 1);
    let next = bit(v, n - 2);
    match op {
        ShiftOp::Shl => {
            let wide = (v as u64) << count;
            let res = wide as u32 & m;
            let cf = (wide >> n) & 1 != 0;
            Some((
                res,
                szp(res, size) | flag_if(cf, fl::CF) | flag_if(top != next, fl::OF),
            ))
        }
        ShiftOp::Shr => {
            let res = v >> count;
            let cf = bit(v, count - 1);
            Some((
                res,
                szp(res, size) | flag_if(cf, fl::CF) | flag_if(top, fl::OF),
            ))
        }
        ShiftOp::Sar => {
            let sv = sext(v, size) as i32;
            let res = (sv >> count) as u32 & m;
            let cf = (sv >> (count - 1)) & 1 != 0;
            Some((res, szp(res, size) | flag_if(cf, fl::CF)))
        }
        ShiftOp::Rol | ShiftOp::Ror => {
            let r = count % n;
            let res = if op == ShiftOp::Rol {
                (v << r | v.checked_shr(n - r).unwrap_or(0)) & m
            } else {
                (v >> r | v.checked_shl(n - r).unwrap_or(0)) & m
            };
            let (cf, of) = if op == ShiftOp::Rol {
                (res & 1 != 0, top != next)
            } else {
                (bit(res, n - 1), top != (v & 1 != 0))
            };
            let keep = f & !(fl::CF | fl::OF);
            Some((res, keep | flag_if(cf, fl::CF) | flag_if(of, fl::OF)))
        }
        ShiftOp::Rcl | ShiftOp::Rcr => {
            let r = match size {
                1 => count % 9,
                2 => count % 17,
                _ => count,
            };
            if r == 0 {
                // A count that is a multiple of 9 or 17 changes nothing.
                return None;
            }
            let keep = f & !(fl::CF | fl::OF);
            let of = if op == ShiftOp::Rcl {
                top != next
            } else {
                top != cf_in
            };
            // Rotate the (n+1)-bit value CF:v.
            let x = ((cf_in as u64) << n) | v as u64;
            let w = n as u64 + 1;
            let wm = (1u64 << w) - 1;
            let y = if op == ShiftOp::Rcl {
                ((x << r) | (x >> (w - r as u64))) & wm
            } else {
                ((x >> r) | (x << (w - r as u64))) & wm
            };
            let res = y as u32 & m;
            let cf = (y >> n) & 1 != 0;
            Some((res, keep | flag_if(cf, fl::CF) | flag_if(of, fl::OF)))
        }
    }
}

/// SHLD (`left`) or SHRD `dst, src, count` at `size` (2 or 4) bytes;
/// `count` masked to 5 bits. Returns `None` when nothing changes.
pub fn shld(left: bool, size: u8, dst: u32, src: u32, count: u32) -> Option<(u32, u32)> {
    if count == 0 {
        return None;
    }
    let m = mask(size);
    let (dst, src) = (dst & m, src & m);
    let (res, cf) = if size == 2 {
        let x = ((dst as u64) << 32) | ((src as u64) << 16) | dst as u64;
        if left {
            let y = x << count;
            ((y >> 32) as u32 & m, (y >> 48) & 1 != 0)
        } else {
            (((x >> count) as u32) & m, (x >> (count - 1)) & 1 != 0)
        }
    } else {
        let x = if left {
            ((dst as u64) << 32) | src as u64
        } else {
            ((src as u64) << 32) | dst as u64
        };
        if left {
            let y = x << count;
            ((y >> 32) as u32, bit(dst, 32 - count))
        } else {
            ((x >> count) as u32, (x >> (count - 1)) & 1 != 0)
        }
    };
    // OF as if the count were 1: the sign change a 1-bit shift makes.
    let n = size as u32 * 8;
    let of = if left {
        bit(dst, n - 1) != bit(dst, n - 2)
    } else {
        bit(dst, n - 1) != (src & 1 != 0)
    };
    Some((
        res,
        szp(res, size) | flag_if(cf, fl::CF) | flag_if(of, fl::OF),
    ))
}

/// Every shift/rotate form: r/m by 1, CL or imm8. Inlined into one
/// handler per operation so `op` is a constant.
#[inline(always)]
fn shift_form(cpu: &mut Cpu, d: &Decoded, op: ShiftOp) -> Result<()> {
    let v = cpu.read_op(d, 0)?;
    let count = cpu.read_op(d, 1)? & 31;
    // Shifts define every flag they touch; only rotates need the old ones.
    let f = match op {
        ShiftOp::Shl | ShiftOp::Shr | ShiftOp::Sar => 0,
        _ if count == 0 => 0,
        _ => arith_flags(cpu),
    };
    if let Some((res, f)) = shift(op, d.width, v, count, f) {
        cpu.write_op(d, 0, res)?;
        set_arith_flags(cpu, f);
    }
    Ok(())
}

fn rol(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    shift_form(cpu, d, ShiftOp::Rol)
}
fn ror(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    shift_form(cpu, d, ShiftOp::Ror)
}
fn rcl(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    shift_form(cpu, d, ShiftOp::Rcl)
}
fn rcr(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    shift_form(cpu, d, ShiftOp::Rcr)
}
fn shl(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    shift_form(cpu, d, ShiftOp::Shl)
}
fn shr(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    shift_form(cpu, d, ShiftOp::Shr)
}
fn sar(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    shift_form(cpu, d, ShiftOp::Sar)
}

/// SHLD/SHRD r/m, r, imm8 or CL
fn shld_rm(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.read_op(d, 0)?;
    let src = cpu.read_op(d, 1)?;
    let count = cpu.read_op(d, 2)? & 31;
    let left = d.ins.mnemonic() == Mnemonic::Shld;
    if let Some((res, f)) = shld(left, d.width, v, src, count) {
        cpu.write_op(d, 0, res)?;
        set_arith_flags(cpu, f);
    }
    Ok(())
}

pub fn register(t: &mut Table) {
    for code in crate::dispatch::legacy_codes() {
        let h: crate::dispatch::Handler = match code.mnemonic() {
            Mnemonic::Rol => rol,
            Mnemonic::Ror => ror,
            Mnemonic::Rcl => rcl,
            Mnemonic::Rcr => rcr,
            Mnemonic::Shl | Mnemonic::Sal => shl,
            Mnemonic::Shr => shr,
            Mnemonic::Sar => sar,
            Mnemonic::Shld | Mnemonic::Shrd => shld_rm,
            _ => continue,
        };
        t.set(code, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::flag_names;

    #[track_caller]
    fn expect(op: ShiftOp, size: u8, v: u32, c: u32, f: u32, res: u32, flags: &str) {
        let (r, nf) = shift(op, size, v, c, f).expect("count is not zero");
        assert_eq!(r, res, "{op:?} {v:#x},{c}: {r:#x}");
        assert_eq!(flag_names(nf), flags, "{op:?} {v:#x},{c}");
    }

    #[test]
    fn shifts() {
        expect(ShiftOp::Shl, 1, 0x81, 1, 0, 0x02, "CF OF");
        expect(ShiftOp::Shl, 1, 0xFF, 8, 0, 0x00, "CF PF ZF");
        expect(ShiftOp::Shl, 1, 0xFF, 9, 0, 0x00, "PF ZF");
        expect(ShiftOp::Shl, 4, 0x40, 3, fl::AF, 0x200, "PF");
        expect(ShiftOp::Shr, 2, 0x8001, 1, 0, 0x4000, "CF PF OF");
        expect(ShiftOp::Shr, 4, 0x8000_0000, 31, 0, 1, "OF");
        expect(ShiftOp::Sar, 1, 0x80, 7, 0, 0xFF, "PF SF");
        expect(ShiftOp::Sar, 1, 0x80, 9, 0, 0xFF, "CF PF SF");
        assert_eq!(shift(ShiftOp::Shl, 4, 5, 0, fl::CF), None);
    }

    #[test]
    fn rotates() {
        // Rotates keep SF ZF AF PF.
        expect(
            ShiftOp::Rol,
            1,
            0x81,
            1,
            fl::ZF | fl::AF,
            0x03,
            "CF AF ZF OF",
        );
        expect(ShiftOp::Ror, 4, 0x1, 1, 0, 0x8000_0000, "CF OF");
        expect(ShiftOp::Rol, 1, 0x01, 8, 0, 0x01, "CF");
        expect(ShiftOp::Rcl, 1, 0x80, 1, 0, 0x00, "CF OF");
        expect(ShiftOp::Rcr, 1, 0x01, 1, fl::CF, 0x80, "CF OF");
        expect(ShiftOp::Rcl, 2, 0x1, 17 + 1, fl::CF, 0x3, "");
        expect(ShiftOp::Rcr, 4, 0x2, 2, fl::CF, 0x4000_0000, "CF OF");
        assert_eq!(shift(ShiftOp::Rcl, 1, 5, 18, fl::CF), None);
    }

    #[test]
    fn double_shifts() {
        // OF as for a 1-bit shift: the top two bits of the destination differ.
        assert_eq!(
            shld(true, 4, 0x8000_0001, 0xC000_0000, 2),
            Some((0x7, fl::OF))
        );
        assert_eq!(
            shld(false, 4, 0x8000_0001, 0x3, 1),
            Some((0xC000_0000, fl::CF | fl::PF | fl::SF))
        );
        assert_eq!(shld(true, 2, 0x1234, 0xABCD, 16), Some((0xABCD, fl::SF)));
        assert_eq!(shld(true, 2, 0x1234, 0xABCD, 0), None);
    }
}
