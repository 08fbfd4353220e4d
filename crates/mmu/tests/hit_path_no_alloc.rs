//! The TLB hit path must not allocate: a counting global allocator watches
//! a loop of hits (reads, writes, fetches) after the entries are filled.
//! Its own test binary, because the allocator is process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mmu::{Mmu, PagingCtx, PhysMem, CR0_PG, CR0_WP};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn tlb_hits_do_not_allocate() {
    let mut phys = PhysMem::new(4 << 20).unwrap();
    // Identity-map the first 4 MiB with 4 KiB user pages, D already set.
    phys.write_u32(0x1000, 0x2000 | 0x67);
    for i in 0..1024u32 {
        phys.write_u32(0x2000 + i * 4, (i << 12) | 0x67);
    }
    let mut m = Mmu::new(phys);
    let ctx = PagingCtx {
        cr0: CR0_PG | CR0_WP | 1,
        cr3: 0x1000,
        cr4: 0,
        cpl: 3,
    };
    let pages = 0x100..0x140u32;
    for p in pages.clone() {
        m.write_u32(&ctx, p << 12, p).unwrap();
    }
    let misses = m.tlb.misses;
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut sum = 0u64;
    for round in 0..1000u32 {
        for p in pages.clone() {
            let va = (p << 12) | (round & 0xFF8);
            m.write_u32(&ctx, va, round).unwrap();
            sum += u64::from(m.read_u32(&ctx, va).unwrap());
            sum += u64::from(m.fetch_u8(&ctx, va).unwrap());
            sum += m.read_u64(&ctx, va).unwrap() & 1;
        }
    }
    assert_eq!(ALLOCS.load(Ordering::Relaxed), before, "hit path allocated");
    assert_eq!(m.tlb.misses, misses, "all accesses were hits");
    assert!(sum > 0);
}
