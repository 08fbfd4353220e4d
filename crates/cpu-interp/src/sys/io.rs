//! Port I/O: IN/OUT (INS/OUTS are in the string family) and the protected-
//! mode I/O permission check (IOPL, then the TSS I/O bitmap).

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::EDX;

/// #GP(0) unless the current privilege may access `size` bytes at `port`.
pub fn check_io(cpu: &mut Cpu, port: u16, size: u8) -> Result<()> {
    if !cpu.s.protected_mode() || (!cpu.s.v86() && cpu.s.cpl <= cpu.s.iopl()) {
        return Ok(());
    }
    // Consult the I/O bitmap of a 32-bit TSS.
    let tr = cpu.s.tr;
    let typ = tr.attr & 0xF;
    if (typ != 9 && typ != 11) || tr.limit < 0x67 {
        return Err(Exception::GP(0));
    }
    let map = cpu.read_sys(tr.base.wrapping_add(0x66), 2)?;
    let off = map + (port as u32 >> 3);
    if off + 1 > tr.limit {
        return Err(Exception::GP(0));
    }
    let bits = cpu.read_sys(tr.base.wrapping_add(off), 2)?;
    let mask = ((1u32 << size) - 1) << (port & 7);
    if bits & mask != 0 {
        return Err(Exception::GP(0));
    }
    Ok(())
}

fn port_of(cpu: &Cpu, d: &Decoded, n: u32) -> u16 {
    match d.ins.op_kind(n) {
        iced_x86::OpKind::Register => cpu.s.regs[EDX] as u16,
        _ => d.ins.immediate(n) as u16,
    }
}

/// IN AL/AX/EAX, imm8 or DX
fn in_acc(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let port = port_of(cpu, d, 1);
    let size = d.width;
    check_io(cpu, port, size)?;
    let v = cpu.bus.io_read(port, size);
    cpu.set_gpr(0, size, v);
    Ok(())
}

/// OUT imm8 or DX, AL/AX/EAX
fn out_acc(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let port = port_of(cpu, d, 0);
    let size = d.ins.op1_register().size() as u8;
    check_io(cpu, port, size)?;
    let v = cpu.gpr(0, size);
    cpu.bus.io_write(port, size, v);
    // A port write may change what the CPU sees (A20, interrupts): leave
    // the block so the engine re-checks.
    cpu.end_block();
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(
        &[
            In_AL_imm8,
            In_AX_imm8,
            In_EAX_imm8,
            In_AL_DX,
            In_AX_DX,
            In_EAX_DX,
        ],
        in_acc,
    );
    t.set_all(
        &[
            Out_imm8_AL,
            Out_imm8_AX,
            Out_imm8_EAX,
            Out_DX_AL,
            Out_DX_AX,
            Out_DX_EAX,
        ],
        out_acc,
    );
}
