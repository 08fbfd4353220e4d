//! The 8042 keyboard controller (data port 0x60, status/command port 0x64)
//! with a PS/2 keyboard and a PS/2 mouse behind it.
//!
//! Models the command byte (interrupt enables, system flag, port disables,
//! set 2 to set 1 translation), self-test and interface tests, the output
//! port (A20 on bit 1, reset on bit 0, to [`SystemControl`]), commands
//! 0x20-0x3F/0x60-0x7F, 0xA7-0xAE, 0xC0, 0xD0-0xD4, 0xDD/0xDF, 0xE0 and the
//! 0xF0-0xFF output pulses (0xFE resets), and IRQ1/IRQ12 levels following the
//! output buffer. Not modelled: the password commands, parity/timeout
//! errors, keyboard inhibit by key lock, the 8042's own timing (bytes move to
//! the output buffer as soon as it is empty).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

use crate::bus::widen;
use crate::bus::PortIo;
use crate::irq::IrqLine;
use crate::keycode::{translate_set2, KeyCode};
use crate::ps2kbd::Keyboard;
use crate::ps2mouse::Mouse;
use crate::sysctl::SystemControl;

const CMD_KBD_INT: u8 = 0x01;
const CMD_AUX_INT: u8 = 0x02;
const CMD_SYS: u8 = 0x04;
const CMD_KBD_DISABLE: u8 = 0x10;
const CMD_AUX_DISABLE: u8 = 0x20;
const CMD_TRANSLATE: u8 = 0x40;

const ST_OBF: u8 = 0x01;
const ST_SYS: u8 = 0x04;
const ST_CMD: u8 = 0x08;
const ST_UNLOCKED: u8 = 0x10;
const ST_AUX: u8 = 0x20;

/// Guest-visible state of the controller and both devices.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub cmd_byte: u8,
    pub status: u8,
    /// The output buffer and whether it holds mouse (aux) data.
    pub out: u8,
    pub out_aux: bool,
    /// Controller replies waiting for the output buffer: (byte, is_aux).
    pub replies: VecDeque<(u8, bool)>,
    /// A controller command waiting for its data byte.
    pub pending: Option<u8>,
    /// A set 2 break prefix seen while translating.
    pub saw_f0: bool,
    /// The internal RAM behind commands 0x20-0x3F/0x60-0x7F (0 = command byte).
    pub ram: [u8; 32],
    pub kbd: Keyboard,
    pub mouse: Mouse,
    pub irq1: bool,
    pub irq12: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            cmd_byte: CMD_KBD_INT | CMD_SYS | CMD_TRANSLATE,
            status: ST_UNLOCKED,
            out: 0,
            out_aux: false,
            replies: VecDeque::new(),
            pending: None,
            saw_f0: false,
            ram: [0; 32],
            kbd: Keyboard::default(),
            mouse: Mouse::default(),
            irq1: false,
            irq12: false,
        }
    }
}

pub struct I8042 {
    pub state: State,
    sys: Arc<SystemControl>,
    irq1: IrqLine,
    irq12: IrqLine,
}

impl I8042 {
    pub fn new(sys: Arc<SystemControl>, irq1: IrqLine, irq12: IrqLine) -> Self {
        I8042 {
            state: State::default(),
            sys,
            irq1,
            irq12,
        }
    }

    /// A host key event, delivered as set 2 (or set 1) scan codes.
    pub fn key_event(&mut self, key: KeyCode, pressed: bool) {
        self.state.kbd.key_event(key, pressed);
        self.refill();
    }

    /// Host mouse motion (dy positive = down) and buttons (bit 0 left,
    /// bit 1 right, bit 2 middle).
    pub fn mouse_event(&mut self, dx: i32, dy: i32, buttons: u8) {
        self.state.mouse.mouse_event(dx, dy, buttons);
        self.refill();
    }

    fn output_port(&self) -> u8 {
        let s = &self.state;
        0x01 | u8::from(self.sys.a20()) << 1
            | u8::from(s.status & ST_OBF != 0 && !s.out_aux) << 4
            | u8::from(s.status & ST_OBF != 0 && s.out_aux) << 5
    }

    fn write_output_port(&mut self, v: u8) {
        self.sys.set_a20(v & 0x02 != 0);
        if v & 0x01 == 0 {
            self.sys.request_reset();
        }
    }

    fn reply(&mut self, b: u8) {
        self.state.replies.push_back((b, false));
        self.refill();
    }

    /// The next keyboard byte, translated to set 1 when the command byte says so.
    fn next_kbd_byte(&mut self) -> Option<u8> {
        let s = &mut self.state;
        if s.cmd_byte & CMD_TRANSLATE == 0 {
            return s.kbd.pop();
        }
        loop {
            let b = s.kbd.pop()?;
            if b == 0xF0 {
                s.saw_f0 = true;
                continue;
            }
            let t = translate_set2(b) | if s.saw_f0 { 0x80 } else { 0 };
            s.saw_f0 = false;
            return Some(t);
        }
    }

    /// Moves the next byte into an empty output buffer and updates the IRQs.
    fn refill(&mut self) {
        if self.state.status & ST_OBF == 0 {
            let next = if let Some(r) = self.state.replies.pop_front() {
                Some(r)
            } else if self.state.cmd_byte & CMD_KBD_DISABLE == 0 {
                self.next_kbd_byte().map(|b| (b, false))
            } else {
                None
            };
            let next = next.or_else(|| {
                if self.state.cmd_byte & CMD_AUX_DISABLE == 0 {
                    self.state.mouse.pop().map(|b| (b, true))
                } else {
                    None
                }
            });
            if let Some((b, aux)) = next {
                self.state.out = b;
                self.state.out_aux = aux;
                self.state.status |= ST_OBF;
                if aux {
                    self.state.status |= ST_AUX;
                } else {
                    self.state.status &= !ST_AUX;
                }
            }
        }
        self.update_irqs();
    }

    fn update_irqs(&mut self) {
        let s = &self.state;
        let full = s.status & ST_OBF != 0;
        let i1 = full && !s.out_aux && s.cmd_byte & CMD_KBD_INT != 0;
        let i12 = full && s.out_aux && s.cmd_byte & CMD_AUX_INT != 0;
        if i1 != s.irq1 {
            self.state.irq1 = i1;
            self.irq1.set_level(i1);
        }
        if i12 != self.state.irq12 {
            self.state.irq12 = i12;
            self.irq12.set_level(i12);
        }
    }

    fn set_cmd_byte(&mut self, v: u8) {
        self.state.cmd_byte = v;
        self.state.ram[0] = v;
        if v & CMD_SYS != 0 {
            self.state.status |= ST_SYS;
        } else {
            self.state.status &= !ST_SYS;
        }
        self.refill();
    }

    fn command(&mut self, c: u8) {
        self.state.status |= ST_CMD;
        match c {
            0x20..=0x3F => {
                let v = if c == 0x20 {
                    self.state.cmd_byte
                } else {
                    self.state.ram[(c & 0x1F) as usize]
                };
                self.reply(v);
            }
            0x60..=0x7F | 0xD1..=0xD4 => self.state.pending = Some(c),
            0xA1 => self.reply(0x00), // firmware version
            0xA4 => self.reply(0xF1), // no password installed
            0xA7 => self.set_cmd_byte(self.state.cmd_byte | CMD_AUX_DISABLE),
            0xA8 => self.set_cmd_byte(self.state.cmd_byte & !CMD_AUX_DISABLE),
            0xA9 | 0xAB => self.reply(0x00),
            0xAA => {
                self.state.status |= ST_SYS;
                self.reply(0x55);
            }
            0xAD => self.set_cmd_byte(self.state.cmd_byte | CMD_KBD_DISABLE),
            0xAE => self.set_cmd_byte(self.state.cmd_byte & !CMD_KBD_DISABLE),
            0xC0 => self.reply(0x80), // input port: keyboard not locked
            0xD0 => {
                let v = self.output_port();
                self.reply(v);
            }
            0xDD => self.sys.set_a20(false),
            0xDF => self.sys.set_a20(true),
            0xE0 => self.reply(0x00),
            0xF0..=0xFF => {
                if c & 1 == 0 {
                    self.sys.request_reset();
                }
            }
            _ => log::debug!("i8042: unknown command {c:#x}"),
        }
    }

    fn data(&mut self, v: u8) {
        self.state.status &= !ST_CMD;
        match self.state.pending.take() {
            Some(0x60) => self.set_cmd_byte(v),
            Some(c @ 0x61..=0x7F) => self.state.ram[(c & 0x1F) as usize] = v,
            Some(0xD1) => self.write_output_port(v),
            Some(0xD2) => self.reply(v),
            Some(0xD3) => {
                self.state.replies.push_back((v, true));
                self.refill();
            }
            Some(0xD4) => {
                self.state.mouse.write(v);
                self.refill();
            }
            _ => {
                self.state.kbd.write(v);
                self.refill();
            }
        }
    }

    fn read_data(&mut self) -> u8 {
        let v = self.state.out;
        if self.state.status & ST_OBF != 0 {
            self.state.status &= !(ST_OBF | ST_AUX);
            self.update_irqs();
            self.refill();
        }
        v
    }
}

impl PortIo for I8042 {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let v = match port {
            0x60 => self.read_data(),
            0x64 => self.state.status,
            _ => 0xFF,
        };
        widen(v, size)
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        match port {
            0x60 => self.data(val as u8),
            0x64 => self.command(val as u8),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::IrqRecorder;
    use crate::testutil::hammer;

    fn setup() -> (I8042, Arc<SystemControl>, Arc<IrqRecorder>) {
        let sys = SystemControl::new();
        let rec = IrqRecorder::new();
        let k = I8042::new(sys.clone(), rec.line(1), rec.line(12));
        (k, sys, rec)
    }

    fn drain(k: &mut I8042) -> Vec<u8> {
        let mut v = Vec::new();
        while k.read(0x64, 1) & 1 != 0 {
            v.push(k.read(0x60, 1) as u8);
        }
        v
    }

    #[test]
    fn self_test_and_interface_tests() {
        let (mut k, _, rec) = setup();
        k.write(0x64, 1, 0xAA);
        assert_eq!(k.read(0x64, 1) & 0x0D, 0x0D);
        assert!(rec.level(1));
        assert_eq!(k.read(0x60, 1), 0x55);
        assert!(!rec.level(1));
        k.write(0x64, 1, 0xAB);
        k.write(0x64, 1, 0xA9);
        assert_eq!(drain(&mut k), [0x00, 0x00]);
        k.write(0x64, 1, 0x20);
        assert_eq!(drain(&mut k), [0x45]);
    }

    #[test]
    fn a20_and_reset_via_output_port() {
        let (mut k, sys, _) = setup();
        k.write(0x64, 1, 0xD1);
        k.write(0x60, 1, 0xDF);
        assert!(sys.a20());
        k.write(0x64, 1, 0xD0);
        assert_eq!(drain(&mut k)[0] & 3, 3);
        k.write(0x64, 1, 0xD1);
        k.write(0x60, 1, 0xDD);
        assert!(!sys.a20());
        assert!(!sys.reset_pending());
        k.write(0x64, 1, 0xFE);
        assert!(sys.take_reset());
        k.write(0x64, 1, 0xD1);
        k.write(0x60, 1, 0x00);
        assert!(sys.take_reset());
    }

    #[test]
    fn keyboard_translation() {
        let (mut k, _, rec) = setup();
        k.key_event(KeyCode::A, true);
        k.key_event(KeyCode::A, false);
        k.key_event(KeyCode::Left, false);
        assert!(rec.level(1));
        assert_eq!(drain(&mut k), [0x1E, 0x9E, 0xE0, 0xCB]);
        k.write(0x60, 1, 0xF2);
        assert_eq!(drain(&mut k), [0xFA, 0xAB, 0x41], "translated ID");
        // Translation off: raw set 2.
        k.write(0x64, 1, 0x60);
        k.write(0x60, 1, 0x01);
        k.key_event(KeyCode::A, false);
        assert_eq!(drain(&mut k), [0xF0, 0x1C]);
        // Keyboard disabled by the command byte holds its bytes.
        k.write(0x64, 1, 0xAD);
        k.key_event(KeyCode::B, true);
        assert!(drain(&mut k).is_empty());
        k.write(0x64, 1, 0xAE);
        assert_eq!(drain(&mut k), [0x32]);
        // Reset through the data port.
        k.write(0x60, 1, 0xFF);
        assert_eq!(drain(&mut k), [0xFA, 0xAA]);
    }

    #[test]
    fn mouse_through_d4_and_irq12() {
        let (mut k, _, rec) = setup();
        k.write(0x64, 1, 0x60);
        k.write(0x60, 1, 0x47); // both interrupts, translate
        k.write(0x64, 1, 0xA8);
        k.write(0x64, 1, 0xD4);
        k.write(0x60, 1, 0xF4);
        assert_eq!(k.read(0x64, 1) & 0x21, 0x21);
        assert!(rec.level(12) && !rec.level(1));
        assert_eq!(drain(&mut k), [0xFA]);
        k.mouse_event(1, -1, 2);
        assert_eq!(drain(&mut k), [0x0A, 1, 1]);
        k.write(0x64, 1, 0xD3);
        k.write(0x60, 1, 0x77);
        assert_eq!(k.read(0x64, 1) & 0x20, 0x20);
        assert_eq!(drain(&mut k), [0x77]);
        k.write(0x64, 1, 0xD2);
        k.write(0x60, 1, 0x66);
        assert_eq!(k.read(0x64, 1) & 0x20, 0);
        assert_eq!(drain(&mut k), [0x66]);
    }

    #[test]
    fn hammer_ports() {
        let (mut k, _, _) = setup();
        for seed in 1..20 {
            hammer(&mut k, &[0x60, 0x64], 3000, seed);
            k.key_event(KeyCode::Pause, true);
            k.mouse_event(seed as i32 * 1000, -7, 7);
        }
    }
}
