//! The Bochs VBE "dispi" interface: index port 0x1CE, data port 0x1CF
//! (0x1D0 accepted as an alias), 16-bit registers ID, XRES, YRES, BPP,
//! ENABLE, BANK, VIRT_WIDTH, VIRT_HEIGHT, X_OFFSET, Y_OFFSET and
//! VIDEO_MEMORY_64K, as SeaVGABIOS's `bochsvga.c` and Linux's `bochs` DRM
//! driver program them.
//!
//! Enabling checks the mode against the limits (2560x1600, 4/8/15/16/24/32
//! bpp, fits in VRAM) and refuses it otherwise; it resets the virtual width
//! and offsets, clears the visible VRAM unless NOCLEARMEM, and points the
//! VGA's memory map at A0000/64K with chain-4 (or planar for 4 bpp) so the
//! banked window works. GETCAPS makes XRES/YRES/BPP read the maxima.

use super::Vga;

pub const INDEX_ID: usize = 0;
pub const INDEX_XRES: usize = 1;
pub const INDEX_YRES: usize = 2;
pub const INDEX_BPP: usize = 3;
pub const INDEX_ENABLE: usize = 4;
pub const INDEX_BANK: usize = 5;
pub const INDEX_VIRT_WIDTH: usize = 6;
pub const INDEX_VIRT_HEIGHT: usize = 7;
pub const INDEX_X_OFFSET: usize = 8;
pub const INDEX_Y_OFFSET: usize = 9;
pub const INDEX_VIDEO_MEMORY_64K: usize = 0xA;

pub const ID0: u16 = 0xB0C0;
pub const ID5: u16 = 0xB0C5;

pub const ENABLED: u16 = 0x01;
pub const GETCAPS: u16 = 0x02;
pub const DAC_8BIT: u16 = 0x20;
pub const LFB_ENABLED: u16 = 0x40;
pub const NOCLEARMEM: u16 = 0x80;

pub const MAX_XRES: u16 = 2560;
pub const MAX_YRES: u16 = 1600;
pub const MAX_BPP: u16 = 32;

/// The active VBE mode, derived from the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VbeMode {
    pub xres: usize,
    pub yres: usize,
    pub bpp: u16,
    /// Bytes per scan line of the virtual screen (for 4 bpp: per plane).
    pub line: usize,
    /// First visible byte (for 4 bpp: plane offset).
    pub start: usize,
}

/// Bytes per line of `width` pixels at `bpp` (per plane for 4 bpp).
fn line_bytes(bpp: u16, width: usize) -> Option<usize> {
    Some(match bpp {
        4 => width.div_ceil(8),
        8 => width,
        15 | 16 => width * 2,
        24 => width * 3,
        32 => width * 4,
        _ => return None,
    })
}

impl Vga {
    pub(crate) fn vbe_enabled(&self) -> bool {
        self.s.vbe[INDEX_ENABLE] & ENABLED != 0
    }

    pub(crate) fn dac_8bit(&self) -> bool {
        self.s.vbe[INDEX_ENABLE] & DAC_8BIT != 0
    }

    /// Offset the bank register adds to the A0000 window (VBE on only).
    pub(crate) fn vbe_bank_offset(&self) -> usize {
        if self.vbe_enabled() {
            (self.s.vbe[INDEX_BANK] as usize) << 16
        } else {
            0
        }
    }

    /// VRAM bytes one line takes (4 bpp: all four planes).
    fn vram_line(&self, bpp: u16, width: usize) -> Option<usize> {
        line_bytes(bpp, width).map(|l| if bpp == 4 { l * 4 } else { l })
    }

    pub(crate) fn vbe_mode(&self) -> Option<VbeMode> {
        if !self.vbe_enabled() {
            return None;
        }
        let r = &self.s.vbe;
        let bpp = r[INDEX_BPP];
        let xres = r[INDEX_XRES] as usize;
        let yres = r[INDEX_YRES] as usize;
        let vw = (r[INDEX_VIRT_WIDTH] as usize).max(xres);
        let line = line_bytes(bpp, vw)?;
        let (x, y) = (r[INDEX_X_OFFSET] as usize, r[INDEX_Y_OFFSET] as usize);
        let start = if bpp == 4 {
            y * line + x / 8
        } else {
            y * line + x * line_bytes(bpp, 1)?
        };
        Some(VbeMode {
            xres,
            yres,
            bpp,
            line,
            start,
        })
    }

    pub(crate) fn vbe_port_read(&mut self, port: u16) -> u16 {
        if port == 0x1CE {
            return self.s.vbe_index;
        }
        let i = self.s.vbe_index as usize;
        let caps = self.s.vbe[INDEX_ENABLE] & GETCAPS != 0;
        match i {
            INDEX_XRES if caps => MAX_XRES,
            INDEX_YRES if caps => MAX_YRES,
            INDEX_BPP if caps => MAX_BPP,
            INDEX_VIDEO_MEMORY_64K => (self.s.vram.len() >> 16).min(0xFFFF) as u16,
            0..=9 => self.s.vbe[i],
            _ => 0,
        }
    }

    pub(crate) fn vbe_port_write(&mut self, port: u16, val: u16) {
        if port == 0x1CE {
            self.s.vbe_index = val;
            return;
        }
        let i = self.s.vbe_index as usize;
        match i {
            INDEX_ID => {
                if (ID0..=ID5).contains(&val) {
                    self.s.vbe[INDEX_ID] = val;
                }
            }
            INDEX_XRES | INDEX_YRES => {
                self.s.vbe[i] = val;
                self.vbe_revalidate();
            }
            INDEX_BPP => {
                self.s.vbe[i] = if val == 0 { 8 } else { val };
                self.vbe_revalidate();
            }
            INDEX_ENABLE => self.vbe_set_enable(val),
            INDEX_BANK => {
                let banks = (self.s.vram.len() >> 16).max(1);
                self.s.vbe[INDEX_BANK] = (val as usize & (banks - 1)) as u16;
            }
            INDEX_VIRT_WIDTH => {
                let r = &self.s.vbe;
                let w = (val as usize).max(r[INDEX_XRES] as usize);
                match self.vram_line(r[INDEX_BPP], w) {
                    Some(l) if l > 0 && l * (r[INDEX_YRES] as usize) <= self.s.vram.len() => {
                        self.s.vbe[INDEX_VIRT_WIDTH] = w as u16;
                        self.s.vbe[INDEX_VIRT_HEIGHT] = (self.s.vram.len() / l).min(0xFFFF) as u16;
                    }
                    _ => log::debug!("vbe: virtual width {val} refused"),
                }
            }
            INDEX_VIRT_HEIGHT => {
                let max = self.s.vbe[INDEX_VIRT_HEIGHT].max(self.s.vbe[INDEX_YRES]);
                self.s.vbe[i] = val.clamp(self.s.vbe[INDEX_YRES], max.max(1));
            }
            INDEX_X_OFFSET | INDEX_Y_OFFSET => self.s.vbe[i] = val,
            _ => log::debug!("vbe: write {val:#06x} to unknown index {i:#x}"),
        }
        self.touch();
    }

    /// Checks XRES/YRES/BPP against the limits and VRAM; `Some(line)` if usable.
    fn vbe_check(&self) -> Option<usize> {
        let r = &self.s.vbe;
        let (x, y, bpp) = (r[INDEX_XRES], r[INDEX_YRES], r[INDEX_BPP]);
        if x == 0 || y == 0 || x > MAX_XRES || y > MAX_YRES {
            return None;
        }
        let line = self.vram_line(bpp, x as usize)?;
        (line * y as usize <= self.s.vram.len()).then_some(line)
    }

    /// After XRES/YRES/BPP change while enabled: keep the mode consistent
    /// or switch VBE off if it became impossible.
    fn vbe_revalidate(&mut self) {
        if !self.vbe_enabled() {
            return;
        }
        match self.vbe_check() {
            Some(line) => self.vbe_reset_geometry(line),
            None => {
                log::warn!("vbe: mode no longer valid, disabling");
                self.s.vbe[INDEX_ENABLE] &= !ENABLED;
            }
        }
    }

    fn vbe_reset_geometry(&mut self, line: usize) {
        let r = &mut self.s.vbe;
        r[INDEX_VIRT_WIDTH] = r[INDEX_XRES];
        r[INDEX_VIRT_HEIGHT] = (self.s.vram.len() / line).min(0xFFFF) as u16;
        r[INDEX_X_OFFSET] = 0;
        r[INDEX_Y_OFFSET] = 0;
    }

    fn vbe_set_enable(&mut self, val: u16) {
        let val = val & (ENABLED | GETCAPS | DAC_8BIT | LFB_ENABLED | NOCLEARMEM);
        if val & ENABLED == 0 || self.vbe_enabled() {
            self.s.vbe[INDEX_ENABLE] = val;
            return;
        }
        let Some(line) = self.vbe_check() else {
            let r = &self.s.vbe;
            log::warn!(
                "vbe: refusing mode {}x{}x{}",
                r[INDEX_XRES],
                r[INDEX_YRES],
                r[INDEX_BPP]
            );
            self.s.vbe[INDEX_ENABLE] = val & !ENABLED;
            return;
        };
        self.vbe_reset_geometry(line);
        self.s.vbe[INDEX_BANK] = 0;
        if val & NOCLEARMEM == 0 {
            let n = line * self.s.vbe[INDEX_YRES] as usize;
            self.s.vram[..n].fill(0);
        }
        // VGA compatibility: graphics mode, A0000/64K window, linear
        // (chain-4) access for packed modes, planar for 4 bpp.
        self.s.gc[6] = (self.s.gc[6] & !0x0C) | 0x05;
        self.s.crtc[0x17] |= 0x03;
        if self.s.vbe[INDEX_BPP] == 4 {
            self.s.seq[4] = (self.s.seq[4] & !0x08) | 0x06;
        } else {
            self.s.seq[4] |= 0x08;
        }
        self.s.seq[2] = 0x0F;
        self.s.vbe[INDEX_ENABLE] = val;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PortIo;

    fn w(v: &mut Vga, i: usize, val: u16) {
        v.write(0x1CE, 2, i as u32);
        v.write(0x1CF, 2, val as u32);
    }

    fn r(v: &mut Vga, i: usize) -> u16 {
        v.write(0x1CE, 2, i as u32);
        v.read(0x1CF, 2) as u16
    }

    #[test]
    fn id_probe_like_seavgabios() {
        let mut v = Vga::new();
        w(&mut v, INDEX_ID, ID0);
        assert_eq!(r(&mut v, INDEX_ID), ID0);
        w(&mut v, INDEX_ID, ID5);
        assert_eq!(r(&mut v, INDEX_ID), ID5);
        w(&mut v, INDEX_ID, 0x1234);
        assert_eq!(r(&mut v, INDEX_ID), ID5, "unknown ids ignored");
        assert_eq!(r(&mut v, INDEX_VIDEO_MEMORY_64K), 256);
        // 0x1D0 is a data alias
        v.write(0x1CE, 2, INDEX_ID as u32);
        assert_eq!(v.read(0x1D0, 2), ID5 as u32);
        assert_eq!(v.read(0x1CE, 2), INDEX_ID as u32);
    }

    #[test]
    fn getcaps_reports_maxima() {
        let mut v = Vga::new();
        w(&mut v, INDEX_XRES, 640);
        w(&mut v, INDEX_ENABLE, GETCAPS);
        assert_eq!(r(&mut v, INDEX_XRES), MAX_XRES);
        assert_eq!(r(&mut v, INDEX_YRES), MAX_YRES);
        assert_eq!(r(&mut v, INDEX_BPP), MAX_BPP);
        w(&mut v, INDEX_ENABLE, 0);
        assert_eq!(r(&mut v, INDEX_XRES), 640);
    }

    #[test]
    fn enable_validates_and_clears() {
        let mut v = Vga::new();
        v.s.vram[0] = 0x55;
        w(&mut v, INDEX_XRES, 4000);
        w(&mut v, INDEX_YRES, 600);
        w(&mut v, INDEX_BPP, 32);
        w(&mut v, INDEX_ENABLE, ENABLED | LFB_ENABLED);
        assert!(!v.vbe_enabled(), "4000 wide refused");
        w(&mut v, INDEX_XRES, 2560);
        w(&mut v, INDEX_YRES, 1600);
        let mut small = Vga::with_vram_size(4 << 20);
        for (i, val) in [(INDEX_XRES, 2560), (INDEX_YRES, 1600), (INDEX_BPP, 32)] {
            w(&mut small, i, val);
        }
        w(&mut small, INDEX_ENABLE, ENABLED);
        assert!(!small.vbe_enabled(), "does not fit in 4 MiB");
        w(&mut v, INDEX_BPP, 7);
        w(&mut v, INDEX_ENABLE, ENABLED);
        assert!(!v.vbe_enabled(), "7 bpp refused");
        w(&mut v, INDEX_BPP, 32);
        w(&mut v, INDEX_ENABLE, ENABLED | NOCLEARMEM);
        assert!(v.vbe_enabled());
        assert_eq!(v.s.vram[0], 0x55, "noclearmem kept VRAM");
        w(&mut v, INDEX_ENABLE, 0);
        w(&mut v, INDEX_ENABLE, ENABLED);
        assert_eq!(v.s.vram[0], 0, "cleared");
        assert_eq!(r(&mut v, INDEX_VIRT_WIDTH), 2560);
        assert_eq!(
            r(&mut v, INDEX_VIRT_HEIGHT),
            ((16u32 << 20) / (2560 * 4)) as u16
        );
        // Changing BPP to something impossible while enabled disables.
        w(&mut v, INDEX_BPP, 3);
        assert!(!v.vbe_enabled());
    }

    #[test]
    fn virtual_width_and_offsets() {
        let mut v = Vga::new();
        for (i, val) in [(INDEX_XRES, 640), (INDEX_YRES, 480), (INDEX_BPP, 16)] {
            w(&mut v, i, val);
        }
        w(&mut v, INDEX_ENABLE, ENABLED | LFB_ENABLED);
        w(&mut v, INDEX_VIRT_WIDTH, 100); // below xres: clamped up
        assert_eq!(r(&mut v, INDEX_VIRT_WIDTH), 640);
        w(&mut v, INDEX_VIRT_WIDTH, 1024);
        assert_eq!(r(&mut v, INDEX_VIRT_HEIGHT), 8192);
        w(&mut v, INDEX_X_OFFSET, 8);
        w(&mut v, INDEX_Y_OFFSET, 2);
        let m = v.vbe_mode().unwrap();
        assert_eq!((m.line, m.start), (2048, 2 * 2048 + 16));
    }

    #[test]
    fn banked_window() {
        let mut v = Vga::new();
        for (i, val) in [(INDEX_XRES, 800), (INDEX_YRES, 600), (INDEX_BPP, 8)] {
            w(&mut v, i, val);
        }
        w(&mut v, INDEX_ENABLE, ENABLED);
        w(&mut v, INDEX_BANK, 3);
        v.mem_write(0xA0010, 2, 0xBEEF);
        assert_eq!(v.s.vram[3 * 65536 + 0x10..][..2], [0xEF, 0xBE]);
        let lfb = v.lfb_base() + 3 * 65536 + 0x10;
        assert_eq!(v.mem_read(lfb, 2), 0xBEEF);
        w(&mut v, INDEX_BANK, 0xFFFF); // masked to VRAM
        assert_eq!(r(&mut v, INDEX_BANK), 255);
    }
}
