//! A PS/2 keyboard as seen from the 8042: the command set (reset, LEDs,
//! scan code set, typematic, enable/disable, echo, identify, defaults,
//! resend) and make/break codes in set 1 or set 2 for host key events.
//!
//! Not modelled: scan code set 3 (set 2 is sent), typematic repeat (the
//! host's repeat arrives as presses), per-key make/break settings (0xF7-0xFD
//! are acknowledged and ignored).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use crate::keycode::KeyCode;

/// The keyboard's own output buffer in bytes (real ones hold 16 keys).
const QUEUE_LIMIT: usize = 64;
const ACK: u8 = 0xFA;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Keyboard {
    pub queue: VecDeque<u8>,
    pub scanning: bool,
    pub scancode_set: u8,
    pub leds: u8,
    pub typematic: u8,
    /// A command waiting for its parameter byte.
    pub pending: Option<u8>,
    pub last_sent: u8,
}

impl Default for Keyboard {
    fn default() -> Self {
        Keyboard {
            queue: VecDeque::new(),
            scanning: true,
            scancode_set: 2,
            leds: 0,
            typematic: 0x2B,
            pending: None,
            last_sent: 0,
        }
    }
}

impl Keyboard {
    fn push(&mut self, b: u8) {
        if self.queue.len() < QUEUE_LIMIT {
            self.queue.push_back(b);
        } else {
            log::debug!("ps2 keyboard: buffer full, byte {b:#x} dropped");
        }
    }

    /// The next byte for the controller.
    pub fn pop(&mut self) -> Option<u8> {
        let b = self.queue.pop_front()?;
        self.last_sent = b;
        Some(b)
    }

    /// A byte from the host computer (a command or a parameter).
    pub fn write(&mut self, b: u8) {
        if let Some(cmd) = self.pending.take() {
            match cmd {
                0xED => self.leds = b & 7,
                0xF3 => self.typematic = b & 0x7F,
                0xF0 => match b {
                    0 => {
                        self.push(ACK);
                        self.push(self.scancode_set);
                        return;
                    }
                    1..=3 => self.scancode_set = if b == 1 { 1 } else { b },
                    _ => {
                        self.push(0xFE);
                        return;
                    }
                },
                _ => {}
            }
            self.push(ACK);
            return;
        }
        match b {
            0xFF => {
                let set = Keyboard::default();
                *self = Keyboard {
                    queue: VecDeque::new(),
                    ..set
                };
                self.push(ACK);
                self.push(0xAA);
            }
            0xFE => {
                let last = self.last_sent;
                self.push(last);
            }
            0xF6 => {
                self.scancode_set = 2;
                self.typematic = 0x2B;
                self.leds = 0;
                self.push(ACK);
            }
            0xF5 => {
                self.scanning = false;
                self.scancode_set = 2;
                self.typematic = 0x2B;
                self.push(ACK);
            }
            0xF4 => {
                self.scanning = true;
                self.push(ACK);
            }
            0xF2 => {
                self.push(ACK);
                self.push(0xAB);
                self.push(0x83);
            }
            0xED | 0xF3 | 0xF0 => {
                self.pending = Some(b);
                self.push(ACK);
            }
            0xEE => self.push(0xEE),
            0xF7..=0xFD => self.push(ACK),
            _ => {
                log::debug!("ps2 keyboard: unknown command {b:#x}");
                self.push(0xFE);
            }
        }
    }

    /// A host key press or release.
    pub fn key_event(&mut self, key: KeyCode, pressed: bool) {
        if !self.scanning {
            return;
        }
        let bytes = if self.scancode_set == 1 {
            key.set1(pressed)
        } else {
            key.set2(pressed)
        };
        if self.queue.len() + bytes.len() > QUEUE_LIMIT {
            log::debug!("ps2 keyboard: buffer full, {key:?} dropped");
            return;
        }
        for b in bytes {
            self.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(k: &mut Keyboard) -> Vec<u8> {
        std::iter::from_fn(|| k.pop()).collect()
    }

    #[test]
    fn commands() {
        let mut k = Keyboard::default();
        k.write(0xFF);
        assert_eq!(drain(&mut k), [0xFA, 0xAA]);
        k.write(0xF2);
        assert_eq!(drain(&mut k), [0xFA, 0xAB, 0x83]);
        k.write(0xED);
        k.write(0x07);
        assert_eq!((drain(&mut k), k.leds), (vec![0xFA, 0xFA], 7));
        k.write(0xEE);
        assert_eq!(drain(&mut k), [0xEE]);
        k.write(0xF0);
        k.write(0x00);
        assert_eq!(drain(&mut k), [0xFA, 0xFA, 0x02]);
        k.write(0xF0);
        k.write(0x01);
        drain(&mut k);
        k.key_event(KeyCode::A, false);
        assert_eq!(drain(&mut k), [0x9E]);
        k.write(0xF5);
        drain(&mut k);
        k.key_event(KeyCode::A, true);
        assert_eq!(drain(&mut k), Vec::<u8>::new(), "disabled");
        k.write(0xF4);
        k.key_event(KeyCode::A, true);
        assert_eq!(drain(&mut k), [0xFA, 0x1C], "F5 restored set 2");
        k.write(0x12);
        assert_eq!(drain(&mut k), [0xFE]);
        k.write(0xFE);
        assert_eq!(drain(&mut k), [0xFE]);
    }

    #[test]
    fn queue_is_bounded() {
        let mut k = Keyboard::default();
        for _ in 0..1000 {
            k.key_event(KeyCode::PrintScreen, true);
        }
        assert!(k.queue.len() <= QUEUE_LIMIT);
    }
}
