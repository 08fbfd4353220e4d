//! Turns VRAM and registers into a frame of 0x00RRGGBB pixels: the mode
//! decision, VGA graphics (CGA 4-colour interleave, planar 16-colour,
//! 256-colour chained or unchained) and the Bochs VBE packed and planar
//! modes. Text mode lives in `text.rs`.
//!
//! The frame has the mode's logical resolution: 320x200 for mode 13h,
//! 640x350 for mode 10h, VBE modes at XRES x YRES. Scan doubling and
//! repeated scan lines (CR9) are folded out; CGA-style address
//! substitution from the row scan counter (CR17 bits 0-1) is honoured, as
//! are the offset register, start address, line compare (split screen) and
//! horizontal pel panning. Left out: the preset row scan, the 256-colour
//! path through the attribute palette, 9-dot pel panning quirks.

use super::vbe::VbeMode;
use super::{ModeInfo, ModeKind, Vga};

/// How VGA graphics pixels come out of the planes (GR5 shift bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shift {
    Planar16,
    Cga4,
    Pal256,
}

/// Geometry of a VGA (non-VBE) graphics mode.
#[derive(Clone, Copy, Debug)]
struct GfxGeometry {
    shift: Shift,
    width: usize,
    height: usize,
    /// Scan lines per character row that fetch distinct memory (CGA
    /// substitution) or 1 when repeated lines are folded out.
    scans_per_row: usize,
    start: usize,
    stride: usize,
    /// Logical line after which addressing restarts at 0 (line compare).
    split: usize,
}

impl Vga {
    /// Lines the CRTC displays: vertical display end + 1, halved by scan
    /// doubling.
    pub(super) fn display_lines(&self) -> usize {
        let c = &self.s.crtc;
        let vde = c[0x12] as usize | ((c[7] as usize & 0x02) << 7) | ((c[7] as usize & 0x40) << 3);
        let lines = vde + 1;
        if c[9] & 0x80 != 0 {
            (lines / 2).max(1)
        } else {
            lines
        }
    }

    pub(super) fn start_address(&self) -> usize {
        ((self.s.crtc[0x0C] as usize) << 8) | self.s.crtc[0x0D] as usize
    }

    /// 4-bit colour index through the attribute palette and colour select
    /// to a DAC index, and on to RGB.
    pub(super) fn palette16(&self) -> [u32; 16] {
        let ar = &self.s.attr;
        let wide = self.dac_8bit();
        let mut t = [0u32; 16];
        for (c, e) in t.iter_mut().enumerate() {
            let mut v = ar[c];
            if ar[0x10] & 0x80 != 0 {
                v = (v & 0x0F) | ((ar[0x14] & 0x03) << 4);
            }
            v = (v & 0x3F) | ((ar[0x14] & 0x0C) << 4);
            *e = self.s.dac.rgb(v, wide);
        }
        t
    }

    fn gfx_geometry(&self) -> GfxGeometry {
        let c = &self.s.crtc;
        let shift = if self.s.gc[5] & 0x40 != 0 {
            Shift::Pal256
        } else if self.s.gc[5] & 0x20 != 0 {
            Shift::Cga4
        } else {
            Shift::Planar16
        };
        let dots = (c[1] as usize + 1) * 8;
        let width = if shift == Shift::Pal256 {
            dots / 2
        } else {
            dots
        };
        let lines = self.display_lines();
        let msl = (c[9] & 0x1F) as usize + 1;
        let cga = c[0x17] & 0x03 != 0x03;
        let (height, scans_per_row) = if cga {
            (lines, msl)
        } else {
            ((lines / msl).max(1), 1)
        };
        let lc = c[0x18] as usize | ((c[7] as usize & 0x10) << 4) | ((c[9] as usize & 0x40) << 3);
        let mut per_logical = if cga { 1 } else { msl };
        if c[9] & 0x80 != 0 {
            per_logical *= 2;
        }
        GfxGeometry {
            shift,
            width,
            height,
            scans_per_row,
            start: self.start_address(),
            stride: 2 * c[0x13] as usize,
            split: (lc + 1).div_ceil(per_logical),
        }
    }

    /// Plane offset of the first byte of logical line `y`.
    fn gfx_line_address(&self, g: &GfxGeometry, y: usize) -> usize {
        let c = &self.s.crtc;
        let (base, y) = if y >= g.split {
            (0, y - g.split)
        } else {
            (g.start, y)
        };
        let row = y / g.scans_per_row;
        let scan = y % g.scans_per_row;
        let mut a = base + row * g.stride;
        let shift = if c[0x14] & 0x40 != 0 {
            2
        } else if c[0x17] & 0x40 == 0 {
            1
        } else {
            0
        };
        if c[0x17] & 0x01 == 0 {
            let bit = 1 << (13 - shift);
            a = (a & !bit) | if scan & 1 != 0 { bit } else { 0 };
        }
        if c[0x17] & 0x02 == 0 {
            let bit = 1 << (14 - shift);
            a = (a & !bit) | if scan & 2 != 0 { bit } else { 0 };
        }
        a
    }

    fn plane_byte(&self, plane_off: usize, p: usize, wrap: usize) -> u8 {
        self.s
            .vram
            .get((plane_off & wrap) * 4 + p)
            .copied()
            .unwrap_or(0)
    }

    /// One planar line starting at plane offset `addr`, pixel `pan` first:
    /// each pixel's four plane bits form a colour index, masked by `enable`
    /// and looked up in `pal`.
    fn planar_line(
        &self,
        out: &mut [u32],
        addr: usize,
        pan: usize,
        wrap: usize,
        pal: &[u32; 16],
        enable: usize,
    ) {
        let mut group = usize::MAX;
        let mut planes = [0u8; 4];
        for (x, px) in out.iter_mut().enumerate() {
            let x = x + pan;
            if x / 8 != group {
                group = x / 8;
                for (p, b) in planes.iter_mut().enumerate() {
                    *b = self.plane_byte(addr + group, p, wrap);
                }
            }
            let bit = 7 - (x % 8);
            let mut c = 0;
            for (p, b) in planes.iter().enumerate() {
                c |= (((b >> bit) & 1) as usize) << p;
            }
            *px = pal[c & enable];
        }
    }

    fn render_vga_graphics(&self, frame: &mut [u32], w: usize) {
        let g = self.gfx_geometry();
        let pal16 = self.palette16();
        let dac = self.s.dac.table(self.dac_8bit());
        let enable = (self.s.attr[0x12] & 0x0F) as usize;
        let pan = (self.s.attr[0x13] & 7) as usize;
        let wrap = 0xFFFF;
        for (y, line) in frame.chunks_exact_mut(w).enumerate().take(g.height) {
            let addr = self.gfx_line_address(&g, y);
            let pan = if y >= g.split && self.s.attr[0x10] & 0x20 != 0 {
                0
            } else {
                pan
            };
            match g.shift {
                Shift::Planar16 => self.planar_line(line, addr, pan, wrap, &pal16, enable),
                Shift::Cga4 => {
                    for (x, px) in line.iter_mut().enumerate() {
                        let o = addr + x / 8;
                        let i = x % 8;
                        let (p, sh) = if i < 4 {
                            (0, 6 - 2 * i)
                        } else {
                            (1, 14 - 2 * i)
                        };
                        let lo = (self.plane_byte(o, p, wrap) >> sh) & 3;
                        let hi = (self.plane_byte(o, p + 2, wrap) >> sh) & 3;
                        *px = pal16[(lo | (hi << 2)) as usize & enable];
                    }
                }
                Shift::Pal256 => {
                    let pan = pan >> 1;
                    for (x, px) in line.iter_mut().enumerate() {
                        let x = x + pan;
                        *px = dac[self.plane_byte(addr + x / 4, x % 4, wrap) as usize];
                    }
                }
            }
        }
    }

    fn render_vbe(&self, m: &VbeMode, frame: &mut [u32]) {
        let vram = &self.s.vram;
        let dac = self.s.dac.table(self.dac_8bit());
        let pal16 = self.palette16();
        let wrap = usize::MAX;
        let byte = |i: usize| vram.get(i).copied().unwrap_or(0) as u32;
        for (y, line) in frame.chunks_exact_mut(m.xres).enumerate().take(m.yres) {
            let base = m.start + y * m.line;
            match m.bpp {
                4 => self.planar_line(line, base, 0, wrap, &pal16, 0x0F),
                8 => {
                    for (x, px) in line.iter_mut().enumerate() {
                        *px = dac[byte(base + x) as usize];
                    }
                }
                15 | 16 => {
                    for (x, px) in line.iter_mut().enumerate() {
                        let v = byte(base + 2 * x) | (byte(base + 2 * x + 1) << 8);
                        let (r, g, b) = if m.bpp == 15 {
                            (
                                (v >> 10) & 31,
                                ((v >> 5) & 31) << 1 | ((v >> 9) & 1),
                                v & 31,
                            )
                        } else {
                            ((v >> 11) & 31, (v >> 5) & 63, v & 31)
                        };
                        let r = (r << 3) | (r >> 2);
                        let g = (g << 2) | (g >> 4);
                        let b = (b << 3) | (b >> 2);
                        *px = (r << 16) | (g << 8) | b;
                    }
                }
                _ => {
                    let bytes = if m.bpp == 24 { 3 } else { 4 };
                    if let Some(src) = vram.get(base..base + bytes * m.xres) {
                        for (px, c) in line.iter_mut().zip(src.chunks_exact(bytes)) {
                            *px = u32::from_le_bytes([c[0], c[1], c[2], 0]);
                        }
                        continue;
                    }
                    for (x, px) in line.iter_mut().enumerate() {
                        let i = base + bytes * x;
                        *px = (byte(i + 2) << 16) | (byte(i + 1) << 8) | byte(i);
                    }
                }
            }
        }
    }

    /// Draws the current display into `frame` (resized to width x height,
    /// 0x00RRGGBB) and returns (width, height).
    pub fn render(&mut self, frame: &mut Vec<u32>) -> (u32, u32) {
        let info = mode_info(self);
        let (w, h) = (info.width as usize, info.height as usize);
        frame.clear();
        frame.resize(w * h, 0);
        match info.kind {
            ModeKind::Vbe => {
                if let Some(m) = self.vbe_mode() {
                    self.render_vbe(&m, frame);
                }
            }
            ModeKind::Text { .. } => self.render_text(frame, self.frame_counter),
            ModeKind::Graphics => self.render_vga_graphics(frame, w),
            ModeKind::Blank => {}
        }
        (info.width, info.height)
    }
}

/// What `render` would draw now.
pub(super) fn mode_info(v: &Vga) -> ModeInfo {
    if let Some(m) = v.vbe_mode() {
        return ModeInfo {
            kind: ModeKind::Vbe,
            width: m.xres as u32,
            height: m.yres as u32,
            bpp: m.bpp as u32,
        };
    }
    let (kind, width, height, bpp) = if v.is_text_mode() {
        let t = v.text_geometry();
        (
            ModeKind::Text {
                cols: t.cols as u32,
                rows: t.rows as u32,
            },
            t.width,
            t.height,
            4,
        )
    } else {
        let g = v.gfx_geometry();
        let bpp = match g.shift {
            Shift::Planar16 => 4,
            Shift::Cga4 => 2,
            Shift::Pal256 => 8,
        };
        (ModeKind::Graphics, g.width, g.height, bpp)
    };
    let blank = v.s.attr_index & 0x20 == 0 || v.s.seq[1] & 0x20 != 0;
    if blank || width < 8 || height < 8 {
        let (width, height) = if width < 8 || height < 8 {
            (640, 480)
        } else {
            (width, height)
        };
        return ModeInfo {
            kind: ModeKind::Blank,
            width: width as u32,
            height: height as u32,
            bpp,
        };
    }
    ModeInfo {
        kind,
        width: width as u32,
        height: height as u32,
        bpp,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testmodes::{set_mode, MODE_04H, MODE_0DH, MODE_12H, MODE_13H};
    use super::super::vbe::*;
    use super::super::*;
    use crate::PortIo;

    fn set_dac(v: &mut Vga, i: u8, rgb: [u8; 3]) {
        v.write(0x3C8, 1, i as u32);
        for c in rgb {
            v.write(0x3C9, 1, c as u32);
        }
    }

    #[test]
    fn mode13h_pixels() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_13H);
        set_dac(&mut v, 0x2A, [0x3F, 0x00, 0x00]);
        set_dac(&mut v, 0x07, [0x00, 0x3F, 0x3F]);
        v.mem_write(0xA0000 + 10 * 320 + 17, 1, 0x2A);
        v.mem_write(0xA0000 + 199 * 320 + 319, 1, 0x07);
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (320, 200));
        assert_eq!(f[10 * 320 + 17], 0xFF0000);
        assert_eq!(f[10 * 320 + 18], 0x000000);
        assert_eq!(f[199 * 320 + 319], 0x00FFFF);
        let info = v.mode_info();
        assert_eq!((info.kind, info.bpp), (ModeKind::Graphics, 8));
        // Start address (in CRTC units = 4 pixels) scrolls the picture.
        v.write(0x3D4, 2, 0x0D | (80 << 8)); // one line of 320 pixels
        v.render(&mut f);
        assert_eq!(f[9 * 320 + 17], 0xFF0000);
    }

    #[test]
    fn mode_x_unchained_matches_layout() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_13H);
        set_dac(&mut v, 9, [0x3F, 0x3F, 0x3F]);
        // Unchain: SR4 chain-4 off, CR14 dword off, CR17 byte mode.
        v.write(0x3C4, 2, 0x0604);
        v.write(0x3D4, 2, 0x0014);
        v.write(0x3D4, 2, 0xE317);
        // Pixel (x=6, y=1): plane 2, offset 1*80 + 1.
        v.write(0x3C4, 2, 0x0402);
        v.mem_write(0xA0000 + 81, 1, 9);
        let mut f = Vec::new();
        v.render(&mut f);
        assert_eq!(f[320 + 6], 0xFFFFFF);
        assert_eq!(f[320 + 5], 0);
    }

    #[test]
    fn planar_640x480() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_12H);
        set_dac(&mut v, 0x3F, [0x3F, 0x3F, 0x3F]); // attr 15 -> DAC 0x3F
        set_dac(&mut v, 0x01, [0x00, 0x00, 0x2A]); // attr 1 -> DAC 1
                                                   // Write mode 2: colour 15 at pixel 0, colour 1 at pixel 7 of line 2.
        v.write(0x3CE, 2, 0x0205);
        v.write(0x3CE, 2, 0x8008);
        v.mem_read(0xA0000 + 160, 1);
        v.mem_write(0xA0000 + 160, 1, 15);
        v.write(0x3CE, 2, 0x0108);
        v.mem_read(0xA0000 + 160, 1);
        v.mem_write(0xA0000 + 160, 1, 1);
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (640, 480));
        assert_eq!(f[2 * 640], 0xFFFFFF);
        assert_eq!(f[2 * 640 + 7], 0x0000AA);
        assert_eq!(f[2 * 640 + 1], 0);
        // Colour plane enable masks plane 3 and 2: 15 -> 3 (DAC 3, black).
        v.read(0x3DA, 1);
        v.write(0x3C0, 1, 0x32);
        v.write(0x3C0, 1, 0x03);
        v.render(&mut f);
        assert_eq!(f[2 * 640], 0);
        // Pel panning by 7 moves pixel 7 to x = 0.
        v.write(0x3C0, 1, 0x32);
        v.write(0x3C0, 1, 0x0F);
        v.write(0x3C0, 1, 0x33);
        v.write(0x3C0, 1, 0x07);
        v.render(&mut f);
        assert_eq!(f[2 * 640], 0x0000AA);
    }

    #[test]
    fn planar_320x200_doubled_scan() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_0DH);
        set_dac(&mut v, 0x06, [0x2A, 0x15, 0x00]);
        v.write(0x3CE, 2, 0x0205); // write mode 2
        v.write(0x3CE, 2, 0x0108); // rightmost pixel of the byte
        v.mem_read(0xA0000 + 199 * 40 + 39, 1);
        v.mem_write(0xA0000 + 199 * 40 + 39, 1, 6);
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (320, 200));
        assert_eq!(f[199 * 320 + 319], 0xAA5500);
        assert_eq!(f[198 * 320 + 319], 0);
    }

    #[test]
    fn cga_320x200_four_colours() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_04H);
        set_dac(&mut v, 0x15, [0x3F, 0x00, 0x3F]); // colour 2 -> attr 0x15
        set_dac(&mut v, 0x17, [0x3F, 0x3F, 0x3F]); // colour 3 -> attr 0x17
                                                   // Line 0: byte 0 = pixels 0-3 = 3,0,2,0; line 1 lives at B8000+0x2000.
        v.mem_write(0xB8000, 1, 0b1100_1000);
        v.mem_write(0xB8001, 1, 0b0000_0011); // pixels 4-7: 0,0,0,3
        v.mem_write(0xBA000 + 80, 1, 0b1000_0000); // line 3, pixel 0 = 2
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (320, 200));
        assert_eq!(&f[0..8], &[0xFFFFFF, 0, 0xFF00FF, 0, 0, 0, 0, 0xFFFFFF]);
        assert_eq!(f[320], 0, "line 1 is the odd bank");
        assert_eq!(f[3 * 320], 0xFF00FF);
        assert_eq!(v.mode_info().bpp, 2);
    }

    #[test]
    fn line_compare_splits_screen() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_12H);
        set_dac(&mut v, 0x3F, [0x3F, 0x3F, 0x3F]);
        v.mem_write(0xA0000, 1, 0x80); // plane offset 0, all planes: colour 15
                                       // Start the display at line 100, split after scan line 299.
        let start = 100 * 80;
        v.write(0x3D4, 2, 0x0C | ((start >> 8) << 8));
        v.write(0x3D4, 2, 0x0D | ((start & 0xFF) << 8));
        v.write(0x3D4, 2, 0x0009); // CR9: line compare bit 9 clear (CR7 keeps bit 8)
        v.write(0x3D4, 2, 0x18 | (43 << 8)); // line compare = 0x12B = 299
        let mut f = Vec::new();
        v.render(&mut f);
        assert_eq!(f[0], 0, "top shows line 100");
        assert_eq!(f[300 * 640], 0xFFFFFF, "line 300 restarts at address 0");
        assert_eq!(f[299 * 640], 0);
    }

    #[test]
    fn blank_when_palette_source_off() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_13H);
        v.read(0x3DA, 1);
        v.write(0x3C0, 1, 0x00); // PAS off
        let info = v.mode_info();
        assert_eq!(
            (info.kind, info.width, info.height),
            (ModeKind::Blank, 320, 200)
        );
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (320, 200));
        assert!(f.iter().all(|p| *p == 0));
        assert_eq!(Vga::new().mode_info().kind, ModeKind::Blank);
    }

    fn vbe(v: &mut Vga, i: usize, val: u16) {
        v.write(0x1CE, 2, i as u32);
        v.write(0x1CF, 2, val as u32);
    }

    #[test]
    fn vbe_800x600x32_lfb() {
        let mut v = Vga::new();
        vbe(&mut v, INDEX_ENABLE, 0);
        vbe(&mut v, INDEX_XRES, 800);
        vbe(&mut v, INDEX_YRES, 600);
        vbe(&mut v, INDEX_BPP, 32);
        vbe(&mut v, INDEX_ENABLE, ENABLED | LFB_ENABLED);
        let lfb = v.lfb_base();
        v.mem_write(lfb + (599 * 800 + 799) * 4, 4, 0x00123456);
        v.mem_write(lfb + (800 + 2) * 4, 4, 0xFF_ABCDEF);
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (800, 600));
        assert_eq!(f[599 * 800 + 799], 0x123456);
        assert_eq!(f[800 + 2], 0xABCDEF, "X byte ignored");
        let info = v.mode_info();
        assert_eq!(
            (info.kind, info.width, info.height, info.bpp),
            (ModeKind::Vbe, 800, 600, 32)
        );
        // Panning through the virtual screen.
        vbe(&mut v, INDEX_Y_OFFSET, 1);
        v.render(&mut f);
        assert_eq!(f[2], 0xABCDEF);
        // Offsets far past the end of VRAM render black, never panic.
        vbe(&mut v, INDEX_X_OFFSET, 0xFFFF);
        vbe(&mut v, INDEX_Y_OFFSET, 0xFFFF);
        v.render(&mut f);
        assert!(f.iter().all(|p| *p == 0));
        // Disabling returns to VGA rendering.
        vbe(&mut v, INDEX_ENABLE, 0);
        assert_ne!(v.mode_info().kind, ModeKind::Vbe);
    }

    #[test]
    fn vbe_16_24_8_bpp() {
        let mut v = Vga::new();
        let lfb = v.lfb_base();
        let mut f = Vec::new();
        for (bpp, bytes, val, want) in [
            (16u16, 2, 0xF800u32, 0xFF0000u32),
            (15, 2, 0x03E0, 0x00FF00),
            (24, 3, 0x0000FF, 0x0000FF),
        ] {
            vbe(&mut v, INDEX_ENABLE, 0);
            vbe(&mut v, INDEX_XRES, 64);
            vbe(&mut v, INDEX_YRES, 32);
            vbe(&mut v, INDEX_BPP, bpp);
            vbe(&mut v, INDEX_ENABLE, ENABLED | LFB_ENABLED);
            v.mem_write(lfb + (3 * 64 + 5) * bytes, bytes as u8, val);
            assert_eq!(v.render(&mut f), (64, 32));
            assert_eq!(f[3 * 64 + 5], want, "{bpp} bpp");
        }
        vbe(&mut v, INDEX_ENABLE, 0);
        vbe(&mut v, INDEX_BPP, 8);
        vbe(&mut v, INDEX_ENABLE, ENABLED | DAC_8BIT);
        set_dac(&mut v, 200, [0x80, 0x40, 0xFF]);
        v.mem_write(0xA0000 + 70, 1, 200); // bank 0 through the window
        v.render(&mut f);
        assert_eq!(f[70], 0x8040FF, "8-bit DAC");
    }

    #[test]
    fn vbe_4bpp_planar() {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_12H);
        set_dac(&mut v, 0x3F, [0x3F, 0x3F, 0x3F]);
        vbe(&mut v, INDEX_XRES, 1024);
        vbe(&mut v, INDEX_YRES, 768);
        vbe(&mut v, INDEX_BPP, 4);
        vbe(&mut v, INDEX_ENABLE, ENABLED);
        v.write(0x3C4, 2, 0x0F02);
        v.write(0x3CE, 2, 0xFF08);
        v.mem_write(0xA0000 + 128 * 3, 1, 0x80); // line 3, pixel 0, colour 15
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (1024, 768));
        assert_eq!(f[3 * 1024], 0xFFFFFF);
    }
}
