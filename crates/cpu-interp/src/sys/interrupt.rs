//! Interrupt and exception delivery, INT n / INT3 / INTO / IRET, and the
//! double- and triple-fault rules.
//!
//! Real mode is handled here; protected-mode and V86 delivery (interrupt,
//! trap and task gates, stack switches) are in `sys::interrupt_pm`.

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

/// Where an interrupt comes from; decides privilege checks, error codes and
/// the return address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// INT n (and INT3/INTO, which differ only in V86 handling).
    Software,
    /// INT3 / INTO.
    SoftwareException,
    /// A CPU exception, with its error code if it has one.
    Exception(Option<u32>),
    /// The INTR line.
    External,
}

/// Delivers an interrupt through the IVT or IDT. EIP must already hold the
/// return address (the next instruction for software interrupts and traps,
/// the faulting instruction for faults).
pub fn deliver(cpu: &mut Cpu, vector: u8, src: Source) -> Result<()> {
    cpu.s.run_state = RunState::Running;
    cpu.end_block();
    if cpu.s.protected_mode() {
        return super::interrupt_pm::deliver(cpu, vector, src);
    }
    deliver_real(cpu, vector)
}

fn deliver_real(cpu: &mut Cpu, vector: u8) -> Result<()> {
    let off = vector as u32 * 4;
    if off + 3 > cpu.s.idtr.limit {
        return Err(Exception::GP(0));
    }
    let base = cpu.s.idtr.base;
    let ip = cpu.read_lin(base.wrapping_add(off), 2)?;
    let cs = cpu.read_lin(base.wrapping_add(off + 2), 2)? as u16;
    let flags = cpu.s.get_eflags();
    let ret_cs = cpu.s.seg[CS].selector as u32;
    let ret_ip = cpu.s.eip;
    // Check the stack can take all three words before writing any.
    let sp = cpu.sp().wrapping_sub(6) & 0xFFFF;
    cpu.linear(SS, sp, 6, true)?;
    cpu.push(flags, 2)?;
    cpu.push(ret_cs, 2)?;
    cpu.push(ret_ip, 2)?;
    cpu.s.eflags &= !(fl::IF | fl::TF | fl::AC | fl::RF);
    let sc = &mut cpu.s.seg[CS];
    sc.selector = cs;
    sc.base = (cs as u32) << 4;
    cpu.s.eip = ip;
    Ok(())
}

/// Delivers an external interrupt; a fault during delivery is handled like
/// any exception.
pub fn deliver_external(cpu: &mut Cpu, vector: u8) {
    if let Err(e) = deliver(cpu, vector, Source::External) {
        deliver_exception(cpu, e);
    }
}

fn is_pf(e: &Exception) -> bool {
    matches!(e, Exception::PF { .. })
}

/// Delivers an exception, escalating to #DF and to shutdown (triple fault)
/// by the SDM's rules when delivery itself faults.
pub fn deliver_exception(cpu: &mut Cpu, e: Exception) {
    if let Exception::PF { addr, .. } = e {
        cpu.s.cr2 = addr;
    }
    let src = if e.is_trap() {
        Source::SoftwareException
    } else {
        Source::Exception(e.error_code())
    };
    let Err(second) = deliver(cpu, e.vector(), src) else {
        return;
    };
    if let Exception::PF { addr, .. } = second {
        cpu.s.cr2 = addr;
    }
    let double = matches!(e, Exception::DF)
        || (e.is_contributory() && second.is_contributory())
        || (is_pf(&e) && (second.is_contributory() || is_pf(&second)));
    if matches!(e, Exception::DF) {
        shutdown(cpu, "triple fault");
        return;
    }
    let next = if double { Exception::DF } else { second };
    let src = Source::Exception(next.error_code());
    match deliver(cpu, next.vector(), src) {
        Ok(()) => {}
        Err(third) if !double => {
            // A benign fault while delivering a benign one: one more try,
            // then give up rather than recurse.
            if deliver(cpu, third.vector(), Source::Exception(third.error_code())).is_err() {
                shutdown(cpu, "triple fault");
            }
        }
        Err(_) => shutdown(cpu, "triple fault"),
    }
}

/// Enters the shutdown state; the machine resets.
pub fn shutdown(cpu: &mut Cpu, why: &str) {
    log::warn!(
        "CPU shutdown ({why}) at {:04x}:{:08x}",
        cpu.s.seg[CS].selector,
        cpu.s.eip
    );
    cpu.s.run_state = RunState::Shutdown;
    cpu.end_block();
}

/// INT imm8
fn int_imm8(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = d.ins.immediate8();
    if cpu.s.v86() && cpu.s.iopl() < 3 {
        // Without VME, INT n in V86 mode with IOPL < 3 goes to the monitor.
        return Err(Exception::GP(0));
    }
    deliver(cpu, v, Source::Software)
}

/// INT3
fn int3(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    deliver(cpu, 3, Source::SoftwareException)
}

/// INTO
fn into(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    if cpu.s.of() {
        deliver(cpu, 4, Source::SoftwareException)
    } else {
        Ok(())
    }
}

/// INT1 (ICEBP): a #DB trap.
fn int1(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    deliver(cpu, 1, Source::Exception(None))
}

/// IRET / IRETD in real mode; protected mode and V86 in `interrupt_pm`.
fn iret(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = if d.op32 { 4 } else { 2 };
    cpu.end_block();
    if cpu.s.protected_mode() {
        return super::interrupt_pm::iret(cpu, size);
    }
    let ip = cpu.peek(0, size)?;
    let cs = cpu.peek(size as u32, size)? as u16;
    let flags = cpu.peek(2 * size as u32, size)?;
    if ip > cpu.s.seg[CS].limit {
        return Err(Exception::GP(0));
    }
    let sp = cpu.sp().wrapping_add(3 * size as u32);
    cpu.set_sp(sp);
    let sc = &mut cpu.s.seg[CS];
    sc.selector = cs;
    sc.base = (cs as u32) << 4;
    cpu.s.eip = ip;
    let keep = if size == 4 {
        fl::VM | fl::VIF | fl::VIP
    } else {
        0xFFFF_0000
    };
    let new = (cpu.s.get_eflags() & keep) | (flags & !keep);
    cpu.s.set_eflags_raw(new);
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Int_imm8, int_imm8);
    t.set(Int3, int3);
    t.set(Into, into);
    t.set(Int1, int1);
    t.set_all(&[Iretw, Iretd], iret);
}
