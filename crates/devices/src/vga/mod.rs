//! VGA with the Bochs VBE ("dispi") interface, as QEMU's `-vga std` presents
//! it to SeaVGABIOS and to Linux's `bochs`/`vesafb` drivers.
//!
//! Models: the standard VGA register set (misc output, sequencer, CRTC with
//! mono/colour addressing and write protect, graphics controller, attribute
//! controller with its flip-flop, DAC with the 3-step RGB cycle, input
//! status registers whose retrace bits toggle on every read), the four
//! 64 KiB planes with latches, write modes 0-3, read modes 0-1, chain-4 and
//! odd/even addressing, the legacy window at 0xA0000-0xBFFFF in its four
//! memory-map modes, the Bochs VBE registers at 0x1CE/0x1CF (0x1D0 is
//! accepted as a data-port alias, as QEMU does on non-x86 targets) with a
//! banked window and a linear framebuffer, and a renderer for text, CGA
//! 4-colour, planar 16-colour, 256-colour and VBE 4/8/15/16/24/32 bpp modes.
//!
//! VRAM layout (as QEMU's): byte `4 * a + p` is plane `p` at plane offset
//! `a`. Chain-4 CPU accesses hit VRAM byte `addr` directly and odd/even
//! accesses go to plane offset `addr >> 1`, so the CRTC's word/doubleword
//! addressing is already folded into the layout and the renderer walks plane
//! offsets equal to the CRTC address counter. The VBE framebuffer is the
//! same VRAM read linearly.
//!
//! Left out: the CRTC timing registers beyond what sizes the display
//! (sync positions, retrace timing, interlace), light pen, the 9-bit
//! "panning at line compare" subtleties, smooth vertical scrolling through
//! the preset row scan, the VGA's odd/even page bit of the misc register,
//! and the QEMU-specific MMIO BAR2 register window. Retrace is emulated by a
//! read counter, not by time, so polling loops terminate deterministically.

mod dac;
mod memory;
mod pci;
mod ports;
mod render;
mod text;
pub mod vbe;

#[cfg(test)]
mod testmodes;

pub use dac::Dac;
pub use memory::VgaMmio;
pub use pci::{PciFunctionInfo, STDVGA_PCI};
pub use text::cp437;

use serde::{Deserialize, Serialize};

/// Default VRAM size: 16 MiB (QEMU's default for stdvga).
pub const DEFAULT_VRAM_SIZE: usize = 16 << 20;
/// Default physical address of the linear framebuffer (VBE_DISPI_LFB_PHYSICAL_ADDRESS).
pub const DEFAULT_LFB_BASE: u64 = 0xE000_0000;
/// I/O port ranges the machine registers for this device (inclusive).
pub const PORT_RANGES: [(u16, u16); 2] = [(0x3B0, 0x3DF), (0x1CE, 0x1D0)];
/// The legacy VGA window (inclusive start, exclusive end).
pub const LEGACY_WINDOW: (u64, u64) = (0xA0000, 0xC0000);

/// Everything the guest can see: registers and VRAM. Snapshots save this.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VgaState {
    pub misc: u8,
    pub feature_control: u8,
    pub vga_enable: u8,
    pub seq_index: u8,
    pub seq: [u8; 8],
    pub crtc_index: u8,
    pub crtc: [u8; 32],
    pub gc_index: u8,
    pub gc: [u8; 16],
    /// Attribute controller index including bit 5 (palette address source).
    pub attr_index: u8,
    /// false: the next write to 0x3C0 is an index; true: data.
    pub attr_flip: bool,
    pub attr: [u8; 32],
    pub dac: dac::Dac,
    pub latch: [u8; 4],
    /// Counts reads of input status 1; drives the emulated retrace bits.
    pub status_reads: u32,
    pub vbe_index: u16,
    pub vbe: [u16; 16],
    pub lfb_base: u64,
    pub vram: Vec<u8>,
}

/// What the display currently shows, for tests and the front end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeKind {
    /// Alphanumeric mode; `cols` x `rows` character cells.
    Text { cols: u32, rows: u32 },
    /// VGA graphics (CGA 4-colour, planar 16-colour, 256-colour).
    Graphics,
    /// Bochs VBE mode from the linear framebuffer.
    Vbe,
    /// Screen blanked (attribute palette source off, or nonsense timings).
    Blank,
}

/// Mode description: `width`/`height` are those of the frame `render` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeInfo {
    pub kind: ModeKind,
    pub width: u32,
    pub height: u32,
    /// Bits per pixel (4 for text and planar modes, 2 for CGA, 8, 15, ...).
    pub bpp: u32,
}

/// The VGA device. Share it as `Arc<Mutex<Vga>>`: that coerces to the port
/// bus's `SharedDevice`, and [`VgaMmio`] wraps the same `Arc` for the
/// memory map.
pub struct Vga {
    pub(crate) s: VgaState,
    generation: u64,
    frame_counter: u64,
}

impl Default for Vga {
    fn default() -> Self {
        Self::new()
    }
}

impl Vga {
    /// A VGA with 16 MiB of VRAM and the LFB at 0xE0000000.
    pub fn new() -> Self {
        Self::with_vram_size(DEFAULT_VRAM_SIZE)
    }

    /// A VGA with `size` bytes of VRAM, rounded up to a power of two between
    /// 256 KiB and 256 MiB.
    pub fn with_vram_size(size: usize) -> Self {
        let size = size.clamp(256 << 10, 256 << 20).next_power_of_two();
        let mut s = VgaState {
            misc: 0,
            feature_control: 0,
            vga_enable: 1,
            seq_index: 0,
            seq: [0; 8],
            crtc_index: 0,
            crtc: [0; 32],
            gc_index: 0,
            gc: [0; 16],
            attr_index: 0,
            attr_flip: false,
            attr: [0; 32],
            dac: dac::Dac::default(),
            latch: [0; 4],
            status_reads: 0,
            vbe_index: 0,
            vbe: [0; 16],
            lfb_base: DEFAULT_LFB_BASE,
            vram: vec![0; size],
        };
        s.vbe[vbe::INDEX_ID] = vbe::ID5;
        s.vbe[vbe::INDEX_BPP] = 8;
        Vga {
            s,
            generation: 1,
            frame_counter: 0,
        }
    }

    /// The guest-visible state, for snapshots.
    pub fn state(&self) -> &VgaState {
        &self.s
    }

    /// Restores a snapshot. A VRAM of a size that is not a power of two of
    /// at least 256 KiB is resized (the rest zeroed or cut), as is a DAC
    /// table of the wrong length, so a damaged snapshot cannot cause a panic.
    pub fn restore(&mut self, mut state: VgaState) {
        let want = state
            .vram
            .len()
            .clamp(256 << 10, 256 << 20)
            .next_power_of_two();
        state.vram.resize(want, 0);
        state.dac.palette.resize(768, 0);
        self.s = state;
        self.touch();
    }

    pub fn vram_size(&self) -> usize {
        self.s.vram.len()
    }

    /// Physical base of the linear framebuffer (PCI BAR0).
    pub fn lfb_base(&self) -> u64 {
        self.s.lfb_base
    }

    /// Moves the linear framebuffer, e.g. when the BIOS programs BAR0.
    pub fn set_lfb_base(&mut self, base: u64) {
        self.s.lfb_base = base;
    }

    /// The PCI function to register for this VGA (BAR0 sized to VRAM).
    pub fn pci_function(&self) -> PciFunctionInfo {
        STDVGA_PCI.with_vram(self.s.vram.len())
    }

    /// Changes whenever VRAM or a register that affects the picture changes.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Sets the frame counter that drives cursor and character blink. The
    /// front end calls it once per displayed frame (60 Hz nominal).
    pub fn set_frame_counter(&mut self, frame: u64) {
        self.frame_counter = frame;
    }

    /// A key that changes whenever the rendered picture may change: the
    /// generation, plus the blink phases in text mode. Re-render when it
    /// differs from the last one rendered.
    pub fn frame_key(&self) -> u64 {
        let blink = if self.is_text_mode() {
            (self.frame_counter / text::CURSOR_BLINK_FRAMES) & 3
        } else {
            0
        };
        (self.generation << 2) | blink
    }

    pub(crate) fn touch(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    pub(crate) fn is_text_mode(&self) -> bool {
        !self.vbe_enabled() && self.s.gc[6] & 1 == 0
    }

    /// The mode `render` would draw now.
    pub fn mode_info(&self) -> ModeInfo {
        render::mode_info(self)
    }
}

impl crate::PortIo for Vga {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        if (0x1CE..=0x1D0).contains(&port) {
            return self.vbe_port_read(port) as u32;
        }
        let mut v = 0u32;
        for i in 0..size.clamp(1, 4) {
            let b = self.port_read_byte(port.wrapping_add(i as u16));
            v |= (b as u32) << (8 * i);
        }
        v
    }

    fn write(&mut self, port: u16, size: u8, val: u32) {
        if (0x1CE..=0x1D0).contains(&port) {
            self.vbe_port_write(port, val as u16);
            if port == 0x1CE && size == 4 {
                // outl: index in the low half, data in the high half.
                self.vbe_port_write(0x1CF, (val >> 16) as u16);
            }
            return;
        }
        for i in 0..size.clamp(1, 4) {
            self.port_write_byte(port.wrapping_add(i as u16), (val >> (8 * i)) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PortIo;
    use std::sync::{Arc, Mutex};

    #[test]
    fn shares_as_port_device() {
        let vga = Arc::new(Mutex::new(Vga::new()));
        let dev: crate::bus::SharedDevice = vga.clone();
        let mut bus = crate::PortBus::new();
        for (a, b) in PORT_RANGES {
            bus.register(a, b, "vga", dev.clone()).unwrap();
        }
        bus.write(0x3C4, 2, 0x0F02); // outw: index 2, data 0x0F
        assert_eq!(bus.read(0x3C5, 1), 0x0F);
        assert_eq!(vga.lock().unwrap().state().seq[2], 0x0F);
    }

    #[test]
    fn vbe_dword_access_and_pci() {
        let mut v = Vga::with_vram_size(8 << 20);
        v.write(0x1CE, 4, (640 << 16) | vbe::INDEX_XRES as u32);
        v.write(0x1CE, 2, vbe::INDEX_XRES as u32);
        assert_eq!(v.read(0x1CF, 2), 640);
        assert_eq!(v.pci_function().bar0_size, 8 << 20);
        assert_eq!(v.pci_function().device_id, 0x1111);
    }

    #[test]
    fn generation_moves_on_writes() {
        let mut v = Vga::new();
        let g = v.generation();
        v.write(0x3C8, 1, 0);
        v.write(0x3C9, 1, 0x3F);
        assert_ne!(v.generation(), g);
    }

    #[test]
    fn snapshot_round_trip() {
        let mut v = Vga::new();
        v.write(0x3C2, 1, 0x67);
        let snap = v.state().clone();
        let mut w = Vga::with_vram_size(1 << 20);
        w.restore(snap.clone());
        assert_eq!(w.state(), &snap);
        assert_eq!(w.vram_size(), DEFAULT_VRAM_SIZE);
        let mut bad = snap;
        bad.vram.truncate(1000);
        bad.dac.palette.clear();
        w.restore(bad);
        assert_eq!(w.vram_size(), 256 << 10);
        w.write(0x3C8, 1, 0xFF);
        for _ in 0..3 {
            w.write(0x3C9, 1, 1);
        }
        let mut f = Vec::new();
        w.render(&mut f);
    }

    /// Random programming of every register, window and the LFB, with a
    /// render now and then: nothing may panic.
    #[test]
    fn fuzz_ports_memory_render() {
        let mut v = Vga::with_vram_size(1 << 20);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut frame = Vec::new();
        for i in 0..60_000u32 {
            let r = next();
            let val = (r >> 32) as u32;
            match r % 8 {
                0 | 1 => v.write(0x3B0 + (r >> 8) as u16 % 0x30, 1 + (r >> 20) as u8 % 2, val),
                2 => {
                    v.write(0x1CE, 2, (r >> 8) as u32 % 12);
                    v.write(0x1CF, 2, val);
                }
                3 => {
                    v.read(0x3B0 + (r >> 8) as u16 % 0x30, 1);
                    v.read(0x1CF, 2);
                }
                4 => v.mem_write(0xA0000 + (r >> 8) % 0x20000, 1 + (r >> 40) as u8 % 4, val),
                5 => {
                    v.mem_read(0xA0000 + (r >> 8) % 0x20000, 1 + (r >> 40) as u8 % 4);
                }
                6 => {
                    let a = v.lfb_base() + (r >> 8) % (v.vram_size() as u64 + 8);
                    v.mem_write(a, 4, val);
                }
                _ => v.set_frame_counter(r),
            }
            if i % 3000 == 0 {
                let (w, h) = v.render(&mut frame);
                assert_eq!(frame.len(), (w * h) as usize);
                let _ = v.text_screen();
            }
        }
    }

    #[test]
    fn vram_size_is_clamped() {
        assert_eq!(Vga::with_vram_size(0).vram_size(), 256 << 10);
        assert_eq!(Vga::with_vram_size(3 << 20).vram_size(), 4 << 20);
    }
}
