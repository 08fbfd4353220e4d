//! Read-modify-write exchanges: CMPXCHG, CMPXCHG8B, XADD. (XCHG itself is
//! in `mov`.) A single CPU needs nothing for LOCK beyond doing the access
//! as one read and one write; the destination is written even when the
//! comparison fails, as the hardware does, so a read-only destination
//! faults either way.

use iced_x86::{Code, OpKind};

use super::alu::{compute, AluOp};
use super::{arith_flags, set_arith_flags};
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

/// CMPXCHG r/m, r: compare the accumulator with r/m; equal: r/m = r,
/// else accumulator = r/m. Flags as CMP acc, r/m.
fn cmpxchg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = d.width;
    let dst = cpu.read_op(d, 0)?;
    let src = cpu.read_op(d, 1)?;
    let acc = cpu.gpr(EAX, size);
    let (_, lf) = compute(AluOp::Cmp, size, acc, dst, false);
    if acc == dst {
        cpu.write_op(d, 0, src)?;
    } else {
        // The processor writes the old value back (a memory destination
        // always sees a write cycle), then loads the accumulator.
        if d.ins.op0_kind() == OpKind::Memory {
            cpu.write_op(d, 0, dst)?;
        }
        cpu.set_gpr(EAX, size, dst);
    }
    cpu.s.flags = lf;
    Ok(())
}

/// CMPXCHG8B m64: compare EDX:EAX with m64; equal: m64 = ECX:EBX and
/// ZF = 1, else EDX:EAX = m64 and ZF = 0. Other flags unchanged.
/// A register operand is #UD (iced decodes it as invalid; checked anyway).
fn cmpxchg8b(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    if d.ins.op0_kind() != OpKind::Memory {
        return Err(Exception::UD);
    }
    let seg = d.mem.seg as usize;
    let off = cpu.ea(d);
    let lin = cpu.linear(seg, off, 8, true)?;
    let ctx = cpu.s.paging_ctx();
    cpu.mmu.probe_write(&ctx, lin, 8)?;
    let m = cpu.read_u64(seg, off)?;
    let cur = ((cpu.s.regs[EDX] as u64) << 32) | cpu.s.regs[EAX] as u64;
    let eq = m == cur;
    if eq {
        let new = ((cpu.s.regs[ECX] as u64) << 32) | cpu.s.regs[EBX] as u64;
        cpu.write_u64(seg, off, new)?;
    } else {
        cpu.write_u64(seg, off, m)?;
        cpu.s.regs[EAX] = m as u32;
        cpu.s.regs[EDX] = (m >> 32) as u32;
    }
    let f = arith_flags(cpu);
    set_arith_flags(cpu, if eq { f | fl::ZF } else { f & !fl::ZF });
    Ok(())
}

/// XADD r/m, r: tmp = r/m + r; r = r/m; r/m = tmp. Flags as ADD.
fn xadd(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let dst = cpu.read_op(d, 0)?;
    let src = cpu.read_op(d, 1)?;
    let (sum, lf) = compute(AluOp::Add, d.width, dst, src, false);
    if d.ins.op0_kind() == OpKind::Memory {
        cpu.write_op(d, 0, sum)?;
        cpu.write_op(d, 1, dst)?;
    } else {
        // XADD r1, r2 with r1 == r2 leaves the sum: write r/m last.
        cpu.write_op(d, 1, dst)?;
        cpu.write_op(d, 0, sum)?;
    }
    cpu.s.flags = lf;
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(
        &[Cmpxchg_rm8_r8, Cmpxchg_rm16_r16, Cmpxchg_rm32_r32],
        cmpxchg,
    );
    t.set(Cmpxchg8b_m64, cmpxchg8b);
    t.set_all(&[Xadd_rm8_r8, Xadd_rm16_r16, Xadd_rm32_r32], xadd);
}

#[cfg(test)]
mod tests {
    use crate::harness::{asm32, TestMachine, CODE_BASE};
    use crate::ops::flag_names;
    use crate::state::*;
    use iced_x86::code_asm::*;

    #[test]
    fn cmpxchg_register_forms_and_flags() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, 5u32).unwrap();
            a.mov(ebx, 7u32).unwrap();
            a.mov(ecx, 9u32).unwrap();
            a.cmpxchg(bl, cl).unwrap(); // 5 != 7: AL = 7
            a.mov(edx, 0xFFu32).unwrap();
            a.xadd(dl, cl).unwrap(); // DL = 0x08, CL = 0xFF, CF
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.run();
        assert_eq!(m.s.regs[EAX], 7);
        assert_eq!(m.s.regs[EBX], 7);
        assert_eq!(m.s.regs[EDX], 0x08);
        assert_eq!(m.s.regs[ECX], 0xFF);
        assert_eq!(flag_names(m.s.get_eflags()), "CF AF");
    }
}
