//! The segment-register instructions: MOV Sreg, MOV r/m from Sreg, PUSH and
//! POP Sreg, and LDS/LES/LSS/LFS/LGS. The descriptor checks are in
//! `sys::segment`; CS is never loaded here (MOV CS is #UD).

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::segment::load_seg;

fn sreg_of(d: &Decoded, n: u32) -> usize {
    crate::decode::seg_index(d.ins.op_register(n)) as usize
}

/// MOV Sreg, r/m16
fn mov_sreg_rm16(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let seg = sreg_of(d, 0);
    if seg == CS {
        return Err(Exception::UD);
    }
    let v = cpu.read_op(d, 1)? as u16;
    load_seg(cpu, seg, v)?;
    if seg == SS {
        cpu.s.int_shadow = true;
    }
    Ok(())
}

/// MOV r/m, Sreg (a 32-bit register destination gets the zero-extended selector)
fn mov_rm_sreg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.s.seg[sreg_of(d, 1)].selector as u32;
    cpu.write_op(d, 0, v)
}

/// PUSH Sreg
fn push_sreg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.s.seg[sreg_of(d, 0)].selector as u32;
    let size = (-d.ins.stack_pointer_increment()) as u8;
    // A 32-bit push of a segment register writes only the low word on
    // P6-class CPUs; the upper half of the slot keeps its old contents.
    if size == 4 {
        let sp = cpu.sp().wrapping_sub(4);
        let sp = if cpu.s.stack32() { sp } else { sp & 0xFFFF };
        cpu.linear(SS, sp, 4, true)?;
        cpu.write(SS, sp, 2, v)?;
        cpu.set_sp(sp);
        Ok(())
    } else {
        cpu.push(v, 2)
    }
}

/// POP Sreg
fn pop_sreg(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let seg = sreg_of(d, 0);
    let size = d.ins.stack_pointer_increment() as u8;
    let v = cpu.peek(0, 2)? as u16;
    load_seg(cpu, seg, v)?;
    let sp = cpu.sp().wrapping_add(size as u32);
    cpu.set_sp(sp);
    if seg == SS {
        cpu.s.int_shadow = true;
    }
    Ok(())
}

/// LDS/LES/LSS/LFS/LGS r, m16:16/m16:32
fn load_far_pointer(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let seg = match d.ins.mnemonic() {
        iced_x86::Mnemonic::Lds => DS,
        iced_x86::Mnemonic::Les => ES,
        iced_x86::Mnemonic::Lss => SS,
        iced_x86::Mnemonic::Lfs => FS,
        _ => GS,
    };
    let off_size = d.width;
    let ea = cpu.ea(d);
    let mseg = d.mem.seg as usize;
    let off = cpu.read(mseg, ea, off_size)?;
    let sel = cpu.read(mseg, ea.wrapping_add(off_size as u32), 2)? as u16;
    load_seg(cpu, seg, sel)?;
    cpu.set_reg(d.ins.op0_register(), off);
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set_all(&[Mov_Sreg_rm16, Mov_Sreg_r32m16], mov_sreg_rm16);
    t.set_all(&[Mov_rm16_Sreg, Mov_r32m16_Sreg], mov_rm_sreg);
    t.set_all(
        &[
            Pushw_ES, Pushd_ES, Pushw_CS, Pushd_CS, Pushw_SS, Pushd_SS, Pushw_DS, Pushd_DS,
            Pushw_FS, Pushd_FS, Pushw_GS, Pushd_GS,
        ],
        push_sreg,
    );
    t.set_all(
        &[
            Popw_ES, Popd_ES, Popw_SS, Popd_SS, Popw_DS, Popd_DS, Popw_FS, Popd_FS, Popw_GS,
            Popd_GS,
        ],
        pop_sreg,
    );
    t.set_all(
        &[
            Lds_r16_m1616,
            Lds_r32_m1632,
            Les_r16_m1616,
            Les_r32_m1632,
            Lss_r16_m1616,
            Lss_r32_m1632,
            Lfs_r16_m1616,
            Lfs_r32_m1632,
            Lgs_r16_m1616,
            Lgs_r32_m1632,
        ],
        load_far_pointer,
    );
}

#[cfg(test)]
mod tests {
    use crate::harness::*;
    use crate::state::*;
    use iced_x86::code_asm::*;

    #[test]
    fn pop_ss_and_lds_in_real_mode() {
        let code = asm16(0, |a| {
            a.push(0x1234u32).unwrap();
            a.pop(es).unwrap();
            a.mov(word_ptr(0x20), 0x5678u32).unwrap();
            a.mov(word_ptr(0x22), 0x4000u32).unwrap();
            a.lds(si, ptr(0x20)).unwrap();
            a.mov(ax, ds).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        m.run();
        assert_eq!(m.s.seg[ES].base, 0x12340);
        assert_eq!(m.s.seg[DS].selector, 0x4000);
        assert_eq!(m.s.regs[ESI] & 0xFFFF, 0x5678);
        assert_eq!(m.s.regs[EAX] & 0xFFFF, 0x4000);
    }

    #[test]
    fn mov_ss_faults_leave_register() {
        // Loading SS with a ring-3 selector at CPL 0 faults; with no IDT
        // entry the CPU shuts down, and SS is unchanged.
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(eax, 0x23u32).unwrap();
            a.mov(ss, ax).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.s.idtr.limit = 0;
        assert_eq!(m.run(), crate::Stop::Shutdown);
        assert_eq!(m.s.seg[SS].selector, 0x10);
    }
}
