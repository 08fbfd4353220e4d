//! Conditional data instructions: SETcc r/m8 and CMOVcc r, r/m.
//!
//! CMOVcc always reads its source (a memory source may fault even when the
//! condition is false) and writes the destination only when the condition
//! holds; in 16/32-bit mode there is no upper half to zero.

use iced_x86::ConditionCode;

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::{Handler, Table};
use crate::exception::Result;

/// SETcc r/m8, one instance per condition nibble.
fn setcc<const CC: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.s.cond(CC) as u32;
    cpu.write_op(d, 0, v)
}

/// CMOVcc r, r/m, one instance per condition nibble.
fn cmovcc<const CC: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.read_op(d, 1)?;
    if cpu.s.cond(CC) {
        cpu.write_op(d, 0, v)?;
    }
    Ok(())
}

macro_rules! per_cc {
    ($f:ident) => {
        [
            $f::<0>, $f::<1>, $f::<2>, $f::<3>, $f::<4>, $f::<5>, $f::<6>, $f::<7>, $f::<8>,
            $f::<9>, $f::<10>, $f::<11>, $f::<12>, $f::<13>, $f::<14>, $f::<15>,
        ]
    };
}

pub fn register(t: &mut Table) {
    use iced_x86::Mnemonic as M;
    const SET: [Handler; 16] = per_cc!(setcc);
    const CMOV: [Handler; 16] = per_cc!(cmovcc);
    for code in crate::dispatch::legacy_codes() {
        if code.condition_code() == ConditionCode::None {
            continue;
        }
        let cc = (code.condition_code() as u8 - 1) as usize & 15;
        let h: Handler = match code.mnemonic() {
            M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg => SET[cc],
            M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg => CMOV[cc],
            _ => continue,
        };
        t.set(code, h);
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::{asm32, TestMachine, CODE_BASE, DATA_BASE};
    use crate::state::*;
    use iced_x86::code_asm::*;

    #[test]
    fn setcc_follows_lazy_flags() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.xor(edx, edx).unwrap();
            a.mov(eax, 0x7FFF_FFFFu32).unwrap();
            a.add(eax, 1).unwrap(); // OF SF
            a.seto(bl).unwrap();
            a.setge(bh).unwrap();
            a.setle(byte_ptr(DATA_BASE)).unwrap();
            a.cmovo(ecx, eax).unwrap();
            a.cmovno(edx, eax).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.run();
        // OF = SF = 1: O and GE hold, LE does not.
        assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x0101);
        assert_eq!(m.mmu.phys.read_u8(DATA_BASE), 0);
        assert_eq!((m.s.regs[ECX], m.s.regs[EDX]), (0x8000_0000, 0));
    }
}
