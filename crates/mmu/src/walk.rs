//! The page walker: linear → physical for one access, with the SDM's
//! permission rules, accessed/dirty write-back and #PF error codes.
//!
//! Modes: paging off (identity) and 32-bit two-level paging with 4 KiB
//! pages, PSE 4 MiB pages (CR4.PSE + PDE.PS) and PGE global pages. The walk
//! dispatches on [`PagingMode`], so PAE becomes one more mode and one more
//! function without changing callers.
//!
//! Permissions (no SMEP/SMAP/NX): the effective R/W and U/S of a 4 KiB page
//! are the AND of the PDE's and PTE's bits. A user access (CPL 3) needs U/S
//! and, for writes, R/W. A supervisor read or fetch is always allowed; a
//! supervisor write needs R/W only when CR0.WP is set. Execute is checked
//! like read. Error code: P if the failing entry was present, W for writes,
//! U for CPL 3; RSVD and I/D are never set (no PAE/NX).
//!
//! A/D: on a successful walk the PDE's A bit, and the PTE's A bit (A and D
//! of the PDE for a 4 MiB page), are set; D only on writes. Nothing is
//! written on a fault. Entries are read and written through [`PhysMem`], so
//! tables outside RAM read all ones and their A/D writes are dropped.
//!
//! Leaves out: PAE, PSE-36 (PDE bits 13..21 ignored), reserved-bit checks,
//! and caching-attribute bits.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::{
    Access, PageFault, PagingCtx, PhysMem, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, PF_P, PF_U,
    PF_W,
};

const P: u32 = 1 << 0;
const RW: u32 = 1 << 1;
const US: u32 = 1 << 2;
const A: u32 = 1 << 5;
const D: u32 = 1 << 6;
const PS: u32 = 1 << 7;
const G: u32 = 1 << 8;

/// Result of a successful walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the accessed byte (before the A20 mask).
    pub paddr: u32,
    /// Effective R/W (both levels allow writes).
    pub writable: bool,
    /// Effective U/S (both levels allow user access).
    pub user: bool,
    /// Global page (G set and CR4.PGE on): kept by `flush_non_global`.
    pub global: bool,
    /// Mapped by a 4 MiB page.
    pub large: bool,
    /// The leaf entry's D bit is set (after this walk); identity maps are
    /// always dirty. A TLB entry made from a clean translation must send
    /// writes back to the walker.
    pub dirty: bool,
}

/// Which translation scheme CR0/CR4 select.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PagingMode {
    Off,
    Legacy32,
}

fn paging_mode(ctx: &PagingCtx) -> PagingMode {
    if ctx.cr0 & CR0_PG == 0 {
        PagingMode::Off
    } else {
        if ctx.cr4 & CR4_PAE != 0 && !PAE_WARNED.swap(true, Ordering::Relaxed) {
            // The CPU should not let PAE be set (nor advertise it in CPUID).
            log::warn!("CR4.PAE set but PAE paging is not implemented; walking 32-bit tables");
        }
        PagingMode::Legacy32
    }
}

/// Warn about CR4.PAE once per process, not once per walk.
static PAE_WARNED: AtomicBool = AtomicBool::new(false);

/// Walks the page tables for one access of kind `acc` at linear address
/// `va`, setting A/D bits as that access would, or returns the #PF.
pub fn walk(
    mem: &mut PhysMem,
    ctx: &PagingCtx,
    va: u32,
    acc: Access,
) -> Result<Translation, PageFault> {
    match paging_mode(ctx) {
        PagingMode::Off => Ok(Translation {
            paddr: va,
            writable: true,
            user: true,
            global: false,
            large: false,
            dirty: true,
        }),
        PagingMode::Legacy32 => walk_legacy32(mem, ctx, va, acc),
    }
}

/// Whether an access with effective bits `rw`/`us` is allowed.
#[inline]
fn permitted(ctx: &PagingCtx, acc: Access, rw: bool, us: bool) -> bool {
    let user = ctx.cpl == 3;
    let write = acc == Access::Write;
    if user {
        us && (!write || rw)
    } else {
        !write || rw || ctx.cr0 & CR0_WP == 0
    }
}

fn fault(ctx: &PagingCtx, va: u32, acc: Access, present: bool) -> PageFault {
    let mut code = 0;
    if present {
        code |= PF_P;
    }
    if acc == Access::Write {
        code |= PF_W;
    }
    if ctx.cpl == 3 {
        code |= PF_U;
    }
    PageFault { addr: va, code }
}

/// Sets `bits` in the entry at `addr` if any is missing.
fn set_bits(mem: &mut PhysMem, addr: u32, entry: u32, bits: u32) {
    if entry & bits != bits {
        mem.write_u32(addr, entry | bits);
    }
}

fn walk_legacy32(
    mem: &mut PhysMem,
    ctx: &PagingCtx,
    va: u32,
    acc: Access,
) -> Result<Translation, PageFault> {
    let write = acc == Access::Write;
    let pde_addr = (ctx.cr3 & 0xFFFF_F000) | ((va >> 22) << 2);
    let pde = mem.read_entry(pde_addr);
    if pde & P == 0 {
        return Err(fault(ctx, va, acc, false));
    }
    let pge = ctx.cr4 & CR4_PGE != 0;
    if pde & PS != 0 && ctx.cr4 & CR4_PSE != 0 {
        let (rw, us) = (pde & RW != 0, pde & US != 0);
        if !permitted(ctx, acc, rw, us) {
            return Err(fault(ctx, va, acc, true));
        }
        let new = A | if write { D } else { 0 };
        set_bits(mem, pde_addr, pde, new);
        return Ok(Translation {
            paddr: (pde & 0xFFC0_0000) | (va & 0x003F_FFFF),
            writable: rw,
            user: us,
            global: pge && pde & G != 0,
            large: true,
            dirty: (pde | new) & D != 0,
        });
    }
    let pte_addr = (pde & 0xFFFF_F000) | (((va >> 12) & 0x3FF) << 2);
    let pte = mem.read_entry(pte_addr);
    if pte & P == 0 {
        return Err(fault(ctx, va, acc, false));
    }
    let (rw, us) = (pde & pte & RW != 0, pde & pte & US != 0);
    if !permitted(ctx, acc, rw, us) {
        return Err(fault(ctx, va, acc, true));
    }
    set_bits(mem, pde_addr, pde, A);
    let new = A | if write { D } else { 0 };
    // Re-read the PTE in case the PDE write above landed on it (a
    // self-referencing directory).
    let pte_now = if pte_addr == pde_addr {
        mem.read_entry(pte_addr)
    } else {
        pte
    };
    set_bits(mem, pte_addr, pte_now, new);
    Ok(Translation {
        paddr: (pte & 0xFFFF_F000) | (va & 0xFFF),
        writable: rw,
        user: us,
        global: pge && pte & G != 0,
        large: false,
        dirty: (pte | new) & D != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PD: u32 = 0x1000;
    const PT: u32 = 0x2000;
    const VA: u32 = 0x0040_1234; // PDE 1, PTE 1
    const FRAME: u32 = 0x0030_0000;

    fn ctx(cpl: u8, wp: bool) -> PagingCtx {
        PagingCtx {
            cr0: CR0_PG | 1 | if wp { CR0_WP } else { 0 },
            cr3: PD,
            cr4: CR4_PSE | CR4_PGE,
            cpl,
        }
    }

    fn setup(pde_bits: u32, pte_bits: u32) -> PhysMem {
        let mut m = PhysMem::new(4 << 20).unwrap();
        m.write_u32(PD + 4, PT | pde_bits);
        m.write_u32(PT + 4, FRAME | pte_bits);
        m
    }

    /// The SDM rule, written independently of `permitted`.
    fn expected_ok(cpl: u8, wp: bool, acc: Access, rw: bool, us: bool) -> bool {
        match (cpl == 3, acc) {
            (true, Access::Write) => us && rw,
            (true, _) => us,
            (false, Access::Write) => rw || !wp,
            (false, _) => true,
        }
    }

    #[test]
    fn permission_matrix_4k_pages() {
        for pde_rw in [false, true] {
            for pde_us in [false, true] {
                for pte_rw in [false, true] {
                    for pte_us in [false, true] {
                        for cpl in [0u8, 1, 2, 3] {
                            for wp in [false, true] {
                                for acc in [Access::Read, Access::Write, Access::Execute] {
                                    let bits = |rw: bool, us: bool| {
                                        P | (rw as u32) << 1 | (us as u32) << 2
                                    };
                                    let mut m = setup(bits(pde_rw, pde_us), bits(pte_rw, pte_us));
                                    let c = ctx(cpl, wp);
                                    let r = walk(&mut m, &c, VA, acc);
                                    let ok = expected_ok(
                                        cpl,
                                        wp,
                                        acc,
                                        pde_rw && pte_rw,
                                        pde_us && pte_us,
                                    );
                                    let what = format!("pde rw{pde_rw} us{pde_us} pte rw{pte_rw} us{pte_us} cpl{cpl} wp{wp} {acc:?}");
                                    if ok {
                                        let t = r.expect(&what);
                                        assert_eq!(t.paddr, FRAME | 0x234, "{what}");
                                        assert_eq!(t.writable, pde_rw && pte_rw, "{what}");
                                        assert_eq!(t.user, pde_us && pte_us, "{what}");
                                    } else {
                                        let f = r.expect_err(&what);
                                        let code = PF_P
                                            | if acc == Access::Write { PF_W } else { 0 }
                                            | if cpl == 3 { PF_U } else { 0 };
                                        assert_eq!(f, PageFault { addr: VA, code }, "{what}");
                                        // Nothing written back on a fault.
                                        assert_eq!(m.read_u32(PD + 4) & (A | D), 0, "{what}");
                                        assert_eq!(m.read_u32(PT + 4) & (A | D), 0, "{what}");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn permission_matrix_4m_pages() {
        for rw in [false, true] {
            for us in [false, true] {
                for cpl in [0u8, 3] {
                    for wp in [false, true] {
                        for acc in [Access::Read, Access::Write, Access::Execute] {
                            let mut m = PhysMem::new(4 << 20).unwrap();
                            let pde = 0x0080_0000 | PS | P | (rw as u32) << 1 | (us as u32) << 2;
                            m.write_u32(PD + 4, pde);
                            let r = walk(&mut m, &ctx(cpl, wp), VA, acc);
                            if expected_ok(cpl, wp, acc, rw, us) {
                                let t = r.unwrap();
                                assert_eq!(t.paddr, 0x0080_0000 | (VA & 0x3F_FFFF));
                                assert!(t.large);
                                let want = A | if acc == Access::Write { D } else { 0 };
                                assert_eq!(m.read_u32(PD + 4) & (A | D), want);
                            } else {
                                assert_eq!(r.unwrap_err().code & PF_P, PF_P);
                                assert_eq!(m.read_u32(PD + 4) & (A | D), 0);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn not_present_faults_at_each_level() {
        for cpl in [0u8, 3] {
            for acc in [Access::Read, Access::Write, Access::Execute] {
                let w = if acc == Access::Write { PF_W } else { 0 };
                let u = if cpl == 3 { PF_U } else { 0 };
                let mut m = setup(RW | US, RW | US); // PDE not present
                assert_eq!(
                    walk(&mut m, &ctx(cpl, true), VA, acc),
                    Err(PageFault {
                        addr: VA,
                        code: w | u
                    })
                );
                let mut m = setup(P | RW | US, RW | US); // PTE not present
                assert_eq!(
                    walk(&mut m, &ctx(cpl, true), VA, acc),
                    Err(PageFault {
                        addr: VA,
                        code: w | u
                    })
                );
                assert_eq!(m.read_u32(PD + 4) & A, 0);
            }
        }
    }

    #[test]
    fn accessed_and_dirty_bits() {
        let mut m = setup(P | RW | US, P | RW | US);
        let c = ctx(3, true);
        let t = walk(&mut m, &c, VA, Access::Read).unwrap();
        assert!(!t.dirty);
        assert_eq!(m.read_u32(PD + 4) & (A | D), A);
        assert_eq!(m.read_u32(PT + 4) & (A | D), A);
        walk(&mut m, &c, VA, Access::Execute).unwrap();
        assert_eq!(m.read_u32(PT + 4) & D, 0);
        let t = walk(&mut m, &c, VA, Access::Write).unwrap();
        assert!(t.dirty);
        assert_eq!(
            m.read_u32(PD + 4) & (A | D),
            A,
            "PDE of a 4K page never gets D"
        );
        assert_eq!(m.read_u32(PT + 4) & (A | D), A | D);
        let t = walk(&mut m, &c, VA, Access::Read).unwrap();
        assert!(t.dirty, "reports D already set");
    }

    #[test]
    fn pse_off_ignores_ps_bit_and_pge_off_ignores_g() {
        let mut m = setup(P | RW | PS | G, P | RW | G);
        let mut c = ctx(0, true);
        let t = walk(&mut m, &c, VA, Access::Read).unwrap();
        assert!(t.large, "PSE on: 4 MiB page from the PDE");
        assert!(t.global);
        c.cr4 = 0;
        let t = walk(&mut m, &c, VA, Access::Read).unwrap();
        assert!(!t.large && !t.global);
        assert_eq!(t.paddr, FRAME | 0x234);
        c.cr4 = CR4_PGE;
        assert!(walk(&mut m, &c, VA, Access::Read).unwrap().global);
        // CR4.PAE is not implemented: walks as 32-bit paging, never panics.
        c.cr4 = CR4_PAE;
        assert!(walk(&mut m, &c, VA, Access::Read).is_ok());
    }

    #[test]
    fn paging_off_is_identity() {
        let mut m = PhysMem::new(1 << 20).unwrap();
        let c = PagingCtx {
            cr0: 1,
            cr3: 0xDEAD_B000,
            cr4: 0,
            cpl: 3,
        };
        let t = walk(&mut m, &c, 0xFFFF_FFFF, Access::Write).unwrap();
        assert_eq!(t.paddr, 0xFFFF_FFFF);
        assert!(t.writable && t.user && t.dirty);
    }

    #[test]
    fn tables_outside_ram_read_all_ones() {
        let mut m = PhysMem::new(1 << 20).unwrap();
        // PD outside RAM: PDE = 0xFFFFFFFF → present, RW, US, PS → 4 MiB page.
        let c = PagingCtx {
            cr0: CR0_PG | CR0_WP | 1,
            cr3: 0x8000_0000,
            cr4: CR4_PSE,
            cpl: 3,
        };
        let t = walk(&mut m, &c, VA, Access::Write).unwrap();
        assert_eq!(t.paddr, 0xFFC0_0000 | (VA & 0x3F_FFFF));
        // Without PSE the PTE also comes from 0xFFFFF000 (unmapped): all ones.
        let c = PagingCtx { cr4: 0, ..c };
        let t = walk(&mut m, &c, VA, Access::Write).unwrap();
        assert_eq!(t.paddr, 0xFFFF_F000 | (VA & 0xFFF));
        // PD in RAM, PT outside.
        m.write_u32(PD + 4, 0xE000_0000 | P | RW | US);
        let c = PagingCtx { cr3: PD, ..c };
        assert_eq!(
            walk(&mut m, &c, VA, Access::Read).unwrap().paddr,
            0xFFFF_F234
        );
    }

    #[test]
    fn self_referencing_directory() {
        let mut m = PhysMem::new(4 << 20).unwrap();
        // PDE 0 points back at the directory itself: va 0x0000_0000..0x3FFFFF
        // maps the directory's entries as page tables.
        m.write_u32(PD, PD | P | RW | US);
        m.write_u32(PD + 4, 0x5000 | P | RW | US);
        let c = ctx(3, true);
        let t = walk(&mut m, &c, 0x1004, Access::Write).unwrap(); // PTE 1 = PDE 1
        assert_eq!(t.paddr, 0x5004);
        let t = walk(&mut m, &c, 0x0000_0010, Access::Write).unwrap();
        assert_eq!(t.paddr, PD | 0x10);
        assert_eq!(
            m.read_u32(PD) & (A | D),
            A | D,
            "A from the PDE role, D from the PTE role"
        );
    }
}
