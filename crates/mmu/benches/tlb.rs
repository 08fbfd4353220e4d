//! TLB benchmarks: the inline hit path and a miss that walks two levels of
//! page tables and refills the entry.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mmu::{Mmu, PagingCtx, PhysMem, CR0_PG, CR0_WP, TLB_SIZE};

const PD: u32 = 0x1000;

/// 16 MiB guest with the first 8 MiB identity-mapped through 4 KiB pages
/// (page tables at 0x10000), user-accessible and already dirty.
fn paged_mmu() -> (Mmu, PagingCtx) {
    let mut phys = PhysMem::new(16 << 20).unwrap();
    for pde in 0..2u32 {
        let pt = 0x10000 + pde * 0x1000;
        phys.write_u32(PD + pde * 4, pt | 0x67);
        for i in 0..1024u32 {
            let page = (pde << 22) | (i << 12);
            phys.write_u32(pt + i * 4, page | 0x67);
        }
    }
    let ctx = PagingCtx {
        cr0: CR0_PG | CR0_WP | 1,
        cr3: PD,
        cr4: 0,
        cpl: 3,
    };
    (Mmu::new(phys), ctx)
}

fn hit(c: &mut Criterion) {
    let (mut m, ctx) = paged_mmu();
    let va = 0x20_0100u32;
    m.write_u32(&ctx, va, 1).unwrap();
    c.bench_function("tlb_hit_read_u32", |b| {
        b.iter(|| m.read_u32(black_box(&ctx), black_box(va)).unwrap())
    });
    c.bench_function("tlb_hit_write_u32", |b| {
        b.iter(|| {
            m.write_u32(black_box(&ctx), black_box(va), black_box(7))
                .unwrap()
        })
    });
    // 64 distinct pages, all resident: the hit path with varying indices.
    let mut i = 0u32;
    c.bench_function("tlb_hit_read_u32_64_pages", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            m.read_u32(black_box(&ctx), 0x20_0000 + (i & 63) * 4096 + 8)
                .unwrap()
        })
    });
}

fn miss(c: &mut Criterion) {
    let (mut m, ctx) = paged_mmu();
    // Two pages 4 MiB apart share a TLB index, so alternating misses every time.
    let stride = (TLB_SIZE as u32) * 4096;
    let mut flip = 0u32;
    c.bench_function("tlb_miss_walk_read_u32", |b| {
        b.iter(|| {
            flip ^= 1;
            m.read_u32(black_box(&ctx), 0x30_0000 + flip * stride)
                .unwrap()
        })
    });
    c.bench_function("tlb_miss_walk_write_u32", |b| {
        b.iter(|| {
            flip ^= 1;
            m.write_u32(black_box(&ctx), 0x30_0000 + flip * stride, 3)
                .unwrap()
        })
    });
    c.bench_function("page_crossing_read_u32", |b| {
        b.iter(|| m.read_u32(black_box(&ctx), black_box(0x20_0FFE)).unwrap())
    });
}

criterion_group!(benches, hit, miss);
criterion_main!(benches);
