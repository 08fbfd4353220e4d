//! Plumbing shared by the x87 instruction handlers: the #NM checks
//! (CR0.EM/TS), the pending-exception check of waiting instructions (#MF
//! with CR0.NE = 1; with NE = 0 the PC's FERR# -> IRQ13 path, raised when
//! the exception is recorded, after which the instruction proceeds as if
//! IGNNE# were asserted), folding an operation's flags into the status
//! word, stack faults, the instruction/data pointers, and memory operands
//! of the sizes the x87 uses.
//!
//! Not modelled: the last-opcode field (FOP) is left 0; the data pointer is
//! only updated by instructions with a memory operand.

use iced_x86::Register;

use super::env::{Ctx, C1, ES, EXC_MASK, IE, SF};
use super::f80::F80;
use super::state::SW_B;
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::exception::{Exception, Result};
use crate::state::{cr0, CS};

/// #NM if the x87 is emulated (EM) or its state belongs to another task (TS).
#[inline(always)]
pub fn check_nm(cpu: &Cpu) -> Result<()> {
    if cpu.s.cr0 & (cr0::EM | cr0::TS) != 0 {
        Err(Exception::NM)
    } else {
        Ok(())
    }
}

/// Entry of a waiting x87 instruction: #NM, then any pending unmasked
/// exception.
#[inline(always)]
pub fn begin(cpu: &mut Cpu) -> Result<()> {
    check_nm(cpu)?;
    if cpu.s.fpu.status & ES != 0 {
        pending(cpu)?;
    }
    Ok(())
}

/// A pending unmasked exception reached a waiting instruction.
pub fn pending(cpu: &mut Cpu) -> Result<()> {
    if cpu.s.cr0 & cr0::NE != 0 {
        Err(Exception::MF)
    } else {
        // FERR# was raised when the exception was recorded; the PC's IRQ13
        // handler is expected to clear it. Proceed (IGNNE# behaviour).
        Ok(())
    }
}

/// Recomputes ES and B from the flags and masks, driving FERR# on changes.
pub fn update_es(cpu: &mut Cpu) {
    let f = &mut cpu.s.fpu;
    let was = f.status & ES != 0;
    let now = f.status & !f.control & EXC_MASK != 0;
    if now {
        f.status |= ES | SW_B;
    } else {
        f.status &= !(ES | SW_B);
    }
    if now != was && cpu.s.cr0 & cr0::NE == 0 {
        cpu.bus.fpu_error(now);
    }
}

/// Folds an operation's result flags into the status word: exception flags
/// are sticky, C1 is replaced.
pub fn commit(cpu: &mut Cpu, ctx: &Ctx) {
    let f = &mut cpu.s.fpu;
    f.status = (f.status & !C1) | (ctx.flags & (EXC_MASK | SF | C1));
    if f.status & !f.control & EXC_MASK != 0 {
        update_es(cpu);
    }
}

/// A fresh context under the current control word.
#[inline(always)]
pub fn ctx(cpu: &Cpu) -> Ctx {
    Ctx::new(cpu.s.fpu.control)
}

/// Stack underflow (an empty source): IE|SF with C1 = 0. True if masked.
pub fn underflow(c: &mut Ctx) -> bool {
    c.raise(IE | SF);
    c.flags &= !C1;
    c.masked(IE)
}

/// Stack overflow (push onto a full register): IE|SF with C1 = 1.
pub fn overflow(c: &mut Ctx) -> bool {
    c.raise(IE | SF | C1);
    c.masked(IE)
}

/// Records FIP/FCS (and FDP/FDS for a memory operand) of a non-control
/// instruction.
pub fn note(cpu: &mut Cpu, d: &Decoded, mem: bool) {
    let cs = cpu.s.seg[CS].selector;
    let f = &mut cpu.s.fpu;
    f.fip = d.ins.ip32();
    f.fcs = cs;
    if mem {
        let off = cpu.ea(d);
        let sel = cpu.s.seg[d.mem.seg as usize].selector;
        let f = &mut cpu.s.fpu;
        f.fdp = off;
        f.fds = sel;
    }
}

/// The stack index named by operand `n` (ST(i)).
#[inline(always)]
pub fn sti(d: &Decoded, n: u32) -> usize {
    (d.ins.op_register(n) as usize).wrapping_sub(Register::ST0 as usize) & 7
}

/// Pushes `v`, or handles stack overflow (masked: pushes the indefinite).
/// Returns false if the instruction must stop (unmasked overflow).
pub fn push_checked(cpu: &mut Cpu, c: &mut Ctx, v: F80) -> bool {
    let f = &mut cpu.s.fpu;
    if !f.is_empty(7) {
        if !overflow(c) {
            return false;
        }
        f.push(F80::INDEFINITE);
        return true;
    }
    f.push(v);
    true
}

// ---- memory operands ---------------------------------------------------

pub fn read_m16(cpu: &mut Cpu, d: &Decoded) -> Result<u16> {
    let off = cpu.ea(d);
    Ok(cpu.read(d.mem.seg as usize, off, 2)? as u16)
}

pub fn read_m32(cpu: &mut Cpu, d: &Decoded) -> Result<u32> {
    let off = cpu.ea(d);
    cpu.read(d.mem.seg as usize, off, 4)
}

pub fn read_m64(cpu: &mut Cpu, d: &Decoded) -> Result<u64> {
    let off = cpu.ea(d);
    cpu.read_u64(d.mem.seg as usize, off)
}

pub fn read_m80(cpu: &mut Cpu, d: &Decoded) -> Result<[u8; 10]> {
    let off = cpu.ea(d);
    let seg = d.mem.seg as usize;
    let lo = cpu.read_u64(seg, off)?;
    let hi = cpu.read(seg, off.wrapping_add(8), 2)? as u16;
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&lo.to_le_bytes());
    b[8..].copy_from_slice(&hi.to_le_bytes());
    Ok(b)
}

pub fn write_m16(cpu: &mut Cpu, d: &Decoded, v: u16) -> Result<()> {
    let off = cpu.ea(d);
    cpu.write(d.mem.seg as usize, off, 2, v as u32)
}

pub fn write_m32(cpu: &mut Cpu, d: &Decoded, v: u32) -> Result<()> {
    let off = cpu.ea(d);
    cpu.write(d.mem.seg as usize, off, 4, v)
}

pub fn write_m64(cpu: &mut Cpu, d: &Decoded, v: u64) -> Result<()> {
    let off = cpu.ea(d);
    cpu.write_u64(d.mem.seg as usize, off, v)
}

pub fn write_m80(cpu: &mut Cpu, d: &Decoded, b: [u8; 10]) -> Result<()> {
    let off = cpu.ea(d);
    let seg = d.mem.seg as usize;
    cpu.probe_write(seg, off, 10)?;
    let mut lo = [0u8; 8];
    lo.copy_from_slice(&b[..8]);
    cpu.write_u64(seg, off, u64::from_le_bytes(lo))?;
    cpu.write(seg, off.wrapping_add(8), 2, u16::from_le_bytes([b[8], b[9]]) as u32)
}

/// Checks a store of the `len`-byte memory operand can complete, before
/// any x87 state changes.
pub fn probe_store(cpu: &mut Cpu, d: &Decoded, len: u32) -> Result<()> {
    let off = cpu.ea(d);
    cpu.probe_write(d.mem.seg as usize, off, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Bus;
    use crate::harness::*;
    use crate::state::*;
    use crate::Stop;
    use iced_x86::code_asm::*;

    /// A bus that records FERR# changes.
    #[derive(Default)]
    struct FerrBus {
        ferr: Vec<bool>,
    }

    impl Bus for FerrBus {
        fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
            0
        }
        fn io_write(&mut self, _port: u16, _size: u8, _val: u32) {}
        fn interrupt_pending(&mut self) -> bool {
            false
        }
        fn acknowledge_interrupt(&mut self) -> u8 {
            0
        }
        fn fpu_error(&mut self, asserted: bool) {
            self.ferr.push(asserted);
        }
    }

    /// Runs the single instruction at EIP of a flat machine on `bus`.
    fn exec1(m: &mut TestMachine, bus: &mut FerrBus, bytes: &[u8]) -> Result<()> {
        let mut dec = iced_x86::Decoder::with_ip(32, bytes, m.s.eip as u64, iced_x86::DecoderOptions::NONE);
        let ins = dec.decode();
        let d = Decoded::new(ins, true);
        m.s.eip = ins.next_ip32();
        let mut cpu = Cpu { s: &mut m.s, mmu: &mut m.mmu, bus };
        (d.handler)(&mut cpu, &d)
    }

    /// Real mode with an IVT entry for `vector` pointing at a handler that
    /// stores `vector` at DS:0x20 and halts.
    fn real_with_trap(code: &[u8], vector: u8) -> TestMachine {
        let mut m = TestMachine::real(code);
        m.mmu.phys.write_u32(vector as u32 * 4, 0x1000_0100);
        let h = asm16(0x100, |a| {
            a.mov(word_ptr(0x20), vector as u32).unwrap();
            a.hlt().unwrap();
        });
        m.mmu.phys.write_bytes(0x10100, &h);
        m
    }

    #[test]
    fn flat32_program_computes_and_stores() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.fninit().unwrap();
            a.fld1().unwrap();
            a.fld1().unwrap();
            a.faddp(st1, st0).unwrap();
            a.fld(dword_ptr(DATA_BASE)).unwrap();
            a.fmulp(st1, st0).unwrap();
            a.fst(qword_ptr(DATA_BASE + 8)).unwrap();
            a.fistp(dword_ptr(DATA_BASE + 16)).unwrap();
            a.fnstsw(ax).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_u32(DATA_BASE, 10.25f32.to_bits());
        assert_eq!(m.run(), Stop::Halted);
        let lo = m.mem32(DATA_BASE + 8) as u64 | (m.mem32(DATA_BASE + 12) as u64) << 32;
        assert_eq!(f64::from_bits(lo), 20.5);
        assert_eq!(m.mem32(DATA_BASE + 16), 20, "nearest even");
        assert_eq!(m.s.regs[EAX] & 0xFFFF, 0x0020, "PE only, TOP back to 0");
        assert!(m.s.fpu.is_empty(0));
    }

    #[test]
    fn ts_and_em_raise_nm() {
        let code = asm16(0, |a| {
            a.fld1().unwrap();
            a.hlt().unwrap();
        });
        let mut m = real_with_trap(&code, 7);
        m.s.cr0 |= cr0::TS;
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mmu.phys.read_u16(0x30020), 7);
        assert!(m.s.fpu.is_empty(0), "the faulting FLD1 did not run");

        let mut m = real_with_trap(&code, 7);
        m.s.cr0 |= cr0::EM;
        m.run();
        assert_eq!(m.mmu.phys.read_u16(0x30020), 7);
    }

    #[test]
    fn wait_raises_nm_only_with_mp_and_ts() {
        let code = asm16(0, |a| {
            a.fwait().unwrap();
            a.mov(word_ptr(0x22), 1u32).unwrap();
            a.hlt().unwrap();
        });
        let mut m = real_with_trap(&code, 7);
        m.s.cr0 |= cr0::TS;
        m.run();
        assert_eq!(m.mmu.phys.read_u16(0x30022), 1, "TS alone: WAIT runs");
        let mut m = real_with_trap(&code, 7);
        m.s.cr0 |= cr0::TS | cr0::MP;
        m.run();
        assert_eq!(m.mmu.phys.read_u16(0x30020), 7);
        assert_eq!(m.mmu.phys.read_u16(0x30022), 0);
    }

    #[test]
    fn unmasked_exception_raises_mf_at_next_waiting_instruction() {
        let code = asm16(0, |a| {
            a.fninit().unwrap();
            a.fldcw(word_ptr(0x40)).unwrap();
            a.fldz().unwrap();
            a.fld1().unwrap();
            a.fdiv_2(st0, st1).unwrap(); // 1/0, ZE unmasked: recorded
            a.fnstsw(word_ptr(0x42)).unwrap(); // no-wait: runs
            a.mov(word_ptr(0x44), 1u32).unwrap();
            a.fwait().unwrap(); // #MF
            a.mov(word_ptr(0x46), 1u32).unwrap();
            a.hlt().unwrap();
        });
        let mut m = real_with_trap(&code, 16);
        m.mmu.phys.write_u16(0x30040, 0x037B);
        m.s.cr0 |= cr0::NE;
        m.run();
        let sw = m.mmu.phys.read_u16(0x30042);
        assert_eq!(sw & 0x80FF, 0x8084, "ZE, ES and B");
        assert_eq!(m.mmu.phys.read_u16(0x30044), 1);
        assert_eq!(m.mmu.phys.read_u16(0x30020), 16);
        assert_eq!(m.mmu.phys.read_u16(0x30046), 0);
        assert_eq!(m.s.fpu.st(0), F80::ONE, "unmasked ZE left the destination alone");
    }

    #[test]
    fn ne_clear_uses_ferr_and_fnclex_releases_it() {
        let mut m = TestMachine::flat32(&[]);
        let mut bus = FerrBus::default();
        m.s.fpu.control = 0x037B;
        let fldz = [0xD9, 0xEE];
        let fld1 = [0xD9, 0xE8];
        let fdiv = [0xD8, 0xF1];
        let fwait = [0x9B];
        let fnclex = [0xDB, 0xE2];
        for b in [&fldz[..], &fld1, &fdiv] {
            exec1(&mut m, &mut bus, b).unwrap();
        }
        assert_eq!(bus.ferr, vec![true]);
        assert_eq!(exec1(&mut m, &mut bus, &fwait), Ok(()), "NE=0: no #MF");
        exec1(&mut m, &mut bus, &fnclex).unwrap();
        assert_eq!(bus.ferr, vec![true, false]);
        m.s.cr0 |= cr0::NE;
        exec1(&mut m, &mut bus, &fdiv).unwrap();
        assert_eq!(exec1(&mut m, &mut bus, &fwait), Err(Exception::MF));
        assert_eq!(bus.ferr, vec![true, false], "NE=1: FERR# is not used");
    }

    #[test]
    fn stack_overflow_and_underflow_masked_responses() {
        let mut m = TestMachine::flat32(&[]);
        let mut bus = FerrBus::default();
        let fld1 = [0xD9, 0xE8];
        for _ in 0..8 {
            exec1(&mut m, &mut bus, &fld1).unwrap();
        }
        assert_eq!(m.s.fpu.status & 0x7F, 0);
        exec1(&mut m, &mut bus, &fld1).unwrap();
        assert_eq!(m.s.fpu.status & 0x2FF, 0x241, "IE|SF with C1=1");
        assert_eq!(m.s.fpu.st(0), F80::INDEFINITE);
        let mut m = TestMachine::flat32(&[]);
        let fadd = [0xD8, 0xC1];
        exec1(&mut m, &mut bus, &fadd).unwrap();
        assert_eq!(m.s.fpu.status & 0x2FF, 0x041, "IE|SF with C1=0");
    }
}
