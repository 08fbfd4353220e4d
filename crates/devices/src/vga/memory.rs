//! CPU access to VRAM: the legacy window at 0xA0000-0xBFFFF through the
//! graphics controller (latches, write modes 0-3 with rotate, logical
//! function, set/reset and bit mask; read modes 0 and 1 with colour
//! compare), chain-4 and odd/even addressing, the Bochs VBE bank, and the
//! linear framebuffer (plain little-endian VRAM bytes).
//!
//! Layout: VRAM byte `4 * a + p` is plane `p` at plane offset `a` (see the
//! module header of `vga`). Without VBE the planes are 64 KiB each, as on a
//! 256 KiB VGA; with VBE enabled the window reaches all of VRAM through the
//! bank register. Odd/even writes go through the same write logic as
//! planar ones, restricted to planes 0/2 (even address) or 1/3 (odd).

use std::sync::{Arc, Mutex};

use super::{Vga, LEGACY_WINDOW};
use crate::bus::lock;

impl Vga {
    /// A guest physical read from the legacy window or the LFB. `size` is
    /// 1, 2 or 4; anything outside both ranges reads as all ones.
    pub fn mem_read(&mut self, addr: u64, size: u8) -> u32 {
        let size = size.clamp(1, 4);
        if let Some(off) = self.lfb_offset(addr) {
            let mut v = 0u32;
            for i in 0..size as usize {
                let b = self.s.vram.get(off + i).copied().unwrap_or(0xFF);
                v |= (b as u32) << (8 * i);
            }
            return v;
        }
        let mut v = 0u32;
        for i in 0..size as u64 {
            let a = addr.wrapping_add(i);
            let b = if (LEGACY_WINDOW.0..LEGACY_WINDOW.1).contains(&a) {
                self.legacy_read((a - LEGACY_WINDOW.0) as u32)
            } else {
                0xFF
            };
            v |= (b as u32) << (8 * i);
        }
        v
    }

    /// A guest physical write to the legacy window or the LFB.
    pub fn mem_write(&mut self, addr: u64, size: u8, val: u32) {
        let size = size.clamp(1, 4);
        if let Some(off) = self.lfb_offset(addr) {
            for i in 0..size as usize {
                if let Some(b) = self.s.vram.get_mut(off + i) {
                    *b = (val >> (8 * i)) as u8;
                }
            }
            self.touch();
            return;
        }
        for i in 0..size as u64 {
            let a = addr.wrapping_add(i);
            if (LEGACY_WINDOW.0..LEGACY_WINDOW.1).contains(&a) {
                self.legacy_write((a - LEGACY_WINDOW.0) as u32, (val >> (8 * i)) as u8);
            }
        }
    }

    fn lfb_offset(&self, addr: u64) -> Option<usize> {
        let off = addr.checked_sub(self.s.lfb_base)?;
        (off < self.s.vram.len() as u64).then_some(off as usize)
    }

    /// Maps an offset in 0xA0000-0xBFFFF to a window address per the
    /// graphics controller's memory map select, adding the VBE bank.
    fn window_address(&self, off: u32) -> Option<usize> {
        let off = off as usize;
        match (self.s.gc[6] >> 2) & 3 {
            0 => Some(off),
            1 => (off < 0x10000).then(|| off + self.vbe_bank_offset()),
            2 => off.checked_sub(0x10000).filter(|o| *o < 0x8000),
            _ => off.checked_sub(0x18000).filter(|o| *o < 0x8000),
        }
    }

    /// Wraps a plane offset to the 64 KiB planes of a plain VGA (with VBE
    /// on, the bank reaches all of VRAM); `None` past the end of VRAM.
    fn plane_address(&self, pa: usize) -> Option<usize> {
        let pa = if self.vbe_enabled() { pa } else { pa & 0xFFFF };
        (pa * 4 + 4 <= self.s.vram.len()).then_some(pa)
    }

    fn chain4(&self) -> bool {
        self.s.seq[4] & 0x08 != 0
    }

    fn load_latches(&mut self, plane_off: usize) -> bool {
        let i = plane_off * 4;
        match self.s.vram.get(i..i + 4) {
            Some(l) => {
                self.s.latch.copy_from_slice(l);
                true
            }
            None => false,
        }
    }

    pub(crate) fn legacy_read(&mut self, off: u32) -> u8 {
        let Some(a) = self.window_address(off) else {
            return 0xFF;
        };
        if self.chain4() {
            let a = if self.vbe_enabled() { a } else { a & 0x3FFFF };
            self.load_latches(a >> 2);
            return self.s.vram.get(a).copied().unwrap_or(0xFF);
        }
        let gc = self.s.gc;
        let (pa, plane) = if gc[5] & 0x10 != 0 {
            (a >> 1, ((gc[4] & 2) as usize) | (a & 1))
        } else {
            (a, (gc[4] & 3) as usize)
        };
        let Some(pa) = self.plane_address(pa) else {
            return 0xFF;
        };
        self.load_latches(pa);
        if gc[5] & 0x08 == 0 {
            return self.s.latch[plane];
        }
        // Read mode 1: a bit is set where the pixel equals the colour
        // compare value in every plane not marked "don't care".
        let mut diff = 0u8;
        for p in 0..4 {
            if gc[7] & (1 << p) != 0 {
                let want = if gc[2] & (1 << p) != 0 { 0xFF } else { 0 };
                diff |= self.s.latch[p] ^ want;
            }
        }
        !diff
    }

    pub(crate) fn legacy_write(&mut self, off: u32, val: u8) {
        let Some(a) = self.window_address(off) else {
            return;
        };
        let map_mask = self.s.seq[2] & 0x0F;
        if self.chain4() {
            let a = if self.vbe_enabled() { a } else { a & 0x3FFFF };
            if map_mask & (1 << (a & 3)) != 0 {
                if let Some(b) = self.s.vram.get_mut(a) {
                    *b = val;
                    self.touch();
                }
            }
            return;
        }
        let (pa, planes) = if self.s.seq[4] & 0x04 == 0 {
            let sel = if a & 1 != 0 { 0b1010 } else { 0b0101 };
            (a >> 1, map_mask & sel)
        } else {
            (a, map_mask)
        };
        let Some(pa) = self.plane_address(pa) else {
            return;
        };
        let data = self.planar_data(val);
        for (p, d) in data.iter().enumerate() {
            if planes & (1 << p) != 0 {
                self.s.vram[pa * 4 + p] = *d;
            }
        }
        self.touch();
    }

    /// The four plane bytes the graphics controller produces for a CPU
    /// write of `val`, per write mode, set/reset, rotate, function and bit
    /// mask.
    fn planar_data(&self, val: u8) -> [u8; 4] {
        let gc = &self.s.gc;
        let latch = self.s.latch;
        let rotated = val.rotate_right((gc[3] & 7) as u32);
        let expand = |bit: bool| if bit { 0xFFu8 } else { 0 };
        let mut bitmask = gc[8];
        let mut out = [0u8; 4];
        match gc[5] & 3 {
            0 => {
                for (p, o) in out.iter_mut().enumerate() {
                    *o = if gc[1] & (1 << p) != 0 {
                        expand(gc[0] & (1 << p) != 0)
                    } else {
                        rotated
                    };
                }
            }
            1 => return latch,
            2 => {
                for (p, o) in out.iter_mut().enumerate() {
                    *o = expand(val & (1 << p) != 0);
                }
            }
            _ => {
                bitmask &= rotated;
                for (p, o) in out.iter_mut().enumerate() {
                    *o = expand(gc[0] & (1 << p) != 0);
                }
            }
        }
        for (p, o) in out.iter_mut().enumerate() {
            let v = match (gc[3] >> 3) & 3 {
                0 => *o,
                1 => *o & latch[p],
                2 => *o | latch[p],
                _ => *o ^ latch[p],
            };
            *o = (v & bitmask) | (latch[p] & !bitmask);
        }
        out
    }
}

/// The memory-map side of a shared [`Vga`]: register one for the legacy
/// window (0xA0000-0xBFFFF) and the LFB range (`lfb_base()`, `vram_size()`
/// bytes). Addresses are guest physical.
#[derive(Clone)]
pub struct VgaMmio(pub Arc<Mutex<Vga>>);

impl mmu::Mmio for VgaMmio {
    fn read(&mut self, addr: u64, size: u8) -> u32 {
        lock(&self.0).mem_read(addr, size)
    }

    fn write(&mut self, addr: u64, size: u8, val: u32) {
        lock(&self.0).mem_write(addr, size, val)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Vga;
    use crate::PortIo;

    fn seq(v: &mut Vga, i: u8, val: u8) {
        v.write(0x3C4, 1, i as u32);
        v.write(0x3C5, 1, val as u32);
    }

    fn gc(v: &mut Vga, i: u8, val: u8) {
        v.write(0x3CE, 1, i as u32);
        v.write(0x3CF, 1, val as u32);
    }

    fn plane(v: &Vga, p: usize, off: usize) -> u8 {
        v.state().vram[off * 4 + p]
    }

    /// Planar 16-colour setup (mode 12h style): sequential, A0000/64K.
    fn planar() -> Vga {
        let mut v = Vga::new();
        seq(&mut v, 4, 0x06);
        seq(&mut v, 2, 0x0F);
        gc(&mut v, 5, 0x00);
        gc(&mut v, 6, 0x05);
        gc(&mut v, 8, 0xFF);
        v
    }

    #[test]
    fn write_mode0_set_reset_and_bit_mask() {
        let mut v = planar();
        v.mem_write(0xA0010, 1, 0xAA); // all planes 0xAA
        for p in 0..4 {
            assert_eq!(plane(&v, p, 0x10), 0xAA);
        }
        gc(&mut v, 0, 0x05); // set/reset: planes 0 and 2 ones
        gc(&mut v, 1, 0x03); // enabled for planes 0 and 1
        gc(&mut v, 8, 0x0F); // only low nibble changes
        v.mem_read(0xA0010, 1); // load latches
        v.mem_write(0xA0010, 1, 0x33);
        assert_eq!(plane(&v, 0, 0x10), 0xAF, "set/reset 1 under mask");
        assert_eq!(plane(&v, 1, 0x10), 0xA0, "set/reset 0 under mask");
        assert_eq!(plane(&v, 2, 0x10), 0xA3, "cpu data under mask");
        assert_eq!(plane(&v, 3, 0x10), 0xA3);
    }

    #[test]
    fn write_mode0_rotate_and_functions() {
        let mut v = planar();
        v.mem_write(0xA0000, 1, 0xF0);
        v.mem_read(0xA0000, 1);
        gc(&mut v, 3, 0x08 | 4); // AND, rotate 4
        v.mem_write(0xA0000, 1, 0xFF); // rotated 0xFF
        assert_eq!(plane(&v, 0, 0), 0xF0);
        gc(&mut v, 3, 0x18); // XOR
        v.mem_read(0xA0000, 1);
        v.mem_write(0xA0000, 1, 0x3C);
        assert_eq!(plane(&v, 0, 0), 0xCC);
        gc(&mut v, 3, 0x10 | 1); // OR, rotate right 1
        v.mem_read(0xA0000, 1);
        v.mem_write(0xA0000, 1, 0x01); // -> 0x80
        assert_eq!(plane(&v, 1, 0), 0xCC | 0x80);
    }

    #[test]
    fn write_mode1_copies_latches() {
        let mut v = planar();
        gc(&mut v, 5, 0x02);
        v.mem_write(0xA0000, 1, 0x09); // mode 2: colour 9 -> planes 0,3 ones
        gc(&mut v, 5, 0x01);
        v.mem_read(0xA0000, 1);
        v.mem_write(0xA0100, 1, 0x00);
        assert_eq!(
            [0, 1, 2, 3].map(|p| plane(&v, p, 0x100)),
            [0xFF, 0, 0, 0xFF]
        );
    }

    #[test]
    fn write_mode2_with_bit_mask() {
        let mut v = planar();
        gc(&mut v, 5, 0x02);
        gc(&mut v, 8, 0x81);
        v.mem_read(0xA0000, 1);
        v.mem_write(0xA0000, 1, 0x06);
        assert_eq!([0, 1, 2, 3].map(|p| plane(&v, p, 0)), [0, 0x81, 0x81, 0]);
    }

    #[test]
    fn write_mode3_uses_rotated_data_as_mask() {
        let mut v = planar();
        gc(&mut v, 5, 0x03);
        gc(&mut v, 0, 0x0C); // colour 12
        gc(&mut v, 8, 0xF0);
        v.mem_read(0xA0000, 1);
        v.mem_write(0xA0000, 1, 0x3C); // effective mask 0x30
        assert_eq!([0, 1, 2, 3].map(|p| plane(&v, p, 0)), [0, 0, 0x30, 0x30]);
    }

    #[test]
    fn read_modes() {
        let mut v = planar();
        gc(&mut v, 5, 0x02);
        v.mem_write(0xA0000, 1, 0x05);
        gc(&mut v, 8, 0x0F);
        v.mem_read(0xA0000, 1);
        v.mem_write(0xA0000, 1, 0x0A);
        // pixels: high nibble colour 5, low nibble colour 10
        gc(&mut v, 5, 0x00);
        gc(&mut v, 4, 2);
        assert_eq!(v.mem_read(0xA0000, 1), 0xF0, "read map 2");
        gc(&mut v, 5, 0x08); // read mode 1
        gc(&mut v, 2, 0x0A);
        gc(&mut v, 7, 0x0F);
        assert_eq!(v.mem_read(0xA0000, 1), 0x0F);
        gc(&mut v, 2, 0x05);
        assert_eq!(v.mem_read(0xA0000, 1), 0xF0);
        gc(&mut v, 7, 0x00); // nothing cared about: all match
        assert_eq!(v.mem_read(0xA0000, 1), 0xFF);
        gc(&mut v, 7, 0x01); // only plane 0 (bit 0 of 5 is 1; of 10 is 0)
        assert_eq!(v.mem_read(0xA0000, 1), 0xF0);
    }

    #[test]
    fn chain4_addressing() {
        let mut v = Vga::new();
        seq(&mut v, 4, 0x0E);
        seq(&mut v, 2, 0x0F);
        gc(&mut v, 6, 0x05);
        gc(&mut v, 5, 0x40);
        v.mem_write(0xA0000 + 321, 1, 0x42);
        assert_eq!(plane(&v, 1, 80), 0x42);
        v.mem_write(0xA0000 + 320, 4, 0x44332211);
        assert_eq!(v.state().vram[320..324], [0x11, 0x22, 0x33, 0x44][..]);
        // 321 = plane 1, plane offset 80
        assert_eq!(plane(&v, 1, 80), 0x22);
        assert_eq!(v.mem_read(0xA0000 + 322, 2), 0x4433);
        // map mask gates planes
        seq(&mut v, 2, 0x01);
        v.mem_write(0xA0000 + 5, 1, 0x99);
        v.mem_write(0xA0000 + 4, 1, 0x77);
        assert_eq!(v.state().vram[4..6], [0x77, 0x00][..]);
    }

    #[test]
    fn odd_even_text_writes() {
        let mut v = Vga::new();
        seq(&mut v, 2, 0x03);
        seq(&mut v, 4, 0x02);
        gc(&mut v, 5, 0x10);
        gc(&mut v, 6, 0x0E);
        gc(&mut v, 8, 0xFF);
        v.mem_write(0xB8000 + 2 * 7, 2, 0x1F41);
        assert_eq!(plane(&v, 0, 7), 0x41);
        assert_eq!(plane(&v, 1, 7), 0x1F);
        assert_eq!(v.mem_read(0xB8000 + 2 * 7, 2), 0x1F41);
        assert_eq!(v.mem_read(0xA0000, 1), 0xFF, "outside B8000 window");
        v.mem_write(0xB0000, 1, 0x12); // ignored
        assert_eq!(plane(&v, 0, 0), 0);
    }

    #[test]
    fn memory_map_windows() {
        let mut v = planar();
        gc(&mut v, 6, 0x01); // A0000, 128K
        v.mem_write(0xB0005, 1, 0x5A); // aliases plane offset 0x10005 & 0xFFFF
        assert_eq!(plane(&v, 0, 0x0005), 0x5A);
        gc(&mut v, 6, 0x09); // B0000 32K
        assert_eq!(v.mem_read(0xB0005, 1), 0x5A);
        assert_eq!(v.mem_read(0xB8005, 1), 0xFF);
        assert_eq!(v.mem_read(0xA0005, 1), 0xFF);
        assert_eq!(v.mem_read(0x12345, 2), 0xFFFF, "not ours");
    }

    #[test]
    fn mmio_adapter_shares_the_device() {
        use mmu::Mmio;
        use std::sync::{Arc, Mutex};
        let vga = Arc::new(Mutex::new(Vga::new()));
        let mut legacy: Box<dyn Mmio> = Box::new(super::VgaMmio(vga.clone()));
        let mut lfb = super::VgaMmio(vga.clone());
        let base = vga.lock().unwrap().lfb_base();
        lfb.write(base + 4, 4, 0x0102_0304);
        // Default (power-on) registers: plane reads through the window.
        assert_eq!(legacy.read(0xA0001, 1), 0x04, "plane 0 at offset 1");
        legacy.write(0xA0002, 1, 0x77); // map mask 0 at power-on: dropped
        assert_eq!(vga.lock().unwrap().state().vram[4], 0x04);
        assert_eq!(lfb.read(base + 4, 2), 0x0304);
    }

    #[test]
    fn lfb_direct_access() {
        let mut v = Vga::new();
        let base = v.lfb_base();
        v.mem_write(base + 8, 4, 0xDEADBEEF);
        assert_eq!(v.mem_read(base + 8, 4), 0xDEADBEEF);
        assert_eq!(v.mem_read(base + 9, 2), 0xADBE);
        let end = base + v.vram_size() as u64;
        v.mem_write(end - 2, 4, 0x11223344); // straddles the end
        assert_eq!(v.mem_read(end - 2, 4), 0xFFFF3344);
        v.set_lfb_base(0xFD00_0000);
        assert_eq!(v.mem_read(0xFD00_0008, 4), 0xDEADBEEF);
        assert_eq!(v.mem_read(base + 8, 4), 0xFFFF_FFFF);
    }
}
