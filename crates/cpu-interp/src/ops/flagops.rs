//! Flag instructions: CLC, STC, CMC, CLD, STD, CLI, STI (with the IOPL
//! and V86 rules; no VME/PVI, which CPUID does not claim), LAHF, SAHF, SALC.

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

fn clc(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    cpu.s.set_flag(fl::CF, false);
    Ok(())
}
fn stc(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    cpu.s.set_flag(fl::CF, true);
    Ok(())
}
fn cmc(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    let c = cpu.s.cf();
    cpu.s.set_flag(fl::CF, !c);
    Ok(())
}
fn cld(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    cpu.s.eflags &= !fl::DF;
    Ok(())
}
fn std_(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    cpu.s.eflags |= fl::DF;
    Ok(())
}

/// IF may be changed by CLI/STI: real mode always, protected mode when
/// CPL <= IOPL, V86 mode when IOPL = 3.
fn if_allowed(cpu: &Cpu) -> bool {
    !cpu.s.protected_mode()
        || if cpu.s.v86() {
            cpu.s.iopl() == 3
        } else {
            cpu.s.cpl <= cpu.s.iopl()
        }
}

fn cli(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    if !if_allowed(cpu) {
        return Err(Exception::GP(0));
    }
    cpu.s.eflags &= !fl::IF;
    Ok(())
}

fn sti(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    if !if_allowed(cpu) {
        return Err(Exception::GP(0));
    }
    if cpu.s.eflags & fl::IF == 0 {
        cpu.s.eflags |= fl::IF;
        cpu.s.int_shadow = true;
        cpu.end_block();
    }
    Ok(())
}

/// LAHF: AH = SF:ZF:0:AF:0:PF:1:CF
fn lahf(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    let f = cpu.s.get_eflags() & 0xD7 | 2;
    cpu.set_gpr(4, 1, f);
    Ok(())
}

/// SAHF: SF ZF AF PF CF from AH
fn sahf(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    let ah = (cpu.s.regs[EAX] >> 8) & 0xD5;
    let f = (cpu.s.get_eflags() & !0xD5) | ah;
    cpu.s.set_eflags_raw(f);
    Ok(())
}

/// SALC (undocumented, present on P6): AL = CF ? 0xFF : 0
fn salc(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    let v = if cpu.s.cf() { 0xFF } else { 0 };
    cpu.set_gpr(EAX, 1, v);
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Clc, clc);
    t.set(Stc, stc);
    t.set(Cmc, cmc);
    t.set(Cld, cld);
    t.set(Std, std_);
    t.set(Cli, cli);
    t.set(Sti, sti);
    t.set(Lahf, lahf);
    t.set(Sahf, sahf);
    t.set(Salc, salc);
}
