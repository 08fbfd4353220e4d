//! HLT, CPUID, RDTSC, WAIT (until the x87 family overrides it), BOUND,
//! PAUSE and the prefetch hints (no-ops: there is no cache to warm). UD2
//! and every unregistered opcode raise #UD through the dispatch default.

use iced_x86::Code;

use super::sext;
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
    let t = cpu.bus.read_tsc(cpu.s.icount, cpu.s.tsc_offset);
    cpu.s.regs[EAX] = t as u32;
    cpu.s.regs[EDX] = (t >> 32) as u32;
    Ok(())
}

/// BOUND r, m16&16 / m32&32: #BR unless lower <= r <= upper (signed).
fn bound(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = d.width;
    let idx = sext(cpu.read_op(d, 0)?, size) as i32;
    let seg = d.mem.seg as usize;
    let off = cpu.ea(d);
    let mut hi_off = off.wrapping_add(size as u32);
    if !d.addr32 {
        hi_off &= 0xFFFF;
    }
    let lo = sext(cpu.read(seg, off, size)?, size) as i32;
    let hi = sext(cpu.read(seg, hi_off, size)?, size) as i32;
    if idx < lo || idx > hi {
        return Err(Exception::BR);
    }
    Ok(())
}

fn nop(_cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
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
    t.set_all(&[Bound_r16_m1616, Bound_r32_m3232], bound);
    t.set_all(
        &[
            Pause,
            Prefetchnta_m8,
            Prefetcht0_m8,
            Prefetcht1_m8,
            Prefetcht2_m8,
        ],
        nop,
    );
}
