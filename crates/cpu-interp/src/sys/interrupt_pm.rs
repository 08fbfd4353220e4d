//! Protected-mode and V86 interrupt delivery through the IDT: interrupt,
//! trap and task gates, the gate DPL check for software interrupts, error
//! codes with the EXT and IDT bits, the stack switch to an inner ring
//! through the TSS (and from V86 mode: GS/FS/DS/ES pushed, then nulled),
//! 16- and 32-bit gates.
//!
//! Everything is checked before any state changes; a fault during
//! delivery is returned to the caller (which applies the double-fault
//! rules). IRET is in `sys::iret`.

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::descriptor::sys_type;
use super::frame::Frame;
use super::interrupt::Source;
use super::segment::*;
use super::task::{self, Reason};
use super::tss::checked_inner_stack;

/// Delivers `vector` through the IDT. EIP holds the return address.
pub fn deliver(cpu: &mut Cpu, vector: u8, src: Source) -> Result<()> {
    let software = matches!(src, Source::Software | Source::SoftwareException);
    let ext: u16 = if software { 0 } else { 1 };
    let err_code = match src {
        Source::Exception(e) => e,
        _ => None,
    };
    let idt_err = Exception::GP(vector as u16 * 8 + 2 + ext);
    let off = vector as u32 * 8;
    if off + 7 > cpu.s.idtr.limit {
        return Err(idt_err);
    }
    let base = cpu.s.idtr.base.wrapping_add(off);
    let lo = cpu.read_sys(base, 4)?;
    let hi = cpu.read_sys(base.wrapping_add(4), 4)?;
    let gate = Descriptor { lo, hi };
    let kind = gate.system_type();
    if !matches!(
        kind,
        Some(
            sys_type::TASK_GATE
                | sys_type::INT_GATE16
                | sys_type::TRAP_GATE16
                | sys_type::INT_GATE32
                | sys_type::TRAP_GATE32
        )
    ) {
        return Err(idt_err);
    }
    if software && gate.dpl() < cpu.s.cpl {
        return Err(idt_err);
    }
    if !gate.present() {
        return Err(Exception::NP(vector as u16 * 8 + 2 + ext));
    }
    if kind == Some(sys_type::TASK_GATE) {
        let (tsel, tdesc, taddr) = super::far::task_gate_target(cpu, &gate, ext)?;
        let reason = Reason::Int { err: err_code, ext };
        return task::switch(cpu, tsel, &tdesc, taddr, reason);
    }
    through_gate(cpu, &gate, err_code, ext)
}

/// Delivery through an interrupt or trap gate.
fn through_gate(cpu: &mut Cpu, gate: &Descriptor, err_code: Option<u32>, ext: u16) -> Result<()> {
    let csel = gate.gate_selector();
    if is_null(csel) {
        return Err(Exception::GP(ext));
    }
    let serr = sel_err(csel) | ext;
    let Some((cdesc, caddr)) = lookup(cpu, csel)? else {
        return Err(Exception::GP(serr));
    };
    let cpl = cpu.s.cpl;
    if !cdesc.is_code() || cdesc.dpl() > cpl {
        return Err(Exception::GP(serr));
    }
    if !cdesc.present() {
        return Err(Exception::NP(serr));
    }
    let size: u8 = if gate.typ() & 8 != 0 { 4 } else { 2 };
    let target = gate.gate_offset();
    let v86 = cpu.s.v86();
    let eflags = cpu.s.get_eflags();
    let ret_cs = cpu.s.seg[CS].selector as u32;
    let ret_eip = cpu.s.eip;
    let inner = !cdesc.conforming() && cdesc.dpl() < cpl;
    if v86 && (!inner || cdesc.dpl() != 0) {
        return Err(Exception::GP(serr));
    }
    let new_cpl = if inner { cdesc.dpl() } else { cpl };
    let mut stack = None;
    let mut f = if inner {
        let (ss, esp, sdesc, saddr) = checked_inner_stack(cpu, new_cpl, ext)?;
        let new_ss = sdesc.to_segment(ss);
        stack = Some((new_ss, sdesc, saddr));
        let mut f = Frame::new(new_ss, esp, new_cpl, Exception::SS(sel_err(ss) | ext));
        if v86 {
            for r in [GS, FS, DS, ES] {
                f.push(cpu.s.seg[r].selector as u32, size)?;
            }
        }
        f.push(cpu.s.seg[SS].selector as u32, size)?;
        f.push(cpu.s.regs[ESP], size)?;
        f
    } else {
        Frame::new(cpu.s.seg[SS], cpu.s.regs[ESP], cpl, Exception::SS(ext))
    };
    f.push(eflags, size)?;
    f.push(ret_cs, size)?;
    f.push(ret_eip, size)?;
    if let Some(code) = err_code {
        f.push(code, size)?;
    }
    if target > cdesc.limit() {
        return Err(Exception::GP(ext));
    }
    // Commit.
    if let Some((_, sdesc, saddr)) = &stack {
        set_accessed(cpu, sdesc, *saddr)?;
    }
    set_accessed(cpu, &cdesc, caddr)?;
    f.commit(cpu)?;
    if let Some((new_ss, _, _)) = stack {
        cpu.s.seg[SS] = new_ss;
        if v86 {
            for r in [ES, DS, FS, GS] {
                cpu.s.seg[r] = null_segment(0);
            }
        }
    }
    cpu.s.regs[ESP] = f.esp();
    let mut clear = fl::TF | fl::NT | fl::VM | fl::RF;
    if gate.typ() & 1 == 0 {
        clear |= fl::IF;
    }
    cpu.s.eflags &= !clear;
    commit_cs(cpu, csel, &cdesc, caddr, new_cpl)?;
    cpu.s.eip = target;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;
    use iced_x86::code_asm::*;

    /// Writes a 32-bit interrupt (0xE) or trap (0xF) gate.
    fn gate(m: &mut TestMachine, idt: u32, v: u8, typ: u8, dpl: u8, target: u32) {
        let g = (target as u64 & 0xFFFF)
            | (0x08u64 << 16)
            | (((0x80 | (dpl << 5) | typ) as u64) << 40)
            | ((target as u64 >> 16) << 48);
        m.mmu.phys.write_u64(idt + v as u32 * 8, g);
    }

    #[test]
    fn gp_error_code_and_return_eip() {
        let idt = 0x6000;
        let handler = CODE_BASE + 0x100;
        let code = asm32(CODE_BASE as u64, |a| {
            let mut l = a.create_label();
            a.nop().unwrap();
            a.set_label(&mut l).unwrap();
            a.mov(eax, 0x28u32).unwrap();
            a.mov(ds, ax).unwrap();
            a.hlt().unwrap();
        });
        // MOV EAX is 5 bytes after the 1-byte NOP: MOV DS at +6.
        let fault_at = CODE_BASE + 6;
        let h = asm32(handler as u64, |a| {
            a.pop(dword_ptr(DATA_BASE)).unwrap();
            a.pop(dword_ptr(DATA_BASE + 4)).unwrap();
            a.mov(dword_ptr(DATA_BASE + 8), esp).unwrap();
            a.pushfd().unwrap();
            a.pop(dword_ptr(DATA_BASE + 12)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_bytes(handler, &h);
        gate(&mut m, idt, 13, 0xE, 0, handler);
        m.s.idtr = DescTable {
            base: idt,
            limit: 0x7FF,
        };
        m.s.eflags |= fl::IF;
        assert_eq!(m.run(), crate::Stop::Halted);
        assert_eq!(m.mem32(DATA_BASE), 0x28, "error code = selector");
        assert_eq!(m.mem32(DATA_BASE + 4), fault_at, "EIP of the faulting MOV");
        assert_eq!(m.mem32(DATA_BASE + 8), STACK_TOP - 8);
        assert_eq!(
            m.mem32(DATA_BASE + 12) & fl::IF,
            0,
            "interrupt gate clears IF"
        );
    }

    #[test]
    fn software_int_checks_gate_dpl_and_limit() {
        let idt = 0x6000;
        let handler = CODE_BASE + 0x100;
        let code = asm32(CODE_BASE as u64, |a| {
            a.int(0x40).unwrap();
        });
        let h = asm32(handler as u64, |a| {
            a.pop(dword_ptr(DATA_BASE)).unwrap();
            a.pop(dword_ptr(DATA_BASE + 4)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_bytes(handler, &h);
        gate(&mut m, idt, 13, 0xF, 0, handler);
        // Vector 0x40 beyond the IDT limit: #GP(0x40*8+2).
        m.s.idtr = DescTable {
            base: idt,
            limit: 0x1FF,
        };
        assert_eq!(m.run(), crate::Stop::Halted);
        assert_eq!(m.mem32(DATA_BASE), 0x202);
        assert_eq!(m.mem32(DATA_BASE + 4), CODE_BASE);
    }
}
