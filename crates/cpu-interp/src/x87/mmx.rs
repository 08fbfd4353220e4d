//! MMX (the Pentium II set: MOVD/MOVQ, packed add/subtract with
//! wrap-around and saturation, compares, PMULLW/PMULHW/PMADDWD, logic,
//! shifts, packs and unpacks, EMMS). MM0-MM7 alias the significands of the
//! physical x87 registers R0-R7: every MMX instruction sets TOP to 0 and
//! tags all registers valid; a write also sets the register's sign and
//! exponent bits to all ones; EMMS tags them all empty. CR0.EM gives #UD,
//! CR0.TS #NM, a pending x87 exception #MF. The SSE additions to MMX
//! (PAVGB, PMAXSW, PSHUFW...) and SSE2's PADDQ/PSUBQ/PMULUDQ are not
//! implemented (#UD), matching the CPUID the emulator reports.

use iced_x86::{Code, OpKind, Register};

use super::env::ES;
use super::exec::{check_nm, pending};
use super::f80::F80;
use super::mmx_ops::op;
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::cr0;

/// Entry checks and the x87-state side effects of an MMX instruction.
fn enter(cpu: &mut Cpu) -> Result<()> {
    if cpu.s.cr0 & cr0::EM != 0 {
        return Err(Exception::UD);
    }
    check_nm(cpu)?;
    if cpu.s.fpu.status & ES != 0 {
        pending(cpu)?;
    }
    let f = &mut cpu.s.fpu;
    f.set_top(0);
    f.tag = 0;
    Ok(())
}

#[inline(always)]
fn mm_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::MM0 as usize) & 7
}

#[inline(always)]
fn mm(cpu: &Cpu, i: usize) -> u64 {
    cpu.s.fpu.regs[i].sig
}

#[inline(always)]
fn set_mm(cpu: &mut Cpu, i: usize, v: u64) {
    cpu.s.fpu.regs[i] = F80 { sig: v, se: 0xFFFF };
}

/// Operand `n` as a 64-bit MMX source (register or m64 / m32).
fn src(cpu: &mut Cpu, d: &Decoded, n: u32) -> Result<u64> {
    match d.ins.op_kind(n) {
        OpKind::Register => {
            let r = d.ins.op_register(n);
            if r.is_mm() {
                Ok(mm(cpu, mm_index(r)))
            } else {
                Ok(cpu.reg(r) as u64)
            }
        }
        OpKind::Memory => {
            let off = cpu.ea(d);
            if d.msize == 8 {
                cpu.read_u64(d.mem.seg as usize, off)
            } else {
                Ok(cpu.read(d.mem.seg as usize, off, 4)? as u64)
            }
        }
        _ => Ok(d.ins.immediate(n)),
    }
}

// ---- handlers -----------------------------------------------------------

/// mm = mm OP mm/m64 (or the shift forms' imm8 count).
fn binop<const ID: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    enter(cpu)?;
    let b = src(cpu, d, 1)?;
    let i = mm_index(d.ins.op_register(0));
    let r = op(ID, mm(cpu, i), b);
    set_mm(cpu, i, r);
    Ok(())
}

/// MOVD mm, r/m32 and MOVQ mm, mm/m64.
fn mov_to_mm(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    enter(cpu)?;
    let v = src(cpu, d, 1)?;
    let v = if d.ins.code() == Code::Movd_mm_rm32 {
        v & 0xFFFF_FFFF
    } else {
        v
    };
    set_mm(cpu, mm_index(d.ins.op_register(0)), v);
    Ok(())
}

/// MOVD r/m32, mm and MOVQ mm/m64, mm.
fn mov_from_mm(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    enter(cpu)?;
    let v = mm(cpu, mm_index(d.ins.op_register(1)));
    match d.ins.op_kind(0) {
        OpKind::Register => {
            let r = d.ins.op_register(0);
            if r.is_mm() {
                set_mm(cpu, mm_index(r), v);
            } else {
                cpu.set_reg(r, v as u32);
            }
        }
        _ => {
            let off = cpu.ea(d);
            if d.msize == 8 {
                cpu.write_u64(d.mem.seg as usize, off, v)?;
            } else {
                cpu.write(d.mem.seg as usize, off, 4, v as u32)?;
            }
        }
    }
    Ok(())
}

fn emms(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    enter(cpu)?;
    cpu.s.fpu.tag = 0xFFFF;
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Movd_mm_rm32, mov_to_mm);
    t.set(Movq_mm_mmm64, mov_to_mm);
    t.set(Movd_rm32_mm, mov_from_mm);
    t.set(Movq_mmm64_mm, mov_from_mm);
    t.set(Emms, emms);
    let ops: [(Code, crate::dispatch::Handler); 44] = [
        (Paddb_mm_mmm64, binop::<0>),
        (Paddw_mm_mmm64, binop::<1>),
        (Paddd_mm_mmm64, binop::<2>),
        (Paddsb_mm_mmm64, binop::<3>),
        (Paddsw_mm_mmm64, binop::<4>),
        (Paddusb_mm_mmm64, binop::<5>),
        (Paddusw_mm_mmm64, binop::<6>),
        (Psubb_mm_mmm64, binop::<7>),
        (Psubw_mm_mmm64, binop::<8>),
        (Psubd_mm_mmm64, binop::<9>),
        (Psubsb_mm_mmm64, binop::<10>),
        (Psubsw_mm_mmm64, binop::<11>),
        (Psubusb_mm_mmm64, binop::<12>),
        (Psubusw_mm_mmm64, binop::<13>),
        (Pcmpeqb_mm_mmm64, binop::<14>),
        (Pcmpeqw_mm_mmm64, binop::<15>),
        (Pcmpeqd_mm_mmm64, binop::<16>),
        (Pcmpgtb_mm_mmm64, binop::<17>),
        (Pcmpgtw_mm_mmm64, binop::<18>),
        (Pcmpgtd_mm_mmm64, binop::<19>),
        (Pmullw_mm_mmm64, binop::<20>),
        (Pmulhw_mm_mmm64, binop::<21>),
        (Pmaddwd_mm_mmm64, binop::<22>),
        (Pand_mm_mmm64, binop::<23>),
        (Pandn_mm_mmm64, binop::<24>),
        (Por_mm_mmm64, binop::<25>),
        (Pxor_mm_mmm64, binop::<26>),
        (Packsswb_mm_mmm64, binop::<27>),
        (Packssdw_mm_mmm64, binop::<28>),
        (Packuswb_mm_mmm64, binop::<29>),
        (Punpcklbw_mm_mmm32, binop::<30>),
        (Punpcklwd_mm_mmm32, binop::<31>),
        (Punpckldq_mm_mmm32, binop::<32>),
        (Punpckhbw_mm_mmm64, binop::<33>),
        (Punpckhwd_mm_mmm64, binop::<34>),
        (Punpckhdq_mm_mmm64, binop::<35>),
        (Psllw_mm_mmm64, binop::<36>),
        (Pslld_mm_mmm64, binop::<37>),
        (Psllq_mm_mmm64, binop::<38>),
        (Psrlw_mm_mmm64, binop::<39>),
        (Psrld_mm_mmm64, binop::<40>),
        (Psrlq_mm_mmm64, binop::<41>),
        (Psraw_mm_mmm64, binop::<42>),
        (Psrad_mm_mmm64, binop::<43>),
    ];
    for (c, h) in ops {
        t.set(c, h);
    }
    t.set(Psllw_mm_imm8, binop::<36>);
    t.set(Pslld_mm_imm8, binop::<37>);
    t.set(Psllq_mm_imm8, binop::<38>);
    t.set(Psrlw_mm_imm8, binop::<39>);
    t.set(Psrld_mm_imm8, binop::<40>);
    t.set(Psrlq_mm_imm8, binop::<41>);
    t.set(Psraw_mm_imm8, binop::<42>);
    t.set(Psrad_mm_imm8, binop::<43>);
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;
    use crate::x87::F80;
    use crate::Stop;
    use iced_x86::code_asm::*;

    #[test]
    fn mmx_aliases_x87_registers_and_emms_empties_them() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.fninit().unwrap();
            a.fld1().unwrap(); // R7 in use, TOP = 7
            a.movq(mm2, qword_ptr(DATA_BASE)).unwrap();
            a.paddw(mm2, qword_ptr(DATA_BASE + 8)).unwrap();
            a.movq(qword_ptr(DATA_BASE + 16), mm2).unwrap();
            a.movd(eax, mm2).unwrap();
            a.fnstsw(word_ptr(DATA_BASE + 24)).unwrap();
            a.fnstenv(ptr(DATA_BASE + 32)).unwrap();
            a.emms().unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_u64(DATA_BASE, 0x0001_0002_0003_FFFF);
        m.mmu.phys.write_u64(DATA_BASE + 8, 0x0001_0001_0001_0001);
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mmu.phys.read_u64(DATA_BASE + 16), 0x0002_0003_0004_0000);
        assert_eq!(m.s.regs[EAX], 0x0004_0000);
        assert_eq!(m.mmu.phys.read_u16(DATA_BASE + 24) & 0x3800, 0, "TOP = 0");
        let tw = m.mmu.phys.read_u16(DATA_BASE + 40);
        assert!(
            (0..8).all(|p| (tw >> (2 * p)) & 3 != 3),
            "no empty tags after MMX: {tw:#x}"
        );
        assert_eq!(
            m.s.fpu.regs[2],
            F80 {
                sig: 0x0002_0003_0004_0000,
                se: 0xFFFF
            }
        );
        assert_eq!(m.s.fpu.tag, 0xFFFF, "EMMS");
    }

    #[test]
    fn mmx_with_em_is_undefined() {
        let code = asm16(0, |a| {
            a.pxor(mm0, mm0).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        m.mmu.phys.write_u32(6 * 4, 0x1000_0100);
        let h = asm16(0x100, |a| {
            a.mov(word_ptr(0x20), 6u32).unwrap();
            a.hlt().unwrap();
        });
        m.mmu.phys.write_bytes(0x10100, &h);
        m.s.cr0 |= cr0::EM;
        m.run();
        assert_eq!(m.mmu.phys.read_u16(0x30020), 6);
    }
}
