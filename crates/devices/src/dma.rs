//! The PC/AT's two 8237A DMA controllers: channels 0-3 (8-bit) at
//! 0x00-0x0F, channels 4-7 (16-bit, channel 4 the cascade) at 0xC0-0xDF, and
//! the page registers at 0x81-0x8F. Port 0x80 is left to the POST port; the
//! unused page-register ports are kept as spare storage, as on real boards.
//!
//! Models base/current address and count with the byte flip-flop, mode
//! (verify/write/read, autoinit, address decrement, demand/single/block/
//! cascade), single and multi-channel masks, the request register, status
//! with terminal-count bits, master clear. Devices move data with
//! [`Dma::transfer`], which honours the channel's mode and masks. Not
//! modelled: memory-to-memory transfers, priority arbitration and timing
//! (a device transfers when it calls), the temporary register.

use serde::{Deserialize, Serialize};

use crate::bus::widen;
use crate::bus::PortIo;

/// Guest physical memory as DMA sees it (implemented by `mmu::DmaMemory`).
pub trait GuestMemory {
    fn read(&self, paddr: u32, buf: &mut [u8]);
    fn write(&self, paddr: u32, data: &[u8]);
}

impl GuestMemory for mmu::DmaMemory {
    fn read(&self, paddr: u32, buf: &mut [u8]) {
        mmu::DmaMemory::read(self, paddr, buf)
    }

    fn write(&self, paddr: u32, data: &[u8]) {
        mmu::DmaMemory::write(self, paddr, data)
    }
}

/// What a channel's mode says the transfer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaDirection {
    /// Count only, no memory access.
    Verify,
    /// Device to memory (an 8237 "write" transfer).
    ToMemory,
    /// Memory to device (an 8237 "read" transfer).
    FromMemory,
}

/// The page register port of each channel.
const PAGE_PORT: [u16; 8] = [0x87, 0x83, 0x81, 0x82, 0x8F, 0x8B, 0x89, 0x8A];

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelState {
    pub base_addr: u16,
    pub base_count: u16,
    pub cur_addr: u16,
    pub cur_count: u16,
    pub mode: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ControllerState {
    pub channels: [ChannelState; 4],
    pub flip_flop: bool,
    pub mask: u8,
    /// Terminal count bits 0-3 (cleared by reading), request bits 4-7.
    pub status: u8,
    pub command: u8,
    pub request: u8,
}

impl Default for ControllerState {
    fn default() -> Self {
        ControllerState {
            channels: Default::default(),
            flip_flop: false,
            mask: 0x0F,
            status: 0,
            command: 0,
            request: 0,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub ctrl: [ControllerState; 2],
    /// Page register file, indexed by port - 0x80 (index 0 unused).
    pub pages: [u8; 16],
}

#[derive(Default)]
pub struct Dma {
    pub state: State,
}

impl Dma {
    pub fn new() -> Self {
        Self::default()
    }

    fn split(channel: usize) -> (usize, usize) {
        ((channel >> 2) & 1, channel & 3)
    }

    pub fn is_masked(&self, channel: usize) -> bool {
        let (c, ch) = Self::split(channel);
        self.state.ctrl[c].mask & (1 << ch) != 0 || self.state.ctrl[c].command & 0x04 != 0
    }

    pub fn direction(&self, channel: usize) -> DmaDirection {
        let (c, ch) = Self::split(channel);
        match (self.state.ctrl[c].channels[ch].mode >> 2) & 3 {
            1 => DmaDirection::ToMemory,
            2 => DmaDirection::FromMemory,
            _ => DmaDirection::Verify,
        }
    }

    /// Bytes left before terminal count.
    pub fn remaining_bytes(&self, channel: usize) -> usize {
        let (c, ch) = Self::split(channel);
        let units = self.state.ctrl[c].channels[ch].cur_count as usize + 1;
        units << c
    }

    /// Sets or clears the DREQ status bit a device reports.
    pub fn set_request(&mut self, channel: usize, active: bool) {
        let (c, ch) = Self::split(channel);
        let bit = 0x10 << ch;
        if active {
            self.state.ctrl[c].status |= bit;
        } else {
            self.state.ctrl[c].status &= !bit;
        }
    }

    fn phys_addr(&self, c: usize, ch: usize, addr: u16) -> u32 {
        let page = self.state.pages[(PAGE_PORT[c * 4 + ch] - 0x80) as usize] as u32;
        if c == 0 {
            page << 16 | addr as u32
        } else {
            (page & 0xFE) << 16 | (addr as u32) << 1
        }
    }

    /// Moves up to `data.len()` bytes on `channel` as its mode says: into
    /// memory from `data`, from memory into `data`, or nothing (verify).
    /// Returns the bytes transferred (whole words on 16-bit channels);
    /// stops at terminal count, then reloads (autoinit) or masks the channel.
    pub fn transfer<M: GuestMemory + ?Sized>(
        &mut self,
        channel: usize,
        mem: &M,
        data: &mut [u8],
    ) -> usize {
        if channel > 7 || self.is_masked(channel) {
            return 0;
        }
        let (c, ch) = Self::split(channel);
        let mode = self.state.ctrl[c].channels[ch].mode;
        if mode >> 6 == 3 {
            return 0; // cascade: no transfers of its own
        }
        if (mode >> 2) & 3 == 3 {
            log::debug!("dma: channel {channel} has the illegal transfer type");
        }
        let dir = self.direction(channel);
        let unit = 1usize << c;
        let units = (data.len() / unit).min(self.remaining_bytes(channel) / unit);
        let decrement = mode & 0x20 != 0;
        let mut addr = self.state.ctrl[c].channels[ch].cur_addr;
        let mut done = 0;
        while done < units {
            // Contiguous run up to the address counter wrapping.
            let run = if decrement {
                1
            } else {
                (0x10000 - addr as usize).min(units - done)
            };
            let pa = self.phys_addr(c, ch, addr);
            let bytes = &mut data[done * unit..(done + run) * unit];
            match dir {
                DmaDirection::ToMemory => mem.write(pa, bytes),
                DmaDirection::FromMemory => mem.read(pa, bytes),
                DmaDirection::Verify => {}
            }
            addr = if decrement {
                addr.wrapping_sub(1)
            } else {
                addr.wrapping_add(run as u16)
            };
            done += run;
        }
        let st = &mut self.state.ctrl[c];
        let chs = &mut st.channels[ch];
        chs.cur_addr = addr;
        let left = chs.cur_count as usize + 1 - units;
        if left == 0 {
            st.status |= 1 << ch;
            if mode & 0x10 != 0 {
                chs.cur_addr = chs.base_addr;
                chs.cur_count = chs.base_count;
            } else {
                chs.cur_count = 0xFFFF;
                st.mask |= 1 << ch;
            }
        } else {
            chs.cur_count = (left - 1) as u16;
        }
        units * unit
    }

    fn ctrl_read(&mut self, c: usize, reg: u16) -> u8 {
        let st = &mut self.state.ctrl[c];
        match reg {
            0..=7 => {
                let chs = &st.channels[(reg >> 1) as usize];
                let v = if reg & 1 == 0 {
                    chs.cur_addr
                } else {
                    chs.cur_count
                };
                let b = if st.flip_flop {
                    (v >> 8) as u8
                } else {
                    v as u8
                };
                st.flip_flop = !st.flip_flop;
                b
            }
            8 => {
                let v = st.status;
                st.status &= 0xF0;
                v
            }
            15 => 0xF0 | st.mask,
            _ => 0xFF,
        }
    }

    fn ctrl_write(&mut self, c: usize, reg: u16, val: u8) {
        let st = &mut self.state.ctrl[c];
        match reg {
            0..=7 => {
                let chs = &mut st.channels[(reg >> 1) as usize];
                let (base, cur) = if reg & 1 == 0 {
                    (&mut chs.base_addr, &mut chs.cur_addr)
                } else {
                    (&mut chs.base_count, &mut chs.cur_count)
                };
                *base = if st.flip_flop {
                    *base & 0x00FF | (val as u16) << 8
                } else {
                    *base & 0xFF00 | val as u16
                };
                *cur = *base;
                st.flip_flop = !st.flip_flop;
            }
            8 => st.command = val,
            9 => {
                let bit = 1 << (val & 3);
                if val & 4 != 0 {
                    st.request |= bit;
                } else {
                    st.request &= !bit;
                }
            }
            10 => {
                let bit = 1 << (val & 3);
                if val & 4 != 0 {
                    st.mask |= bit;
                } else {
                    st.mask &= !bit;
                }
            }
            11 => st.channels[(val & 3) as usize].mode = val,
            12 => st.flip_flop = false,
            13 => {
                st.command = 0;
                st.status = 0;
                st.request = 0;
                st.flip_flop = false;
                st.mask = 0x0F;
            }
            14 => st.mask = 0,
            15 => st.mask = val & 0x0F,
            _ => {}
        }
    }

    fn read_byte(&mut self, port: u16) -> u8 {
        match port {
            0x00..=0x0F => self.ctrl_read(0, port),
            0xC0..=0xDF => self.ctrl_read(1, (port - 0xC0) >> 1),
            0x81..=0x8F => self.state.pages[(port - 0x80) as usize],
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, port: u16, val: u8) {
        match port {
            0x00..=0x0F => self.ctrl_write(0, port, val),
            0xC0..=0xDF => self.ctrl_write(1, (port - 0xC0) >> 1, val),
            0x81..=0x8F => self.state.pages[(port - 0x80) as usize] = val,
            _ => log::debug!("dma: write {val:#x} to unknown port {port:#x}"),
        }
    }
}

impl PortIo for Dma {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        widen(self.read_byte(port), size)
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        self.write_byte(port, val as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hammer;
    use std::cell::RefCell;

    /// 1 MiB of fake guest RAM.
    struct Ram(RefCell<Vec<u8>>);

    impl GuestMemory for Ram {
        fn read(&self, paddr: u32, buf: &mut [u8]) {
            let r = self.0.borrow();
            let a = paddr as usize;
            buf.copy_from_slice(&r[a..a + buf.len()]);
        }
        fn write(&self, paddr: u32, data: &[u8]) {
            let a = paddr as usize;
            self.0.borrow_mut()[a..a + data.len()].copy_from_slice(data);
        }
    }

    fn ram() -> Ram {
        Ram(RefCell::new(vec![0; 0x30000]))
    }

    /// Programs channel 2 as the floppy driver does.
    fn program_ch2(d: &mut Dma, mode: u8, addr: u16, count: u16, page: u8) {
        d.write(0x0A, 1, 0x06); // mask ch2
        d.write(0x0C, 1, 0);
        d.write(0x0B, 1, mode as u32);
        d.write(0x04, 1, addr as u32 & 0xFF);
        d.write(0x04, 1, addr as u32 >> 8);
        d.write(0x81, 1, page as u32);
        d.write(0x0C, 1, 0);
        d.write(0x05, 1, count as u32 & 0xFF);
        d.write(0x05, 1, count as u32 >> 8);
        d.write(0x0A, 1, 0x02); // unmask
    }

    #[test]
    fn address_count_programming_and_readback() {
        let mut d = Dma::new();
        program_ch2(&mut d, 0x46, 0x1234, 0x01FF, 0x01);
        d.write(0x0C, 1, 0);
        assert_eq!(d.read(0x04, 1) | d.read(0x04, 1) << 8, 0x1234);
        assert_eq!(d.read(0x05, 1) | d.read(0x05, 1) << 8, 0x01FF);
        assert_eq!(d.read(0x81, 1), 1);
        assert_eq!(d.direction(2), DmaDirection::ToMemory);
        assert!(!d.is_masked(2));
        assert_eq!(d.remaining_bytes(2), 512);
        d.write(0x0F, 1, 0x0F);
        assert!(d.is_masked(2));
        assert_eq!(d.read(0x0F, 1), 0xFF);
        d.write(0x0E, 1, 0);
        assert!(!d.is_masked(0));
        d.write(0x84, 1, 0x99); // spare page register
        assert_eq!(d.read(0x84, 1), 0x99);
    }

    #[test]
    fn write_transfer_to_memory_and_terminal_count() {
        let mut d = Dma::new();
        let m = ram();
        program_ch2(&mut d, 0x46, 0x0100, 9, 0x01); // 10 bytes at 0x10100
        let mut data: Vec<u8> = (1..=16).collect();
        assert_eq!(d.transfer(2, &m, &mut data[..4]), 4);
        assert_eq!(d.transfer(2, &m, &mut data[4..]), 6);
        assert_eq!(
            &m.0.borrow()[0x10100..0x1010B],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]
        );
        assert_eq!(d.read(0x08, 1) & 0x04, 0x04, "TC");
        assert_eq!(d.read(0x08, 1) & 0x04, 0, "cleared by read");
        assert!(d.is_masked(2), "no autoinit: masked at TC");
        assert_eq!(d.transfer(2, &m, &mut data), 0);
    }

    #[test]
    fn read_autoinit_and_decrement() {
        let mut d = Dma::new();
        let m = ram();
        m.0.borrow_mut()[0x200..0x204].copy_from_slice(&[9, 8, 7, 6]);
        program_ch2(&mut d, 0x5A, 0x0200, 3, 0); // read, autoinit
        let mut buf = [0u8; 8];
        assert_eq!(d.transfer(2, &m, &mut buf), 4);
        assert_eq!(&buf[..4], &[9, 8, 7, 6]);
        assert!(!d.is_masked(2));
        assert_eq!(d.remaining_bytes(2), 4, "reloaded");
        program_ch2(&mut d, 0x6A, 0x0203, 3, 0); // read, decrement
        assert_eq!(d.transfer(2, &m, &mut buf), 4);
        assert_eq!(&buf[..4], &[6, 7, 8, 9]);
        program_ch2(&mut d, 0x42, 0x0200, 3, 0); // verify
        buf = [0; 8];
        assert_eq!(d.transfer(2, &m, &mut buf), 4);
        assert_eq!(buf, [0; 8]);
    }

    #[test]
    fn sixteen_bit_channel_words() {
        let mut d = Dma::new();
        let m = ram();
        d.write(0xD4, 1, 0x01); // unmask ch5
        d.write(0xD6, 1, 0x45); // ch5 write single
        d.write(0xD8, 1, 0);
        d.write(0xC4, 1, 0x80);
        d.write(0xC4, 1, 0x00); // word address 0x80 -> byte 0x100
        d.write(0x8B, 1, 0x02); // page 2 -> 0x20000
        d.write(0xC6, 1, 1);
        d.write(0xC6, 1, 0); // 2 words
        let mut data = [1, 2, 3, 4, 5];
        assert_eq!(d.transfer(5, &m, &mut data), 4);
        assert_eq!(&m.0.borrow()[0x20100..0x20105], &[1, 2, 3, 4, 0]);
    }

    #[test]
    fn hammer_ports() {
        let mut d = Dma::new();
        let m = ram();
        let mut ports: Vec<u16> = (0x00..=0x0F)
            .chain(0xC0..=0xDF)
            .chain(0x81..=0x8F)
            .collect();
        ports.push(0x80);
        for seed in 1..20 {
            hammer(&mut d, &ports, 3000, seed);
            // Keep the hammered addresses inside the fake RAM.
            for p in PAGE_PORT {
                d.write(p, 1, 0);
            }
            let mut buf = vec![0u8; 700];
            for ch in 0..8 {
                d.transfer(ch, &m, &mut buf);
            }
        }
    }
}
