//! Guest physical memory, paging and the softmmu TLB.
//!
//! Models what every guest memory access of both CPU engines goes through:
//! - [`PhysMem`]: the i686 PC physical address space — RAM as one anonymous
//!   host mapping, ROM regions (writes ignored), MMIO regions dispatched to
//!   [`Mmio`] handlers, PAM-style shadowing of 0xC0000..0x100000, the A20
//!   gate, and "all ones" for unmapped space;
//! - [`walk`]: the two-level 32-bit page walker with PSE, PGE, CR0.WP and
//!   accessed/dirty write-back, raising [`PageFault`] values;
//! - [`Tlb`] / [`Mmu`]: the direct-mapped softmmu TLB (one table per
//!   privilege class) whose entry layout generated code depends on, the
//!   shared slow paths (also as `extern "sysv64"` functions in [`slowpath`]),
//!   and self-modifying-code tracking over physical pages;
//! - [`DmaMemory`]: a cloneable handle devices keep to DMA into guest RAM;
//! - [`MapControl`]: a cloneable handle devices keep to flip A20 and PAM
//!   shadowing (engines then call [`Mmu::sync_map_changes`]).
//!
//! Contract with the CPU engines: pass the current [`PagingCtx`] to every
//! access; call [`Mmu::flush_all`] when CR0.PG/WP/PE or CR4.PSE/PGE/PAE
//! change, [`Mmu::flush_non_global`] on MOV CR3, [`Mmu::invlpg`] on INVLPG,
//! [`Mmu::sync_map_changes`] after port I/O; register decoded code with
//! [`Mmu::mark_code_page`] and poll [`Mmu::smc_pending`] after stores.
//!
//! Left out: PAE and NX (the walker is split by paging mode so PAE can be
//! added as another mode), PSE-36, reserved-bit (#PF RSVD) checks, SMAP/SMEP,
//! caching attributes (PAT/MTRR/PCD/PWT are ignored) and SMRAM.

mod access;
mod codepages;
mod control;
mod dma;
mod mmu;
mod phys;
mod ram;
mod shadow;
pub mod slowpath;
mod tlb;
mod walk;

#[cfg(test)]
mod test_util;

pub use control::MapControl;
pub use dma::DmaMemory;
pub use mmu::Mmu;
pub use phys::PhysMem;
pub use slowpath::{slow_fetch, slow_read, slow_write};
pub use tlb::{
    tlb_index, Tlb, TlbEntry, TLB_BITS, TLB_CODE, TLB_ENTRY_ADDEND_OFFSET, TLB_ENTRY_EXEC_OFFSET,
    TLB_ENTRY_PADDR_OFFSET, TLB_ENTRY_READ_OFFSET, TLB_ENTRY_WRITE_OFFSET, TLB_FLAG_MASK,
    TLB_INVALID, TLB_MMIO, TLB_NOTDIRTY, TLB_SIZE,
};
pub use walk::{walk, Translation};

/// Size of a guest page (and of the TLB's granule).
pub const PAGE_SIZE: u32 = 4096;
/// Mask selecting the page-aligned part of an address.
pub const PAGE_MASK: u32 = !(PAGE_SIZE - 1);

/// CR0.PG: paging enabled.
pub const CR0_PG: u32 = 1 << 31;
/// CR0.WP: supervisor writes honour read-only pages.
pub const CR0_WP: u32 = 1 << 16;
/// CR4.PSE: 4 MiB pages through PDE.PS.
pub const CR4_PSE: u32 = 1 << 4;
/// CR4.PAE: physical address extension (not implemented; see [`walk`]).
pub const CR4_PAE: u32 = 1 << 5;
/// CR4.PGE: global pages survive MOV CR3.
pub const CR4_PGE: u32 = 1 << 7;

/// Page-fault error code bit: the page was present (protection violation).
pub const PF_P: u32 = 1 << 0;
/// Page-fault error code bit: the access was a write.
pub const PF_W: u32 = 1 << 1;
/// Page-fault error code bit: the access came from CPL 3.
pub const PF_U: u32 = 1 << 2;
/// Page-fault error code bit: a reserved bit was set (never reported here).
pub const PF_RSVD: u32 = 1 << 3;
/// Page-fault error code bit: instruction fetch (only with NX; never reported here).
pub const PF_ID: u32 = 1 << 4;

/// A memory-mapped device. `addr` is the guest *physical* address (not an
/// offset into the region); `size` is 1, 2 or 4. Reads return the value in
/// the low `size` bytes. 8-byte accesses arrive as two 4-byte accesses, low
/// half first; accesses that straddle the region's edge arrive byte by byte.
pub trait Mmio: Send {
    fn read(&mut self, addr: u64, size: u8) -> u32;
    fn write(&mut self, addr: u64, size: u8, val: u32);
}

/// Kind of a linear-memory access, as the page walker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// What the walker needs from the CPU. user mode <=> cpl == 3. The CPU
/// passes cpl 0 for implicit supervisor accesses (GDT/IDT/TSS).
///
/// The TLB caches translations computed from these values: the CPU must call
/// [`Mmu::flush_all`] when CR0.PG/CR0.WP/CR0.PE or CR4.PSE/PGE/PAE change,
/// and [`Mmu::flush_non_global`] on MOV CR3.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagingCtx {
    pub cr0: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub cpl: u8,
}

/// #PF details: faulting linear address (CR2) and the architectural error
/// code (P, W/R, U/S, RSVD, I/D bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    pub addr: u32,
    pub code: u32,
}

/// Host-side failures building the physical memory map.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    #[error("guest RAM size {0:#x} not supported (1 MiB ..= 3 GiB, multiple of 4 KiB)")]
    BadRamSize(usize),
    #[error("cannot map guest RAM: {0}")]
    Mmap(#[from] std::io::Error),
    #[error("region {base:#x}+{len:#x} is empty or extends past 4 GiB")]
    BadRegion { base: u32, len: u64 },
    #[error("region {base:#x}+{len:#x} overlaps RAM or another region")]
    Overlap { base: u32, len: u64 },
}

/// Result alias for host-side memory-map operations.
pub type Result<T> = std::result::Result<T, MemError>;
