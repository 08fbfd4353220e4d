//! HLT, CPUID, RDTSC, WAIT (until the x87 family overrides it).

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

/// HLT: privileged (CPL 0; #GP in V86 mode).
fn hlt(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    if cpu.s.protected_mode() && (cpu.s.cpl != 0 || cpu.s.v86()) {
        return Err(Exception::GP(0));
    }
    cpu.s.run_state = RunState::Halted;
    cpu.end_block();
    Ok(())
}

fn cpuid(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    let (a, b, c, d) = crate::cpuid::cpuid(cpu.s.regs[EAX]);
    cpu.s.regs[EAX] = a;
    cpu.s.regs[EBX] = b;
    cpu.s.regs[ECX] = c;
    cpu.s.regs[EDX] = d;
    Ok(())
}

/// RDTSC: #GP(0) when CR4.TSD is set outside CPL 0.
fn rdtsc(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    if cpu.s.cr4 & cr4::TSD != 0 && cpu.s.protected_mode() && cpu.s.cpl != 0 {
        return Err(Exception::GP(0));
    }
    let t = cpu.s.tsc();
    cpu.s.regs[EAX] = t as u32;
    cpu.s.regs[EDX] = (t >> 32) as u32;
    Ok(())
}

fn wait(_cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Hlt, hlt);
    t.set(Cpuid, cpuid);
    t.set(Rdtsc, rdtsc);
    t.set(Wait, wait);
}
