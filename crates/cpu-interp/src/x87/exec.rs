//! Plumbing shared by the x87 instruction handlers: the #NM checks
//! (CR0.EM/TS), the pending-exception check of waiting instructions (#MF
//! with CR0.NE = 1; with NE = 0 the PC's FERR# -> IRQ13 path, raised when
//! the exception is recorded, after which the instruction proceeds as if
//! IGNNE# were asserted), folding an operation's flags into the status
//! word, stack faults, the instruction/data pointers, and memory operands
//! of the sizes the x87 uses.
//!
//! The last-opcode field (FOP) is rebuilt from iced's opcode tables and the
//! memory operand's addressing form. The data pointer is only updated by
//! instructions with a memory operand.

use iced_x86::{OpKind, Register};

use super::env::{Ctx, C1, ES, EXC_MASK, IE, SF};
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

/// Is an unmasked exception pending (ES)?
#[inline(always)]
pub fn es(cpu: &Cpu) -> bool {
    cpu.s.fpu.status & ES != 0
}

/// Recomputes ES and B from the flags and masks, driving FERR# on changes.
pub fn update_es(cpu: &mut Cpu) {
    let was = es(cpu);
    update_es_from(cpu, was);
}

/// Like `update_es`, for callers that rewrote the status word and know
/// whether ES was set before.
pub fn update_es_from(cpu: &mut Cpu, was: bool) {
    let f = &mut cpu.s.fpu;
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

/// Commits `c` and ends the instruction (for early exits).
pub fn stop(cpu: &mut Cpu, c: &Ctx) -> Result<()> {
    commit(cpu, c);
    Ok(())
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

/// The ModRM mod/rm bits `d` was encoded with (register forms: 11 and the
/// ST(i) index).
fn modrm_bits(d: &Decoded, mem: bool) -> u8 {
    if mem {
        return mem_modrm(d) as u8;
    }
    let mut rm = 0;
    for n in 0..d.ins.op_count().min(2) {
        if d.ins.op_kind(n) == OpKind::Register && d.ins.op_register(n).is_st() {
            rm = rm.max(sti(d, n) as u8);
        }
    }
    0xC0 | rm
}

/// The 11-bit last-opcode value (FOP): the low three bits of the ESC byte
/// and the ModRM byte, rebuilt from iced's opcode tables.
pub fn last_opcode(f: &super::FpuState) -> u16 {
    let Ok(code) = iced_x86::Code::try_from(f.fop_code as usize) else {
        return f.opcode;
    };
    if f.fop_code == 0 {
        return f.opcode;
    }
    let oc = code.op_code();
    let op = oc.op_code();
    let bits = f.fop_modrm as u32;
    let (esc, modrm) = if oc.op_code_len() == 2 {
        (op >> 8, (op & 0xFF) + (bits & 7))
    } else {
        (op, bits | ((oc.group_index().max(0) as u32) << 3))
    };
    ((((esc & 7) << 8) | (modrm & 0xFF)) & 0x7FF) as u16
}

/// Materialises FOP into `opcode` (before an image is saved).
pub fn settle_opcode(f: &mut super::FpuState) {
    f.opcode = last_opcode(f);
    f.fop_code = 0;
}

/// The mod and rm fields the memory operand of `d` was encoded with.
fn mem_modrm(d: &Decoded) -> u32 {
    let ins = &d.ins;
    let (base, index) = (ins.memory_base(), ins.memory_index());
    let md = match ins.memory_displ_size() {
        0 => 0,
        1 => 1,
        _ => 2,
    };
    if d.addr32 {
        if base == Register::None {
            return if index == Register::None { 5 } else { 4 };
        }
        let rm = if index != Register::None || base == Register::ESP {
            4
        } else {
            base.number() as u32
        };
        (md << 6) | rm
    } else {
        use Register::*;
        let rm = match (base, index) {
            (BX, SI) => 0,
            (BX, DI) => 1,
            (BP, SI) => 2,
            (BP, DI) => 3,
            (SI, None) => 4,
            (DI, None) => 5,
            (BP, None) => 6,
            (BX, None) => 7,
            _ => return 6,
        };
        (md << 6) | rm
    }
}

/// Records FIP/FCS, FOP (and FDP/FDS for a memory operand) of a
/// non-control instruction.
pub fn note(cpu: &mut Cpu, d: &Decoded, mem: bool) {
    let cs = cpu.s.seg[CS].selector;
    let f = &mut cpu.s.fpu;
    f.fip = d.ins.ip32();
    f.fcs = cs;
    f.fop_code = d.ins.code() as u16;
    f.fop_modrm = modrm_bits(d, mem);
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
    cpu.write(
        seg,
        off.wrapping_add(8),
        2,
        u16::from_le_bytes([b[8], b[9]]) as u32,
    )
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
    use crate::x87::F80;
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
        let mut dec =
            iced_x86::Decoder::with_ip(32, bytes, m.s.eip as u64, iced_x86::DecoderOptions::NONE);
        let ins = dec.decode();
        let d = Decoded::new(ins, true);
        m.s.eip = ins.next_ip32();
        let mut cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus,
        };
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
            a.wait().unwrap();
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
            a.wait().unwrap(); // #MF
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
        assert_eq!(
            m.s.fpu.st(0),
            F80::ONE,
            "unmasked ZE left the destination alone"
        );
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

    fn fop_of(bytes: &[u8], bits: u32) -> u16 {
        let mut dec = iced_x86::Decoder::with_ip(bits, bytes, 0, iced_x86::DecoderOptions::NONE);
        let d = Decoded::new(dec.decode(), bits == 32);
        let f = crate::x87::FpuState {
            fop_code: d.ins.code() as u16,
            fop_modrm: modrm_bits(&d, d.ins.op_count() > 0 && d.msize > 0),
            ..Default::default()
        };
        last_opcode(&f)
    }

    #[test]
    fn last_opcode_is_rebuilt_from_the_encoding() {
        assert_eq!(fop_of(&[0xD9, 0xE8], 32), 0x1E8, "FLD1");
        assert_eq!(fop_of(&[0xD8, 0xC3], 32), 0x0C3, "FADD ST0,ST3");
        assert_eq!(fop_of(&[0xDE, 0xC1], 32), 0x6C1, "FADDP ST1,ST0");
        assert_eq!(fop_of(&[0xDC, 0xEA], 32), 0x4EA, "FSUB ST2,ST0");
        assert_eq!(fop_of(&[0xDE, 0xD9], 32), 0x6D9, "FCOMPP");
        assert_eq!(fop_of(&[0xD9, 0x40, 0x08], 32), 0x140, "FLD dword [eax+8]");
        assert_eq!(
            fop_of(&[0xDD, 0x84, 0xB3, 0, 0x10, 0, 0], 32),
            0x584,
            "FLD qword [ebx+esi*4+0x1000]"
        );
        assert_eq!(
            fop_of(&[0xDB, 0x2D, 0, 0, 1, 0], 32),
            0x32D,
            "FLD tbyte [disp32]"
        );
        assert_eq!(fop_of(&[0xDF, 0x47, 0x02], 16), 0x747, "FILD word [bx+2]");
        assert_eq!(
            fop_of(&[0xD8, 0x06, 0x34, 0x12], 16),
            0x006,
            "FADD dword [0x1234]"
        );
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
