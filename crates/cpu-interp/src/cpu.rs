//! The execution context handed to every instruction handler: the CPU
//! state, guest memory and the bus, plus the shared helpers handlers are
//! written with (segmented memory access with limit/type checks, operand
//! read/write, the stack).
//!
//! Segment checks here are the per-access ones (limit, expand-down,
//! readable/writable, null selector). Descriptor checks at load time live in
//! `sys::segment`. Alignment checking (#AC) is not modelled.

use iced_x86::{OpKind, Register};
use mmu::Mmu;

use crate::bus::Bus;
use crate::decode::Decoded;
use crate::exception::{Exception, Result};
use crate::state::*;

/// Everything a handler may touch.
pub struct Cpu<'a> {
    pub s: &'a mut CpuState,
    pub mmu: &'a mut Mmu,
    pub bus: &'a mut dyn Bus,
}

/// `exit_request` bit: a handler changed state the current block depends on.
pub const EXIT_BLOCK: u32 = 1;
/// `exit_request` bit: the machine asked the engine to return.
pub const EXIT_EXTERNAL: u32 = 2;

#[inline(always)]
fn seg_fault(seg: usize) -> Exception {
    if seg == SS {
        Exception::SS(0)
    } else {
        Exception::GP(0)
    }
}

impl Cpu<'_> {
    // ---- registers ----------------------------------------------------

    /// Reads a general-purpose or segment register named by iced.
    #[inline(always)]
    pub fn reg(&self, r: Register) -> u32 {
        let n = r as usize;
        if (Register::EAX as usize..=Register::EDI as usize).contains(&n) {
            self.s.regs[n - Register::EAX as usize]
        } else if (Register::AX as usize..=Register::DI as usize).contains(&n) {
            self.s.regs[n - Register::AX as usize] & 0xFFFF
        } else if (Register::AL as usize..=Register::BL as usize).contains(&n) {
            self.s.regs[n - Register::AL as usize] & 0xFF
        } else if (Register::AH as usize..=Register::BH as usize).contains(&n) {
            (self.s.regs[n - Register::AH as usize] >> 8) & 0xFF
        } else if (Register::ES as usize..=Register::GS as usize).contains(&n) {
            self.s.seg[n - Register::ES as usize].selector as u32
        } else {
            0
        }
    }

    /// Writes a general-purpose register named by iced (8/16-bit writes keep
    /// the other bits). Segment registers are loaded with `sys::segment`.
    #[inline(always)]
    pub fn set_reg(&mut self, r: Register, v: u32) {
        let n = r as usize;
        if (Register::EAX as usize..=Register::EDI as usize).contains(&n) {
            self.s.regs[n - Register::EAX as usize] = v;
        } else if (Register::AX as usize..=Register::DI as usize).contains(&n) {
            let x = &mut self.s.regs[n - Register::AX as usize];
            *x = (*x & 0xFFFF_0000) | (v & 0xFFFF);
        } else if (Register::AL as usize..=Register::BL as usize).contains(&n) {
            let x = &mut self.s.regs[n - Register::AL as usize];
            *x = (*x & !0xFF) | (v & 0xFF);
        } else if (Register::AH as usize..=Register::BH as usize).contains(&n) {
            let x = &mut self.s.regs[n - Register::AH as usize];
            *x = (*x & !0xFF00) | ((v & 0xFF) << 8);
        } else {
            log::warn!("set_reg on unsupported register {r:?}");
        }
    }

    /// Reads the low `size` bytes of GPR `i`.
    #[inline(always)]
    pub fn gpr(&self, i: usize, size: u8) -> u32 {
        match size {
            1 => {
                if i < 4 {
                    self.s.regs[i] & 0xFF
                } else {
                    (self.s.regs[i - 4] >> 8) & 0xFF
                }
            }
            2 => self.s.regs[i] & 0xFFFF,
            _ => self.s.regs[i],
        }
    }

    /// Writes the low `size` bytes of GPR `i` (byte registers numbered
    /// AL CL DL BL AH CH DH BH as in ModRM).
    #[inline(always)]
    pub fn set_gpr(&mut self, i: usize, size: u8, v: u32) {
        match size {
            1 => {
                if i < 4 {
                    self.s.regs[i] = (self.s.regs[i] & !0xFF) | (v & 0xFF);
                } else {
                    self.s.regs[i - 4] = (self.s.regs[i - 4] & !0xFF00) | ((v & 0xFF) << 8);
                }
            }
            2 => self.s.regs[i] = (self.s.regs[i] & 0xFFFF_0000) | (v & 0xFFFF),
            _ => self.s.regs[i] = v,
        }
    }

    /// Writes a counter/index register of address size `addr32` (ECX/CX, ESI/SI...).
    #[inline(always)]
    pub fn set_addr_reg(&mut self, i: usize, addr32: bool, v: u32) {
        if addr32 {
            self.s.regs[i] = v;
        } else {
            self.s.regs[i] = (self.s.regs[i] & 0xFFFF_0000) | (v & 0xFFFF);
        }
    }

    #[inline(always)]
    pub fn addr_reg(&self, i: usize, addr32: bool) -> u32 {
        if addr32 {
            self.s.regs[i]
        } else {
            self.s.regs[i] & 0xFFFF
        }
    }

    // ---- segmented memory ---------------------------------------------

    /// Checks an access of `size` bytes at `seg:off` and returns the linear
    /// address. Faults: #GP(0), or #SS(0) for the stack segment.
    #[inline(always)]
    pub fn linear(&self, seg: usize, off: u32, size: u32, write: bool) -> Result<u32> {
        let sc = &self.s.seg[seg];
        let need = if write { SEG_WRITE } else { SEG_READ };
        if sc.access & need == 0 {
            return Err(seg_fault(seg));
        }
        let last = off.wrapping_add(size - 1);
        if !sc.expand_down() {
            if last < off || last > sc.limit {
                return Err(seg_fault(seg));
            }
        } else {
            let upper = if sc.big() { u32::MAX } else { 0xFFFF };
            if off <= sc.limit || last > upper || last < off {
                return Err(seg_fault(seg));
            }
        }
        Ok(sc.base.wrapping_add(off))
    }

    #[inline(always)]
    pub fn read_lin(&mut self, lin: u32, size: u8) -> Result<u32> {
        match self.mmu.try_read(self.s.cpl == 3, lin, size) {
            Some(v) => Ok(v),
            None => self.read_lin_slow(lin, size),
        }
    }

    #[inline(never)]
    fn read_lin_slow(&mut self, lin: u32, size: u8) -> Result<u32> {
        let ctx = self.s.paging_ctx();
        Ok(match size {
            1 => self.mmu.read_u8(&ctx, lin)? as u32,
            2 => self.mmu.read_u16(&ctx, lin)? as u32,
            _ => self.mmu.read_u32(&ctx, lin)?,
        })
    }

    #[inline(always)]
    pub fn write_lin(&mut self, lin: u32, size: u8, v: u32) -> Result<()> {
        if self.mmu.try_write(self.s.cpl == 3, lin, size, v) {
            return Ok(());
        }
        self.write_lin_slow(lin, size, v)
    }

    #[inline(never)]
    fn write_lin_slow(&mut self, lin: u32, size: u8, v: u32) -> Result<()> {
        let ctx = self.s.paging_ctx();
        match size {
            1 => self.mmu.write_u8(&ctx, lin, v as u8)?,
            2 => self.mmu.write_u16(&ctx, lin, v as u16)?,
            _ => self.mmu.write_u32(&ctx, lin, v)?,
        }
        Ok(())
    }

    /// Supervisor (CPL 0) linear read, for implicit accesses to the GDT,
    /// LDT, IDT and TSS.
    pub fn read_sys(&mut self, lin: u32, size: u8) -> Result<u32> {
        let mut ctx = self.s.paging_ctx();
        ctx.cpl = 0;
        Ok(match size {
            1 => self.mmu.read_u8(&ctx, lin)? as u32,
            2 => self.mmu.read_u16(&ctx, lin)? as u32,
            _ => self.mmu.read_u32(&ctx, lin)?,
        })
    }

    /// Supervisor (CPL 0) linear write (descriptor accessed/busy bits, TSS).
    pub fn write_sys(&mut self, lin: u32, size: u8, v: u32) -> Result<()> {
        let mut ctx = self.s.paging_ctx();
        ctx.cpl = 0;
        match size {
            1 => self.mmu.write_u8(&ctx, lin, v as u8)?,
            2 => self.mmu.write_u16(&ctx, lin, v as u16)?,
            _ => self.mmu.write_u32(&ctx, lin, v)?,
        }
        Ok(())
    }

    #[inline(always)]
    pub fn read(&mut self, seg: usize, off: u32, size: u8) -> Result<u32> {
        let lin = self.linear(seg, off, size as u32, false)?;
        self.read_lin(lin, size)
    }

    #[inline(always)]
    pub fn write(&mut self, seg: usize, off: u32, size: u8, v: u32) -> Result<()> {
        let lin = self.linear(seg, off, size as u32, true)?;
        self.write_lin(lin, size, v)
    }

    pub fn read_u64(&mut self, seg: usize, off: u32) -> Result<u64> {
        let lin = self.linear(seg, off, 8, false)?;
        let ctx = self.s.paging_ctx();
        Ok(self.mmu.read_u64(&ctx, lin)?)
    }

    pub fn write_u64(&mut self, seg: usize, off: u32, v: u64) -> Result<()> {
        let lin = self.linear(seg, off, 8, true)?;
        let ctx = self.s.paging_ctx();
        Ok(self.mmu.write_u64(&ctx, lin, v)?)
    }

    /// Checks that `len` bytes at `seg:off` could be written, without writing.
    pub fn probe_write(&mut self, seg: usize, off: u32, len: u32) -> Result<()> {
        let lin = self.linear(seg, off, len, true)?;
        let ctx = self.s.paging_ctx();
        Ok(self.mmu.probe_write(&ctx, lin, len)?)
    }

    // ---- operands -----------------------------------------------------

    /// Effective address (offset within the segment) of the memory operand.
    #[inline(always)]
    pub fn ea(&self, d: &Decoded) -> u32 {
        let m = &d.mem;
        let mut a = m.disp;
        if m.base != NO_REG {
            a = a.wrapping_add(self.s.regs[m.base as usize]);
        }
        if m.index != NO_REG {
            a = a.wrapping_add(self.s.regs[m.index as usize] << m.scale);
        }
        if d.addr32 {
            a
        } else {
            a & 0xFFFF
        }
    }

    /// Reads operand `n`: a register, the memory operand (at its own size)
    /// or an immediate (sign-extended as the encoding says).
    #[inline(always)]
    pub fn read_op(&mut self, d: &Decoded, n: u32) -> Result<u32> {
        match d.ins.op_kind(n) {
            OpKind::Register => Ok(self.reg(d.ins.op_register(n))),
            OpKind::Memory => {
                let off = self.ea(d);
                self.read(d.mem.seg as usize, off, d.msize)
            }
            _ => Ok(d.ins.immediate(n) as u32),
        }
    }

    /// Writes operand `n` (register or memory).
    #[inline(always)]
    pub fn write_op(&mut self, d: &Decoded, n: u32, v: u32) -> Result<()> {
        match d.ins.op_kind(n) {
            OpKind::Register => {
                self.set_reg(d.ins.op_register(n), v);
                Ok(())
            }
            OpKind::Memory => {
                let off = self.ea(d);
                self.write(d.mem.seg as usize, off, d.msize, v)
            }
            k => {
                log::warn!("write to operand kind {k:?}");
                Err(Exception::UD)
            }
        }
    }

    // ---- stack --------------------------------------------------------

    #[inline(always)]
    pub fn sp(&self) -> u32 {
        if self.s.stack32() {
            self.s.regs[ESP]
        } else {
            self.s.regs[ESP] & 0xFFFF
        }
    }

    #[inline(always)]
    pub fn set_sp(&mut self, v: u32) {
        if self.s.stack32() {
            self.s.regs[ESP] = v;
        } else {
            self.s.regs[ESP] = (self.s.regs[ESP] & 0xFFFF_0000) | (v & 0xFFFF);
        }
    }

    /// Pushes `size` (2 or 4) bytes. ESP is only updated if the write succeeds.
    #[inline(always)]
    pub fn push(&mut self, v: u32, size: u8) -> Result<()> {
        let mut sp = self.sp().wrapping_sub(size as u32);
        if !self.s.stack32() {
            sp &= 0xFFFF;
        }
        self.write(SS, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Pops `size` (2 or 4) bytes. ESP is only updated if the read succeeds.
    #[inline(always)]
    pub fn pop(&mut self, size: u8) -> Result<u32> {
        let sp = self.sp();
        let v = self.read(SS, sp, size)?;
        self.set_sp(sp.wrapping_add(size as u32));
        Ok(v)
    }

    /// Reads the stack `depth` bytes above the current top without popping.
    pub fn peek(&mut self, depth: u32, size: u8) -> Result<u32> {
        let mut off = self.sp().wrapping_add(depth);
        if !self.s.stack32() {
            off &= 0xFFFF;
        }
        self.read(SS, off, size)
    }

    /// Asks the engine to leave the current decoded block after this
    /// instruction (mode, CS, paging or IF changed).
    #[inline(always)]
    pub fn end_block(&mut self) {
        self.s.exit_request |= EXIT_BLOCK;
    }

    /// Sets EIP for a control transfer within the current code segment,
    /// checking the CS limit (#GP(0) if beyond).
    #[inline(always)]
    pub fn jump_near(&mut self, target: u32) -> Result<()> {
        if target > self.s.seg[CS].limit {
            return Err(Exception::GP(0));
        }
        self.s.eip = target;
        Ok(())
    }
}

/// Marker for "no register" in `MemOperand`.
pub const NO_REG: u8 = 0xFF;

/// The memory operand of an instruction, pre-digested at decode time.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemOperand {
    /// Segment index (ES..GS) after overrides and defaults.
    pub seg: u8,
    /// GPR index or `NO_REG`.
    pub base: u8,
    pub index: u8,
    /// log2 of the scale.
    pub scale: u8,
    pub disp: u32,
}
