//! The stack: PUSH/POP of registers, memory and immediates, PUSHA/POPA,
//! PUSHF/POPF with the IOPL and VM rules, ENTER (with nesting levels) and
//! LEAVE. Segment-register pushes and pops are in `sys::segment`.

use iced_x86::{Code, Mnemonic};

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

fn stack_size(d: &Decoded) -> u8 {
    d.ins.stack_pointer_increment().unsigned_abs() as u8
}

/// PUSH r/m, r, imm
fn push(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.read_op(d, 0)?;
    cpu.push(v, stack_size(d))
}

/// POP r/m, r. ESP is incremented before a memory destination's address is
/// computed, as the SDM specifies.
fn pop(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = stack_size(d);
    let v = cpu.peek(0, size)?;
    let old = cpu.s.regs[ESP];
    let sp = cpu.sp().wrapping_add(size as u32);
    cpu.set_sp(sp);
    if let Err(e) = cpu.write_op(d, 0, v) {
        cpu.s.regs[ESP] = old;
        return Err(e);
    }
    Ok(())
}

/// PUSHA / PUSHAD
fn pusha(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size: u8 = if d.op32 { 4 } else { 2 };
    let total = 8 * size as u32;
    let start = cpu.sp();
    let low = start.wrapping_sub(total);
    let low = if cpu.s.stack32() { low } else { low & 0xFFFF };
    cpu.linear(SS, low, total, true)?;
    let ctx = cpu.s.paging_ctx();
    let lin = cpu.s.seg[SS].base.wrapping_add(low);
    cpu.mmu.probe_write(&ctx, lin, total)?;
    let regs = cpu.s.regs;
    for (i, &r) in regs.iter().enumerate() {
        let v = if i == ESP { start } else { r };
        cpu.push(v, size)?;
    }
    Ok(())
}

/// POPA / POPAD (the stored ESP is skipped)
fn popa(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size: u8 = if d.op32 { 4 } else { 2 };
    let mut vals = [0u32; 8];
    for (i, v) in vals.iter_mut().enumerate() {
        *v = cpu.peek((7 - i as u32) * size as u32, size)?;
    }
    for (i, &v) in vals.iter().enumerate() {
        if i != ESP {
            cpu.set_gpr(i, size, v);
        }
    }
    let sp = cpu.sp().wrapping_add(8 * size as u32);
    cpu.set_sp(sp);
    Ok(())
}

/// PUSHF / PUSHFD. In V86 mode with IOPL < 3: #GP(0). The image has VM
/// and RF clear.
fn pushf(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    if cpu.s.v86() && cpu.s.iopl() < 3 {
        return Err(Exception::GP(0));
    }
    let v = cpu.s.get_eflags() & !(fl::VM | fl::RF);
    cpu.push(v, stack_size(d))
}

/// Applies a POPF/IRET-style EFLAGS image with the privilege rules of POPF:
/// IOPL changes only at CPL 0, IF only when CPL <= IOPL; VM, VIF and VIP
/// never change; RF is cleared.
pub fn popf_value(cpu: &mut Cpu, v: u32, size: u8) -> Result<()> {
    let old = cpu.s.get_eflags();
    let mut changeable = fl::WRITABLE & !(fl::VM | fl::VIF | fl::VIP | fl::RF);
    if cpu.s.protected_mode() {
        if cpu.s.v86() {
            if cpu.s.iopl() < 3 {
                return Err(Exception::GP(0));
            }
            changeable &= !fl::IOPL;
        } else {
            if cpu.s.cpl > 0 {
                changeable &= !fl::IOPL;
            }
            if cpu.s.cpl > cpu.s.iopl() {
                changeable &= !fl::IF;
            }
        }
    }
    if size == 2 {
        changeable &= 0xFFFF;
    }
    let new = (old & !changeable) | (v & changeable);
    cpu.s.set_eflags_raw(new & !fl::RF);
    cpu.end_block();
    Ok(())
}

/// POPF / POPFD
fn popf(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size = stack_size(d);
    if cpu.s.v86() && cpu.s.iopl() < 3 {
        return Err(Exception::GP(0));
    }
    let v = cpu.peek(0, size)?;
    popf_value(cpu, v, size)?;
    let sp = cpu.sp().wrapping_add(size as u32);
    cpu.set_sp(sp);
    Ok(())
}

/// ENTER imm16, imm8
fn enter(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size: u8 = if d.op32 { 4 } else { 2 };
    let alloc = d.ins.immediate16() as u32;
    let level = (d.ins.immediate8_2nd() & 31) as u32;
    let s32 = cpu.s.stack32();
    let wrap = |v: u32| if s32 { v } else { v & 0xFFFF };
    // Check the whole frame is writable before changing anything.
    let frame_top = cpu.sp();
    let need = size as u32 * (1 + level) + alloc;
    let low = wrap(frame_top.wrapping_sub(need));
    if need > 0 {
        cpu.linear(SS, low, need.min(0x1_0000), true)?;
    }
    let saved_esp = cpu.s.regs[ESP];
    let saved_ebp = cpu.s.regs[EBP];
    let res = (|| -> Result<()> {
        let ebp = cpu.gpr(EBP, size);
        cpu.push(ebp, size)?;
        let frame = cpu.sp();
        if level > 0 {
            let mut bp = if s32 {
                cpu.s.regs[EBP]
            } else {
                cpu.s.regs[EBP] & 0xFFFF
            };
            for _ in 1..level {
                bp = wrap(bp.wrapping_sub(size as u32));
                let v = cpu.read(SS, bp, size)?;
                cpu.push(v, size)?;
            }
            cpu.push(frame, size)?;
        }
        cpu.set_gpr(EBP, size, frame);
        let sp = wrap(cpu.sp().wrapping_sub(alloc));
        cpu.set_sp(sp);
        Ok(())
    })();
    if let Err(e) = res {
        cpu.s.regs[ESP] = saved_esp;
        cpu.s.regs[EBP] = saved_ebp;
        return Err(e);
    }
    Ok(())
}

/// LEAVE: (E)SP = (E)BP; pop (E)BP
fn leave(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let size: u8 = if d.op32 { 4 } else { 2 };
    let bp = if cpu.s.stack32() {
        cpu.s.regs[EBP]
    } else {
        cpu.s.regs[EBP] & 0xFFFF
    };
    let v = cpu.read(SS, bp, size)?;
    cpu.set_sp(bp.wrapping_add(size as u32));
    cpu.set_gpr(EBP, size, v);
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    for code in crate::dispatch::legacy_codes() {
        let oc = code.op_code();
        let is_sreg =
            (0..oc.op_count()).any(|i| oc.op_kind(i) == iced_x86::OpCodeOperandKind::seg_reg);
        let h: crate::dispatch::Handler = match code.mnemonic() {
            Mnemonic::Push if !is_sreg => push,
            Mnemonic::Pop if !is_sreg => pop,
            _ => continue,
        };
        t.set(code, h);
    }
    t.set_all(&[Pushaw, Pushad], pusha);
    t.set_all(&[Popaw, Popad], popa);
    t.set_all(&[Pushfw, Pushfd], pushf);
    t.set_all(&[Popfw, Popfd], popf);
    t.set_all(&[Enterw_imm16_imm8, Enterd_imm16_imm8], enter);
    t.set_all(&[Leavew, Leaved], leave);
}
