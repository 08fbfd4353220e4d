//! Loading segment registers: real-mode and V86 loads, and protected-mode
//! loads of data and stack segments with every descriptor check (null,
//! table limit, type, DPL/RPL/CPL, present, accessed bit). The checks are
//! split from the commit so far transfers, IRET and task switches can
//! validate everything before changing any state, and can report the
//! faults their instruction specifies (#GP for MOV/POP/RET/IRET, #TS for
//! task switches and TSS stacks).
//!
//! CS is loaded by far transfers (`sys::far`), interrupts and task
//! switches, through `commit_cs`.

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::*;

pub use super::descriptor::{is_null, lookup, read_descriptor, sel_err, set_accessed, Descriptor};

/// Which exception a failed descriptor check raises (besides not-present).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// #GP(selector): MOV/POP Sreg, LDS..., RETF, IRET.
    Gp,
    /// #TS(selector): task switches and stacks taken from the TSS.
    Ts,
}

impl Fault {
    pub fn err(self, code: u16) -> Exception {
        match self {
            Fault::Gp => Exception::GP(code),
            Fault::Ts => Exception::TS(code),
        }
    }
}

/// Checks that `sel` may be loaded into data/stack register `seg` at
/// privilege `cpl`. Returns the descriptor and its address, or `None` for a
/// null selector (allowed except for SS). `ext` is ORed into error codes.
pub fn check_data(
    cpu: &mut Cpu,
    seg: usize,
    sel: u16,
    cpl: u8,
    kind: Fault,
    ext: u16,
) -> Result<Option<(Descriptor, u32)>> {
    let rpl = (sel & 3) as u8;
    let err = sel_err(sel) | ext;
    if is_null(sel) {
        if seg == SS {
            return Err(kind.err(ext));
        }
        return Ok(None);
    }
    let Some((desc, addr)) = lookup(cpu, sel)? else {
        return Err(kind.err(err));
    };
    if seg == SS {
        if rpl != cpl || !desc.writable_data() || desc.dpl() != cpl {
            return Err(kind.err(err));
        }
        if !desc.present() {
            return Err(Exception::SS(err));
        }
    } else {
        if !desc.readable() {
            return Err(kind.err(err));
        }
        if !desc.conforming() && (rpl > desc.dpl() || cpl > desc.dpl()) {
            return Err(kind.err(err));
        }
        if !desc.present() {
            return Err(Exception::NP(err));
        }
    }
    Ok(Some((desc, addr)))
}

/// Loads a checked data/stack segment (or null) into `seg`.
pub fn commit_data(
    cpu: &mut Cpu,
    seg: usize,
    sel: u16,
    checked: Option<(Descriptor, u32)>,
) -> Result<()> {
    match checked {
        Some((desc, addr)) => {
            set_accessed(cpu, &desc, addr)?;
            cpu.s.seg[seg] = desc.to_segment(sel);
        }
        None => cpu.s.seg[seg] = null_segment(sel),
    }
    Ok(())
}

/// The unusable segment a null selector loads: every access faults.
pub fn null_segment(sel: u16) -> Segment {
    Segment {
        selector: sel,
        ..Segment::default()
    }
}

/// Checks a code segment that a direct far JMP/CALL (not through a gate)
/// would load at the current CPL.
pub fn check_code_direct(cpu: &Cpu, sel: u16, desc: &Descriptor) -> Result<()> {
    let cpl = cpu.s.cpl;
    let rpl = (sel & 3) as u8;
    let bad = if desc.conforming() {
        desc.dpl() > cpl
    } else {
        rpl > cpl || desc.dpl() != cpl
    };
    if bad {
        return Err(Exception::GP(sel_err(sel)));
    }
    if !desc.present() {
        return Err(Exception::NP(sel_err(sel)));
    }
    Ok(())
}

/// Loads CS from a checked code descriptor and makes `cpl` current (CS.RPL
/// becomes `cpl`).
pub fn commit_cs(cpu: &mut Cpu, sel: u16, desc: &Descriptor, addr: u32, cpl: u8) -> Result<()> {
    set_accessed(cpu, desc, addr)?;
    cpu.s.seg[CS] = desc.to_segment((sel & !3) | cpl as u16);
    cpu.s.cpl = cpl;
    cpu.end_block();
    Ok(())
}

/// Loads CS in real or V86 mode: only selector and base change in real
/// mode (the cached limit and attributes survive, as on hardware); V86
/// gets a 64 KiB DPL-3 segment.
pub fn load_cs_real(cpu: &mut Cpu, sel: u16) {
    if cpu.s.v86() {
        cpu.s.seg[CS] = Segment::real(sel, 3);
    } else {
        let sc = &mut cpu.s.seg[CS];
        sc.selector = sel;
        sc.base = (sel as u32) << 4;
        sc.access = SEG_READ | SEG_WRITE | SEG_EXEC;
    }
    cpu.end_block();
}

/// After a return to an outer privilege level: data segment registers the
/// new CPL may not use (data or non-conforming code with DPL < CPL) are
/// loaded with null.
pub fn null_inaccessible(cpu: &mut Cpu) {
    let cpl = cpu.s.cpl;
    for r in [ES, DS, FS, GS] {
        let s = cpu.s.seg[r];
        let data_or_nc = s.is_code_or_data() && !s.conforming();
        if data_or_nc && s.dpl() < cpl {
            cpu.s.seg[r] = null_segment(0);
        }
    }
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
    let checked = check_data(cpu, seg, sel, cpl, Fault::Gp, 0)?;
    commit_data(cpu, seg, sel, checked)?;
    if seg == SS {
        cpu.end_block();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{TestMachine, GDT_BASE};

    fn with_cpu<R>(m: &mut TestMachine, f: impl FnOnce(&mut Cpu) -> R) -> R {
        let mut cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
        };
        f(&mut cpu)
    }

    #[test]
    fn data_load_checks() {
        let mut m = TestMachine::flat32(&[0xF4]);
        // GDT slot 5: a not-present data segment; slot 6: execute-only code.
        m.mmu.phys.write_u64(GDT_BASE + 40, 0x00CF_1300_0000_FFFF);
        m.mmu.phys.write_u64(GDT_BASE + 48, 0x00CF_9800_0000_FFFF);
        m.s.gdtr.limit = 7 * 8 - 1;
        with_cpu(&mut m, |cpu| {
            assert_eq!(load_seg(cpu, DS, 0x28), Err(Exception::NP(0x28)));
            assert_eq!(load_seg(cpu, DS, 0x30), Err(Exception::GP(0x30)));
            assert_eq!(load_seg(cpu, DS, 0x38), Err(Exception::GP(0x38)));
            assert_eq!(load_seg(cpu, SS, 0), Err(Exception::GP(0)));
            // Ring-3 data from ring 0 as SS: DPL != CPL.
            assert_eq!(load_seg(cpu, SS, 0x23), Err(Exception::GP(0x20)));
            assert_eq!(load_seg(cpu, ES, 0x23), Ok(()));
            assert_eq!(cpu.s.seg[ES].dpl(), 3);
            assert_eq!(load_seg(cpu, FS, 3), Ok(()));
            assert_eq!(cpu.s.seg[FS].access, 0);
            // Ring 3 may not load ring-0 data.
            cpu.s.cpl = 3;
            assert_eq!(load_seg(cpu, DS, 0x10), Err(Exception::GP(0x10)));
        });
        // The accessed bit was set in the GDT for the ring-3 data segment.
        assert_ne!(m.mmu.phys.read_u8(GDT_BASE + 32 + 5) & 1, 0);
    }

    #[test]
    fn ts_kind_reports_ts() {
        let mut m = TestMachine::flat32(&[0xF4]);
        with_cpu(&mut m, |cpu| {
            let r = check_data(cpu, SS, 0x23, 0, Fault::Ts, 1);
            assert_eq!(r, Err(Exception::TS(0x21)));
        });
    }

    #[test]
    fn outer_return_nulls_privileged_data() {
        let mut m = TestMachine::flat32(&[0xF4]);
        with_cpu(&mut m, |cpu| {
            load_seg(cpu, ES, 0x23).unwrap();
            cpu.s.cpl = 3;
            null_inaccessible(cpu);
            assert_eq!(cpu.s.seg[DS].selector, 0);
            assert_eq!(cpu.s.seg[ES].selector, 0x23);
        });
    }
}
