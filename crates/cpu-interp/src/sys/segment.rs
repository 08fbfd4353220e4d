//! Loading segment registers: real-mode and V86 loads, and protected-mode
//! loads of data and stack segments with every descriptor check (null,
//! table limit, type, DPL/RPL/CPL, present, accessed bit).
//! Loads of CS through far transfers live in `sys::far` (system family).

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

/// A raw 8-byte descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub lo: u32,
    pub hi: u32,
}

impl Descriptor {
    pub fn base(&self) -> u32 {
        (self.lo >> 16) | ((self.hi & 0xFF) << 16) | (self.hi & 0xFF00_0000)
    }
    /// Byte-granular limit.
    pub fn limit(&self) -> u32 {
        let raw = (self.lo & 0xFFFF) | (self.hi & 0x000F_0000);
        if self.hi & (1 << 23) != 0 {
            (raw << 12) | 0xFFF
        } else {
            raw
        }
    }
    /// Descriptor bits 40..55 as kept in `Segment::attr`.
    pub fn attr(&self) -> u16 {
        ((self.hi >> 8) & 0xF0FF) as u16
    }
    pub fn dpl(&self) -> u8 {
        ((self.hi >> 13) & 3) as u8
    }
    pub fn present(&self) -> bool {
        self.hi & (1 << 15) != 0
    }
    /// S bit set: code or data.
    pub fn is_code_or_data(&self) -> bool {
        self.hi & (1 << 12) != 0
    }
    /// The 4-bit type field.
    pub fn typ(&self) -> u8 {
        ((self.hi >> 8) & 0xF) as u8
    }
    pub fn is_code(&self) -> bool {
        self.is_code_or_data() && self.typ() & 8 != 0
    }
    /// The cached segment this descriptor loads, with `selector`.
    pub fn to_segment(&self, selector: u16) -> Segment {
        let attr = self.attr();
        let mut access = 0;
        if self.is_code() {
            access |= SEG_EXEC;
            if self.typ() & 2 != 0 {
                access |= SEG_READ;
            }
        } else if self.is_code_or_data() {
            access |= SEG_READ;
            if self.typ() & 2 != 0 {
                access |= SEG_WRITE;
            }
        }
        Segment {
            selector,
            attr,
            base: self.base(),
            limit: self.limit(),
            access,
        }
    }
}

/// The error code for a selector-related fault.
#[inline]
pub fn sel_err(sel: u16) -> u16 {
    sel & 0xFFFC
}

/// Reads the descriptor `sel` names from the GDT or LDT. #GP(sel) if it is
/// beyond the table limit (or the LDT is null).
pub fn read_descriptor(cpu: &mut Cpu, sel: u16) -> Result<(Descriptor, u32)> {
    let (base, limit) = if sel & 4 != 0 {
        if cpu.s.ldtr.selector & 0xFFFC == 0 {
            return Err(Exception::GP(sel_err(sel)));
        }
        (cpu.s.ldtr.base, cpu.s.ldtr.limit)
    } else {
        (cpu.s.gdtr.base, cpu.s.gdtr.limit)
    };
    let off = (sel & 0xFFF8) as u32;
    if off + 7 > limit {
        return Err(Exception::GP(sel_err(sel)));
    }
    let addr = base.wrapping_add(off);
    let lo = cpu.read_sys(addr, 4)?;
    let hi = cpu.read_sys(addr.wrapping_add(4), 4)?;
    Ok((Descriptor { lo, hi }, addr))
}

/// Sets the accessed bit of a code/data descriptor in memory.
pub fn set_accessed(cpu: &mut Cpu, desc: &Descriptor, addr: u32) -> Result<()> {
    if desc.hi & (1 << 8) == 0 {
        cpu.write_sys(addr.wrapping_add(5), 1, ((desc.hi >> 8) | 1) & 0xFF)?;
    }
    Ok(())
}

/// Loads data/stack segment register `seg` (not CS) with `sel`, with the
/// checks of MOV Sreg / POP Sreg / LDS etc.
pub fn load_seg(cpu: &mut Cpu, seg: usize, sel: u16) -> Result<()> {
    debug_assert!(seg != CS);
    if !cpu.s.protected_mode() {
        // Real mode: only base and selector change (limit and attributes
        // survive, which is what "unreal mode" relies on).
        let sc = &mut cpu.s.seg[seg];
        sc.selector = sel;
        sc.base = (sel as u32) << 4;
        sc.access = SEG_READ | SEG_WRITE | SEG_EXEC;
        return Ok(());
    }
    if cpu.s.v86() {
        cpu.s.seg[seg] = Segment::real(sel, 3);
        return Ok(());
    }
    let cpl = cpu.s.cpl;
    let rpl = (sel & 3) as u8;
    if sel & 0xFFFC == 0 {
        if seg == SS {
            return Err(Exception::GP(0));
        }
        cpu.s.seg[seg] = Segment {
            selector: sel,
            ..Segment::default()
        };
        return Ok(());
    }
    let (desc, addr) = read_descriptor(cpu, sel)?;
    if seg == SS {
        let writable_data = desc.is_code_or_data() && !desc.is_code() && desc.typ() & 2 != 0;
        if rpl != cpl || !writable_data || desc.dpl() != cpl {
            return Err(Exception::GP(sel_err(sel)));
        }
        if !desc.present() {
            return Err(Exception::SS(sel_err(sel)));
        }
    } else {
        let readable = desc.is_code_or_data() && (!desc.is_code() || desc.typ() & 2 != 0);
        if !readable {
            return Err(Exception::GP(sel_err(sel)));
        }
        let conforming_code = desc.is_code() && desc.typ() & 4 != 0;
        if !conforming_code && (rpl > desc.dpl() || cpl > desc.dpl()) {
            return Err(Exception::GP(sel_err(sel)));
        }
        if !desc.present() {
            return Err(Exception::NP(sel_err(sel)));
        }
    }
    set_accessed(cpu, &desc, addr)?;
    cpu.s.seg[seg] = desc.to_segment(sel);
    if seg == SS {
        cpu.end_block();
    }
    Ok(())
}

fn sreg_of(d: &Decoded, n: u32) -> usize {
    crate::decode::seg_index(d.ins.op_register(n)) as usize
}

/// MOV Sreg, r/m16
fn mov_sreg_rm16(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let seg = sreg_of(d, 0);
    if seg == CS {
        return Err(Exception::UD);
    }
    let v = cpu.read_op(d, 1)? as u16;
    load_seg(cpu, seg, v)?;
    if seg == SS {
        cpu.s.int_shadow = true;
    }
    Ok(())
}

/// MOV r/m, Sreg (a 32-bit register destination gets the zero-extended selector)
fn mov_rm_sreg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.s.seg[sreg_of(d, 1)].selector as u32;
    cpu.write_op(d, 0, v)
}

/// PUSH Sreg
fn push_sreg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.s.seg[sreg_of(d, 0)].selector as u32;
    let size = (-d.ins.stack_pointer_increment()) as u8;
    // A 32-bit push of a segment register writes only the low word on
    // P6-class CPUs; the upper half of the slot keeps its old contents.
    if size == 4 {
        let sp = cpu.sp().wrapping_sub(4);
        let sp = if cpu.s.stack32() { sp } else { sp & 0xFFFF };
        cpu.linear(SS, sp, 4, true)?;
        cpu.write(SS, sp, 2, v)?;
        cpu.set_sp(sp);
        Ok(())
    } else {
        cpu.push(v, 2)
    }
}

/// POP Sreg
fn pop_sreg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let seg = sreg_of(d, 0);
    let size = d.ins.stack_pointer_increment() as u8;
    let v = cpu.peek(0, 2)? as u16;
    load_seg(cpu, seg, v)?;
    let sp = cpu.sp().wrapping_add(size as u32);
    cpu.set_sp(sp);
    if seg == SS {
        cpu.s.int_shadow = true;
    }
    Ok(())
}

/// LDS/LES/LSS/LFS/LGS r, m16:16/m16:32
fn load_far_pointer(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let seg = match d.ins.mnemonic() {
        iced_x86::Mnemonic::Lds => DS,
        iced_x86::Mnemonic::Les => ES,
        iced_x86::Mnemonic::Lss => SS,
        iced_x86::Mnemonic::Lfs => FS,
        _ => GS,
    };
    let off_size = d.width;
    let ea = cpu.ea(d);
    let mseg = d.mem.seg as usize;
    let off = cpu.read(mseg, ea, off_size)?;
    let sel = cpu.read(mseg, ea.wrapping_add(off_size as u32), 2)? as u16;
    load_seg(cpu, seg, sel)?;
    cpu.set_reg(d.ins.op0_register(), off);
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(&[Mov_Sreg_rm16, Mov_Sreg_r32m16], mov_sreg_rm16);
    t.set_all(&[Mov_rm16_Sreg, Mov_r32m16_Sreg], mov_rm_sreg);
    t.set_all(
        &[
            Pushw_ES, Pushd_ES, Pushw_CS, Pushd_CS, Pushw_SS, Pushd_SS, Pushw_DS, Pushd_DS,
            Pushw_FS, Pushd_FS, Pushw_GS, Pushd_GS,
        ],
        push_sreg,
    );
    t.set_all(
        &[
            Popw_ES, Popd_ES, Popw_SS, Popd_SS, Popw_DS, Popd_DS, Popw_FS, Popd_FS, Popw_GS,
            Popd_GS,
        ],
        pop_sreg,
    );
    t.set_all(
        &[
            Lds_r16_m1616,
            Lds_r32_m1632,
            Les_r16_m1616,
            Les_r32_m1632,
            Lss_r16_m1616,
            Lss_r32_m1632,
            Lfs_r16_m1616,
            Lfs_r32_m1632,
            Lgs_r16_m1616,
            Lgs_r32_m1632,
        ],
        load_far_pointer,
    );
}
