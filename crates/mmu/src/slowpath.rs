//! Slow-path entry points for generated code, with plain `extern "sysv64"`
//! signatures the translator can call directly.
//!
//! Contract for the translator: on a fast-path miss (tag mismatch or an
//! access crossing the page end) spill what the callee may clobber and call
//! one of these with the `Mmu`, the current `PagingCtx` (CR0/CR3/CR4/CPL
//! exactly as the interpreter would pass them), the linear address and the
//! access size in bytes (1, 2, 4 or 8; other values are clamped to 1..=8).
//! The return value is [`SLOW_OK`] (loads store the zero-extended value in
//! `*out`) or [`SLOW_FAULT`]: the #PF is then in `mmu.last_fault` and the
//! block must exit with guest state exact at the faulting instruction.
//! After a store, `mmu.smc_pending()` says whether code was overwritten.
//! These functions never unwind.

use crate::{Access, Mmu, PagingCtx};

/// Slow path completed; for loads `*out` holds the value.
pub const SLOW_OK: u32 = 0;
/// The access faulted; the fault is in `Mmu::last_fault`.
pub const SLOW_FAULT: u32 = 1;

/// Data load of `size` bytes at linear `va`.
pub extern "sysv64" fn slow_read(
    mmu: &mut Mmu,
    ctx: &PagingCtx,
    va: u32,
    size: u32,
    out: &mut u64,
) -> u32 {
    match mmu.read_slow(ctx, va, size, Access::Read) {
        Ok(v) => {
            *out = v;
            SLOW_OK
        }
        Err(pf) => {
            mmu.last_fault = Some(pf);
            SLOW_FAULT
        }
    }
}

/// Instruction fetch of `size` bytes at linear `va`.
pub extern "sysv64" fn slow_fetch(
    mmu: &mut Mmu,
    ctx: &PagingCtx,
    va: u32,
    size: u32,
    out: &mut u64,
) -> u32 {
    match mmu.read_slow(ctx, va, size, Access::Execute) {
        Ok(v) => {
            *out = v;
            SLOW_OK
        }
        Err(pf) => {
            mmu.last_fault = Some(pf);
            SLOW_FAULT
        }
    }
}

/// Data store of the low `size` bytes of `val` at linear `va`.
pub extern "sysv64" fn slow_write(
    mmu: &mut Mmu,
    ctx: &PagingCtx,
    va: u32,
    size: u32,
    val: u64,
) -> u32 {
    match mmu.write_slow(ctx, va, size, val) {
        Ok(()) => SLOW_OK,
        Err(pf) => {
            mmu.last_fault = Some(pf);
            SLOW_FAULT
        }
    }
}

/// Function-pointer types, so callers get a compile error on mismatch.
pub type SlowReadFn = extern "sysv64" fn(&mut Mmu, &PagingCtx, u32, u32, &mut u64) -> u32;
/// See [`SlowReadFn`].
pub type SlowWriteFn = extern "sysv64" fn(&mut Mmu, &PagingCtx, u32, u32, u64) -> u32;

const _: SlowReadFn = slow_read;
const _: SlowReadFn = slow_fetch;
const _: SlowWriteFn = slow_write;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PageFault, PhysMem, CR0_PG};

    #[test]
    fn ok_and_fault_through_function_pointers() {
        let mut mmu = Mmu::new(PhysMem::new(1 << 20).unwrap());
        let real = PagingCtx::default();
        let (r, w): (SlowReadFn, SlowWriteFn) = (slow_read, slow_write);
        assert_eq!(w(&mut mmu, &real, 0x1FFE, 4, 0x1122_3344), SLOW_OK);
        let mut out = 0;
        assert_eq!(r(&mut mmu, &real, 0x1FFE, 4, &mut out), SLOW_OK);
        assert_eq!(out, 0x1122_3344);
        assert_eq!(slow_fetch(&mut mmu, &real, 0x2000, 1, &mut out), SLOW_OK);
        assert_eq!(out, 0x22);
        // Paging on with an empty directory at 0: everything faults.
        let paged = PagingCtx {
            cr0: CR0_PG | 1,
            cr3: 0x8000,
            cr4: 0,
            cpl: 3,
        };
        assert_eq!(r(&mut mmu, &paged, 0x1234, 2, &mut out), SLOW_FAULT);
        assert_eq!(
            mmu.last_fault,
            Some(PageFault {
                addr: 0x1234,
                code: 4
            })
        );
        assert_eq!(w(&mut mmu, &paged, 0x5678, 8, 0), SLOW_FAULT);
        assert_eq!(
            mmu.last_fault,
            Some(PageFault {
                addr: 0x5678,
                code: 6
            })
        );
    }
}
