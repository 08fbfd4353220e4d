//! Keys of a PC/AT 102/104-key keyboard with their scan codes in sets 1 and
//! 2, and the 8042's set-2-to-set-1 translation derived from the same table.
//!
//! Codes with an 0xE0 prefix are written 0xE0xx. Print Screen and Pause have
//! multi-byte sequences of their own. Not modelled: scan code set 3 (set 2 is
//! sent instead), multimedia and ACPI keys, typematic repeat (the host's key
//! repeat arrives as repeated presses).

/// A physical key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[rustfmt::skip]
pub enum KeyCode {
    Escape, Key1, Key2, Key3, Key4, Key5, Key6, Key7, Key8, Key9, Key0, Minus, Equals, Backspace,
    Tab, Q, W, E, R, T, Y, U, I, O, P, LeftBracket, RightBracket, Enter,
    LeftCtrl, A, S, D, F, G, H, J, K, L, Semicolon, Apostrophe, Backquote,
    LeftShift, Backslash, Z, X, C, V, B, N, M, Comma, Period, Slash, RightShift,
    KpMultiply, LeftAlt, Space, CapsLock,
    F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12,
    NumLock, ScrollLock, Kp7, Kp8, Kp9, KpMinus, Kp4, Kp5, Kp6, KpPlus, Kp1, Kp2, Kp3, Kp0, KpPeriod,
    NonUsBackslash,
    KpEnter, RightCtrl, KpDivide, RightAlt, Home, Up, PageUp, Left, Right, End, Down, PageDown,
    Insert, Delete, LeftMeta, RightMeta, Menu,
    PrintScreen, Pause,
}

use KeyCode::*;

/// (key, set 1 make code, set 2 make code).
#[rustfmt::skip]
const KEYS: &[(KeyCode, u16, u16)] = &[
    (Escape, 0x01, 0x76), (Key1, 0x02, 0x16), (Key2, 0x03, 0x1E), (Key3, 0x04, 0x26),
    (Key4, 0x05, 0x25), (Key5, 0x06, 0x2E), (Key6, 0x07, 0x36), (Key7, 0x08, 0x3D),
    (Key8, 0x09, 0x3E), (Key9, 0x0A, 0x46), (Key0, 0x0B, 0x45), (Minus, 0x0C, 0x4E),
    (Equals, 0x0D, 0x55), (Backspace, 0x0E, 0x66), (Tab, 0x0F, 0x0D), (Q, 0x10, 0x15),
    (W, 0x11, 0x1D), (E, 0x12, 0x24), (R, 0x13, 0x2D), (T, 0x14, 0x2C), (Y, 0x15, 0x35),
    (U, 0x16, 0x3C), (I, 0x17, 0x43), (O, 0x18, 0x44), (P, 0x19, 0x4D),
    (LeftBracket, 0x1A, 0x54), (RightBracket, 0x1B, 0x5B), (Enter, 0x1C, 0x5A),
    (LeftCtrl, 0x1D, 0x14), (A, 0x1E, 0x1C), (S, 0x1F, 0x1B), (D, 0x20, 0x23),
    (F, 0x21, 0x2B), (G, 0x22, 0x34), (H, 0x23, 0x33), (J, 0x24, 0x3B), (K, 0x25, 0x42),
    (L, 0x26, 0x4B), (Semicolon, 0x27, 0x4C), (Apostrophe, 0x28, 0x52),
    (Backquote, 0x29, 0x0E), (LeftShift, 0x2A, 0x12), (Backslash, 0x2B, 0x5D),
    (Z, 0x2C, 0x1A), (X, 0x2D, 0x22), (C, 0x2E, 0x21), (V, 0x2F, 0x2A), (B, 0x30, 0x32),
    (N, 0x31, 0x31), (M, 0x32, 0x3A), (Comma, 0x33, 0x41), (Period, 0x34, 0x49),
    (Slash, 0x35, 0x4A), (RightShift, 0x36, 0x59), (KpMultiply, 0x37, 0x7C),
    (LeftAlt, 0x38, 0x11), (Space, 0x39, 0x29), (CapsLock, 0x3A, 0x58),
    (F1, 0x3B, 0x05), (F2, 0x3C, 0x06), (F3, 0x3D, 0x04), (F4, 0x3E, 0x0C),
    (F5, 0x3F, 0x03), (F6, 0x40, 0x0B), (F7, 0x41, 0x83), (F8, 0x42, 0x0A),
    (F9, 0x43, 0x01), (F10, 0x44, 0x09), (NumLock, 0x45, 0x77), (ScrollLock, 0x46, 0x7E),
    (Kp7, 0x47, 0x6C), (Kp8, 0x48, 0x75), (Kp9, 0x49, 0x7D), (KpMinus, 0x4A, 0x7B),
    (Kp4, 0x4B, 0x6B), (Kp5, 0x4C, 0x73), (Kp6, 0x4D, 0x74), (KpPlus, 0x4E, 0x79),
    (Kp1, 0x4F, 0x69), (Kp2, 0x50, 0x72), (Kp3, 0x51, 0x7A), (Kp0, 0x52, 0x70),
    (KpPeriod, 0x53, 0x71), (NonUsBackslash, 0x56, 0x61), (F11, 0x57, 0x78),
    (F12, 0x58, 0x07),
    (KpEnter, 0xE01C, 0xE05A), (RightCtrl, 0xE01D, 0xE014), (KpDivide, 0xE035, 0xE04A),
    (RightAlt, 0xE038, 0xE011), (Home, 0xE047, 0xE06C), (Up, 0xE048, 0xE075),
    (PageUp, 0xE049, 0xE07D), (Left, 0xE04B, 0xE06B), (Right, 0xE04D, 0xE074),
    (End, 0xE04F, 0xE069), (Down, 0xE050, 0xE072), (PageDown, 0xE051, 0xE07A),
    (Insert, 0xE052, 0xE070), (Delete, 0xE053, 0xE071), (LeftMeta, 0xE05B, 0xE01F),
    (RightMeta, 0xE05C, 0xE027), (Menu, 0xE05D, 0xE02F),
];

impl KeyCode {
    fn codes(self) -> Option<(u16, u16)> {
        KEYS.iter().find(|k| k.0 == self).map(|k| (k.1, k.2))
    }

    /// The bytes the key sends in scan code set 1.
    pub fn set1(self, pressed: bool) -> Vec<u8> {
        match (self, pressed) {
            (PrintScreen, true) => vec![0xE0, 0x2A, 0xE0, 0x37],
            (PrintScreen, false) => vec![0xE0, 0xB7, 0xE0, 0xAA],
            (Pause, true) => vec![0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5],
            (Pause, false) => vec![],
            _ => {
                let Some((c, _)) = self.codes() else {
                    return vec![];
                };
                let b = c as u8 | if pressed { 0 } else { 0x80 };
                if c >> 8 == 0xE0 {
                    vec![0xE0, b]
                } else {
                    vec![b]
                }
            }
        }
    }

    /// The bytes the key sends in scan code set 2.
    pub fn set2(self, pressed: bool) -> Vec<u8> {
        match (self, pressed) {
            (PrintScreen, true) => vec![0xE0, 0x12, 0xE0, 0x7C],
            (PrintScreen, false) => vec![0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12],
            (Pause, true) => vec![0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77],
            (Pause, false) => vec![],
            _ => {
                let Some((_, c)) = self.codes() else {
                    return vec![];
                };
                let mut v = Vec::with_capacity(3);
                if c >> 8 == 0xE0 {
                    v.push(0xE0);
                }
                if !pressed {
                    v.push(0xF0);
                }
                v.push(c as u8);
                v
            }
        }
    }
}

/// The 8042's translation of one set 2 byte (not 0xF0) to set 1. Bytes that
/// are no set 2 key code (prefixes, replies like 0xFA/0xAA) pass unchanged.
pub fn translate_set2(byte: u8) -> u8 {
    match byte {
        // Not keys of the table but in the 8042's: the "set 2" reply to the
        // get-scan-code-set command, and Alt+Print Screen (SysRq).
        0x02 => 0x41,
        0x84 => 0x54,
        _ => KEYS
            .iter()
            .find(|k| k.2 as u8 == byte)
            .map_or(byte, |k| k.1 as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences() {
        assert_eq!(A.set1(true), [0x1E]);
        assert_eq!(A.set1(false), [0x9E]);
        assert_eq!(A.set2(false), [0xF0, 0x1C]);
        assert_eq!(Up.set2(false), [0xE0, 0xF0, 0x75]);
        assert_eq!(Up.set1(false), [0xE0, 0xC8]);
    }

    #[test]
    fn translation_agrees_with_set1_for_every_key() {
        for &(k, _, _) in KEYS {
            for pressed in [true, false] {
                let mut out = Vec::new();
                let mut brk = false;
                for b in k.set2(pressed) {
                    if b == 0xF0 {
                        brk = true;
                        continue;
                    }
                    out.push(translate_set2(b) | if brk { 0x80 } else { 0 });
                    brk = false;
                }
                assert_eq!(out, k.set1(pressed), "{k:?}");
            }
        }
        assert_eq!(translate_set2(0xFA), 0xFA);
        assert_eq!(translate_set2(0x83), 0x41);
        // Scan code set replies as a translating 8042 delivers them.
        assert_eq!([1, 2, 3].map(translate_set2), [0x43, 0x41, 0x3F]);
    }
}
