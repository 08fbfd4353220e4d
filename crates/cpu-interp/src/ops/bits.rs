//! Bit tests and scans: BT, BTS, BTR, BTC (register, immediate and the
//! bit-string memory form with a register offset), BSF, BSR.
//!
//! With a register bit offset and a memory operand, the offset is a signed
//! operand-size value that selects a word/dword at `ea + (offset >> 4 or
//! 5) * size`, wrapping at the address size; an immediate offset and a
//! register destination use the offset modulo the operand width.
//!
//! Flags as on the Intel host (`tests/int_host.rs`): BTx change only CF;
//! BSF/BSR set ZF and PF, clear CF, AF, SF and OF, and leave the
//! destination unchanged when the source is zero.

use iced_x86::{Mnemonic, OpKind};

use super::{arith_flags, flag_if, mask, set_arith_flags, sext};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;
use crate::flags::parity;
use crate::state::fl;

/// The bit operation of BT/BTS/BTR/BTC.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BitOp {
    Test,
    Set,
    Reset,
    Complement,
}

/// Applies `op` to bit `bit` of `v`: (new value, old bit).
#[inline(always)]
pub fn bit_op(op: BitOp, v: u32, bit: u32) -> (u32, bool) {
    let b = 1u32 << bit;
    let old = v & b != 0;
    let nv = match op {
        BitOp::Test => v,
        BitOp::Set => v | b,
        BitOp::Reset => v & !b,
        BitOp::Complement => v ^ b,
    };
    (nv, old)
}

fn op_of(m: Mnemonic) -> BitOp {
    match m {
        Mnemonic::Bts => BitOp::Set,
        Mnemonic::Btr => BitOp::Reset,
        Mnemonic::Btc => BitOp::Complement,
        _ => BitOp::Test,
    }
}

#[inline(always)]
fn set_cf(cpu: &mut Cpu, cf: bool) {
    let f = arith_flags(cpu);
    set_arith_flags(cpu, (f & !fl::CF) | flag_if(cf, fl::CF));
}

/// BTx r/m, imm8 and BTx r, r (offset modulo the operand width)
fn bt_direct(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let bits = d.width as u32 * 8;
    let v = cpu.read_op(d, 0)?;
    let bit = cpu.read_op(d, 1)? & (bits - 1);
    let op = op_of(d.ins.mnemonic());
    let (nv, old) = bit_op(op, v, bit);
    if op != BitOp::Test {
        cpu.write_op(d, 0, nv)?;
    }
    set_cf(cpu, old);
    Ok(())
}

/// BTx m, r: the bit string form
fn bt_mem_reg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = d.width;
    let offset = sext(cpu.read_op(d, 1)?, size) as i32;
    let shift = if size == 2 { 4 } else { 5 };
    let disp = ((offset >> shift) as u32).wrapping_mul(size as u32);
    let bit = offset as u32 & (size as u32 * 8 - 1);
    let mut off = cpu.ea(d).wrapping_add(disp);
    if !d.addr32 {
        off &= 0xFFFF;
    }
    let seg = d.mem.seg as usize;
    let op = op_of(d.ins.mnemonic());
    let v = if op == BitOp::Test {
        cpu.read(seg, off, size)?
    } else {
        // Read-modify-write: check writability before the read.
        let lin = cpu.linear(seg, off, size as u32, true)?;
        let v = cpu.read_lin(lin, size)?;
        let (nv, _) = bit_op(op, v, bit);
        cpu.write_lin(lin, size, nv)?;
        v
    };
    set_cf(cpu, v & (1 << bit) != 0);
    Ok(())
}

/// Index of the lowest (`forward`) or highest set bit of `v` at `size`
/// bytes and the flags BSF/BSR leave; `None` as index when `v` is zero.
pub fn bit_scan(forward: bool, size: u8, v: u32) -> (Option<u32>, u32) {
    let v = v & mask(size);
    if v == 0 {
        return (None, fl::ZF | fl::PF);
    }
    let i = if forward {
        v.trailing_zeros()
    } else {
        31 - v.leading_zeros()
    };
    (Some(i), flag_if(parity(i), fl::PF))
}

/// BSF / BSR r, r/m
fn bsf_bsr(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.read_op(d, 1)?;
    let (i, f) = bit_scan(
        matches!(d.ins.mnemonic(), Mnemonic::Bsf | Mnemonic::Tzcnt),
        d.width,
        v,
    );
    if let Some(i) = i {
        cpu.write_op(d, 0, i)?;
    }
    set_arith_flags(cpu, f);
    Ok(())
}

pub fn register(t: &mut Table) {
    for code in crate::dispatch::legacy_codes() {
        let h: crate::dispatch::Handler = match code.mnemonic() {
            Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc => {
                let oc = code.op_code();
                let reg_src = oc.op_kind(1) != iced_x86::OpCodeOperandKind::imm8;
                if reg_src {
                    bt_reg_src
                } else {
                    bt_direct
                }
            }
            // Without BMI1/LZCNT in CPUID, F3-prefixed TZCNT/LZCNT encodings
            // execute as BSF/BSR (Linux 6.1 relies on this).
            Mnemonic::Bsf | Mnemonic::Bsr | Mnemonic::Tzcnt | Mnemonic::Lzcnt => bsf_bsr,
            _ => continue,
        };
        t.set(code, h);
    }
}

/// BTx r/m, r: the bit-string form for memory, modulo width for registers.
fn bt_reg_src(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    if d.ins.op0_kind() == OpKind::Memory {
        bt_mem_reg(cpu, d)
    } else {
        bt_direct(cpu, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::flag_names;

    #[test]
    fn bit_ops() {
        assert_eq!(bit_op(BitOp::Test, 0b100, 2), (0b100, true));
        assert_eq!(bit_op(BitOp::Set, 0, 31), (0x8000_0000, false));
        assert_eq!(bit_op(BitOp::Reset, 0xFF, 0), (0xFE, true));
        assert_eq!(bit_op(BitOp::Complement, 0xF0, 4), (0xE0, true));
    }

    #[test]
    fn scans() {
        let (i, f) = bit_scan(true, 4, 0);
        assert_eq!((i, flag_names(f).as_str()), (None, "PF ZF"));
        let (i, f) = bit_scan(true, 4, 0x8000_0080);
        assert_eq!((i, flag_names(f).as_str()), (Some(7), ""));
        let (i, f) = bit_scan(false, 4, 0x8000_0080);
        assert_eq!((i, flag_names(f).as_str()), (Some(31), ""));
        let (i, f) = bit_scan(false, 2, 0x1_0006);
        assert_eq!((i, flag_names(f).as_str()), (Some(2), ""));
        let (i, f) = bit_scan(true, 2, 0x1_0000);
        assert_eq!((i, flag_names(f).as_str()), (None, "PF ZF"));
        let (i, _) = bit_scan(true, 4, 0x18);
        assert_eq!(i, Some(3));
    }
}
