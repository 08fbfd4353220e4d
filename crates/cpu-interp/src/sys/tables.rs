//! The descriptor-table registers: LGDT/LIDT (a 16-bit operand size masks
//! the base to 24 bits), SGDT/SIDT (likewise stores a 24-bit base with a
//! zero top byte), LLDT/SLDT and LTR/STR (which marks the TSS busy).

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::descriptor::{set_busy, sys_type};
use super::segment::*;
use super::{require_cpl0, require_pm};

fn is_gdt(d: &Decoded) -> bool {
    matches!(
        d.ins.code(),
        Code::Lgdt_m1632_16 | Code::Lgdt_m1632 | Code::Sgdt_m1632_16 | Code::Sgdt_m1632
    )
}

/// LGDT / LIDT m16&32
fn lgdt_lidt(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_cpl0(cpu)?;
    let ea = cpu.ea(d);
    let seg = d.mem.seg as usize;
    let limit = cpu.read(seg, ea, 2)?;
    let ea2 = ea.wrapping_add(2);
    let ea2 = if d.addr32 { ea2 } else { ea2 & 0xFFFF };
    let mut base = cpu.read(seg, ea2, 4)?;
    if !d.op32 {
        base &= 0x00FF_FFFF;
    }
    let t = DescTable { base, limit };
    if is_gdt(d) {
        cpu.s.gdtr = t;
    } else {
        cpu.s.idtr = t;
    }
    Ok(())
}

/// SGDT / SIDT m16&32 (not privileged)
fn sgdt_sidt(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let t = if is_gdt(d) { cpu.s.gdtr } else { cpu.s.idtr };
    let base = if d.op32 { t.base } else { t.base & 0x00FF_FFFF };
    let ea = cpu.ea(d);
    let seg = d.mem.seg as usize;
    let ea2 = ea.wrapping_add(2);
    let ea2 = if d.addr32 { ea2 } else { ea2 & 0xFFFF };
    cpu.probe_write(seg, ea, 2)?;
    cpu.probe_write(seg, ea2, 4)?;
    cpu.write(seg, ea, 2, t.limit)?;
    cpu.write(seg, ea2, 4, base)
}

/// LLDT r/m16
fn lldt(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_pm(cpu)?;
    require_cpl0(cpu)?;
    let sel = cpu.read_op(d, 0)? as u16;
    if is_null(sel) {
        cpu.s.ldtr = null_segment(sel);
        return Ok(());
    }
    let err = Exception::GP(sel_err(sel));
    if sel & 4 != 0 {
        return Err(err);
    }
    let Some((desc, _)) = lookup(cpu, sel)? else {
        return Err(err);
    };
    if desc.system_type() != Some(sys_type::LDT) {
        return Err(err);
    }
    if !desc.present() {
        return Err(Exception::NP(sel_err(sel)));
    }
    cpu.s.ldtr = desc.to_segment(sel);
    Ok(())
}

/// LTR r/m16
fn ltr(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_pm(cpu)?;
    require_cpl0(cpu)?;
    let sel = cpu.read_op(d, 0)? as u16;
    if is_null(sel) {
        return Err(Exception::GP(0));
    }
    let err = Exception::GP(sel_err(sel));
    if sel & 4 != 0 {
        return Err(err);
    }
    let Some((mut desc, addr)) = lookup(cpu, sel)? else {
        return Err(err);
    };
    if !matches!(
        desc.system_type(),
        Some(sys_type::TSS16_AVAIL | sys_type::TSS32_AVAIL)
    ) {
        return Err(err);
    }
    if !desc.present() {
        return Err(Exception::NP(sel_err(sel)));
    }
    set_busy(cpu, addr, true)?;
    desc.hi |= 2 << 8;
    cpu.s.tr = desc.to_segment(sel);
    Ok(())
}

/// SLDT / STR r/m16, r32/m16 (a 32-bit register gets the zero-extended
/// selector)
fn sldt_str(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_pm(cpu)?;
    let v = match d.ins.code() {
        Code::Sldt_rm16 | Code::Sldt_r32m16 => cpu.s.ldtr.selector,
        _ => cpu.s.tr.selector,
    };
    cpu.write_op(d, 0, v as u32)
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(
        &[Lgdt_m1632_16, Lgdt_m1632, Lidt_m1632_16, Lidt_m1632],
        lgdt_lidt,
    );
    t.set_all(
        &[Sgdt_m1632_16, Sgdt_m1632, Sidt_m1632_16, Sidt_m1632],
        sgdt_sidt,
    );
    t.set_all(&[Lldt_rm16, Lldt_r32m16], lldt);
    t.set_all(&[Ltr_rm16, Ltr_r32m16], ltr);
    t.set_all(&[Sldt_rm16, Sldt_r32m16, Str_rm16, Str_r32m16], sldt_str);
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;
    use crate::Stop;
    use iced_x86::code_asm::*;

    #[test]
    fn lgdt16_masks_base_and_sgdt_stores() {
        let code = asm16(0, |a| {
            a.mov(word_ptr(0x10), 0x27u32).unwrap();
            a.mov(dword_ptr(0x12), 0xAB12_3456u32).unwrap();
            a.lidt(ptr(0x10)).unwrap();
            a.sidt(ptr(0x20)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.s.idtr.base, 0x12_3456);
        assert_eq!(m.s.idtr.limit, 0x27);
        assert_eq!(m.mmu.phys.read_u16(0x30020), 0x27);
        assert_eq!(m.mmu.phys.read_u32(0x30022), 0x0012_3456);
    }

    #[test]
    fn ltr_marks_busy_and_lldt_loads() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, 0x28u32).unwrap();
            a.ltr(ax).unwrap();
            a.mov(eax, 0x30u32).unwrap();
            a.lldt(ax).unwrap();
            a.str(ebx).unwrap();
            a.sldt(word_ptr(DATA_BASE)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        // 0x28: 32-bit available TSS at 0x3000; 0x30: LDT at 0x4000.
        m.mmu
            .phys
            .write_u64(GDT_BASE + 0x28, 0x67 | (0x3000 << 16) | (0x89u64 << 40));
        m.mmu
            .phys
            .write_u64(GDT_BASE + 0x30, 0x0F | (0x4000 << 16) | (0x82u64 << 40));
        m.s.gdtr.limit = 0x37;
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.s.tr.base, 0x3000);
        assert_eq!(m.mmu.phys.read_u8(GDT_BASE + 0x28 + 5), 0x8B);
        assert_eq!(m.s.ldtr.base, 0x4000);
        assert_eq!(m.s.ldtr.limit, 0xF);
        assert_eq!(m.s.regs[EBX], 0x28);
        assert_eq!(m.mmu.phys.read_u16(DATA_BASE), 0x30);
    }

    #[test]
    fn lldt_is_ud_in_real_mode() {
        let code = asm16(0, |a| {
            a.lldt(ax).unwrap();
        });
        let mut m = TestMachine::real(&code);
        // IVT entry 6 -> 0x1000:0x0100 where a HLT waits.
        m.mmu.phys.write_u32(6 * 4, 0x1000_0100);
        m.mmu.phys.write_u8(0x10100, 0xF4);
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.s.eip, 0x101);
    }
}
