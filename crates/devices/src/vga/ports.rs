//! The VGA's byte-wide I/O registers at 0x3B0-0x3DF: misc output, input
//! status 0/1, feature control, VGA enable, sequencer, CRTC (at 0x3B4/5 or
//! 0x3D4/5 by misc bit 0, with the CR11 write protect), graphics controller,
//! attribute controller (one port with an index/data flip-flop reset by
//! reading input status 1) and the DAC ports.
//!
//! Word and dword accesses are split into byte accesses by the caller, so
//! `outw 0x3C4, 0x0F02` writes index 2 then data 0x0F as on real hardware.
//! Unknown ports read 0xFF and ignore writes. The retrace bits of input
//! status 1 follow a read counter: a poll for "in retrace" or "not in
//! retrace" ends within a few reads.

use super::Vga;

/// Writable bits of the sequencer registers 0-4.
const SEQ_MASK: [u8; 5] = [0x03, 0x3D, 0x0F, 0x3F, 0x0E];
/// Writable bits of the graphics controller registers 0-8.
const GC_MASK: [u8; 9] = [0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF];
/// Number of CRTC registers (0x00-0x18).
const CRTC_COUNT: usize = 0x19;

impl Vga {
    fn color_io(&self) -> bool {
        self.s.misc & 1 != 0
    }

    /// Reads one VGA register port.
    pub(crate) fn port_read_byte(&mut self, port: u16) -> u8 {
        let s = &mut self.s;
        match port {
            0x3C0 => s.attr_index,
            0x3C1 => s
                .attr
                .get((s.attr_index & 0x1F) as usize)
                .copied()
                .unwrap_or(0),
            0x3C2 => 0x00, // input status 0: no retrace IRQ pending, switch sense 0
            0x3C3 => s.vga_enable,
            0x3C4 => s.seq_index,
            0x3C5 => s.seq.get(s.seq_index as usize).copied().unwrap_or(0xFF),
            0x3C6 => s.dac.mask,
            0x3C7 => s.dac.state(),
            0x3C8 => s.dac.write_index,
            0x3C9 => s.dac.read_data(),
            0x3CA => s.feature_control,
            0x3CC => s.misc,
            0x3CE => s.gc_index,
            0x3CF => s.gc.get(s.gc_index as usize).copied().unwrap_or(0xFF),
            0x3B4 | 0x3D4 if self.crtc_port_live(port) => self.s.crtc_index,
            0x3B5 | 0x3D5 if self.crtc_port_live(port) => {
                let i = self.s.crtc_index as usize;
                if i < CRTC_COUNT {
                    self.s.crtc[i]
                } else {
                    0xFF
                }
            }
            0x3BA | 0x3DA if self.crtc_port_live(port) => self.input_status_1(),
            _ => {
                log::debug!("vga: read of unhandled port {port:#06x}");
                0xFF
            }
        }
    }

    /// Writes one VGA register port.
    pub(crate) fn port_write_byte(&mut self, port: u16, val: u8) {
        match port {
            0x3C0 => self.attr_write(val),
            0x3C2 => {
                self.s.misc = val;
                self.touch();
            }
            0x3C3 => self.s.vga_enable = val & 1,
            0x3C4 => self.s.seq_index = val & 0x07,
            0x3C5 => {
                let i = self.s.seq_index as usize;
                if let Some(m) = SEQ_MASK.get(i) {
                    self.s.seq[i] = val & m;
                    self.touch();
                }
            }
            0x3C6 => {
                self.s.dac.mask = val;
                self.touch();
            }
            0x3C7 => self.s.dac.set_read_index(val),
            0x3C8 => self.s.dac.set_write_index(val),
            0x3C9 => {
                let wide = self.dac_8bit();
                self.s.dac.write_data(val, wide);
                self.touch();
            }
            0x3CE => self.s.gc_index = val & 0x0F,
            0x3CF => {
                let i = self.s.gc_index as usize;
                if let Some(m) = GC_MASK.get(i) {
                    self.s.gc[i] = val & m;
                    self.touch();
                }
            }
            0x3B4 | 0x3D4 if self.crtc_port_live(port) => self.s.crtc_index = val & 0x3F,
            0x3B5 | 0x3D5 if self.crtc_port_live(port) => self.crtc_write(val),
            0x3BA | 0x3DA if self.crtc_port_live(port) => self.s.feature_control = val & 0x03,
            _ => log::debug!("vga: write {val:#04x} to unhandled port {port:#06x}"),
        }
    }

    /// Mono ports (0x3Bx) answer when misc bit 0 is clear, colour ports
    /// (0x3Dx) when it is set.
    fn crtc_port_live(&self, port: u16) -> bool {
        (port & 0xFFF0 == 0x3D0) == self.color_io()
    }

    fn crtc_write(&mut self, val: u8) {
        let i = self.s.crtc_index as usize;
        if i >= CRTC_COUNT {
            return;
        }
        let protected = self.s.crtc[0x11] & 0x80 != 0;
        if protected && i <= 7 {
            if i == 7 {
                // Only the line-compare bit 8 stays writable.
                self.s.crtc[7] = (self.s.crtc[7] & !0x10) | (val & 0x10);
                self.touch();
            }
            return;
        }
        self.s.crtc[i] = val;
        self.touch();
    }

    fn attr_write(&mut self, val: u8) {
        if !self.s.attr_flip {
            self.s.attr_index = val & 0x3F;
            self.touch(); // bit 5 (palette address source) blanks the screen
        } else {
            let i = (self.s.attr_index & 0x1F) as usize;
            let mask = match i {
                0x00..=0x0F => 0x3F,
                0x10 => 0xEF,
                0x11 => 0xFF,
                0x12 => 0x3F,
                0x13 | 0x14 => 0x0F,
                _ => 0,
            };
            if mask != 0 {
                self.s.attr[i] = val & mask;
                self.touch();
            }
        }
        self.s.attr_flip = !self.s.attr_flip;
    }

    /// Input status 1: resets the attribute flip-flop; bit 0 (display
    /// disabled) toggles on every read, bit 3 (vertical retrace) is set for
    /// two reads out of eight.
    fn input_status_1(&mut self) -> u8 {
        self.s.attr_flip = false;
        let n = self.s.status_reads;
        self.s.status_reads = n.wrapping_add(1);
        let vretrace = n % 8 >= 6;
        let disabled = vretrace || n & 1 == 1;
        (disabled as u8) | ((vretrace as u8) << 3)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Vga;
    use crate::PortIo;

    fn idx_rw(v: &mut Vga, index_port: u16, i: u8, val: u8) -> u8 {
        v.write(index_port, 1, i as u32);
        v.write(index_port + 1, 1, val as u32);
        v.write(index_port, 1, i as u32);
        v.read(index_port + 1, 1) as u8
    }

    #[test]
    fn register_round_trips() {
        let mut v = Vga::new();
        v.write(0x3C2, 1, 0x67);
        assert_eq!(v.read(0x3CC, 1), 0x67);
        assert_eq!(idx_rw(&mut v, 0x3C4, 2, 0xFF), 0x0F, "map mask is 4 bits");
        assert_eq!(idx_rw(&mut v, 0x3C4, 4, 0x0E), 0x0E);
        assert_eq!(idx_rw(&mut v, 0x3CE, 8, 0xA5), 0xA5);
        assert_eq!(idx_rw(&mut v, 0x3CE, 5, 0xFF), 0x7B);
        assert_eq!(idx_rw(&mut v, 0x3D4, 0x0E, 0x12), 0x12);
        assert_eq!(idx_rw(&mut v, 0x3D4, 0x0F, 0x34), 0x34);
        v.write(0x3D4, 2, 0x560C); // outw: CR0C = 0x56
        assert_eq!(v.state().crtc[0x0C], 0x56);
        v.write(0x3C6, 1, 0x0F);
        assert_eq!(v.read(0x3C6, 1), 0x0F);
    }

    #[test]
    fn crtc_follows_misc_io_select() {
        let mut v = Vga::new();
        v.write(0x3C2, 1, 0x66); // mono
        v.write(0x3B4, 1, 0x0A);
        v.write(0x3B5, 1, 0x0D);
        assert_eq!(v.state().crtc[0x0A], 0x0D);
        assert_eq!(v.read(0x3D5, 1), 0xFF, "colour ports dead in mono mode");
        v.write(0x3D5, 1, 0x00);
        assert_eq!(v.state().crtc[0x0A], 0x0D);
        v.write(0x3C2, 1, 0x67);
        assert_eq!(v.read(0x3B5, 1), 0xFF);
        v.write(0x3D4, 1, 0x0A);
        assert_eq!(v.read(0x3D5, 1), 0x0D);
    }

    #[test]
    fn crtc_write_protect() {
        let mut v = Vga::new();
        v.write(0x3C2, 1, 0x67);
        idx_rw(&mut v, 0x3D4, 0x01, 0x4F);
        idx_rw(&mut v, 0x3D4, 0x11, 0x80);
        assert_eq!(idx_rw(&mut v, 0x3D4, 0x01, 0x27), 0x4F, "CR1 protected");
        assert_eq!(idx_rw(&mut v, 0x3D4, 0x07, 0xFF), 0x10, "only CR7 bit 4");
        assert_eq!(idx_rw(&mut v, 0x3D4, 0x09, 0x4F), 0x4F, "CR9 not protected");
        idx_rw(&mut v, 0x3D4, 0x11, 0x00);
        assert_eq!(idx_rw(&mut v, 0x3D4, 0x01, 0x27), 0x27);
        v.write(0x3D4, 1, 0x3F);
        v.write(0x3D5, 1, 0x12); // out of range: ignored
        assert_eq!(v.read(0x3D5, 1), 0xFF);
    }

    #[test]
    fn attribute_flip_flop() {
        let mut v = Vga::new();
        v.write(0x3C2, 1, 0x67);
        v.read(0x3DA, 1);
        v.write(0x3C0, 1, 0x10); // index
        v.write(0x3C0, 1, 0x01); // data
        assert_eq!(v.state().attr[0x10], 0x01);
        v.write(0x3C0, 1, 0x32); // index 0x12 with PAS
        assert_eq!(v.read(0x3C0, 1), 0x32);
        v.read(0x3DA, 1); // reset: the next write is an index again
        v.write(0x3C0, 1, 0x05);
        v.write(0x3C0, 1, 0x2A);
        assert_eq!(v.state().attr[5], 0x2A);
        v.write(0x3C0, 1, 0x25);
        assert_eq!(v.read(0x3C1, 1), 0x2A);
        // Mono status port also resets when mono is selected.
        v.write(0x3C2, 1, 0x66);
        v.read(0x3BA, 1);
        v.write(0x3C0, 1, 0x13);
        v.write(0x3C0, 1, 0x07);
        assert_eq!(v.state().attr[0x13], 0x07);
    }

    #[test]
    fn dac_cycle_through_ports() {
        let mut v = Vga::new();
        v.write(0x3C8, 1, 0x10);
        for c in [0x3F, 0x00, 0x15, 0x01, 0x02, 0x03] {
            v.write(0x3C9, 1, c);
        }
        assert_eq!(v.read(0x3C8, 1), 0x12);
        assert_eq!(v.read(0x3C7, 1), 0);
        v.write(0x3C7, 1, 0x10);
        assert_eq!(v.read(0x3C7, 1), 3);
        let got: Vec<u32> = (0..6).map(|_| v.read(0x3C9, 1)).collect();
        assert_eq!(got, [0x3F, 0x00, 0x15, 0x01, 0x02, 0x03]);
    }

    #[test]
    fn retrace_bits_toggle() {
        let mut v = Vga::new();
        v.write(0x3C2, 1, 0x67);
        let reads: Vec<u32> = (0..16).map(|_| v.read(0x3DA, 1)).collect();
        assert!(reads.iter().any(|r| r & 8 != 0));
        assert!(reads.iter().any(|r| r & 8 == 0));
        assert!(reads.iter().any(|r| r & 1 != 0));
        assert!(reads.iter().any(|r| r & 1 == 0));
    }

    #[test]
    fn garbage_never_panics() {
        let mut v = Vga::new();
        let mut x: u32 = 0x1234_5678;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let port = 0x3B0 + (x % 0x30) as u16;
            if x & 0x100_0000 != 0 {
                v.write(port, 1 + (x >> 30) as u8 % 2, x >> 8);
            } else {
                v.read(port, 1);
            }
        }
        let mut frame = Vec::new();
        v.render(&mut frame);
        let _ = v.text_screen();
    }
}
