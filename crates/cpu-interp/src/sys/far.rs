//! Far control transfers: JMP/CALL ptr16:16/32 and m16:16/32, RETF
//! (with imm16), in real, V86 and protected mode. Protected mode covers
//! conforming and non-conforming code segments, call gates (the CALL
//! through a gate to an inner ring is in `sys::callgate`), TSS descriptors
//! and task gates (task switch in `sys::task`), and RETF to an outer
//! privilege level with the data-segment nulling.

use iced_x86::{Code, OpKind};

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::descriptor::sys_type;
use super::frame::Frame;
use super::segment::*;
use super::task::{self, Reason};

/// The selector:offset of a far JMP/CALL.
fn far_target(cpu: &mut Cpu, d: &Decoded) -> Result<(u16, u32)> {
    match d.ins.op0_kind() {
        OpKind::FarBranch16 => Ok((d.ins.far_branch_selector(), d.ins.far_branch16() as u32)),
        OpKind::FarBranch32 => Ok((d.ins.far_branch_selector(), d.ins.far_branch32())),
        _ => {
            let off_size = if d.op32 { 4 } else { 2 };
            let ea = cpu.ea(d);
            let seg = d.mem.seg as usize;
            let off = cpu.read(seg, ea, off_size)?;
            let ea2 = ea.wrapping_add(off_size as u32);
            let ea2 = if d.addr32 { ea2 } else { ea2 & 0xFFFF };
            let sel = cpu.read(seg, ea2, 2)? as u16;
            Ok((sel, off))
        }
    }
}

fn op_size(d: &Decoded) -> u8 {
    if d.op32 {
        4
    } else {
        2
    }
}

/// JMP far
fn jmp_far(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let (sel, off) = far_target(cpu, d)?;
    cpu.end_block();
    if !cpu.s.protected_mode() || cpu.s.v86() {
        if off > cpu.s.seg[CS].limit {
            return Err(Exception::GP(0));
        }
        load_cs_real(cpu, sel);
        cpu.s.eip = off;
        return Ok(());
    }
    jmp_far_pm(cpu, sel, off)
}

/// CALL far
fn call_far(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let (sel, off) = far_target(cpu, d)?;
    let size = op_size(d);
    cpu.end_block();
    if !cpu.s.protected_mode() || cpu.s.v86() {
        if off > cpu.s.seg[CS].limit {
            return Err(Exception::GP(0));
        }
        let mut f = Frame::current(cpu);
        f.push(cpu.s.seg[CS].selector as u32, size)?;
        f.push(cpu.s.eip, size)?;
        f.commit(cpu)?;
        cpu.s.regs[ESP] = f.esp();
        load_cs_real(cpu, sel);
        cpu.s.eip = off;
        return Ok(());
    }
    call_far_pm(cpu, sel, off, size)
}

/// Looks up the target of a protected-mode far JMP/CALL: #GP(0) for null,
/// #GP(selector) beyond the table.
fn target_descriptor(cpu: &mut Cpu, sel: u16) -> Result<(Descriptor, u32)> {
    if is_null(sel) {
        return Err(Exception::GP(0));
    }
    read_descriptor(cpu, sel)
}

/// The privilege check of a gate or TSS named by a far JMP/CALL: DPL must
/// be >= CPL and >= RPL, and it must be present.
fn check_gate(cpu: &Cpu, sel: u16, desc: &Descriptor) -> Result<()> {
    let rpl = (sel & 3) as u8;
    if desc.dpl() < cpu.s.cpl || desc.dpl() < rpl {
        return Err(Exception::GP(sel_err(sel)));
    }
    if !desc.present() {
        return Err(Exception::NP(sel_err(sel)));
    }
    Ok(())
}

/// The TSS a task gate names: in the GDT, available, present.
pub fn task_gate_target(
    cpu: &mut Cpu,
    gate: &Descriptor,
    ext: u16,
) -> Result<(u16, Descriptor, u32)> {
    let tsel = gate.gate_selector();
    let err = sel_err(tsel) | ext;
    if tsel & 4 != 0 {
        return Err(Exception::GP(err));
    }
    let Some((desc, addr)) = lookup(cpu, tsel)? else {
        return Err(Exception::GP(err));
    };
    if !matches!(
        desc.system_type(),
        Some(sys_type::TSS16_AVAIL | sys_type::TSS32_AVAIL)
    ) {
        return Err(Exception::GP(err));
    }
    if !desc.present() {
        return Err(Exception::NP(err));
    }
    Ok((tsel, desc, addr))
}

/// A far JMP/CALL to a TSS descriptor or task gate.
fn far_task(cpu: &mut Cpu, sel: u16, desc: &Descriptor, addr: u32, reason: Reason) -> Result<()> {
    check_gate(cpu, sel, desc)?;
    match desc.system_type() {
        Some(sys_type::TASK_GATE) => {
            let (tsel, tdesc, taddr) = task_gate_target(cpu, desc, 0)?;
            task::switch(cpu, tsel, &tdesc, taddr, reason)
        }
        Some(sys_type::TSS16_AVAIL | sys_type::TSS32_AVAIL) => {
            if sel & 4 != 0 {
                return Err(Exception::GP(sel_err(sel)));
            }
            task::switch(cpu, sel, desc, addr, reason)
        }
        _ => Err(Exception::GP(sel_err(sel))),
    }
}

fn jmp_far_pm(cpu: &mut Cpu, sel: u16, off: u32) -> Result<()> {
    let (desc, addr) = target_descriptor(cpu, sel)?;
    let cpl = cpu.s.cpl;
    if desc.is_code() {
        check_code_direct(cpu, sel, &desc)?;
        if off > desc.limit() {
            return Err(Exception::GP(0));
        }
        commit_cs(cpu, sel, &desc, addr, cpl)?;
        cpu.s.eip = off;
        return Ok(());
    }
    match desc.system_type() {
        Some(sys_type::CALL_GATE16 | sys_type::CALL_GATE32) => {
            check_gate(cpu, sel, &desc)?;
            let (csel, cdesc, caddr) = gate_code_target(cpu, &desc)?;
            // JMP through a gate never changes privilege.
            let bad = if cdesc.conforming() {
                cdesc.dpl() > cpl
            } else {
                cdesc.dpl() != cpl
            };
            if bad {
                return Err(Exception::GP(sel_err(csel)));
            }
            let target = desc.gate_offset();
            if target > cdesc.limit() {
                return Err(Exception::GP(0));
            }
            commit_cs(cpu, csel, &cdesc, caddr, cpl)?;
            cpu.s.eip = target;
            Ok(())
        }
        Some(sys_type::TASK_GATE | sys_type::TSS16_AVAIL | sys_type::TSS32_AVAIL) => {
            far_task(cpu, sel, &desc, addr, Reason::Jmp)
        }
        _ => Err(Exception::GP(sel_err(sel))),
    }
}

/// The code segment a call gate names: non-null (#GP(0)), in the table,
/// code, DPL <= CPL (#GP(selector)), present (#NP(selector)).
pub fn gate_code_target(cpu: &mut Cpu, gate: &Descriptor) -> Result<(u16, Descriptor, u32)> {
    let csel = gate.gate_selector();
    if is_null(csel) {
        return Err(Exception::GP(0));
    }
    let (cdesc, caddr) = read_descriptor(cpu, csel)?;
    if !cdesc.is_code() || cdesc.dpl() > cpu.s.cpl {
        return Err(Exception::GP(sel_err(csel)));
    }
    if !cdesc.present() {
        return Err(Exception::NP(sel_err(csel)));
    }
    Ok((csel, cdesc, caddr))
}

fn call_far_pm(cpu: &mut Cpu, sel: u16, off: u32, size: u8) -> Result<()> {
    let (desc, addr) = target_descriptor(cpu, sel)?;
    let cpl = cpu.s.cpl;
    if desc.is_code() {
        check_code_direct(cpu, sel, &desc)?;
        let mut f = Frame::current(cpu);
        f.push(cpu.s.seg[CS].selector as u32, size)?;
        f.push(cpu.s.eip, size)?;
        if off > desc.limit() {
            return Err(Exception::GP(0));
        }
        set_accessed(cpu, &desc, addr)?;
        f.commit(cpu)?;
        cpu.s.regs[ESP] = f.esp();
        commit_cs(cpu, sel, &desc, addr, cpl)?;
        cpu.s.eip = off;
        return Ok(());
    }
    match desc.system_type() {
        Some(sys_type::CALL_GATE16 | sys_type::CALL_GATE32) => {
            check_gate(cpu, sel, &desc)?;
            super::callgate::call_gate(cpu, &desc)
        }
        Some(sys_type::TASK_GATE | sys_type::TSS16_AVAIL | sys_type::TSS32_AVAIL) => {
            far_task(cpu, sel, &desc, addr, Reason::Call)
        }
        _ => Err(Exception::GP(sel_err(sel))),
    }
}

/// RETF / RETF imm16
fn retf(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = op_size(d);
    let extra = if d.ins.op_count() > 0 {
        d.ins.immediate16() as u32
    } else {
        0
    };
    cpu.end_block();
    let eip = cpu.peek(0, size)?;
    let sel = cpu.peek(size as u32, 2)? as u16;
    let frame = 2 * size as u32;
    if !cpu.s.protected_mode() || cpu.s.v86() {
        let eip = if size == 2 { eip & 0xFFFF } else { eip };
        if eip > cpu.s.seg[CS].limit {
            return Err(Exception::GP(0));
        }
        load_cs_real(cpu, sel);
        cpu.s.eip = eip;
        let sp = cpu.sp().wrapping_add(frame + extra);
        cpu.set_sp(sp);
        return Ok(());
    }
    let eip = if size == 2 { eip & 0xFFFF } else { eip };
    let cpl = cpu.s.cpl;
    let rpl = (sel & 3) as u8;
    let (desc, addr) = check_return_cs(cpu, sel)?;
    if rpl == cpl {
        if eip > desc.limit() {
            return Err(Exception::GP(0));
        }
        commit_cs(cpu, sel, &desc, addr, cpl)?;
        cpu.s.eip = eip;
        let sp = cpu.sp().wrapping_add(frame + extra);
        cpu.set_sp(sp);
        return Ok(());
    }
    // Return to an outer privilege level: SS:ESP follow the frame.
    let new_esp = cpu.peek(frame + extra, size)?;
    let ss = cpu.peek(frame + extra + size as u32, 2)? as u16;
    let ss_checked = check_data(cpu, SS, ss, rpl, Fault::Gp, 0)?;
    if eip > desc.limit() {
        return Err(Exception::GP(0));
    }
    commit_cs(cpu, sel, &desc, addr, rpl)?;
    commit_data(cpu, SS, ss, ss_checked)?;
    cpu.s.eip = eip;
    let esp = if size == 2 {
        (cpu.s.regs[ESP] & 0xFFFF_0000) | (new_esp & 0xFFFF)
    } else {
        new_esp
    };
    cpu.s.regs[ESP] = esp;
    let sp = cpu.sp().wrapping_add(extra);
    cpu.set_sp(sp);
    null_inaccessible(cpu);
    Ok(())
}

/// The checks on the CS selector popped by RETF and IRET: non-null
/// (#GP(0)), in the table, code, RPL >= CPL, conforming DPL <= RPL or
/// non-conforming DPL = RPL (#GP(selector)), present (#NP(selector)).
pub fn check_return_cs(cpu: &mut Cpu, sel: u16) -> Result<(Descriptor, u32)> {
    if is_null(sel) {
        return Err(Exception::GP(0));
    }
    let (desc, addr) = read_descriptor(cpu, sel)?;
    let rpl = (sel & 3) as u8;
    let err = Exception::GP(sel_err(sel));
    if !desc.is_code() || rpl < cpu.s.cpl {
        return Err(err);
    }
    if desc.conforming() {
        if desc.dpl() > rpl {
            return Err(err);
        }
    } else if desc.dpl() != rpl {
        return Err(err);
    }
    if !desc.present() {
        return Err(Exception::NP(sel_err(sel)));
    }
    Ok((desc, addr))
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(&[Jmp_ptr1616, Jmp_ptr1632, Jmp_m1616, Jmp_m1632], jmp_far);
    t.set_all(
        &[Call_ptr1616, Call_ptr1632, Call_m1616, Call_m1632],
        call_far,
    );
    t.set_all(&[Retfw, Retfd, Retfw_imm16, Retfd_imm16], retf);
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;
    use iced_x86::code_asm::*;

    #[test]
    fn real_mode_far_call_and_retf() {
        let code = asm16(0, |a| {
            a.call_far(0x1100, 0x0000).unwrap();
            a.mov(word_ptr(0x10), ax).unwrap();
            a.hlt().unwrap();
        });
        let sub = asm16(0, |a| {
            a.mov(ax, cs).unwrap();
            a.retf().unwrap();
        });
        let mut m = TestMachine::real(&code);
        m.mmu.phys.write_bytes(0x11000, &sub);
        m.run();
        assert_eq!(m.mmu.phys.read_u16(0x30010), 0x1100);
        assert_eq!(m.s.seg[CS].selector, 0x1000);
        assert_eq!(m.s.regs[ESP] & 0xFFFF, 0xFFFE);
    }

    #[test]
    fn pm_far_jmp_to_ring3_code_faults() {
        // JMP 0x1B:x from ring 0 to non-conforming ring-3 code is #GP(0x18).
        let code = asm32(CODE_BASE as u64, |a| {
            a.jmp_far(0x1B, CODE_BASE + 0x100).unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.s.idtr.limit = 0;
        assert_eq!(m.run(), crate::Stop::Shutdown);
        assert_eq!(m.s.seg[CS].selector, 0x08);
    }

    #[test]
    fn pm_far_call_and_retf_same_level() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.call_far(0x08, CODE_BASE + 0x40).unwrap();
            a.mov(dword_ptr(DATA_BASE), eax).unwrap();
            a.hlt().unwrap();
        });
        let sub = asm32((CODE_BASE + 0x40) as u64, |a| {
            a.mov(eax, dword_ptr(esp + 4)).unwrap();
            a.retf().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_bytes(CODE_BASE + 0x40, &sub);
        m.run();
        assert_eq!(m.mem32(DATA_BASE), 0x08);
        assert_eq!(m.s.regs[ESP], STACK_TOP);
    }
}
