//! Interrupt and exception delivery, INT n / INT3 / INTO / IRET, and the
//! double- and triple-fault rules.
//!
//! Real mode is handled here; protected-mode and V86 delivery (interrupt,
//! trap and task gates, stack switches) are in `sys::interrupt_pm`, the
//! protected-mode IRET in `sys::iret`. `single_step_trap` is the #DB
//! trap an engine raises after an instruction that began with TF = 1 (the
//! interpreter loop does not call it yet). Not modelled: VME/PVI (CPUID
//! does not claim them), debug-register breakpoints.

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

/// Whether a fault `second` raised while delivering `first` makes a double
/// fault (SDM Vol. 3, table 6-5).
fn is_double(first: &Exception, second: &Exception) -> bool {
    (first.is_contributory() && second.is_contributory())
        || (is_pf(first) && (second.is_contributory() || is_pf(second)))
}

/// The most delivery attempts one event may cause, counting the nested
/// ones of faults inside task switches (which deliver from within the
/// switch). Beyond it the CPU shuts down instead of looping.
const MAX_ATTEMPTS: u32 = 16;

/// Delivers an exception, escalating to #DF and to shutdown (triple fault)
/// by the SDM's rules when delivery itself faults.
pub fn deliver_exception(cpu: &mut Cpu, e: Exception) {
    // `fault_depth` counts attempts for the outermost event; nested calls
    // (from task switches) add to it and only the outermost resets it.
    let outermost = cpu.s.fault_depth == 0;
    deliver_chain(cpu, e);
    if outermost {
        cpu.s.fault_depth = 0;
        // An exception counts as one step of the virtual clock: a guest
        // whose handler faults again forever (legal, and what hardware
        // does) still uses up the engine's budget, so the machine keeps
        // servicing devices and time advances.
        cpu.s.icount = cpu.s.icount.wrapping_add(1);
    }
}

fn deliver_chain(cpu: &mut Cpu, e: Exception) {
    let mut cur = e;
    loop {
        cpu.s.fault_depth += 1;
        if cpu.s.fault_depth > MAX_ATTEMPTS || cpu.s.run_state == RunState::Shutdown {
            shutdown(cpu, "exceptions nested too deeply");
            return;
        }
        if let Exception::PF { addr, .. } = cur {
            cpu.s.cr2 = addr;
        }
        let src = if cur.is_trap() {
            Source::SoftwareException
        } else {
            Source::Exception(cur.error_code())
        };
        let Err(next) = deliver(cpu, cur.vector(), src) else {
            return;
        };
        if matches!(cur, Exception::DF) {
            shutdown(cpu, "triple fault");
            return;
        }
        // A fault while delivering: #DF for contributory/page-fault pairs,
        // else the new fault is delivered instead (benign chains end at
        // the attempt bound).
        cur = if is_double(&cur, &next) {
            Exception::DF
        } else {
            next
        };
    }
}

/// The single-step trap: the engine calls this after an instruction that
/// began with EFLAGS.TF = 1 (and did not itself fault or switch tasks);
/// EIP already points to the next instruction. Sets DR6.BS and delivers
/// #DB.
pub fn single_step_trap(cpu: &mut Cpu) {
    cpu.s.dr[6] |= 1 << 14;
    deliver_exception(cpu, Exception::DB);
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

/// IRET / IRETD in real mode; protected mode and V86 in `sys::iret`.
fn iret(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = if d.op32 { 4 } else { 2 };
    cpu.end_block();
    if cpu.s.protected_mode() {
        return super::iret::iret(cpu, size);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::TestMachine;

    #[test]
    fn double_fault_classes() {
        let gp = Exception::GP(0);
        let pf = Exception::PF { addr: 0, code: 0 };
        assert!(is_double(&gp, &Exception::NP(0)));
        assert!(is_double(&pf, &pf));
        assert!(is_double(&pf, &Exception::TS(0)));
        assert!(!is_double(&gp, &pf), "#PF during #GP delivery is serial");
        assert!(!is_double(&Exception::UD, &gp), "benign first");
    }

    #[test]
    fn real_mode_single_step_trap() {
        let mut m = TestMachine::real(&[0x90]);
        m.mmu.phys.write_u32(4, 0x2000_0010); // vector 1 -> 2000:0010
        m.s.eip = 0x0001;
        m.s.eflags |= fl::TF | fl::IF;
        let mut cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
        };
        single_step_trap(&mut cpu);
        assert_eq!(m.s.seg[CS].selector, 0x2000);
        assert_eq!(m.s.eip, 0x10);
        assert_ne!(m.s.dr[6] & (1 << 14), 0);
        assert_eq!(m.s.eflags & (fl::TF | fl::IF), 0);
        // FLAGS, CS, IP on the stack at 2000:FFF8.
        assert_eq!(m.mmu.phys.read_u16(0x2FFF8), 0x0001);
        assert_eq!(m.mmu.phys.read_u16(0x2FFFA), 0x1000);
        assert_ne!(m.mmu.phys.read_u16(0x2FFFC) as u32 & fl::TF, 0);
    }
}
