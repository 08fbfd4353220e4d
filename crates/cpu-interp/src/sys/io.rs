//! Port I/O: IN/OUT (INS/OUTS are in the string family) and the protected-
//! mode I/O permission check (IOPL, then the TSS I/O bitmap; V86 mode
//! always consults the bitmap). A 16-bit TSS has no bitmap: #GP(0).

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
    cpu.bus.sync_memory(cpu.mmu);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::TestMachine;
    use crate::state::{fl, Segment};

    /// A machine at `cpl` with a 32-bit TSS at 0x3000 whose I/O bitmap
    /// covers ports 0..0x3FF and denies 0x3F9 and 0x60.
    fn machine(cpl: u8, iopl: u32) -> TestMachine {
        let mut m = TestMachine::flat32(&[0xF4]);
        m.s.cpl = cpl;
        m.s.eflags |= iopl << 12;
        m.s.tr = Segment {
            selector: 0x28,
            attr: 0x8B,
            base: 0x3000,
            limit: 0x68 + 0x80,
            access: 0,
        };
        m.mmu.phys.write_u16(0x3066, 0x68);
        m.mmu.phys.write_u8(0x3068 + 0x3F9 / 8, 1 << (0x3F9 % 8));
        m.mmu.phys.write_u8(0x3068 + 0x60 / 8, 1);
        m
    }

    fn check(m: &mut TestMachine, port: u16, size: u8) -> Result<()> {
        let mut cpu = Cpu {
            s: &mut m.s,
            mmu: &mut m.mmu,
            bus: &mut m.bus,
        };
        check_io(&mut cpu, port, size)
    }

    #[test]
    fn iopl_allows_everything() {
        let mut m = machine(3, 3);
        assert_eq!(check(&mut m, 0x60, 1), Ok(()));
        let mut m = machine(0, 0);
        assert_eq!(check(&mut m, 0x3F9, 1), Ok(()));
    }

    #[test]
    fn bitmap_decides_when_cpl_above_iopl() {
        let mut m = machine(3, 0);
        assert_eq!(check(&mut m, 0x3F8, 1), Ok(()));
        assert_eq!(check(&mut m, 0x3F9, 1), Err(Exception::GP(0)));
        // A word access at 0x3F8 covers 0x3F9.
        assert_eq!(check(&mut m, 0x3F8, 2), Err(Exception::GP(0)));
        assert_eq!(check(&mut m, 0x3FA, 4), Ok(()));
        assert_eq!(check(&mut m, 0x60, 1), Err(Exception::GP(0)));
        // Ports past the end of the TSS limit are denied.
        assert_eq!(check(&mut m, 0x1000, 1), Err(Exception::GP(0)));
    }

    #[test]
    fn v86_ignores_iopl_and_uses_the_bitmap() {
        let mut m = machine(3, 3);
        m.s.eflags |= fl::VM;
        assert_eq!(check(&mut m, 0x61, 1), Ok(()));
        assert_eq!(check(&mut m, 0x60, 1), Err(Exception::GP(0)));
    }

    #[test]
    fn sixteen_bit_tss_has_no_bitmap() {
        let mut m = machine(3, 0);
        m.s.tr.attr = 0x83;
        assert_eq!(check(&mut m, 0x61, 1), Err(Exception::GP(0)));
    }
}
