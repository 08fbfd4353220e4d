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
            let keep = f & !(fl::CF | fl::OF);
            let of = if op == ShiftOp::Rcl {
                top != next
            } else {
                top != cf_in
            };
            if r == 0 {
                return Some((v, keep | (f & fl::CF) | flag_if(of, fl::OF)));
            }
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
    let of = (res ^ dst) & super::sign(size) != 0;
    Some((res, szp(res, size) | flag_if(cf, fl::CF) | flag_if(of, fl::OF)))
}

fn op_of(m: Mnemonic) -> ShiftOp {
    match m {
        Mnemonic::Rol => ShiftOp::Rol,
        Mnemonic::Ror => ShiftOp::Ror,
        Mnemonic::Rcl => ShiftOp::Rcl,
        Mnemonic::Rcr => ShiftOp::Rcr,
        Mnemonic::Shr => ShiftOp::Shr,
        Mnemonic::Sar => ShiftOp::Sar,
        _ => ShiftOp::Shl,
    }
}

/// Every shift/rotate form: r/m by 1, CL or imm8.
fn shift_rm(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.read_op(d, 0)?;
    let count = cpu.read_op(d, 1)? & 31;
    let op = op_of(d.ins.mnemonic());
    if let Some((res, f)) = shift(op, d.width, v, count, arith_flags(cpu)) {
        cpu.write_op(d, 0, res)?;
        set_arith_flags(cpu, f);
    }
    Ok(())
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
            Mnemonic::Rol
            | Mnemonic::Ror
            | Mnemonic::Rcl
            | Mnemonic::Rcr
            | Mnemonic::Shl
            | Mnemonic::Sal
            | Mnemonic::Shr
            | Mnemonic::Sar => shift_rm,
            Mnemonic::Shld | Mnemonic::Shrd => shld_rm,
            _ => continue,
        };
        t.set(code, h);
    }
}
