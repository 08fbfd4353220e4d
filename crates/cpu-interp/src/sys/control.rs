//! Control and debug registers: MOV to/from CR0/CR2/CR3/CR4 (with the
//! TLB flushes the mmu needs; CR4 reserved bits and invalid CR0
//! combinations are #GP(0), CR0/CR3 reserved bits are ignored as on the
//! P6), MOV DRn (DR4/5 alias DR6/7 unless CR4.DE, DR7.GD), CLTS, LMSW,
//! SMSW, INVD, WBINVD, INVLPG.
//!
//! CR4 accepts only what CPUID claims (DE, PSE, TSD, PGE, PCE, and OSFXSR
//! when FXSR is claimed). Not modelled: caches (INVD/WBINVD are no-ops),
//! breakpoint matching on DR0-3.

use iced_x86::{Code, Register};

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::require_cpl0;

/// CR0 bits software can set; ET is hardwired to 1 on the P6.
const CR0_WRITABLE: u32 = cr0::PE
    | cr0::MP
    | cr0::EM
    | cr0::TS
    | cr0::NE
    | cr0::WP
    | cr0::AM
    | cr0::NW
    | cr0::CD
    | cr0::PG;

/// The CR4 bits this CPU implements (coherent with CPUID leaf 1).
pub fn cr4_valid() -> u32 {
    let mut v = cr4::DE | cr4::PSE | cr4::TSD | cr4::PGE | cr4::PCE;
    if crate::cpuid::features_edx() & crate::cpuid::feat::FXSR != 0 {
        v |= cr4::OSFXSR;
    }
    v
}

/// Writes CR0 with its checks; flushes the TLB when PG, WP or PE change.
pub fn write_cr0(cpu: &mut Cpu, v: u32) -> Result<()> {
    let v = (v & CR0_WRITABLE) | cr0::ET;
    if v & cr0::PG != 0 && v & cr0::PE == 0 {
        return Err(Exception::GP(0));
    }
    if v & cr0::NW != 0 && v & cr0::CD == 0 {
        return Err(Exception::GP(0));
    }
    let old = cpu.s.cr0;
    cpu.s.cr0 = v;
    if (old ^ v) & (cr0::PG | cr0::WP | cr0::PE) != 0 {
        cpu.mmu.flush_all();
    }
    if v & cr0::PE == 0 {
        cpu.s.cpl = 0;
    }
    cpu.end_block();
    Ok(())
}

pub fn write_cr3(cpu: &mut Cpu, v: u32) {
    cpu.s.cr3 = v & 0xFFFF_F018;
    cpu.mmu.flush_non_global();
    cpu.end_block();
}

pub fn write_cr4(cpu: &mut Cpu, v: u32) -> Result<()> {
    if v & !cr4_valid() != 0 {
        return Err(Exception::GP(0));
    }
    let old = cpu.s.cr4;
    cpu.s.cr4 = v;
    if (old ^ v) & (cr4::PSE | cr4::PGE) != 0 {
        cpu.mmu.flush_all();
    }
    cpu.end_block();
    Ok(())
}

fn cr_index(r: Register) -> usize {
    r as usize - Register::CR0 as usize
}

/// MOV r32, CRn
fn mov_r32_cr(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = match cr_index(d.ins.op1_register()) {
        0 => cpu.s.cr0,
        2 => cpu.s.cr2,
        3 => cpu.s.cr3,
        4 => cpu.s.cr4,
        _ => return Err(Exception::UD),
    };
    require_cpl0(cpu)?;
    cpu.set_reg(d.ins.op0_register(), v);
    Ok(())
}

/// MOV CRn, r32
fn mov_cr_r32(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let n = cr_index(d.ins.op0_register());
    if !matches!(n, 0 | 2 | 3 | 4) {
        return Err(Exception::UD);
    }
    require_cpl0(cpu)?;
    let v = cpu.reg(d.ins.op1_register());
    match n {
        0 => write_cr0(cpu, v),
        2 => {
            cpu.s.cr2 = v;
            Ok(())
        }
        3 => {
            write_cr3(cpu, v);
            Ok(())
        }
        _ => write_cr4(cpu, v),
    }
}

/// The checks of MOV DRn: CPL 0, DR7.GD (#DB with DR6.BD), DR4/5 with
/// CR4.DE (#UD). Returns the register index with DR4/5 aliased to DR6/7.
fn dr_access(cpu: &mut Cpu, r: Register) -> Result<usize> {
    let n = r as usize - Register::DR0 as usize;
    if n > 7 {
        return Err(Exception::UD);
    }
    require_cpl0(cpu)?;
    if cpu.s.dr[7] & (1 << 13) != 0 {
        cpu.s.dr[7] &= !(1 << 13);
        cpu.s.dr[6] |= 1 << 13;
        return Err(Exception::DB);
    }
    match n {
        4 | 5 if cpu.s.cr4 & cr4::DE != 0 => Err(Exception::UD),
        4 | 5 => Ok(n + 2),
        _ => Ok(n),
    }
}

/// MOV r32, DRn
fn mov_r32_dr(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let n = dr_access(cpu, d.ins.op1_register())?;
    let v = cpu.s.dr[n];
    cpu.set_reg(d.ins.op0_register(), v);
    Ok(())
}

/// MOV DRn, r32
fn mov_dr_r32(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let n = dr_access(cpu, d.ins.op0_register())?;
    let v = cpu.reg(d.ins.op1_register());
    cpu.s.dr[n] = match n {
        6 => (v & 0x0000_E00F) | 0xFFFF_0FF0,
        7 => (v & 0xFFFF_23FF) | 0x400,
        _ => v,
    };
    // Enabling or moving a breakpoint changes how the engine must run
    // the next instruction (see `driver`).
    cpu.end_block();
    Ok(())
}

/// CLTS
fn clts(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    require_cpl0(cpu)?;
    cpu.s.cr0 &= !cr0::TS;
    Ok(())
}

/// LMSW r/m16: loads PE, MP, EM, TS; can set PE but never clears it.
fn lmsw(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_cpl0(cpu)?;
    let v = cpu.read_op(d, 0)? & 0xF;
    let old = cpu.s.cr0;
    let new = (old & !0xE) | (v & 0xE) | ((old | v) & cr0::PE);
    write_cr0(cpu, new)
}

/// SMSW r/m16, r32/m16: not privileged. A 32-bit register gets all of CR0.
fn smsw(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.s.cr0;
    cpu.write_op(d, 0, v)
}

/// INVD / WBINVD: privileged no-ops (no caches are modelled).
fn invd(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    require_cpl0(cpu)
}

/// INVLPG m: drops the TLB entry of the page holding the linear address.
fn invlpg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    require_cpl0(cpu)?;
    let lin = cpu.s.seg[d.mem.seg as usize].base.wrapping_add(cpu.ea(d));
    cpu.mmu.invlpg(lin);
    cpu.end_block();
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Mov_r32_cr, mov_r32_cr);
    t.set(Mov_cr_r32, mov_cr_r32);
    t.set(Mov_r32_dr, mov_r32_dr);
    t.set(Mov_dr_r32, mov_dr_r32);
    t.set(Clts, clts);
    t.set_all(&[Lmsw_rm16, Lmsw_r32m16], lmsw);
    t.set_all(&[Smsw_rm16, Smsw_r32m16], smsw);
    t.set_all(&[Invd, Wbinvd], invd);
    t.set(Invlpg_m, invlpg);
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;
    use crate::Stop;
    use iced_x86::code_asm::*;

    #[test]
    fn cr_writes_and_reads() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, cr0).unwrap();
            a.mov(dword_ptr(DATA_BASE), eax).unwrap();
            a.mov(eax, cr4::PSE | cr4::PGE).unwrap();
            a.mov(cr4, eax).unwrap();
            a.mov(eax, 0x1234_5FFFu32).unwrap();
            a.mov(cr3, eax).unwrap();
            a.mov(ebx, cr3).unwrap();
            a.mov(eax, 0xDEADu32).unwrap();
            a.mov(cr2, eax).unwrap();
            a.clts().unwrap();
            a.smsw(cx).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.s.cr0 |= cr0::TS;
        assert_eq!(m.run(), Stop::Halted);
        assert_ne!(m.mem32(DATA_BASE) & cr0::PE, 0);
        assert_eq!(m.s.cr4, cr4::PSE | cr4::PGE);
        assert_eq!(m.s.regs[EBX], 0x1234_5018);
        assert_eq!(m.s.cr2, 0xDEAD);
        assert_eq!(m.s.cr0 & cr0::TS, 0);
        assert_eq!(m.s.regs[ECX] & 0xFFFF, m.s.cr0 & 0xFFFF);
    }

    #[test]
    fn reserved_cr4_bit_faults() {
        // CR4.PAE is not implemented: #GP(0) -> no IDT -> shutdown.
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, 1u32 << 5).unwrap();
            a.mov(cr4, eax).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.s.idtr.limit = 0;
        assert_eq!(m.run(), Stop::Shutdown);
        assert_eq!(m.s.cr4, 0);
    }

    #[test]
    fn debug_register_aliases() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, 0xFFFF_FFFFu32).unwrap();
            a.mov(dr7, eax).unwrap();
            a.mov(dr0, eax).unwrap();
            a.mov(ebx, dr5).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.s.idtr.limit = 0;
        assert_eq!(
            m.run(),
            Stop::Shutdown,
            "GD set -> next MOV DR is #DB, no IDT"
        );
        assert_eq!(m.s.dr[7] & (1 << 13), 0);
        assert_ne!(m.s.dr[6] & (1 << 13), 0);
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, 0x0000_00FFu32).unwrap();
            a.mov(dr7, eax).unwrap();
            a.mov(ebx, dr5).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.s.regs[EBX], 0x4FF);
    }

    #[test]
    fn real_mode_lmsw_sets_pe() {
        let code = asm16(0, |a| {
            a.mov(ax, 1u32).unwrap();
            a.lmsw(ax).unwrap();
            a.smsw(bx).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.s.regs[EBX] & 1, 1);
        assert!(m.s.protected_mode());
    }
}
