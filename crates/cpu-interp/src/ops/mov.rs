//! Data movement: MOV (incl. moffs and immediates), MOVZX, MOVSX, LEA,
//! XCHG, CBW/CWDE/CWD/CDQ, XLAT, BSWAP and the NOP forms.

use iced_x86::{Code, Mnemonic, OpKind};

use super::{mask, sext};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;
use crate::state::*;

/// MOV dst, src (all general forms)
fn mov(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.read_op(d, 1)?;
    if d.width == 4 {
        if let Some(i) = super::reg32(d, 0) {
            cpu.s.regs[i] = v;
            return Ok(());
        }
    }
    cpu.write_op(d, 0, v)
}

/// Size in bytes of source operand 1.
fn src_size(d: &Decoded) -> u8 {
    if d.ins.op1_kind() == OpKind::Register {
        d.ins.op1_register().size() as u8
    } else {
        d.msize
    }
}

/// MOVZX r, r/m8 or r/m16
fn movzx(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.read_op(d, 1)? & mask(src_size(d));
    cpu.write_op(d, 0, v)
}

/// MOVSX r, r/m8 or r/m16
fn movsx(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = sext(cpu.read_op(d, 1)?, src_size(d));
    cpu.write_op(d, 0, v)
}

/// LEA r, m (the offset, truncated to the operand size)
fn lea(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let ea = cpu.ea(d);
    match super::reg32(d, 0) {
        Some(i) => cpu.s.regs[i] = ea,
        None => cpu.write_op(d, 0, ea)?,
    }
    Ok(())
}

/// XCHG a, b. A memory operand is written first so a faulting write leaves
/// the register untouched. (The implicit LOCK has no effect on a single CPU.)
fn xchg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let a = cpu.read_op(d, 0)?;
    let b = cpu.read_op(d, 1)?;
    if d.ins.op1_kind() == OpKind::Memory {
        cpu.write_op(d, 1, a)?;
        cpu.write_op(d, 0, b)
    } else {
        cpu.write_op(d, 0, b)?;
        cpu.write_op(d, 1, a)
    }
}

/// CBW / CWDE
fn cbw_cwde(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    if d.op32 {
        cpu.s.regs[EAX] = sext(cpu.s.regs[EAX], 2);
    } else {
        let v = sext(cpu.s.regs[EAX], 1);
        cpu.set_gpr(EAX, 2, v);
    }
    Ok(())
}

/// CWD / CDQ
fn cwd_cdq(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    if d.op32 {
        cpu.s.regs[EDX] = ((cpu.s.regs[EAX] as i32) >> 31) as u32;
    } else {
        let v = (sext(cpu.s.regs[EAX], 2) >> 16) & 0xFFFF;
        cpu.set_gpr(EDX, 2, v);
    }
    Ok(())
}

/// XLAT: AL = [seg:(E)BX + AL]
fn xlat(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let off = cpu
        .addr_reg(EBX, d.addr32)
        .wrapping_add(cpu.s.regs[EAX] & 0xFF);
    let off = if d.addr32 { off } else { off & 0xFFFF };
    let v = cpu.read(d.mem.seg as usize, off, 1)?;
    cpu.set_gpr(EAX, 1, v);
    Ok(())
}

/// BSWAP r32 (with a 16-bit operand the result is undefined; P6 CPUs
/// clear the register's low word)
fn bswap(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let r = d.ins.op0_register();
    let v = cpu.reg(r);
    if d.width == 4 {
        cpu.set_reg(r, v.swap_bytes());
    } else {
        cpu.set_reg(r, 0);
    }
    Ok(())
}

fn nop(_cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    for code in crate::dispatch::legacy_codes() {
        let h: crate::dispatch::Handler = match code.mnemonic() {
            Mnemonic::Mov => {
                // Segment, control, debug and test register moves belong
                // to the system family.
                let oc = code.op_code();
                let sys = (0..oc.op_count()).any(|i| {
                    use iced_x86::OpCodeOperandKind as K;
                    matches!(
                        oc.op_kind(i),
                        K::seg_reg | K::cr_reg | K::dr_reg | K::tr_reg
                    )
                });
                if sys {
                    continue;
                }
                mov
            }
            Mnemonic::Movzx => movzx,
            Mnemonic::Movsx => movsx,
            Mnemonic::Lea => lea,
            Mnemonic::Xchg => xchg,
            Mnemonic::Bswap => bswap,
            Mnemonic::Nop => nop,
            _ => continue,
        };
        t.set(code, h);
    }
    t.set_all(&[Cbw, Cwde], cbw_cwde);
    t.set_all(&[Cwd, Cdq], cwd_cdq);
    t.set(Xlat_m8, xlat);
    // Reserved-NOP space 0F 19..0F 1F (hint NOPs) decodes as Reservednop.
    for code in crate::dispatch::legacy_codes() {
        // ENDBR32/ENDBR64 (F3 0F 1E FB/FA) sit in that hint space: CET-
        // enabled binaries (Debian's glibc) execute them as NOPs on CPUs
        // without CET.
        if matches!(
            code.mnemonic(),
            Mnemonic::Reservednop | Mnemonic::Endbr32 | Mnemonic::Endbr64
        ) {
            t.set(code, nop);
        }
    }
}
