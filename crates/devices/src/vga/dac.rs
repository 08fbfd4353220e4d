//! The VGA DAC (RAMDAC): 256 palette entries of three 6-bit components
//! (8-bit when the Bochs VBE 8-bit-DAC flag is on), the pixel mask at
//! 0x3C6, the read index at 0x3C7, the write index at 0x3C8 and the data
//! port 0x3C9 with its red/green/blue cycle.
//!
//! A write commits the entry after its third component (as real DACs do);
//! reads step through the components of the read index and advance it after
//! blue. Left out: the snow/flicker behaviour of mid-frame updates.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dac {
    /// 256 x (r, g, b) as the guest wrote them.
    pub palette: Vec<u8>,
    pub mask: u8,
    pub read_index: u8,
    pub write_index: u8,
    /// Which of r/g/b the next data access hits (0..=2).
    pub step: u8,
    /// Components of the entry being written.
    pub pending: [u8; 3],
    /// true after a write to 0x3C7 (read mode), false after 0x3C8.
    pub reading: bool,
}

impl Default for Dac {
    fn default() -> Self {
        Dac {
            palette: vec![0; 768],
            mask: 0xFF,
            read_index: 0,
            write_index: 0,
            step: 0,
            pending: [0; 3],
            reading: false,
        }
    }
}

impl Dac {
    pub fn set_read_index(&mut self, i: u8) {
        self.read_index = i;
        self.step = 0;
        self.reading = true;
    }

    pub fn set_write_index(&mut self, i: u8) {
        self.write_index = i;
        self.step = 0;
        self.reading = false;
    }

    /// 0x3C7 read: DAC state (3 = read mode, 0 = write mode).
    pub fn state(&self) -> u8 {
        if self.reading {
            3
        } else {
            0
        }
    }

    /// 0x3C9 write. `wide` keeps all 8 bits (VBE 8-bit DAC).
    pub fn write_data(&mut self, val: u8, wide: bool) {
        let step = (self.step % 3) as usize;
        self.pending[step] = if wide { val } else { val & 0x3F };
        if step == 2 {
            let base = self.write_index as usize * 3;
            self.palette[base..base + 3].copy_from_slice(&self.pending);
            self.write_index = self.write_index.wrapping_add(1);
            self.step = 0;
        } else {
            self.step = step as u8 + 1;
        }
    }

    /// 0x3C9 read.
    pub fn read_data(&mut self) -> u8 {
        let step = (self.step % 3) as usize;
        let v = self.palette[self.read_index as usize * 3 + step];
        if step == 2 {
            self.read_index = self.read_index.wrapping_add(1);
            self.step = 0;
        } else {
            self.step = step as u8 + 1;
        }
        v
    }

    /// Entry `i` (after the pixel mask) as 0x00RRGGBB.
    pub fn rgb(&self, i: u8, wide: bool) -> u32 {
        let base = (i & self.mask) as usize * 3;
        let c = |v: u8| -> u32 {
            if wide {
                v as u32
            } else {
                let v = (v & 0x3F) as u32;
                (v << 2) | (v >> 4)
            }
        };
        let p = self
            .palette
            .get(base..base + 3)
            .map_or([0; 3], |s| [s[0], s[1], s[2]]);
        (c(p[0]) << 16) | (c(p[1]) << 8) | c(p[2])
    }

    /// All 256 entries as 0x00RRGGBB, for a renderer's lookup table.
    pub fn table(&self, wide: bool) -> [u32; 256] {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            *e = self.rgb(i as u8, wide);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_commits_after_blue_and_advances() {
        let mut d = Dac::default();
        d.set_write_index(5);
        d.write_data(0x3F, false);
        d.write_data(0x20, false);
        assert_eq!(d.palette[15..18], [0, 0, 0], "not committed before blue");
        d.write_data(0x41, false); // masked to 6 bits
        assert_eq!(d.palette[15..18], [0x3F, 0x20, 0x01]);
        assert_eq!(d.write_index, 6);
        assert_eq!(d.rgb(5, false), 0xFF_82_04);
    }

    #[test]
    fn read_cycle_and_state() {
        let mut d = Dac::default();
        d.palette[3..9].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        d.set_read_index(1);
        assert_eq!(d.state(), 3);
        let got: Vec<u8> = (0..6).map(|_| d.read_data()).collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6]);
        assert_eq!(d.read_index, 3);
        d.set_write_index(0);
        assert_eq!(d.state(), 0);
    }

    #[test]
    fn mask_and_wide() {
        let mut d = Dac::default();
        d.set_write_index(0xFF);
        for v in [0xFF, 0x80, 0x01] {
            d.write_data(v, true);
        }
        assert_eq!(d.rgb(0xFF, true), 0xFF8001);
        d.mask = 0x0F;
        assert_eq!(d.rgb(0xFF, true), d.rgb(0x0F, true));
        assert_eq!(d.write_index, 0, "index wraps");
    }
}
