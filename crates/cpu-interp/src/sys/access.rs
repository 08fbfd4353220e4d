//! Unprivileged descriptor inspection: ARPL, LAR, LSL, VERR, VERW. All
//! are #UD outside protected mode; LAR/LSL/VERR/VERW report through ZF
//! and never fault on a bad selector (only on the memory operand).

use iced_x86::{Code, OpKind};

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;
use crate::state::*;

use super::descriptor::sys_type::*;
use super::require_pm;
use super::segment::*;

/// The descriptor a LAR/LSL/VERR/VERW selector names if it is visible at
/// the current CPL (DPL >= max(CPL, RPL), except conforming code).
fn visible(cpu: &mut Cpu, sel: u16) -> Result<Option<Descriptor>> {
    if is_null(sel) {
        return Ok(None);
    }
    let Some((desc, _)) = lookup(cpu, sel)? else {
        return Ok(None);
    };
    let rpl = (sel & 3) as u8;
    if !desc.conforming() && (desc.dpl() < cpu.s.cpl || desc.dpl() < rpl) {
        return Ok(None);
    }
    Ok(Some(desc))
}

fn selector_operand(cpu: &mut Cpu, d: &Decoded, n: u32) -> Result<u16> {
    Ok(cpu.read_op(d, n)? as u16)
}

/// LAR r16/r32, r/m16
fn lar(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_pm(cpu)?;
    let sel = selector_operand(cpu, d, 1)?;
    let desc = visible(cpu, sel)?.filter(|desc| match desc.system_type() {
        None => true,
        Some(t) => matches!(
            t,
            TSS16_AVAIL
                | LDT
                | TSS16_BUSY
                | CALL_GATE16
                | TASK_GATE
                | TSS32_AVAIL
                | TSS32_BUSY
                | CALL_GATE32
        ),
    });
    match desc {
        Some(desc) => {
            cpu.set_reg(d.ins.op0_register(), desc.hi & 0x00FF_FF00);
            cpu.s.set_flag(fl::ZF, true);
        }
        None => cpu.s.set_flag(fl::ZF, false),
    }
    Ok(())
}

/// LSL r16/r32, r/m16
fn lsl(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_pm(cpu)?;
    let sel = selector_operand(cpu, d, 1)?;
    let desc = visible(cpu, sel)?.filter(|desc| match desc.system_type() {
        None => true,
        Some(t) => matches!(t, TSS16_AVAIL | LDT | TSS16_BUSY | TSS32_AVAIL | TSS32_BUSY),
    });
    match desc {
        Some(desc) => {
            cpu.set_reg(d.ins.op0_register(), desc.limit());
            cpu.s.set_flag(fl::ZF, true);
        }
        None => cpu.s.set_flag(fl::ZF, false),
    }
    Ok(())
}

/// VERR / VERW r/m16
fn verr_verw(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_pm(cpu)?;
    let sel = selector_operand(cpu, d, 0)?;
    let write = matches!(d.ins.code(), Code::Verw_rm16 | Code::Verw_r32m16);
    let ok = visible(cpu, sel)?.is_some_and(|desc| {
        if write {
            desc.writable_data()
        } else {
            desc.readable()
        }
    });
    cpu.s.set_flag(fl::ZF, ok);
    Ok(())
}

/// ARPL r/m16, r16: raises the destination's RPL to the source's (ZF=1).
fn arpl(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_pm(cpu)?;
    let dst = cpu.read_op(d, 0)? & 0xFFFF;
    let src = cpu.reg(d.ins.op1_register()) & 3;
    if dst & 3 < src {
        let v = (dst & !3) | src;
        if d.ins.op0_kind() == OpKind::Register {
            cpu.set_gpr(d.ins.op0_register().number(), 2, v);
        } else {
            let ea = cpu.ea(d);
            cpu.write(d.mem.seg as usize, ea, 2, v)?;
        }
        cpu.s.set_flag(fl::ZF, true);
    } else {
        cpu.s.set_flag(fl::ZF, false);
    }
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(&[Lar_r16_rm16, Lar_r32_r32m16], lar);
    t.set_all(&[Lsl_r16_rm16, Lsl_r32_r32m16], lsl);
    t.set_all(&[Verr_rm16, Verr_r32m16, Verw_rm16, Verw_r32m16], verr_verw);
    t.set_all(&[Arpl_rm16_r16, Arpl_r32m16_r32], arpl);
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::Stop;
    use iced_x86::code_asm::*;

    #[test]
    fn lar_lsl_verr_verw_results() {
        // Results at DATA_BASE: LAR 0x10, LSL 0x10, ZF after LAR of an
        // interrupt gate, VERR code, VERW code, VERW data, ARPL.
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(ecx, 0x10u32).unwrap();
            a.lar(eax, ecx).unwrap();
            a.mov(dword_ptr(DATA_BASE), eax).unwrap();
            a.lsl(eax, ecx).unwrap();
            a.mov(dword_ptr(DATA_BASE + 4), eax).unwrap();
            a.mov(ecx, 0x28u32).unwrap();
            a.mov(eax, 0x5555u32).unwrap();
            a.lar(eax, ecx).unwrap();
            a.setz(byte_ptr(DATA_BASE + 8)).unwrap();
            a.mov(dword_ptr(DATA_BASE + 12), eax).unwrap();
            a.mov(ecx, 0x08u32).unwrap();
            a.verr(cx).unwrap();
            a.setz(byte_ptr(DATA_BASE + 16)).unwrap();
            a.verw(cx).unwrap();
            a.setz(byte_ptr(DATA_BASE + 17)).unwrap();
            a.mov(ecx, 0x23u32).unwrap();
            a.verw(cx).unwrap();
            a.setz(byte_ptr(DATA_BASE + 18)).unwrap();
            a.mov(edx, 0x0010u32).unwrap();
            a.mov(ebx, 0x0003u32).unwrap();
            a.arpl(dx, bx).unwrap();
            a.setz(byte_ptr(DATA_BASE + 19)).unwrap();
            a.mov(dword_ptr(DATA_BASE + 20), edx).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        // 0x28: an interrupt gate, invisible to LAR.
        m.mmu.phys.write_u64(GDT_BASE + 0x28, 0x0000_8E00_0008_0000);
        m.s.gdtr.limit = 0x2F;
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mem32(DATA_BASE), 0x00CF_9300);
        assert_eq!(m.mem32(DATA_BASE + 4), 0xFFFF_FFFF);
        assert_eq!(m.mmu.phys.read_u8(DATA_BASE + 8), 0);
        assert_eq!(m.mem32(DATA_BASE + 12), 0x5555, "LAR failure leaves dest");
        assert_eq!(m.mmu.phys.read_u8(DATA_BASE + 16), 1, "code is readable");
        assert_eq!(m.mmu.phys.read_u8(DATA_BASE + 17), 0, "code not writable");
        assert_eq!(m.mmu.phys.read_u8(DATA_BASE + 18), 1);
        assert_eq!(m.mmu.phys.read_u8(DATA_BASE + 19), 1);
        assert_eq!(m.mem32(DATA_BASE + 20), 0x13);
    }

    #[test]
    fn lar_respects_dpl_at_ring3_view() {
        // An RPL-3 selector for ring-0 data is invisible.
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(ecx, 0x13u32).unwrap();
            a.lsl(eax, ecx).unwrap();
            a.setz(byte_ptr(DATA_BASE)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_u8(DATA_BASE, 0xAA);
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mmu.phys.read_u8(DATA_BASE), 0);
    }
}
