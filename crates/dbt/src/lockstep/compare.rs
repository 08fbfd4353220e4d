//! Comparing the two sides of the lockstep engine: the complete
//! architectural CPU state, single RAM pages and all of RAM.
//!
//! Leaves out: the lazy-flag representation (EFLAGS are compared as
//! values), the engines' bookkeeping (`exit_request`, `fault_depth`, and
//! `int_shadow`, which an engine leaves set after the instruction that
//! follows MOV SS / STI until its loop looks at it) and padding.

use cpu_interp::state::{CpuState, CS, DS, SS};
use mmu::PhysMem;

/// One line of architectural state.
pub fn brief(s: &CpuState) -> String {
    format!(
        "eip={:08X} eflags={:08X} regs={:08X?} cs={:04X} ss={:04X} ds={:04X} icount={} run={:?} cr0={:08X}",
        s.eip,
        s.get_eflags(),
        s.regs,
        s.seg[CS].selector,
        s.seg[SS].selector,
        s.seg[DS].selector,
        s.icount,
        s.run_state,
        s.cr0
    )
}

/// Differences in the architectural state: GPRs, EIP, EFLAGS (as values),
/// segment caches, descriptor tables, control and debug registers, CPL,
/// run state, retired count, TSC offset, MSRs, x87/MMX.
pub fn diff_state(a: &CpuState, b: &CpuState) -> Option<String> {
    let mut d = Vec::new();
    if a.regs != b.regs {
        d.push(format!("regs {:08X?} vs {:08X?}", a.regs, b.regs));
    }
    if a.eip != b.eip {
        d.push(format!("eip {:08X} vs {:08X}", a.eip, b.eip));
    }
    if a.get_eflags() != b.get_eflags() {
        d.push(format!(
            "eflags {:08X} vs {:08X}",
            a.get_eflags(),
            b.get_eflags()
        ));
    }
    for (i, (x, y)) in a.seg.iter().zip(&b.seg).enumerate() {
        if x != y {
            d.push(format!("seg[{i}] {x:X?} vs {y:X?}"));
        }
    }
    if a.ldtr != b.ldtr || a.tr != b.tr {
        d.push(format!(
            "ldtr/tr {:X?} {:X?} vs {:X?} {:X?}",
            a.ldtr, a.tr, b.ldtr, b.tr
        ));
    }
    if a.gdtr != b.gdtr || a.idtr != b.idtr {
        d.push(format!(
            "gdtr/idtr {:X?} {:X?} vs {:X?} {:X?}",
            a.gdtr, a.idtr, b.gdtr, b.idtr
        ));
    }
    if (a.cr0, a.cr2, a.cr3, a.cr4, a.cpl) != (b.cr0, b.cr2, b.cr3, b.cr4, b.cpl) {
        d.push(format!(
            "cr0/2/3/4/cpl {:08X} {:08X} {:08X} {:08X} {} vs {:08X} {:08X} {:08X} {:08X} {}",
            a.cr0, a.cr2, a.cr3, a.cr4, a.cpl, b.cr0, b.cr2, b.cr3, b.cr4, b.cpl
        ));
    }
    if a.dr != b.dr {
        d.push(format!("dr {:08X?} vs {:08X?}", a.dr, b.dr));
    }
    if a.icount != b.icount {
        d.push(format!("icount {} vs {}", a.icount, b.icount));
    }
    if a.run_state != b.run_state {
        d.push(format!("run state {:?} vs {:?}", a.run_state, b.run_state));
    }
    if a.tsc_offset != b.tsc_offset {
        d.push(format!("tsc offset {} vs {}", a.tsc_offset, b.tsc_offset));
    }
    if a.msr != b.msr {
        d.push(format!("msr {:X?} vs {:X?}", a.msr, b.msr));
    }
    if a.fpu != b.fpu {
        d.push(format!("x87/MMX {:X?} vs {:X?}", a.fpu, b.fpu));
    }
    (!d.is_empty()).then(|| d.join("; "))
}

/// Guest RAM of `m` as a byte slice.
fn ram(m: &PhysMem) -> &[u8] {
    // SAFETY: `ram_base_ptr` is valid for `ram_size()` bytes for the life
    // of `m` (mmu's contract); the slice borrows `m`, and guest RAM is only
    // written by the emulation thread, which is running this comparison.
    unsafe { std::slice::from_raw_parts(m.ram_base_ptr(), m.ram_size() as usize) }
}

/// First differing address of two byte slices that start at `base`.
fn first_diff(x: &[u8], y: &[u8], base: u32) -> Option<u32> {
    if x == y {
        return None;
    }
    x.iter()
        .zip(y)
        .position(|(p, q)| p != q)
        .map(|i| base + i as u32)
}

/// First differing RAM address of two memories (raw RAM, the map aside).
pub fn diff_ram(a: &PhysMem, b: &PhysMem) -> Option<u32> {
    let n = a.ram_size().min(b.ram_size()) as usize;
    first_diff(&ram(a)[..n], &ram(b)[..n], 0)
}

/// First differing address inside the RAM page holding `paddr`.
pub fn diff_page(a: &PhysMem, b: &PhysMem, paddr: u32) -> Option<u32> {
    let page = (paddr & mmu::PAGE_MASK) as usize;
    let n = a.ram_size().min(b.ram_size()) as usize;
    if page >= n {
        return None;
    }
    let end = (page + mmu::PAGE_SIZE as usize).min(n);
    first_diff(&ram(a)[page..end], &ram(b)[page..end], page as u32)
}

/// The bytes around `addr` on both sides, for a report.
pub fn ram_context(a: &PhysMem, b: &PhysMem, addr: u32) -> String {
    let start = addr & !0xF;
    let n = a.ram_size().min(b.ram_size());
    let end = (start + 16).min(n);
    if start >= end {
        return String::new();
    }
    let (x, y) = (
        &ram(a)[start as usize..end as usize],
        &ram(b)[start as usize..end as usize],
    );
    format!("{start:08X}: {x:02X?}\n{start:08X}: {y:02X?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_differences_are_named() {
        let a = CpuState::new();
        let mut b = a.clone();
        assert!(diff_state(&a, &b).is_none());
        b.regs[3] = 7;
        b.eip = 1;
        b.fpu.control ^= 1;
        b.seg[SS].base = 0x10;
        let d = diff_state(&a, &b).unwrap();
        for w in ["regs", "eip", "x87", "seg[2]"] {
            assert!(d.contains(w), "{w}: {d}");
        }
    }

    #[test]
    fn ram_differences_are_found() {
        let mut a = PhysMem::new(1 << 20).unwrap();
        let b = PhysMem::new(1 << 20).unwrap();
        assert_eq!(diff_ram(&a, &b), None);
        a.write_u8(0x12345, 1);
        assert_eq!(diff_ram(&a, &b), Some(0x12345));
        assert_eq!(diff_page(&a, &b, 0x12000), Some(0x12345));
        assert_eq!(diff_page(&a, &b, 0x13000), None);
        assert_eq!(diff_page(&a, &b, 0xFFFF_F000), None, "beyond RAM");
        assert!(ram_context(&a, &b, 0x12345).contains("01"));
    }
}
