//! Hardware task switching through 32- and 16-bit TSSs, for JMP, CALL,
//! INT (task gates in the IDT, including exceptions such as Linux's #DF)
//! and IRET with NT = 1.
//!
//! The order follows the SDM (Vol. 3, 7.3): checks of the new TSS, then
//! the outgoing state is saved, busy bits, NT and the back link are
//! updated, TR/CR3/EFLAGS/EIP/registers/selectors are loaded, and only then
//! are the LDT and segment descriptors checked. Faults up to the save are
//! reported in the old task (the caller's `Err`); faults after it are
//! delivered in the new task from here, and the switch returns `Ok`.
//!
//! Not modelled: the T (debug trap) bit, and the I/O bitmap which is only
//! consulted by IN/OUT (`sys::io`).

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::descriptor::{set_busy, sys_type};
use super::interrupt::deliver_exception;
use super::segment::*;
use super::tss::{tss16, tss32};

/// What caused the task switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Jmp,
    Call,
    Iret,
    /// An interrupt or exception through a task gate, with the error code
    /// to push on the new task's stack and the EXT bit for error codes.
    Int {
        err: Option<u32>,
        ext: u16,
    },
}

/// The dynamic state a TSS holds.
#[derive(Clone, Copy, Debug, Default)]
struct Image {
    cr3: u32,
    eip: u32,
    eflags: u32,
    regs: [u32; 8],
    segs: [u16; 6],
    ldt: u16,
}

fn read_image(cpu: &mut Cpu, base: u32, is32: bool) -> Result<Image> {
    let mut img = Image::default();
    let rd = |cpu: &mut Cpu, off: u32, size: u8| cpu.read_sys(base.wrapping_add(off), size);
    if is32 {
        img.cr3 = rd(cpu, tss32::CR3, 4)?;
        img.eip = rd(cpu, tss32::EIP, 4)?;
        img.eflags = rd(cpu, tss32::EFLAGS, 4)?;
        for i in 0..8 {
            img.regs[i] = rd(cpu, tss32::REGS + 4 * i as u32, 4)?;
        }
        for i in 0..6 {
            img.segs[i] = rd(cpu, tss32::SEGS + 4 * i as u32, 2)? as u16;
        }
        img.ldt = rd(cpu, tss32::LDT, 2)? as u16;
    } else {
        img.eip = rd(cpu, tss16::IP, 2)?;
        img.eflags = rd(cpu, tss16::FLAGS, 2)?;
        for i in 0..8 {
            let v = rd(cpu, tss16::REGS + 2 * i as u32, 2)?;
            img.regs[i] = (cpu.s.regs[i] & 0xFFFF_0000) | v;
        }
        for i in 0..4 {
            img.segs[i] = rd(cpu, tss16::SEGS + 2 * i as u32, 2)? as u16;
        }
        img.ldt = rd(cpu, tss16::LDT, 2)? as u16;
    }
    Ok(img)
}

/// Saves the outgoing task's dynamic state into the current TSS.
fn save_image(cpu: &mut Cpu, eflags: u32) -> Result<()> {
    let tr = cpu.s.tr;
    let base = tr.base;
    let mut ctx = cpu.s.paging_ctx();
    ctx.cpl = 0;
    if super::tss::is32(&tr) {
        cpu.mmu
            .probe_write(&ctx, base.wrapping_add(tss32::EIP), 0x40)?;
        cpu.write_sys(base.wrapping_add(tss32::EIP), 4, cpu.s.eip)?;
        cpu.write_sys(base.wrapping_add(tss32::EFLAGS), 4, eflags)?;
        for i in 0..8 {
            let v = cpu.s.regs[i];
            cpu.write_sys(base.wrapping_add(tss32::REGS + 4 * i as u32), 4, v)?;
        }
        for i in 0..6 {
            let v = cpu.s.seg[i].selector as u32;
            cpu.write_sys(base.wrapping_add(tss32::SEGS + 4 * i as u32), 2, v)?;
        }
    } else {
        cpu.mmu
            .probe_write(&ctx, base.wrapping_add(tss16::IP), 0x1C)?;
        cpu.write_sys(base.wrapping_add(tss16::IP), 2, cpu.s.eip)?;
        cpu.write_sys(base.wrapping_add(tss16::FLAGS), 2, eflags)?;
        for i in 0..8 {
            let v = cpu.s.regs[i];
            cpu.write_sys(base.wrapping_add(tss16::REGS + 2 * i as u32), 2, v)?;
        }
        for i in 0..4 {
            let v = cpu.s.seg[i].selector as u32;
            cpu.write_sys(base.wrapping_add(tss16::SEGS + 2 * i as u32), 2, v)?;
        }
    }
    Ok(())
}

/// The GDT address of the current TSS descriptor, if TR names one.
fn current_tss_desc_addr(cpu: &Cpu) -> Option<u32> {
    let sel = cpu.s.tr.selector;
    let off = (sel & 0xFFF8) as u32;
    (!is_null(sel) && sel & 4 == 0 && off + 7 <= cpu.s.gdtr.limit)
        .then(|| cpu.s.gdtr.base.wrapping_add(off))
}

/// Switches to the task whose TSS descriptor `desc` (at GDT address `addr`)
/// `sel` names. The caller has made the privilege and busy checks of its
/// instruction; EIP holds the address the old task resumes at.
pub fn switch(cpu: &mut Cpu, sel: u16, desc: &Descriptor, addr: u32, reason: Reason) -> Result<()> {
    let ext = match reason {
        Reason::Int { ext, .. } => ext,
        _ => 0,
    };
    let err = sel_err(sel) | ext;
    let is32 = desc.typ() & 8 != 0;
    if !desc.present() {
        return Err(Exception::NP(err));
    }
    let min = if is32 {
        tss32::MIN_LIMIT
    } else {
        tss16::MIN_LIMIT
    };
    if desc.limit() < min {
        return Err(Exception::TS(err));
    }
    let old = cpu.s.tr;
    let old_min = if super::tss::is32(&old) { 0x5F } else { 0x29 };
    if old.limit < old_min {
        return Err(Exception::TS(sel_err(old.selector) | ext));
    }
    let new_base = desc.base();
    let mut img = read_image(cpu, new_base, is32)?;
    if !is32 {
        img.eflags |= cpu.s.get_eflags() & 0xFFFF_0000 & !(fl::VM | fl::RF);
    }
    let nested = matches!(reason, Reason::Call | Reason::Int { .. });
    if nested {
        let mut ctx = cpu.s.paging_ctx();
        ctx.cpl = 0;
        cpu.mmu.probe_write(&ctx, new_base, 2)?;
    }

    // Save the outgoing task.
    let mut eflags = cpu.s.get_eflags();
    if reason == Reason::Iret {
        eflags &= !fl::NT;
    }
    save_image(cpu, eflags)?;
    if matches!(reason, Reason::Jmp | Reason::Iret) {
        if let Some(a) = current_tss_desc_addr(cpu) {
            set_busy(cpu, a, false)?;
        }
    }
    if nested {
        cpu.write_sys(new_base.wrapping_add(tss32::LINK), 2, old.selector as u32)?;
        img.eflags |= fl::NT;
    }
    if reason != Reason::Iret {
        set_busy(cpu, addr, true)?;
    }

    // Load the incoming task.
    let mut trd = *desc;
    trd.hi |= 2 << 8;
    cpu.s.tr = trd.to_segment(sel);
    cpu.s.cr0 |= cr0::TS;
    if is32 && cpu.s.paging() {
        cpu.s.cr3 = img.cr3 & 0xFFFF_F018;
        cpu.mmu.flush_non_global();
    }
    cpu.s.set_eflags_raw(img.eflags);
    cpu.s.eip = img.eip;
    cpu.s.regs = img.regs;
    for (i, &s) in img.segs.iter().enumerate() {
        cpu.s.seg[i] = null_segment(s);
    }
    cpu.s.ldtr = null_segment(img.ldt);
    cpu.s.cpl = if cpu.s.v86() {
        3
    } else {
        (img.segs[CS] & 3) as u8
    };
    cpu.end_block();

    // Checks in the context of the new task.
    if let Err(e) = load_segments(cpu, &img, ext) {
        deliver_exception(cpu, e);
        return Ok(());
    }
    if let Reason::Int {
        err: Some(code), ..
    } = reason
    {
        let size = if is32 { 4 } else { 2 };
        if let Err(e) = cpu.push(code, size) {
            deliver_exception(cpu, e);
            return Ok(());
        }
    }
    if cpu.s.eip > cpu.s.seg[CS].limit {
        deliver_exception(cpu, Exception::GP(ext));
    }
    Ok(())
}

/// Loads LDTR and the segment registers of the new task with their checks
/// (#TS(selector) for bad descriptors, #NP / #SS when not present).
fn load_segments(cpu: &mut Cpu, img: &Image, ext: u16) -> Result<()> {
    let ldt = img.ldt;
    if !is_null(ldt) {
        let err = Exception::TS(sel_err(ldt) | ext);
        if ldt & 4 != 0 {
            return Err(err);
        }
        let Some((d, _)) = lookup(cpu, ldt)? else {
            return Err(err);
        };
        if d.system_type() != Some(sys_type::LDT) || !d.present() {
            return Err(err);
        }
        cpu.s.ldtr = d.to_segment(ldt);
    }
    if cpu.s.v86() {
        for (i, &s) in img.segs.iter().enumerate() {
            cpu.s.seg[i] = Segment::real(s, 3);
        }
        return Ok(());
    }
    // CS
    let cs = img.segs[CS];
    let cpl = (cs & 3) as u8;
    let err = Exception::TS(sel_err(cs) | ext);
    if is_null(cs) {
        return Err(Exception::TS(ext));
    }
    let Some((d, a)) = lookup(cpu, cs)? else {
        return Err(err);
    };
    if !d.is_code() || (d.conforming() && d.dpl() > cpl) || (!d.conforming() && d.dpl() != cpl) {
        return Err(err);
    }
    if !d.present() {
        return Err(Exception::NP(sel_err(cs) | ext));
    }
    commit_cs(cpu, cs, &d, a, cpl)?;
    for seg in [SS, DS, ES, FS, GS] {
        let sel = img.segs[seg];
        let checked = check_data(cpu, seg, sel, cpl, Fault::Ts, ext)?;
        commit_data(cpu, seg, sel, checked)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{TestMachine, GDT_BASE};

    /// CALL into a 16-bit TSS: IP/FLAGS/word registers and the four
    /// selectors are loaded (upper register halves kept), the back link,
    /// NT and busy bit are set and the old 32-bit TSS receives the state.
    #[test]
    fn call_into_16bit_tss() {
        let mut m = TestMachine::flat32(&[0xF4]);
        let old = Descriptor::from_u64(0x67 | (0x3000 << 16) | (0x8Bu64 << 40));
        let new = Descriptor::from_u64(0x2B | (0x3400 << 16) | (0x81u64 << 40));
        m.mmu
            .phys
            .write_u64(GDT_BASE + 0x28, old.lo as u64 | (old.hi as u64) << 32);
        m.mmu
            .phys
            .write_u64(GDT_BASE + 0x30, new.lo as u64 | (new.hi as u64) << 32);
        m.s.gdtr.limit = 0x37;
        m.s.tr = old.to_segment(0x28);
        let t = 0x3400;
        m.mmu.phys.write_u16(t + tss16::IP, 0x1234);
        m.mmu.phys.write_u16(t + tss16::FLAGS, 0x0002);
        for i in 0..8 {
            m.mmu
                .phys
                .write_u16(t + tss16::REGS + 2 * i, 0x100 + i as u16);
        }
        for (i, sel) in [0x10u16, 0x08, 0x10, 0x10].iter().enumerate() {
            m.mmu.phys.write_u16(t + tss16::SEGS + 2 * i as u32, *sel);
        }
        m.s.regs[EAX] = 0xAAAA_5555;
        m.s.eip = 0x0001_0007;
        let mut cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
        };
        switch(&mut cpu, 0x30, &new, GDT_BASE + 0x30, Reason::Call).unwrap();
        assert_eq!(m.s.eip, 0x1234);
        assert_eq!(m.s.regs[EAX], 0xAAAA_0100);
        assert_eq!(m.s.regs[EDI] & 0xFFFF, 0x107);
        assert_eq!(m.s.seg[CS].selector, 0x08);
        assert_eq!(m.s.seg[FS].selector, 0);
        assert_eq!(m.s.tr.selector, 0x30);
        assert_ne!(m.s.eflags & fl::NT, 0);
        assert_ne!(m.s.cr0 & cr0::TS, 0);
        assert_eq!(m.mmu.phys.read_u16(t), 0x28, "back link");
        assert_eq!(m.mmu.phys.read_u8(GDT_BASE + 0x30 + 5), 0x83, "busy");
        assert_eq!(m.mmu.phys.read_u8(GDT_BASE + 0x28 + 5), 0x8B, "still busy");
        assert_eq!(m.mmu.phys.read_u32(0x3000 + tss32::EIP), 0x0001_0007);
        assert_eq!(m.mmu.phys.read_u32(0x3000 + tss32::REGS), 0xAAAA_5555);
    }
}
