//! Page-table builders shared by the unit tests: a 4 MiB guest whose page
//! directory is at 0x1000 and whose page table for PDE `i` is at
//! 0x200000 + i * 0x1000 (so only small linear addresses can be mapped).

use crate::{Mmu, PagingCtx, PhysMem, CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, PAGE_MASK};

pub(crate) const PD: u32 = 0x1000;
pub(crate) const P: u32 = 1;
pub(crate) const RW: u32 = 2;
pub(crate) const US: u32 = 4;
pub(crate) const D: u32 = 1 << 6;
pub(crate) const G: u32 = 1 << 8;

/// Protected mode, paging, WP, PSE and PGE on, at the given CPL.
pub(crate) fn ctx(cpl: u8) -> PagingCtx {
    PagingCtx {
        cr0: CR0_PG | CR0_WP | 1,
        cr3: PD,
        cr4: CR4_PSE | CR4_PGE,
        cpl,
    }
}

pub(crate) fn mmu() -> Mmu {
    Mmu::new(PhysMem::new(4 << 20).unwrap())
}

/// Physical address of the PTE mapping `va`.
pub(crate) fn pte_addr(va: u32) -> u32 {
    0x20_0000 + (va >> 22) * 0x1000 + ((va >> 12) & 0x3FF) * 4
}

/// Maps the 4 KiB page at `va` to `pa` with PTE flag `bits` (the PDE
/// allows everything).
pub(crate) fn map(m: &mut Mmu, va: u32, pa: u32, bits: u32) {
    let pt = 0x20_0000 + (va >> 22) * 0x1000;
    m.phys.write_u32(PD + (va >> 22) * 4, pt | P | RW | US);
    m.phys.write_u32(pte_addr(va), (pa & PAGE_MASK) | bits);
}
