//! A PS/2 mouse as seen from the 8042: reset, defaults, stream and remote
//! modes, wrap (echo) mode, sample rate, resolution, scaling, status request,
//! identify (with the IntelliMouse 200-100-80 sequence giving ID 3 and a
//! fourth, zero, wheel byte), enable/disable data reporting, and 3-byte
//! movement packets built from host events.
//!
//! Host convention: `dx` positive is right, `dy` positive is *down* (screen
//! coordinates, as window systems report); packets carry PS/2's up-positive Y.
//! Not modelled: 2:1 scaling's acceleration curve (the flag is kept), the
//! wheel itself, resolution scaling of motion.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const QUEUE_LIMIT: usize = 64;
const ACK: u8 = 0xFA;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mouse {
    pub queue: VecDeque<u8>,
    pub reporting: bool,
    pub remote: bool,
    pub wrap: bool,
    pub sample_rate: u8,
    pub resolution: u8,
    pub scaling21: bool,
    pub id: u8,
    pub buttons: u8,
    /// Motion not yet reported (remote mode, or a full queue).
    pub dx: i32,
    pub dy: i32,
    pub pending: Option<u8>,
    /// The last three sample rates set, for the IntelliMouse handshake.
    pub rates: [u8; 3],
}

impl Default for Mouse {
    fn default() -> Self {
        Mouse {
            queue: VecDeque::new(),
            reporting: false,
            remote: false,
            wrap: false,
            sample_rate: 100,
            resolution: 2,
            scaling21: false,
            id: 0,
            buttons: 0,
            dx: 0,
            dy: 0,
            pending: None,
            rates: [0; 3],
        }
    }
}

impl Mouse {
    fn push(&mut self, b: u8) {
        if self.queue.len() < QUEUE_LIMIT {
            self.queue.push_back(b);
        }
    }

    pub fn pop(&mut self) -> Option<u8> {
        self.queue.pop_front()
    }

    fn packet_len(&self) -> usize {
        if self.id == 3 {
            4
        } else {
            3
        }
    }

    /// Moves accumulated motion into one packet.
    fn push_packet(&mut self) {
        let dx = self.dx.clamp(-256, 255);
        let dy = self.dy.clamp(-256, 255);
        let ox = self.dx != dx;
        let oy = self.dy != dy;
        self.dx -= dx;
        self.dy -= dy;
        let b0 = 0x08
            | (self.buttons & 7)
            | u8::from(dx < 0) << 4
            | u8::from(dy < 0) << 5
            | u8::from(ox) << 6
            | u8::from(oy) << 7;
        self.push(b0);
        self.push(dx as u8);
        self.push(dy as u8);
        if self.id == 3 {
            self.push(0);
        }
    }

    /// A byte from the host computer (via the 8042's 0xD4 command).
    pub fn write(&mut self, b: u8) {
        if let Some(cmd) = self.pending.take() {
            match cmd {
                0xF3 => {
                    self.sample_rate = b;
                    self.rates = [self.rates[1], self.rates[2], b];
                    if self.rates == [200, 100, 80] {
                        self.id = 3;
                    }
                }
                0xE8 => self.resolution = b & 3,
                _ => {}
            }
            self.push(ACK);
            return;
        }
        if self.wrap && b != 0xFF && b != 0xEC {
            self.push(b);
            return;
        }
        match b {
            0xFF => {
                *self = Mouse::default();
                self.push(ACK);
                self.push(0xAA);
                self.push(0x00);
            }
            0xFE => self.push(ACK),
            0xF6 => {
                let q = std::mem::take(&mut self.queue);
                *self = Mouse {
                    queue: q,
                    id: self.id,
                    ..Mouse::default()
                };
                self.push(ACK);
            }
            0xF5 => {
                self.reporting = false;
                self.push(ACK);
            }
            0xF4 => {
                self.reporting = true;
                self.push(ACK);
            }
            0xF3 | 0xE8 => {
                self.pending = Some(b);
                self.push(ACK);
            }
            0xF2 => {
                self.push(ACK);
                self.push(self.id);
            }
            0xF0 => {
                self.remote = true;
                self.push(ACK);
            }
            0xEE => {
                self.wrap = true;
                self.push(ACK);
            }
            0xEC => {
                self.wrap = false;
                self.push(ACK);
            }
            0xEB => {
                self.push(ACK);
                self.push_packet();
            }
            0xEA => {
                self.remote = false;
                self.push(ACK);
            }
            0xE9 => {
                self.push(ACK);
                let status = u8::from(self.remote) << 6
                    | u8::from(self.reporting) << 5
                    | u8::from(self.scaling21) << 4
                    | (self.buttons & 1) << 2
                    | (self.buttons & 4) >> 1
                    | (self.buttons & 2) >> 1;
                self.push(status);
                self.push(self.resolution);
                self.push(self.sample_rate);
            }
            0xE7 => {
                self.scaling21 = true;
                self.push(ACK);
            }
            0xE6 => {
                self.scaling21 = false;
                self.push(ACK);
            }
            _ => {
                log::debug!("ps2 mouse: unknown command {b:#x}");
                self.push(0xFE);
            }
        }
    }

    /// Host motion and buttons (bit 0 left, bit 1 right, bit 2 middle).
    pub fn mouse_event(&mut self, dx: i32, dy: i32, buttons: u8) {
        self.dx = self.dx.saturating_add(dx).clamp(-4096, 4096);
        self.dy = self.dy.saturating_sub(dy).clamp(-4096, 4096);
        self.buttons = buttons & 7;
        if self.reporting && !self.remote && !self.wrap {
            if self.queue.len() + self.packet_len() <= QUEUE_LIMIT {
                self.push_packet();
            } else {
                log::debug!("ps2 mouse: buffer full, motion kept for later");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(m: &mut Mouse) -> Vec<u8> {
        std::iter::from_fn(|| m.pop()).collect()
    }

    #[test]
    fn reset_identify_and_packets() {
        let mut m = Mouse::default();
        m.write(0xFF);
        assert_eq!(drain(&mut m), [0xFA, 0xAA, 0x00]);
        m.write(0xF2);
        assert_eq!(drain(&mut m), [0xFA, 0x00]);
        m.mouse_event(5, 5, 1);
        assert!(drain(&mut m).is_empty(), "reporting off after reset");
        m.write(0xF4);
        drain(&mut m);
        m.mouse_event(-3, 4, 1);
        // dy = 4 down = -4 in PS/2 plus the earlier 5 down: -9.
        assert_eq!(drain(&mut m), [0x08 | 0x01 | 0x20, 2, (-9i8) as u8]);
        m.mouse_event(300, 0, 0);
        assert_eq!(drain(&mut m), [0x48, 255, 0]);
    }

    #[test]
    fn intellimouse_rate_and_status() {
        let mut m = Mouse::default();
        for r in [200, 100, 80] {
            m.write(0xF3);
            m.write(r);
        }
        m.write(0xF2);
        assert_eq!(drain(&mut m)[6..], [0xFA, 0x03]);
        m.write(0xE8);
        m.write(3);
        m.write(0xE9);
        assert_eq!(drain(&mut m), [0xFA, 0xFA, 0xFA, 0x00, 3, 80]);
        m.write(0xEE);
        m.write(0x42);
        m.write(0xEC);
        assert_eq!(drain(&mut m), [0xFA, 0x42, 0xFA]);
        m.write(0xF0);
        m.write(0xF4);
        m.mouse_event(1, 0, 0);
        drain(&mut m);
        m.write(0xEB);
        assert_eq!(drain(&mut m), [0xFA, 0x08, 1, 0, 0]);
    }
}
