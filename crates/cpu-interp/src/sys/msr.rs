//! RDMSR / WRMSR (CPL 0; #GP(0) for MSRs the CPU does not have).
//!
//! Implemented, coherent with CPUID (no APIC, no SEP, no MTRR/PAT bits):
//! the TSC (0x10, writes move `tsc_offset`), IA32_APIC_BASE (0x1B) reading
//! 0 — the local APIC is absent/globally disabled — with writes ignored,
//! the microcode signature pair Linux reads unconditionally on family 6
//! (IA32_PLATFORM_ID 0x17, BIOS_SIGN_ID 0x8B, BIOS_UPDT_TRIG 0x79 as
//! write-ignored), IA32_MISC_ENABLE (0x1A0, fast strings), and storage for
//! the SYSENTER MSRs, MTRR default type and PAT kept in `state::Msrs`.

use iced_x86::Code;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::*;

use super::require_cpl0;

pub const TSC: u32 = 0x10;
pub const PLATFORM_ID: u32 = 0x17;
pub const APIC_BASE: u32 = 0x1B;
pub const BIOS_UPDT_TRIG: u32 = 0x79;
pub const BIOS_SIGN_ID: u32 = 0x8B;
pub const SYSENTER_CS: u32 = 0x174;
pub const SYSENTER_ESP: u32 = 0x175;
pub const SYSENTER_EIP: u32 = 0x176;
pub const MISC_ENABLE: u32 = 0x1A0;
pub const PAT: u32 = 0x277;
pub const MTRR_DEF_TYPE: u32 = 0x2FF;

/// Reads MSR `idx`; `None` if it does not exist.
pub fn read_msr(s: &CpuState, idx: u32) -> Option<u64> {
    Some(match idx {
        TSC => s.tsc(),
        PLATFORM_ID | APIC_BASE | BIOS_SIGN_ID => 0,
        MISC_ENABLE => 1,
        SYSENTER_CS => s.msr.sysenter_cs as u64,
        SYSENTER_ESP => s.msr.sysenter_esp as u64,
        SYSENTER_EIP => s.msr.sysenter_eip as u64,
        PAT => s.msr.pat,
        MTRR_DEF_TYPE => s.msr.mtrr_def_type as u64,
        _ => return None,
    })
}

/// Writes MSR `idx`; `false` if it does not exist or the value is invalid.
pub fn write_msr(s: &mut CpuState, idx: u32, v: u64) -> bool {
    match idx {
        TSC => s.tsc_offset = v.wrapping_sub(s.icount),
        APIC_BASE | BIOS_UPDT_TRIG | BIOS_SIGN_ID | MISC_ENABLE => {}
        SYSENTER_CS => s.msr.sysenter_cs = v as u32,
        SYSENTER_ESP => s.msr.sysenter_esp = v as u32,
        SYSENTER_EIP => s.msr.sysenter_eip = v as u32,
        PAT => {
            // Each of the eight entries must be a valid memory type.
            if (0..8).any(|i| matches!((v >> (8 * i)) & 0xFF, 2 | 3 | 8..=255)) {
                return false;
            }
            s.msr.pat = v;
        }
        MTRR_DEF_TYPE => {
            if v & !0xCFF != 0 {
                return false;
            }
            s.msr.mtrr_def_type = v as u32;
        }
        _ => return false,
    }
    true
}

fn rdmsr(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    require_cpl0(cpu)?;
    let idx = cpu.s.regs[ECX];
    let v = if idx == TSC {
        cpu.bus.read_tsc(cpu.s.icount, cpu.s.tsc_offset)
    } else {
        let Some(v) = read_msr(cpu.s, idx) else {
            log::debug!("RDMSR of unknown MSR {idx:#x}");
            return Err(Exception::GP(0));
        };
        v
    };
    cpu.s.regs[EAX] = v as u32;
    cpu.s.regs[EDX] = (v >> 32) as u32;
    Ok(())
}

fn wrmsr(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    require_cpl0(cpu)?;
    let idx = cpu.s.regs[ECX];
    let v = ((cpu.s.regs[EDX] as u64) << 32) | cpu.s.regs[EAX] as u64;
    if !write_msr(cpu.s, idx, v) {
        log::debug!("WRMSR {idx:#x} <- {v:#x} refused");
        return Err(Exception::GP(0));
    }
    Ok(())
}

pub fn register(t: &mut Table) {
    t.set(Code::Rdmsr, rdmsr);
    t.set(Code::Wrmsr, wrmsr);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_write_moves_offset() {
        let mut s = CpuState::new();
        s.icount = 1000;
        assert!(write_msr(&mut s, TSC, 5000));
        s.icount = 1010;
        assert_eq!(read_msr(&s, TSC), Some(5010));
    }

    #[test]
    fn unknown_and_invalid() {
        let mut s = CpuState::new();
        assert_eq!(read_msr(&s, 0xC000_0080), None);
        assert!(!write_msr(&mut s, 0x1234, 0));
        assert!(!write_msr(&mut s, PAT, 0x02));
        assert!(write_msr(&mut s, PAT, 0x0007_0406_0007_0406));
        assert_eq!(read_msr(&s, PAT), Some(0x0007_0406_0007_0406));
        assert_eq!(read_msr(&s, APIC_BASE), Some(0));
    }
}
