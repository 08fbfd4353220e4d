//! Alphanumeric (text) modes: geometry from the CRTC and sequencer,
//! characters and attributes from planes 0 and 1, glyphs from the font the
//! guest loaded into plane 2 (character maps A/B per SR3 and attribute bit
//! 3), 8- or 9-dot cells with the line-graphics 9th column, blink or
//! intensity per attribute mode control bit 3, the mono underline, and the
//! CRTC cursor. Blink phases come from the caller's frame counter.
//!
//! Also the test helper `text_screen()`: the screen as lines of Unicode
//! (code page 437). Left out: cursor skew, the text-mode pel panning.

use super::Vga;

/// Frames per cursor blink half-period (the cursor toggles at vsync/16).
pub const CURSOR_BLINK_FRAMES: u64 = 16;
/// Frames per character blink half-period (vsync/32).
pub const CHAR_BLINK_FRAMES: u64 = 32;

/// Plane-2 offsets of the eight character maps selected by SR3.
const FONT_MAP_OFFSET: [usize; 8] = [
    0x0000, 0x4000, 0x8000, 0xC000, 0x2000, 0x6000, 0xA000, 0xE000,
];

#[derive(Clone, Copy, Debug)]
pub(super) struct TextGeometry {
    pub cols: usize,
    pub rows: usize,
    pub char_w: usize,
    pub char_h: usize,
    /// Pixels drawn twice horizontally (40-column modes).
    pub double_w: bool,
    pub start: usize,
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl Vga {
    pub(super) fn text_geometry(&self) -> TextGeometry {
        let c = &self.s.crtc;
        let cols = c[1] as usize + 1;
        let char_w = if self.s.seq[1] & 1 != 0 { 8 } else { 9 };
        let double_w = self.s.seq[1] & 0x08 != 0;
        let char_h = (c[9] & 0x1F) as usize + 1;
        let rows = self.display_lines() / char_h;
        TextGeometry {
            cols,
            rows,
            char_w,
            char_h,
            double_w,
            start: self.start_address(),
            stride: 2 * c[0x13] as usize,
            width: cols * char_w * if double_w { 2 } else { 1 },
            height: rows * char_h,
        }
    }

    /// (character, attribute) of the cell at plane offset `addr`.
    fn cell(&self, addr: usize) -> (u8, u8) {
        let i = (addr & 0xFFFF) * 4;
        match self.s.vram.get(i..i + 2) {
            Some(b) => (b[0], b[1]),
            None => (0, 0),
        }
    }

    pub(super) fn render_text(&self, frame: &mut [u32], frame_counter: u64) {
        let t = self.text_geometry();
        if t.width == 0 || t.height == 0 {
            return;
        }
        let pal = self.palette16();
        let ar = &self.s.attr;
        let crtc = &self.s.crtc;
        let enable = ar[0x12] & 0x0F;
        let blink_attr = ar[0x10] & 0x08 != 0;
        let line_gfx = ar[0x10] & 0x04 != 0;
        let mono = ar[0x10] & 0x02 != 0;
        let char_on = (frame_counter / CHAR_BLINK_FRAMES) & 1 == 0;
        let cursor_on = (frame_counter / CURSOR_BLINK_FRAMES) & 1 == 0;
        let cursor_addr = ((crtc[0x0E] as usize) << 8) | crtc[0x0F] as usize;
        let cursor_lines = if crtc[0x0A] & 0x20 == 0 && cursor_on {
            Some(((crtc[0x0A] & 0x1F) as usize, (crtc[0x0B] & 0x1F) as usize))
        } else {
            None
        };
        let underline = (crtc[0x14] & 0x1F) as usize;
        let sr3 = self.s.seq[3];
        let map_a = FONT_MAP_OFFSET[(((sr3 >> 2) & 3) | ((sr3 >> 3) & 4)) as usize];
        let map_b = FONT_MAP_OFFSET[((sr3 & 3) | ((sr3 >> 2) & 4)) as usize];
        let xs = if t.double_w { 2 } else { 1 };

        for row in 0..t.rows {
            for col in 0..t.cols {
                let addr = (t.start + row * t.stride + col) & 0xFFFF;
                let (ch, at) = self.cell(addr);
                let mut fg = at & 0x0F;
                let mut bg = at >> 4;
                if blink_attr {
                    bg &= 7;
                    if at & 0x80 != 0 && !char_on {
                        fg = bg;
                    }
                }
                let fg_rgb = pal[(fg & enable) as usize];
                let bg_rgb = pal[(bg & enable) as usize];
                let font = if at & 0x08 != 0 { map_a } else { map_b } + ch as usize * 32;
                let is_cursor = addr == (cursor_addr & 0xFFFF);
                for line in 0..t.char_h {
                    let glyph = if line < 32 {
                        self.s.vram.get((font + line) * 4 + 2).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    let mut bits = (glyph as u16) << 1;
                    if t.char_w == 9 && line_gfx && (0xC0..=0xDF).contains(&ch) {
                        bits |= (glyph & 1) as u16;
                    }
                    let solid = matches!(cursor_lines, Some((s, e)) if is_cursor && s <= line && line <= e)
                        || (mono && at & 0x77 == 0x01 && line == underline);
                    let y = row * t.char_h + line;
                    let x0 = col * t.char_w * xs;
                    let dst = &mut frame[y * t.width + x0..][..t.char_w * xs];
                    for (i, px) in dst.iter_mut().enumerate() {
                        let dot = i / xs;
                        let on = solid || bits & (0x100 >> dot) != 0;
                        *px = if on { fg_rgb } else { bg_rgb };
                    }
                }
            }
        }
    }

    /// The text screen as lines of characters (CP437 mapped to Unicode,
    /// NUL and 0xFF as spaces), trailing spaces trimmed, one `\n` after each
    /// row. `None` in graphics and VBE modes.
    pub fn text_screen(&self) -> Option<String> {
        if !self.is_text_mode() {
            return None;
        }
        let t = self.text_geometry();
        let mut out = String::with_capacity(t.rows * (t.cols + 1));
        for row in 0..t.rows {
            let mut line: String = (0..t.cols)
                .map(|col| cp437(self.cell(t.start + row * t.stride + col).0))
                .collect();
            line.truncate(line.trim_end_matches(' ').len());
            out.push_str(&line);
            out.push('\n');
        }
        Some(out)
    }
}

/// Code page 437 to Unicode; control codes become their classic glyphs.
pub fn cp437(b: u8) -> char {
    const LOW: &str = " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼";
    const HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»\
░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀\
αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ";
    match b {
        0x00..=0x1F => LOW.chars().nth(b as usize).unwrap_or(' '),
        0x7F => '⌂',
        0x20..=0x7E => b as char,
        _ => HIGH.chars().nth(b as usize - 0x80).unwrap_or(' '),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testmodes::{load_font, set_mode, MODE_03H};
    use super::super::{ModeKind, Vga};
    use super::*;
    use crate::PortIo;

    fn set_dac(v: &mut Vga, i: u8, rgb: [u8; 3]) {
        v.write(0x3C8, 1, i as u32);
        for c in rgb {
            v.write(0x3C9, 1, c as u32);
        }
    }

    /// Mode 3 with a glyph for 'A' (a box outline with a diagonal) and the
    /// colours: attr 0x1F = white on blue.
    fn mode3() -> Vga {
        let mut v = Vga::new();
        set_mode(&mut v, &MODE_03H);
        let mut glyph = [0u8; 16];
        glyph[0] = 0xFF;
        glyph[15] = 0xFF;
        for (i, g) in glyph.iter_mut().enumerate().take(15).skip(1) {
            *g = 0x81 | (0x80 >> (i % 8));
        }
        load_font(&mut v, b'A', &glyph);
        load_font(
            &mut v,
            0xC4,
            &[0, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        set_dac(&mut v, 0x3F, [0x3F, 0x3F, 0x3F]); // attr 15 -> DAC 0x3F
        set_dac(&mut v, 0x01, [0x00, 0x00, 0x2A]); // attr 1 -> DAC 1
        v
    }

    #[test]
    fn glyph_from_plane2_rendered() {
        let mut v = mode3();
        v.mem_write(0xB8000 + 2 * (80 + 2), 2, 0x1F41); // row 1 col 2
        let mut f = Vec::new();
        assert_eq!(v.render(&mut f), (720, 400));
        let at = |x: usize, y: usize| f[(16 + y) * 720 + 2 * 9 + x];
        for x in 0..8 {
            assert_eq!(at(x, 0), 0xFFFFFF, "top row of the box");
        }
        assert_eq!(at(8, 0), 0x0000AA, "9th column is background for 'A'");
        assert_eq!(at(0, 5), 0xFFFFFF);
        assert_eq!(at(3, 5), 0x0000AA);
        assert_eq!(at(5, 5), 0xFFFFFF, "diagonal 0x80 >> 5");
        assert_eq!(at(7, 5), 0xFFFFFF);
        // Line-graphics characters extend into the 9th column.
        v.mem_write(0xB8000 + 2 * (80 + 3), 2, 0x1FC4);
        v.render(&mut f);
        assert_eq!(f[(16 + 7) * 720 + 3 * 9 + 8], 0xFFFFFF);
        assert_eq!(
            f[(16 + 7) * 720 + 3 * 9 + 8 - 9],
            0x0000AA,
            "no 9th-column extension for 'A'"
        );
    }

    #[test]
    fn cursor_and_blink() {
        let mut v = mode3();
        // Cursor at row 0 col 5, lines 14-15.
        v.write(0x3D4, 2, 0x0E0A);
        v.write(0x3D4, 2, 0x0F0B);
        v.write(0x3D4, 2, 0x000E);
        v.write(0x3D4, 2, 0x050F);
        v.mem_write(0xB8000 + 10, 2, 0x0F20); // space, white on black
        v.mem_write(0xB8000 + 12, 2, 0x9F41); // blinking 'A' on blue
        let mut f = Vec::new();
        v.set_frame_counter(0);
        v.render(&mut f);
        assert_eq!(f[14 * 720 + 5 * 9], 0xFFFFFF, "cursor line drawn");
        assert_eq!(f[13 * 720 + 5 * 9], 0, "above the cursor");
        assert_eq!(f[6 * 9], 0xFFFFFF, "blinking char visible in phase 0");
        let k0 = v.frame_key();
        v.set_frame_counter(CURSOR_BLINK_FRAMES);
        assert_ne!(v.frame_key(), k0, "blink changes the frame key");
        v.render(&mut f);
        assert_eq!(f[14 * 720 + 5 * 9], 0, "cursor off");
        v.set_frame_counter(CHAR_BLINK_FRAMES);
        v.render(&mut f);
        assert_eq!(f[6 * 9], 0x0000AA, "blinking char hidden");
        // Intensity mode: attribute bit 7 is a bright background instead.
        v.read(0x3DA, 1);
        v.write(0x3C0, 1, 0x30);
        v.write(0x3C0, 1, 0x04);
        v.render(&mut f);
        assert_eq!(f[6 * 9], 0xFFFFFF);
        // Cursor disable bit.
        v.set_frame_counter(0);
        v.write(0x3D4, 2, 0x2E0A);
        v.render(&mut f);
        assert_eq!(f[14 * 720 + 5 * 9], 0);
    }

    #[test]
    fn text_screen_output() {
        let mut v = mode3();
        for (i, b) in b"SeaBIOS \x01\xC9\xCD".iter().enumerate() {
            v.mem_write(0xB8000 + 2 * (80 * 2 + i as u64), 1, *b as u32);
        }
        v.mem_write(0xB8000 + 2 * (80 * 24 + 79), 1, b'Z' as u32);
        let s = v.text_screen().unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 25);
        assert_eq!(lines[2], "SeaBIOS ☺╔═");
        assert_eq!(lines[0], "");
        assert_eq!(lines[24].len(), 80);
        assert!(lines[24].ends_with('Z'));
        assert_eq!(v.mode_info().kind, ModeKind::Text { cols: 80, rows: 25 });
    }

    #[test]
    fn text_80x50_and_40x25_geometry() {
        let mut v = mode3();
        // 8-line cells: 80x50.
        v.write(0x3D4, 2, 0x4709);
        assert_eq!(v.mode_info().kind, ModeKind::Text { cols: 80, rows: 50 });
        assert_eq!((v.mode_info().width, v.mode_info().height), (720, 400));
        // 40 columns, dot clock halved: 40x25 drawn 720 wide.
        v.write(0x3D4, 2, 0x4F09);
        v.write(0x3D4, 2, 0x2711);
        v.write(0x3D4, 2, 0x2701);
        v.write(0x3D4, 2, 0x1413);
        v.write(0x3C4, 2, 0x0801);
        let info = v.mode_info();
        assert_eq!(info.kind, ModeKind::Text { cols: 40, rows: 25 });
        assert_eq!((info.width, info.height), (720, 400));
        v.mem_write(0xB8000 + 2 * 41, 2, 0x1F41); // row 1 col 1
        let mut f = Vec::new();
        v.render(&mut f);
        assert_eq!(f[16 * 720 + 18], 0xFFFFFF);
        assert_eq!(f[16 * 720 + 18 + 15], 0xFFFFFF);
        assert_eq!(f[16 * 720 + 18 + 16], 0x0000AA, "9th dot doubled");
        assert!(v
            .text_screen()
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(" A"));
    }

    #[test]
    fn cp437_mapping() {
        assert_eq!(cp437(b'a'), 'a');
        assert_eq!(cp437(0), ' ');
        assert_eq!(cp437(0x01), '☺');
        assert_eq!(cp437(0x1F), '▼');
        assert_eq!(cp437(0x80), 'Ç');
        assert_eq!(cp437(0xB0), '░');
        assert_eq!(cp437(0xDB), '█');
        assert_eq!(cp437(0xE0), 'α');
        assert_eq!(cp437(0xFE), '■');
        assert_eq!(cp437(0xFF), ' ');
    }
}
