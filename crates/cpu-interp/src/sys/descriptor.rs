//! Segment descriptors: decoding the raw 8-byte GDT/LDT/IDT entries and
//! reading them from the descriptor tables (implicit supervisor accesses).
//!
//! Only the legacy 32-bit formats exist here (no 64-bit system
//! descriptors). The checks a particular load applies live with the load.

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::Segment;
use crate::state::{SEG_EXEC, SEG_READ, SEG_WRITE};

/// System descriptor types (S = 0).
pub mod sys_type {
    pub const TSS16_AVAIL: u8 = 1;
    pub const LDT: u8 = 2;
    pub const TSS16_BUSY: u8 = 3;
    pub const CALL_GATE16: u8 = 4;
    pub const TASK_GATE: u8 = 5;
    pub const INT_GATE16: u8 = 6;
    pub const TRAP_GATE16: u8 = 7;
    pub const TSS32_AVAIL: u8 = 9;
    pub const TSS32_BUSY: u8 = 11;
    pub const CALL_GATE32: u8 = 12;
    pub const INT_GATE32: u8 = 14;
    pub const TRAP_GATE32: u8 = 15;
}

/// A raw 8-byte descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub lo: u32,
    pub hi: u32,
}

impl Descriptor {
    pub fn from_u64(v: u64) -> Descriptor {
        Descriptor {
            lo: v as u32,
            hi: (v >> 32) as u32,
        }
    }
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
    /// The system type (`sys_type::*`), or `None` for code/data.
    pub fn system_type(&self) -> Option<u8> {
        (!self.is_code_or_data()).then(|| self.typ())
    }
    pub fn is_code(&self) -> bool {
        self.is_code_or_data() && self.typ() & 8 != 0
    }
    pub fn is_data(&self) -> bool {
        self.is_code_or_data() && self.typ() & 8 == 0
    }
    pub fn conforming(&self) -> bool {
        self.is_code() && self.typ() & 4 != 0
    }
    /// Readable: any data segment, or code with R set.
    pub fn readable(&self) -> bool {
        self.is_data() || (self.is_code() && self.typ() & 2 != 0)
    }
    pub fn writable_data(&self) -> bool {
        self.is_data() && self.typ() & 2 != 0
    }
    /// Gate fields: target selector, offset (16-bit gates use the low word
    /// only), and the call-gate parameter count.
    pub fn gate_selector(&self) -> u16 {
        (self.lo >> 16) as u16
    }
    pub fn gate_offset(&self) -> u32 {
        let off = (self.lo & 0xFFFF) | (self.hi & 0xFFFF_0000);
        if self.typ() & 8 != 0 {
            off
        } else {
            off & 0xFFFF
        }
    }
    pub fn gate_params(&self) -> u32 {
        self.hi & 0x1F
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

/// A null selector (index 0 of the GDT, any RPL).
#[inline]
pub fn is_null(sel: u16) -> bool {
    sel & 0xFFFC == 0
}

/// Reads the descriptor `sel` names from the GDT or LDT, with the linear
/// address of the entry. `Ok(None)` when the selector is beyond the table
/// limit (or names an LDT entry while no LDT is loaded); `Err` only for a
/// page fault on the table itself.
pub fn lookup(cpu: &mut Cpu, sel: u16) -> Result<Option<(Descriptor, u32)>> {
    let (base, limit) = if sel & 4 != 0 {
        let l = &cpu.s.ldtr;
        if is_null(l.selector) || l.attr & 0x9F != 0x82 {
            return Ok(None);
        }
        (l.base, l.limit)
    } else {
        (cpu.s.gdtr.base, cpu.s.gdtr.limit)
    };
    let off = (sel & 0xFFF8) as u32;
    if off + 7 > limit {
        return Ok(None);
    }
    let addr = base.wrapping_add(off);
    let lo = cpu.read_sys(addr, 4)?;
    let hi = cpu.read_sys(addr.wrapping_add(4), 4)?;
    Ok(Some((Descriptor { lo, hi }, addr)))
}

/// `lookup`, with #GP(selector) when the selector is beyond the table.
pub fn read_descriptor(cpu: &mut Cpu, sel: u16) -> Result<(Descriptor, u32)> {
    lookup(cpu, sel)?.ok_or(Exception::GP(sel_err(sel)))
}

/// Sets the accessed bit of a code/data descriptor in memory.
pub fn set_accessed(cpu: &mut Cpu, desc: &Descriptor, addr: u32) -> Result<()> {
    if desc.is_code_or_data() && desc.hi & (1 << 8) == 0 {
        cpu.write_sys(addr.wrapping_add(5), 1, ((desc.hi >> 8) | 1) & 0xFF)?;
    }
    Ok(())
}

/// Sets or clears the busy bit of the TSS descriptor at `addr`.
pub fn set_busy(cpu: &mut Cpu, addr: u32, busy: bool) -> Result<()> {
    let b = cpu.read_sys(addr.wrapping_add(5), 1)?;
    let v = if busy { b | 2 } else { b & !2 };
    cpu.write_sys(addr.wrapping_add(5), 1, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_code_descriptor_fields() {
        let d = Descriptor::from_u64(0x00CF_9B00_0000_FFFF);
        assert_eq!(d.base(), 0);
        assert_eq!(d.limit(), 0xFFFF_FFFF);
        assert!(d.is_code() && d.readable() && !d.conforming());
        assert_eq!(d.dpl(), 0);
        assert!(d.present());
        assert_eq!(d.attr(), 0xC09B);
        assert_eq!(d.system_type(), None);
    }

    #[test]
    fn byte_granular_data_with_base() {
        // base 0x12345678, limit 0x1234, DPL 3 writable data, 16-bit.
        let d = Descriptor::from_u64(0x1200_F234_5678_1234);
        assert_eq!(d.base(), 0x1234_5678);
        assert_eq!(d.limit(), 0x1234);
        assert!(d.writable_data());
        assert_eq!(d.dpl(), 3);
        let s = d.to_segment(0x2B);
        assert_eq!(s.access, SEG_READ | SEG_WRITE);
    }

    #[test]
    fn gate_fields() {
        // 32-bit call gate: selector 0x08, offset 0x12345678, 3 params, DPL 3.
        let d = Descriptor::from_u64(0x1234_EC03_0008_5678);
        assert_eq!(d.system_type(), Some(sys_type::CALL_GATE32));
        assert_eq!(d.gate_selector(), 8);
        assert_eq!(d.gate_offset(), 0x1234_5678);
        assert_eq!(d.gate_params(), 3);
        // The same as a 16-bit gate keeps only the low offset word.
        let d16 = Descriptor::from_u64(0x1234_E403_0008_5678);
        assert_eq!(d16.gate_offset(), 0x5678);
    }
}
