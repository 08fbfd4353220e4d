//! The task-state segment: field offsets of the 16- and 32-bit formats and
//! the inner-ring stack (SS:ESP for CPL 0..2) that call gates and
//! interrupts switch to, with the checks of that stack segment.

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::{Segment, SS};

use super::segment::{check_data, sel_err, Descriptor, Fault};

/// 32-bit TSS offsets.
pub mod tss32 {
    pub const LINK: u32 = 0x00;
    pub const CR3: u32 = 0x1C;
    pub const EIP: u32 = 0x20;
    pub const EFLAGS: u32 = 0x24;
    /// EAX..EDI, 4 bytes each.
    pub const REGS: u32 = 0x28;
    /// ES, CS, SS, DS, FS, GS, 4 bytes each.
    pub const SEGS: u32 = 0x48;
    pub const LDT: u32 = 0x60;
    /// The minimum limit of a 32-bit TSS.
    pub const MIN_LIMIT: u32 = 0x67;
}

/// 16-bit TSS offsets.
pub mod tss16 {
    pub const LINK: u32 = 0x00;
    pub const IP: u32 = 0x0E;
    pub const FLAGS: u32 = 0x10;
    /// AX..DI, 2 bytes each.
    pub const REGS: u32 = 0x12;
    /// ES, CS, SS, DS, 2 bytes each.
    pub const SEGS: u32 = 0x22;
    pub const LDT: u32 = 0x2A;
    pub const MIN_LIMIT: u32 = 0x2B;
}

/// Whether the TSS in `tr` (or a TSS descriptor's type) is the 32-bit format.
pub fn is32(tr: &Segment) -> bool {
    tr.attr & 8 != 0
}

/// Reads the stack for privilege `dpl` from the current TSS.
/// #TS(TR selector + ext) when the TSS is too short.
pub fn inner_stack(cpu: &mut Cpu, dpl: u8, ext: u16) -> Result<(u16, u32)> {
    let tr = cpu.s.tr;
    let err = Exception::TS(sel_err(tr.selector) | ext);
    if is32(&tr) {
        let off = 4 + dpl as u32 * 8;
        if off + 5 > tr.limit {
            return Err(err);
        }
        let esp = cpu.read_sys(tr.base.wrapping_add(off), 4)?;
        let ss = cpu.read_sys(tr.base.wrapping_add(off + 4), 2)? as u16;
        Ok((ss, esp))
    } else {
        let off = 2 + dpl as u32 * 4;
        if off + 3 > tr.limit {
            return Err(err);
        }
        let sp = cpu.read_sys(tr.base.wrapping_add(off), 2)?;
        let ss = cpu.read_sys(tr.base.wrapping_add(off + 2), 2)? as u16;
        Ok((ss, sp))
    }
}

/// The inner stack for a privilege change to `dpl`, checked: SS must be a
/// present writable data segment with RPL = DPL = `dpl` (#TS / #SS with
/// the selector + ext). Returns the selector, ESP, descriptor and its
/// address.
pub fn checked_inner_stack(
    cpu: &mut Cpu,
    dpl: u8,
    ext: u16,
) -> Result<(u16, u32, Descriptor, u32)> {
    let (ss, esp) = inner_stack(cpu, dpl, ext)?;
    match check_data(cpu, SS, ss, dpl, Fault::Ts, ext)? {
        Some((desc, addr)) => Ok((ss, esp, desc, addr)),
        // check_data refuses a null SS; keep the compiler honest.
        None => Err(Exception::TS(ext)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::TestMachine;

    #[test]
    fn reads_ring0_stack_of_32_and_16_bit_tss() {
        let mut m = TestMachine::flat32(&[0xF4]);
        m.mmu.phys.write_u32(0x3004, 0x9000);
        m.mmu.phys.write_u16(0x3008, 0x10);
        m.s.tr = Segment {
            selector: 0x28,
            attr: 0x8B,
            base: 0x3000,
            limit: 0x67,
            access: 0,
        };
        let mut cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
        };
        assert_eq!(inner_stack(&mut cpu, 0, 0), Ok((0x10, 0x9000)));
        let (ss, esp, d, _) = checked_inner_stack(&mut cpu, 0, 0).unwrap();
        assert_eq!((ss, esp, d.dpl()), (0x10, 0x9000, 0));
        // Ring-2 stack: null SS in the TSS is #TS(0).
        assert_eq!(checked_inner_stack(&mut cpu, 2, 1), Err(Exception::TS(1)));
        // A TSS too short for the ring-2 entry.
        cpu.s.tr.limit = 0x18;
        assert_eq!(inner_stack(&mut cpu, 2, 0), Err(Exception::TS(0x28)));
        // 16-bit TSS: SP0 at 2, SS0 at 4.
        cpu.s.tr.attr = 0x83;
        cpu.s.tr.limit = 0x2B;
        cpu.mmu.phys.write_u16(0x3002, 0x1234);
        cpu.mmu.phys.write_u16(0x3004, 0x10);
        assert_eq!(inner_stack(&mut cpu, 0, 0), Ok((0x10, 0x1234)));
    }
}
