//! CALL through a call gate: to the same privilege level (push CS:EIP) or
//! to an inner ring (switch to the TSS stack of the target DPL, push the
//! old SS:ESP, copy the gate's parameter count of words/dwords from the old
//! stack, push CS:EIP). The push size is the gate's (16- or 32-bit).

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::far::gate_code_target;
use super::frame::Frame;
use super::segment::*;
use super::tss::checked_inner_stack;

/// Performs a CALL through `gate` (already checked: DPL and present).
pub fn call_gate(cpu: &mut Cpu, gate: &Descriptor) -> Result<()> {
    let (csel, cdesc, caddr) = gate_code_target(cpu, gate)?;
    let size: u8 = if gate.typ() & 8 != 0 { 4 } else { 2 };
    let target = gate.gate_offset();
    let cpl = cpu.s.cpl;
    let ret_cs = cpu.s.seg[CS].selector as u32;
    let ret_eip = cpu.s.eip;
    if !cdesc.conforming() && cdesc.dpl() < cpl {
        let dpl = cdesc.dpl();
        let (ss, esp, sdesc, saddr) = checked_inner_stack(cpu, dpl, 0)?;
        let new_ss = sdesc.to_segment(ss);
        let mut f = Frame::new(new_ss, esp, dpl, Exception::SS(sel_err(ss)));
        f.push(cpu.s.seg[SS].selector as u32, size)?;
        f.push(cpu.s.regs[ESP], size)?;
        // Copy the parameters, deepest first, from the caller's stack.
        let n = gate.gate_params();
        for i in (0..n).rev() {
            let v = cpu.peek(i * size as u32, size)?;
            f.push(v, size)?;
        }
        f.push(ret_cs, size)?;
        f.push(ret_eip, size)?;
        if target > cdesc.limit() {
            return Err(Exception::GP(0));
        }
        set_accessed(cpu, &sdesc, saddr)?;
        set_accessed(cpu, &cdesc, caddr)?;
        f.commit(cpu)?;
        cpu.s.seg[SS] = new_ss;
        cpu.s.regs[ESP] = f.esp();
        commit_cs(cpu, csel, &cdesc, caddr, dpl)?;
        cpu.s.eip = target;
        return Ok(());
    }
    let mut f = Frame::current(cpu);
    f.push(ret_cs, size)?;
    f.push(ret_eip, size)?;
    if target > cdesc.limit() {
        return Err(Exception::GP(0));
    }
    set_accessed(cpu, &cdesc, caddr)?;
    f.commit(cpu)?;
    cpu.s.regs[ESP] = f.esp();
    commit_cs(cpu, csel, &cdesc, caddr, cpl)?;
    cpu.s.eip = target;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;
    use iced_x86::code_asm::*;

    /// Ring 3 calls a DPL-3 32-bit call gate to ring 0 with two dword
    /// parameters; the callee records its CS, SS and the copied
    /// parameters, and returns with RETF 8.
    #[test]
    fn ring3_to_ring0_with_parameters() {
        let gate_sel = 0x28u16;
        let tss = 0x3000u32;
        let callee = CODE_BASE + 0x200;
        let user = CODE_BASE + 0x100;
        let code = asm32(CODE_BASE as u64, |a| {
            // Enter ring 3 with an IRETD frame.
            a.push(0x23u32).unwrap();
            a.push(0x7_0000u32).unwrap();
            a.push(0x2u32).unwrap();
            a.push(0x1Bu32).unwrap();
            a.push(user).unwrap();
            a.iretd().unwrap();
        });
        let user_code = asm32(user as u64, |a| {
            a.mov(eax, 0x23u32).unwrap();
            a.mov(ds, ax).unwrap();
            a.push(0x1111u32).unwrap();
            a.push(0x2222u32).unwrap();
            a.call_far(gate_sel | 3, 0).unwrap();
            a.mov(dword_ptr(DATA_BASE + 0x20), esp).unwrap();
            a.mov(ax, cs).unwrap();
            a.mov(dword_ptr(DATA_BASE + 0x24), eax).unwrap();
            a.int3().unwrap();
        });
        let callee_code = asm32(callee as u64, |a| {
            a.mov(eax, cs).unwrap();
            a.mov(dword_ptr(DATA_BASE), eax).unwrap();
            a.mov(eax, ss).unwrap();
            a.mov(dword_ptr(DATA_BASE + 4), eax).unwrap();
            a.mov(eax, dword_ptr(esp + 8)).unwrap();
            a.mov(dword_ptr(DATA_BASE + 8), eax).unwrap();
            a.mov(eax, dword_ptr(esp + 12)).unwrap();
            a.mov(dword_ptr(DATA_BASE + 12), eax).unwrap();
            a.mov(dword_ptr(DATA_BASE + 16), esp).unwrap();
            a.retf_1(8).unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_bytes(user, &user_code);
        m.mmu.phys.write_bytes(callee, &callee_code);
        // GDT: 0x28 = 32-bit call gate, DPL 3, 2 params -> 0x08:callee;
        // 0x30 = TSS.
        let gate = (callee as u64 & 0xFFFF)
            | (0x08u64 << 16)
            | (0xEC02u64 << 32)
            | ((callee as u64 >> 16) << 48);
        m.mmu.phys.write_u64(GDT_BASE + 0x28, gate);
        let tss_desc = 0x67u64 | ((tss as u64) << 16) | (0x89u64 << 40);
        m.mmu.phys.write_u64(GDT_BASE + 0x30, tss_desc);
        m.s.gdtr.limit = 0x37;
        m.mmu.phys.write_u32(tss + 4, 0x9_0000);
        m.mmu.phys.write_u16(tss + 8, 0x10);
        m.s.tr = crate::sys::segment::Descriptor::from_u64(tss_desc | (2 << 40)).to_segment(0x30);
        // INT3 from ring 3 ends the test: no IDT, so shut down...
        // instead give it a ring-0 HLT handler through an interrupt gate.
        let idt = 0x6000u32;
        let handler = CODE_BASE + 0x300;
        m.mmu.phys.write_bytes(handler, &[0xF4]);
        let igate = (handler as u64 & 0xFFFF)
            | (0x08u64 << 16)
            | (0xEE00u64 << 32)
            | ((handler as u64 >> 16) << 48);
        m.mmu.phys.write_u64(idt + 3 * 8, igate);
        m.s.idtr = DescTable {
            base: idt,
            limit: 0x7FF,
        };
        assert_eq!(m.run(), crate::Stop::Halted);
        assert_eq!(m.mem32(DATA_BASE), 0x08);
        assert_eq!(m.mem32(DATA_BASE + 4), 0x10);
        assert_eq!(m.mem32(DATA_BASE + 8), 0x2222);
        assert_eq!(m.mem32(DATA_BASE + 12), 0x1111);
        // Ring-0 stack: SS, ESP, 2 params, CS, EIP below 0x90000.
        assert_eq!(m.mem32(DATA_BASE + 16), 0x9_0000 - 24);
        // Back in ring 3 with the parameters popped.
        assert_eq!(m.mem32(DATA_BASE + 0x20), 0x7_0000);
        assert_eq!(m.mem32(DATA_BASE + 0x24) & 0xFFFF, 0x1B);
    }
}
