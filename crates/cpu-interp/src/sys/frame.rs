//! Building a stack frame atomically, possibly on a stack that is not the
//! current one (the inner stack of a call gate or interrupt, taken from the
//! TSS). Pushes are recorded and limit-checked first; `commit` then probes
//! every page and only then writes, so a fault leaves no partial frame and
//! no changed register.
//!
//! Accesses use the privilege of the frame's owner (`cpl`), which decides
//! the user/supervisor check of the paging unit.

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};
use crate::state::{Segment, SS};

/// The most slots a frame needs: V86 interrupt (GS FS DS ES SS ESP EFLAGS
/// CS EIP error) or a call gate with 31 parameters plus four.
const MAX_SLOTS: usize = 36;

/// Whether `size` bytes at `off` lie within the limit of `seg` (with the
/// expand-down rules).
pub fn in_limit(seg: &Segment, off: u32, size: u32) -> bool {
    let last = off.wrapping_add(size - 1);
    if last < off {
        return false;
    }
    if seg.expand_down() {
        let upper = if seg.big() { u32::MAX } else { 0xFFFF };
        off > seg.limit && last <= upper
    } else {
        last <= seg.limit
    }
}

/// A stack frame under construction.
pub struct Frame {
    seg: Segment,
    sp: u32,
    start_esp: u32,
    cpl: u8,
    fault: Exception,
    slots: [(u32, u8, u32); MAX_SLOTS],
    n: usize,
}

impl Frame {
    /// A frame on stack `seg` starting at `esp`, written at privilege `cpl`;
    /// a push beyond the limit raises `fault`.
    pub fn new(seg: Segment, esp: u32, cpl: u8, fault: Exception) -> Frame {
        let sp = if seg.big() { esp } else { esp & 0xFFFF };
        Frame {
            seg,
            sp,
            start_esp: esp,
            cpl,
            fault,
            slots: [(0, 0, 0); MAX_SLOTS],
            n: 0,
        }
    }

    /// A frame on the current stack (SS:ESP, CPL), faulting with #SS(0).
    pub fn current(cpu: &Cpu) -> Frame {
        Frame::new(
            cpu.s.seg[SS],
            cpu.s.regs[crate::state::ESP],
            cpu.s.cpl,
            Exception::SS(0),
        )
    }

    /// Records a push of the low `size` (2 or 4) bytes of `v`.
    pub fn push(&mut self, v: u32, size: u8) -> Result<()> {
        let mut sp = self.sp.wrapping_sub(size as u32);
        if !self.seg.big() {
            sp &= 0xFFFF;
        }
        if self.seg.access & crate::state::SEG_WRITE == 0
            || !in_limit(&self.seg, sp, size as u32)
            || self.n == MAX_SLOTS
        {
            return Err(self.fault);
        }
        self.slots[self.n] = (self.seg.base.wrapping_add(sp), size, v);
        self.n += 1;
        self.sp = sp;
        Ok(())
    }

    /// The ESP value after the recorded pushes (a 16-bit stack keeps the
    /// upper half of the starting ESP).
    pub fn esp(&self) -> u32 {
        if self.seg.big() {
            self.sp
        } else {
            (self.start_esp & 0xFFFF_0000) | self.sp
        }
    }

    /// Probes and then writes every recorded push.
    pub fn commit(&self, cpu: &mut Cpu) -> Result<()> {
        let mut ctx = cpu.s.paging_ctx();
        ctx.cpl = self.cpl;
        for &(lin, size, _) in &self.slots[..self.n] {
            cpu.mmu.probe_write(&ctx, lin, size as u32)?;
        }
        for &(lin, size, v) in &self.slots[..self.n] {
            if size == 2 {
                cpu.mmu.write_u16(&ctx, lin, v as u16)?;
            } else {
                cpu.mmu.write_u32(&ctx, lin, v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{flat_seg, TestMachine};
    use crate::state::ESP;

    #[test]
    fn limits_and_expand_down() {
        let mut s = flat_seg(0x10, 0x93);
        s.limit = 0xFFF;
        assert!(in_limit(&s, 0xFFC, 4));
        assert!(!in_limit(&s, 0xFFD, 4));
        // Expand-down, 16-bit: valid offsets are limit+1 ..= 0xFFFF.
        s.attr = 0x97;
        s.attr &= !0x4000;
        assert!(!in_limit(&s, 0xFFF, 2));
        assert!(in_limit(&s, 0x1000, 2));
        assert!(!in_limit(&s, 0xFFFF, 2));
    }

    #[test]
    fn frame_is_all_or_nothing() {
        let mut m = TestMachine::flat32(&[0xF4]);
        let cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
        };
        let mut seg = flat_seg(0x10, 0x93);
        seg.limit = 0x1007;
        let mut f = Frame::new(seg, 0x1008, 0, Exception::SS(0x10));
        f.push(0x1111_2222, 4).unwrap();
        f.push(0x3333, 2).unwrap();
        assert_eq!(f.esp(), 0x1002);
        // The next push crosses below... still in limit (normal segment).
        f.push(0x4444, 2).unwrap();
        f.commit(&mut { cpu }).unwrap();
        assert_eq!(m.mmu.phys.read_u32(0x1004), 0x1111_2222);
        assert_eq!(m.mmu.phys.read_u16(0x1002), 0x3333);
        // A push past a 16-bit expand-down limit faults with the given code.
        let mut seg16 = flat_seg(0x10, 0x97);
        seg16.attr &= !0x4000;
        seg16.limit = 0x0FFF;
        let mut f = Frame::new(seg16, 0x1002, 0, Exception::SS(0x18));
        f.push(1, 2).unwrap();
        assert_eq!(f.push(2, 2), Err(Exception::SS(0x18)));
        assert_eq!(m.s.regs[ESP], crate::harness::STACK_TOP);
    }
}
