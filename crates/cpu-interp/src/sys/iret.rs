//! IRET / IRETD in protected and V86 mode: same-level and outer-level
//! returns (with data-segment nulling), the return to V86 mode from CPL 0,
//! the task return when NT = 1, and IRET inside V86 mode (IOPL 3 only,
//! else #GP(0) to the monitor). The real-mode IRET is in `sys::interrupt`.

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::descriptor::sys_type;
use super::far::check_return_cs;
use super::segment::*;
use super::task::{self, Reason};

/// IRET with operand size `size` (2 or 4) in protected mode.
pub fn iret(cpu: &mut Cpu, size: u8) -> Result<()> {
    if cpu.s.v86() {
        return iret_in_v86(cpu, size);
    }
    if cpu.s.eflags & fl::NT != 0 {
        return task_return(cpu);
    }
    let eip = cpu.peek(0, size)?;
    let sel = cpu.peek(size as u32, 2)? as u16;
    let flags = cpu.peek(2 * size as u32, size)?;
    if size == 4 && flags & fl::VM != 0 && cpu.s.cpl == 0 {
        return iret_to_v86(cpu, eip, sel, flags);
    }
    let eip = if size == 2 { eip & 0xFFFF } else { eip };
    let cpl = cpu.s.cpl;
    let rpl = (sel & 3) as u8;
    let (desc, addr) = check_return_cs(cpu, sel)?;
    let frame = 3 * size as u32;
    if rpl == cpl {
        if eip > desc.limit() {
            return Err(Exception::GP(0));
        }
        commit_cs(cpu, sel, &desc, addr, cpl)?;
        cpu.s.eip = eip;
        let sp = cpu.sp().wrapping_add(frame);
        cpu.set_sp(sp);
        set_flags(cpu, flags, size, cpl);
        return Ok(());
    }
    let new_esp = cpu.peek(frame, size)?;
    let ss = cpu.peek(frame + size as u32, 2)? as u16;
    let ss_checked = check_data(cpu, SS, ss, rpl, Fault::Gp, 0)?;
    if eip > desc.limit() {
        return Err(Exception::GP(0));
    }
    commit_cs(cpu, sel, &desc, addr, rpl)?;
    commit_data(cpu, SS, ss, ss_checked)?;
    cpu.s.eip = eip;
    cpu.s.regs[ESP] = if size == 2 {
        (cpu.s.regs[ESP] & 0xFFFF_0000) | (new_esp & 0xFFFF)
    } else {
        new_esp
    };
    set_flags(cpu, flags, size, cpl);
    null_inaccessible(cpu);
    Ok(())
}

/// Loads the popped EFLAGS image with the rules of a protected-mode IRET
/// executed at `cpl`: IOPL (and VIF/VIP) only at CPL 0, IF only when
/// CPL <= IOPL, VM never; a 16-bit IRET changes only the low word.
fn set_flags(cpu: &mut Cpu, v: u32, size: u8, cpl: u8) {
    let old = cpu.s.get_eflags();
    let mut changeable = fl::ARITH | fl::TF | fl::DF | fl::NT | fl::RF | fl::AC | fl::ID;
    if cpl <= cpu.s.iopl() {
        changeable |= fl::IF;
    }
    if cpl == 0 {
        changeable |= fl::IOPL | fl::VIF | fl::VIP;
    }
    if size == 2 {
        changeable &= 0xFFFF;
    }
    cpu.s.set_eflags_raw((old & !changeable) | (v & changeable));
}

/// IRETD from CPL 0 with VM set in the image: pops ESP, SS, ES, DS, FS,
/// GS and enters V86 mode at CPL 3.
fn iret_to_v86(cpu: &mut Cpu, eip: u32, cs: u16, flags: u32) -> Result<()> {
    let mut v = [0u32; 6];
    for (i, x) in v.iter_mut().enumerate() {
        *x = cpu.peek(12 + 4 * i as u32, 4)?;
    }
    let [esp, ss, es, ds, fs, gs] = v;
    if eip & 0xFFFF_0000 != 0 {
        return Err(Exception::GP(0));
    }
    cpu.s.set_eflags_raw(flags);
    cpu.s.seg[CS] = Segment::real(cs, 3);
    cpu.s.seg[SS] = Segment::real(ss as u16, 3);
    cpu.s.seg[ES] = Segment::real(es as u16, 3);
    cpu.s.seg[DS] = Segment::real(ds as u16, 3);
    cpu.s.seg[FS] = Segment::real(fs as u16, 3);
    cpu.s.seg[GS] = Segment::real(gs as u16, 3);
    cpu.s.regs[ESP] = esp;
    cpu.s.eip = eip;
    cpu.s.cpl = 3;
    cpu.end_block();
    Ok(())
}

/// IRET executed in V86 mode: like real mode when IOPL = 3 (IOPL itself
/// is not changed), otherwise #GP(0) so the monitor can emulate it.
fn iret_in_v86(cpu: &mut Cpu, size: u8) -> Result<()> {
    if cpu.s.iopl() < 3 {
        return Err(Exception::GP(0));
    }
    let ip = cpu.peek(0, size)?;
    let cs = cpu.peek(size as u32, size)? as u16;
    let flags = cpu.peek(2 * size as u32, size)?;
    if ip > 0xFFFF {
        return Err(Exception::GP(0));
    }
    let sp = cpu.sp().wrapping_add(3 * size as u32);
    cpu.set_sp(sp);
    cpu.s.seg[CS] = Segment::real(cs, 3);
    cpu.s.eip = ip;
    let keep = fl::IOPL
        | if size == 4 {
            fl::VM | fl::VIF | fl::VIP
        } else {
            0xFFFF_0000
        };
    let new = (cpu.s.get_eflags() & keep) | (flags & !keep);
    cpu.s.set_eflags_raw(new);
    cpu.end_block();
    Ok(())
}

/// IRET with NT = 1: switch back to the task named by the back link of the
/// current TSS, which must be a busy TSS in the GDT (#TS(link) otherwise).
fn task_return(cpu: &mut Cpu) -> Result<()> {
    let link = cpu.read_sys(cpu.s.tr.base, 2)? as u16;
    let err = Exception::TS(sel_err(link));
    if link & 4 != 0 || is_null(link) {
        return Err(err);
    }
    let Some((desc, addr)) = lookup(cpu, link)? else {
        return Err(err);
    };
    if !matches!(
        desc.system_type(),
        Some(sys_type::TSS16_BUSY | sys_type::TSS32_BUSY)
    ) {
        return Err(err);
    }
    if !desc.present() {
        return Err(Exception::NP(sel_err(link)));
    }
    task::switch(cpu, link, &desc, addr, Reason::Iret)
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;

    #[test]
    fn iret_to_ring3_nulls_ring0_data_and_keeps_iopl() {
        let user = CODE_BASE + 0x100;
        let code = asm32(CODE_BASE as u64, |a| {
            a.push(0x23u32).unwrap();
            a.push(0x7_0000u32).unwrap();
            // IF set, IOPL 3 in the image.
            a.push(0x3202u32).unwrap();
            a.push(0x1Bu32).unwrap();
            a.push(user).unwrap();
            a.iretd().unwrap();
        });
        let u = asm32(user as u64, |a| {
            // POPF at CPL 3 cannot clear IOPL... but IOPL=3 lets it change IF.
            a.push(0u32).unwrap();
            a.popfd().unwrap();
            let mut l = a.create_label();
            a.set_label(&mut l).unwrap();
            a.jmp(l).unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_bytes(user, &u);
        let _ = m.run_budget(50);
        assert_eq!(m.s.cpl, 3);
        assert_eq!(m.s.seg[CS].selector, 0x1B);
        assert_eq!(m.s.seg[DS].selector, 0, "ring-0 DS nulled");
        assert_eq!(m.s.iopl(), 3);
        assert!(!m.s.iflag(), "IF cleared by POPF at CPL 3 with IOPL 3");
        assert_eq!(m.s.regs[ESP], 0x7_0000);
    }
}
