//! Hardware breakpoints: DR0-DR3 with the enables, types and lengths of
//! DR7, reported in DR6 through #DB.
//!
//! - Instruction breakpoints (type 00) are faults: checked before an
//!   instruction at the linear address CS.base + EIP runs, unless
//!   EFLAGS.RF is set; RF is cleared once an instruction has been let
//!   through (an IRET or task switch that loads RF=1 keeps it for the next
//!   instruction).
//! - Data breakpoints (01 writes, 11 reads or writes) and, with CR4.DE,
//!   I/O breakpoints (10) are traps: after the instruction, #DB with the
//!   matching B0-B3 bits set in DR6 (together with BS if EFLAGS.TF also
//!   traps). The accesses of an instruction are taken from iced-x86's
//!   used-memory list evaluated with the registers before it runs; for a
//!   REP string instruction that is its first element.
//! - General detect (DR7.GD) lives with MOV DRn in `sys::control`.
//!
//! The engines run one instruction at a time through the interpreter while
//! any breakpoint is enabled ([`armed`]), so translated code never needs
//! to look. Not modelled: DR7.LE/GE (exact-breakpoint hints, no effect on
//! P6 and later), the TSS T bit, breakpoints on the individual iterations
//! of REP string instructions after the first.

use iced_x86::{InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register};

use crate::decode::Decoded;
use crate::state::{cr4, CpuState, EDX};

/// Whether any of DR0-DR3 is enabled (locally or globally) in DR7.
#[inline]
pub fn armed(s: &CpuState) -> bool {
    s.dr[7] & 0xFF != 0
}

/// Breakpoint type of DRn (DR7 R/Wn).
fn kind(s: &CpuState, n: usize) -> u32 {
    (s.dr[7] >> (16 + 4 * n)) & 3
}

/// Bytes covered by DRn (DR7 LENn: 1, 2, 8, 4).
fn len(s: &CpuState, n: usize) -> u32 {
    match (s.dr[7] >> (18 + 4 * n)) & 3 {
        0 => 1,
        1 => 2,
        2 => 8,
        _ => 4,
    }
}

fn enabled(s: &CpuState, n: usize) -> bool {
    s.dr[7] & (3 << (2 * n)) != 0
}

/// Whether `[addr, addr + size)` overlaps DRn's range (the breakpoint
/// address is aligned down to its length, as the hardware ignores the low
/// bits).
fn overlaps(s: &CpuState, n: usize, addr: u32, size: u32) -> bool {
    let l = len(s, n);
    let start = s.dr[n] & !(l - 1);
    let a = addr as u64;
    let b = start as u64;
    a < b + l as u64 && b < a + size.max(1) as u64
}

/// B0-B3 bits of the enabled instruction breakpoints at the instruction
/// CS:EIP is on.
pub fn instruction_hits(s: &CpuState) -> u32 {
    let lin = s.seg[crate::state::CS].base.wrapping_add(s.eip);
    (0..4)
        .filter(|&n| enabled(s, n) && kind(s, n) == 0 && s.dr[n] == lin)
        .fold(0, |m, n| m | 1 << n)
}

/// Whether any enabled breakpoint watches data or I/O (so an instruction's
/// accesses must be worked out).
pub fn watches_accesses(s: &CpuState) -> bool {
    (0..4).any(|n| enabled(s, n) && kind(s, n) != 0)
}

/// One access an instruction is about to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub addr: u32,
    pub size: u32,
    pub write: bool,
    pub io: bool,
}

/// The memory (linear addresses) and port accesses `d` will make, from the
/// registers as they are now.
pub fn accesses(s: &CpuState, d: &Decoded) -> Vec<Access> {
    let mut out = Vec::new();
    let mut factory = InstructionInfoFactory::new();
    let info = factory.info(&d.ins);
    for m in info.used_memory() {
        let write = match m.access() {
            OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite => true,
            OpAccess::ReadCondWrite => true,
            OpAccess::Read | OpAccess::CondRead => false,
            _ => continue,
        };
        let addr = m.virtual_address(0, |reg, _, _| register_value(s, reg));
        if let Some(addr) = addr {
            out.push(Access {
                addr: addr as u32,
                size: m.memory_size().size() as u32,
                write,
                io: false,
            });
        }
    }
    if let Some(a) = port_access(s, d) {
        out.push(a);
    }
    out
}

/// IN/OUT/INS/OUTS: the port and width.
fn port_access(s: &CpuState, d: &Decoded) -> Option<Access> {
    let ins = &d.ins;
    let (write, port_op) = match ins.mnemonic() {
        Mnemonic::In => (false, 1),
        Mnemonic::Out => (true, 0),
        Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd => (false, usize::MAX),
        Mnemonic::Outsb | Mnemonic::Outsw | Mnemonic::Outsd => (true, usize::MAX),
        _ => return None,
    };
    let port = if port_op == usize::MAX || ins.op_kind(port_op as u32) == OpKind::Register {
        s.regs[EDX] & 0xFFFF
    } else {
        ins.immediate8() as u32
    };
    let size = match ins.mnemonic() {
        Mnemonic::Insb | Mnemonic::Outsb => 1,
        Mnemonic::Insw | Mnemonic::Outsw => 2,
        Mnemonic::Insd | Mnemonic::Outsd => 4,
        _ => {
            let data = if port_op == 1 { 0 } else { 1 };
            ins.op_register(data).size() as u32
        }
    };
    Some(Access {
        addr: port,
        size,
        write,
        io: true,
    })
}

/// A register's value for iced's address evaluation; segment registers
/// stand for their base.
fn register_value(s: &CpuState, reg: Register) -> Option<u64> {
    use crate::state::{CS, DS, ES, FS, GS, SS};
    let seg = match reg {
        Register::ES => Some(ES),
        Register::CS => Some(CS),
        Register::SS => Some(SS),
        Register::DS => Some(DS),
        Register::FS => Some(FS),
        Register::GS => Some(GS),
        _ => None,
    };
    if let Some(i) = seg {
        return Some(s.seg[i].base as u64);
    }
    let full = reg.full_register32();
    if !full.is_gpr32() {
        return None;
    }
    let v = s.regs[full.number()];
    // Addresses only use 32/16-bit registers and AL (XLAT).
    Some(match reg.size() {
        1 => (v & 0xFF) as u64,
        2 => (v & 0xFFFF) as u64,
        _ => v as u64,
    })
}

/// B0-B3 bits of the enabled data and I/O breakpoints the accesses hit.
pub fn access_hits(s: &CpuState, accesses: &[Access]) -> u32 {
    let io_enabled = s.cr4 & cr4::DE != 0;
    let mut hits = 0;
    for n in 0..4 {
        if !enabled(s, n) {
            continue;
        }
        let k = kind(s, n);
        let hit = accesses.iter().any(|a| {
            let type_ok = match k {
                1 => !a.io && a.write,
                3 => !a.io,
                2 => a.io && io_enabled,
                _ => false,
            };
            type_ok && overlaps(s, n, a.addr, a.size)
        });
        if hit {
            hits |= 1 << n;
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(control: u32, dr: [u32; 4]) -> CpuState {
        let mut s = CpuState::default();
        s.dr[..4].copy_from_slice(&dr);
        s.dr[7] = control | 0x400;
        s
    }

    #[test]
    fn lengths_align_and_overlap() {
        // DR1: write, 4 bytes, at 0x1002 (aligned down to 0x1000).
        let s = state((1 << 2) | (0b1101 << 20), [0, 0x1002, 0, 0]);
        let w = |addr, size| Access {
            addr,
            size,
            write: true,
            io: false,
        };
        assert_eq!(access_hits(&s, &[w(0x1000, 1)]), 0b10);
        assert_eq!(access_hits(&s, &[w(0x0FFE, 4)]), 0b10);
        assert_eq!(access_hits(&s, &[w(0x1004, 4)]), 0);
        assert_eq!(access_hits(&s, &[w(0x0FFC, 4)]), 0);
        let r = Access {
            write: false,
            ..w(0x1000, 4)
        };
        assert_eq!(
            access_hits(&s, &[r]),
            0,
            "write-only breakpoint ignores reads"
        );
    }

    #[test]
    fn io_breakpoints_need_cr4_de() {
        // DR0: I/O, 1 byte, port 0x80, enabled globally.
        let mut s = state((1 << 1) | (0b0010 << 16), [0x80, 0, 0, 0]);
        let out = Access {
            addr: 0x80,
            size: 1,
            write: true,
            io: true,
        };
        assert_eq!(access_hits(&s, &[out]), 0);
        s.cr4 |= cr4::DE;
        assert_eq!(access_hits(&s, &[out]), 1);
    }

    #[test]
    fn disabled_breakpoints_never_hit() {
        let s = state(0b0011 << 16, [0x1000, 0, 0, 0]);
        assert!(!armed(&s));
        let a = Access {
            addr: 0x1000,
            size: 4,
            write: true,
            io: false,
        };
        assert_eq!(access_hits(&s, &[a]), 0);
    }

    use crate::harness::*;
    use crate::state::{fl, DescTable, EAX, ECX, ESP};
    use crate::Stop;
    use iced_x86::code_asm::*;

    /// Real mode: INT 1 (IVT entry 1) goes to 0x1000:0x0200.
    fn real_with_db_handler(code: &[u8], handler: &[u8]) -> TestMachine {
        let mut m = TestMachine::real(code);
        m.mmu.phys.write_u32(4, 0x1000_0200);
        m.mmu.phys.write_bytes(0x10200, handler);
        m
    }

    #[test]
    fn instruction_breakpoint_faults_before_the_instruction() {
        // Breakpoint on the `inc cx` at 0x1000:0009 (linear 0x10009).
        let code = asm16(0, |a| {
            a.mov(eax, 0x0000_0001u32).unwrap(); // L0, type 00 (execute)
            a.mov(dr7, eax).unwrap(); // 0006
            a.inc(cx).unwrap(); // 0009
            a.hlt().unwrap();
        });
        // Handler: save DR6 and the return IP, disarm, return.
        let handler = asm16(0x200, |a| {
            a.mov(eax, dr6).unwrap();
            a.mov(dword_ptr(0x10), eax).unwrap();
            a.mov(bp, sp).unwrap();
            a.mov(ax, word_ptr(bp)).unwrap();
            a.mov(word_ptr(0x14), ax).unwrap();
            a.xor(eax, eax).unwrap();
            a.mov(dr7, eax).unwrap();
            a.iret().unwrap();
        });
        let mut m = real_with_db_handler(&code, &handler);
        m.s.dr[0] = 0x10009;
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mem32(0x30010) & 0xF, 1, "DR6.B0");
        assert_eq!(m.mem32(0x30014) & 0xFFFF, 9, "fault: IP of the inc");
        assert_eq!(m.s.regs[ECX] & 0xFFFF, 1, "the inc ran once, after the #DB");
    }

    #[test]
    fn data_breakpoint_traps_after_the_write_only() {
        // DR1: writes of 2 bytes at DS:0x0100 (linear 0x30100).
        let code = asm16(0, |a| {
            a.mov(eax, (1u32 << 2) | (0b0101 << 20)).unwrap(); // L1, W, LEN 2
            a.mov(dr7, eax).unwrap();
            a.mov(ax, word_ptr(0x100)).unwrap(); // a read: no trap
            a.mov(word_ptr(0x101), ax).unwrap(); // overlaps: trap
            a.nop().unwrap(); // 000F
            a.mov(word_ptr(0x104), ax).unwrap(); // outside
            a.hlt().unwrap();
        });
        let handler = asm16(0x200, |a| {
            a.push(eax).unwrap();
            a.mov(eax, dr6).unwrap();
            a.mov(dword_ptr(0x10), eax).unwrap();
            a.mov(bp, sp).unwrap();
            a.mov(ax, word_ptr(bp + 4)).unwrap();
            a.mov(word_ptr(0x14), ax).unwrap();
            a.inc(word_ptr(0x16)).unwrap();
            a.pop(eax).unwrap();
            a.iret().unwrap();
        });
        let mut m = real_with_db_handler(&code, &handler);
        m.s.dr[1] = 0x30100;
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mem32(0x30016) & 0xFFFF, 1, "one #DB");
        assert_eq!(m.mem32(0x30010) & 0xF, 2, "DR6.B1");
        assert_eq!(m.mem32(0x30014) & 0xFFFF, 0x0F, "trap: IP after the store");
    }

    #[test]
    fn resume_flag_lets_the_instruction_run_once() {
        // Protected mode: the handler sets RF in the pushed EFLAGS, so the
        // breakpointed instruction in a 3-iteration loop hits 3 times and
        // the loop still completes.
        let code = asm32(CODE_BASE as u64, |a| {
            let mut top = a.create_label();
            a.mov(eax, 0x0000_0002u32).unwrap(); // G0, execute
            a.mov(dr7, eax).unwrap();
            a.mov(ecx, 3u32).unwrap();
            a.set_label(&mut top).unwrap();
            a.add(ebx, 1).unwrap(); // the breakpoint (CODE_BASE + 13)
            a.dec(ecx).unwrap();
            a.jnz(top).unwrap();
            a.hlt().unwrap();
        });
        let handler = asm32(CODE_BASE as u64 + 0x200, |a| {
            a.inc(dword_ptr(DATA_BASE)).unwrap();
            a.or(dword_ptr(esp + 8), fl::RF).unwrap();
            a.iretd().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_bytes(CODE_BASE + 0x200, &handler);
        let idt = 0x3000;
        let off = CODE_BASE + 0x200;
        m.mmu.phys.write_u32(idt + 8, (0x08 << 16) | (off & 0xFFFF));
        m.mmu.phys.write_u32(idt + 12, (off & 0xFFFF_0000) | 0x8E00);
        m.s.idtr = DescTable {
            base: idt,
            limit: 0x7FF,
        };
        m.s.dr[0] = CODE_BASE + 13;
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mem32(DATA_BASE), 3, "three hits");
        assert_eq!(m.s.regs[crate::state::EBX], 3, "and three adds");
        assert_eq!(m.s.regs[ESP], STACK_TOP);
        assert_eq!(m.s.eflags & fl::RF, 0, "RF cleared after the add ran");
        let _ = EAX;
    }

    #[test]
    fn single_step_and_data_hit_share_one_trap() {
        // TF and a write breakpoint on the same instruction: one #DB with
        // BS and B2 both set.
        let code = asm16(0, |a| {
            a.mov(eax, (1u32 << 4) | (0b0001 << 24)).unwrap(); // L2, W, LEN 1
            a.mov(dr7, eax).unwrap();
            a.pushf().unwrap();
            a.mov(bp, sp).unwrap();
            a.or(word_ptr(bp), 0x100).unwrap();
            a.popf().unwrap(); // TF on: traps after the next instruction
            a.mov(byte_ptr(0x200), al).unwrap();
            a.hlt().unwrap();
        });
        let handler = asm16(0x200, |a| {
            a.push(eax).unwrap();
            a.mov(eax, dr6).unwrap();
            a.mov(dword_ptr(0x10), eax).unwrap();
            a.xor(eax, eax).unwrap();
            a.mov(dr6, eax).unwrap();
            a.inc(word_ptr(0x16)).unwrap();
            a.mov(bp, sp).unwrap();
            a.and(word_ptr(bp + 8), 0xFEFF).unwrap(); // TF off in the image
            a.pop(eax).unwrap();
            a.iret().unwrap();
        });
        let mut m = real_with_db_handler(&code, &handler);
        m.s.dr[2] = 0x30200;
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.mem32(0x30016) & 0xFFFF, 1, "one #DB");
        assert_eq!(m.mem32(0x30010) & 0x400F, 0x4004, "BS and B2");
    }
}
