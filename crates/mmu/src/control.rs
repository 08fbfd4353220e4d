//! The parts of the physical memory map that devices flip at run time —
//! PAM shadowing and the A20 gate — kept in shared atomics so that the
//! devices that own those registers (the i440FX PAM registers, the 8042
//! output port, port 0x92) can hold a [`MapControl`] handle instead of a
//! reference to the `Mmu`.
//!
//! Every change bumps a generation counter. The TLB caches host pointers
//! computed from this state, so after a change the CPU must flush: `Mmu`
//! does so on its next slow path, and engines call
//! [`crate::Mmu::sync_map_changes`] after each port-I/O instruction (the
//! only way a guest reaches these registers) so no stale fast-path hit can
//! follow.
//!
//! Leaves out: SMRAM control.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::codepages::CodePages;
use crate::shadow::ShadowMap;

/// Shared run-time map state.
#[derive(Default)]
pub(crate) struct MapState {
    pub(crate) shadow: ShadowMap,
    a20_mask: AtomicU32,
    generation: AtomicU64,
    /// DMA writes (address, bytes) kept for a differential tester while
    /// `dma_logging` is set (see [`crate::PhysMem::log_dma`]).
    pub(crate) dma_logging: AtomicBool,
    /// Set when `dma_log` gets an entry (one load per empty take).
    pub(crate) dma_pending: AtomicBool,
    pub(crate) dma_log: Mutex<Vec<(u32, Vec<u8>)>>,
}

impl MapState {
    pub(crate) fn new() -> MapState {
        MapState {
            shadow: ShadowMap::default(),
            a20_mask: AtomicU32::new(u32::MAX),
            generation: AtomicU64::new(0),
            dma_logging: AtomicBool::new(false),
            dma_pending: AtomicBool::new(false),
            dma_log: Mutex::new(Vec::new()),
        }
    }

    #[inline(always)]
    pub(crate) fn a20_mask(&self) -> u32 {
        self.a20_mask.load(Ordering::Relaxed)
    }

    #[inline(always)]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn set_a20(&self, enabled: bool) {
        let mask = if enabled { u32::MAX } else { !(1 << 20) };
        if self.a20_mask.swap(mask, Ordering::Relaxed) != mask {
            self.bump();
        }
    }

    pub(crate) fn set_shadow(
        &self,
        code: &CodePages,
        base: u32,
        len: u32,
        read_ram: bool,
        write_ram: bool,
    ) {
        for g in self.shadow.set(base, len, read_ram, write_ram) {
            code.record_write_range(g, u64::from(ShadowMap::GRANULE));
        }
        self.bump();
    }
}

/// A cloneable, `Send` handle to flip A20 and PAM shadowing from device
/// code. Obtained from [`crate::PhysMem::map_control`].
#[derive(Clone)]
pub struct MapControl {
    state: Arc<MapState>,
    code: Arc<CodePages>,
}

impl MapControl {
    pub(crate) fn new(state: Arc<MapState>, code: Arc<CodePages>) -> MapControl {
        MapControl { state, code }
    }

    /// Same as [`crate::PhysMem::set_shadow`].
    pub fn set_shadow(&self, base: u32, len: u32, read_ram: bool, write_ram: bool) {
        self.state
            .set_shadow(&self.code, base, len, read_ram, write_ram);
    }

    /// Same as [`crate::PhysMem::set_a20`].
    pub fn set_a20(&self, enabled: bool) {
        self.state.set_a20(enabled);
    }

    pub fn a20_enabled(&self) -> bool {
        self.state.a20_mask() == u32::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_bump_the_generation_once() {
        let s = Arc::new(MapState::new());
        let c = MapControl::new(s.clone(), Arc::new(CodePages::new(256)));
        let g = s.generation();
        c.set_a20(true);
        assert_eq!(s.generation(), g, "no change");
        c.set_a20(false);
        assert!(!c.a20_enabled());
        assert_eq!(s.a20_mask(), !(1 << 20));
        assert_eq!(s.generation(), g + 1);
        c.set_shadow(0xF0000, 0x10000, true, true);
        assert_eq!(s.generation(), g + 2);
        assert!(s.shadow.read_ram(0xF8000));
    }

    #[test]
    fn shadow_read_switch_dirties_code_pages() {
        let code = Arc::new(CodePages::new(256));
        let c = MapControl::new(Arc::new(MapState::new()), code.clone());
        code.mark(0xF1000);
        code.mark(0xE0000);
        c.set_shadow(0xF0000, 0x4000, false, true);
        assert!(!code.pending(), "read source unchanged");
        c.set_shadow(0xF0000, 0x4000, true, true);
        let mut out = Vec::new();
        code.take(&mut out);
        assert_eq!(out, vec![0xF1]);
    }
}
