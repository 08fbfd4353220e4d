//! The window front end: a `minifb` window on the main thread showing the
//! VGA output scaled at its native aspect ratio, with keyboard and mouse
//! input sent to the emulation thread over a channel.
//!
//! The window renders straight from the shared VGA (one lock per displayed
//! frame, and only when the picture changed). Not modelled: mouse grab,
//! a menu, full-screen, keys minifb does not report (Print Screen).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use devices::bus::lock;
use devices::keycode::KeyCode;
use devices::vga::Vga;
use minifb::{Key, KeyRepeat, MouseButton, MouseMode, ScaleMode, Window, WindowOptions};

use crate::run::Input;

/// Whether a display seems available ($DISPLAY or $WAYLAND_DISPLAY set).
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// The PC key for a minifb key.
pub fn keycode(k: Key) -> Option<KeyCode> {
    use KeyCode as C;
    Some(match k {
        Key::Key0 => C::Key0,
        Key::Key1 => C::Key1,
        Key::Key2 => C::Key2,
        Key::Key3 => C::Key3,
        Key::Key4 => C::Key4,
        Key::Key5 => C::Key5,
        Key::Key6 => C::Key6,
        Key::Key7 => C::Key7,
        Key::Key8 => C::Key8,
        Key::Key9 => C::Key9,
        Key::A => C::A,
        Key::B => C::B,
        Key::C => C::C,
        Key::D => C::D,
        Key::E => C::E,
        Key::F => C::F,
        Key::G => C::G,
        Key::H => C::H,
        Key::I => C::I,
        Key::J => C::J,
        Key::K => C::K,
        Key::L => C::L,
        Key::M => C::M,
        Key::N => C::N,
        Key::O => C::O,
        Key::P => C::P,
        Key::Q => C::Q,
        Key::R => C::R,
        Key::S => C::S,
        Key::T => C::T,
        Key::U => C::U,
        Key::V => C::V,
        Key::W => C::W,
        Key::X => C::X,
        Key::Y => C::Y,
        Key::Z => C::Z,
        Key::F1 => C::F1,
        Key::F2 => C::F2,
        Key::F3 => C::F3,
        Key::F4 => C::F4,
        Key::F5 => C::F5,
        Key::F6 => C::F6,
        Key::F7 => C::F7,
        Key::F8 => C::F8,
        Key::F9 => C::F9,
        Key::F10 => C::F10,
        Key::F11 => C::F11,
        Key::F12 => C::F12,
        Key::Down => C::Down,
        Key::Left => C::Left,
        Key::Right => C::Right,
        Key::Up => C::Up,
        Key::Apostrophe => C::Apostrophe,
        Key::Backquote => C::Backquote,
        Key::Backslash => C::Backslash,
        Key::Comma => C::Comma,
        Key::Equal => C::Equals,
        Key::LeftBracket => C::LeftBracket,
        Key::Minus => C::Minus,
        Key::Period => C::Period,
        Key::RightBracket => C::RightBracket,
        Key::Semicolon => C::Semicolon,
        Key::Slash => C::Slash,
        Key::Backspace => C::Backspace,
        Key::Delete => C::Delete,
        Key::End => C::End,
        Key::Enter => C::Enter,
        Key::Escape => C::Escape,
        Key::Home => C::Home,
        Key::Insert => C::Insert,
        Key::Menu => C::Menu,
        Key::PageDown => C::PageDown,
        Key::PageUp => C::PageUp,
        Key::Pause => C::Pause,
        Key::Space => C::Space,
        Key::Tab => C::Tab,
        Key::NumLock => C::NumLock,
        Key::CapsLock => C::CapsLock,
        Key::ScrollLock => C::ScrollLock,
        Key::LeftShift => C::LeftShift,
        Key::RightShift => C::RightShift,
        Key::LeftCtrl => C::LeftCtrl,
        Key::RightCtrl => C::RightCtrl,
        Key::NumPad0 => C::Kp0,
        Key::NumPad1 => C::Kp1,
        Key::NumPad2 => C::Kp2,
        Key::NumPad3 => C::Kp3,
        Key::NumPad4 => C::Kp4,
        Key::NumPad5 => C::Kp5,
        Key::NumPad6 => C::Kp6,
        Key::NumPad7 => C::Kp7,
        Key::NumPad8 => C::Kp8,
        Key::NumPad9 => C::Kp9,
        Key::NumPadDot => C::KpPeriod,
        Key::NumPadSlash => C::KpDivide,
        Key::NumPadAsterisk => C::KpMultiply,
        Key::NumPadMinus => C::KpMinus,
        Key::NumPadPlus => C::KpPlus,
        Key::NumPadEnter => C::KpEnter,
        Key::LeftAlt => C::LeftAlt,
        Key::RightAlt => C::RightAlt,
        Key::LeftSuper => C::LeftMeta,
        Key::RightSuper => C::RightMeta,
        _ => return None,
    })
}

/// A window size for a `w` x `h` frame: small modes doubled, at most
/// about 1280 pixels wide.
pub fn window_size(w: u32, h: u32) -> (usize, usize) {
    let (w, h) = (w.max(1) as usize, h.max(1) as usize);
    let scale = if w <= 400 { 2 } else { 1 };
    let (w, h) = (w * scale, h * scale);
    if w > 1280 {
        (1280, h * 1280 / w)
    } else {
        (w, h)
    }
}

/// Runs the window until it is closed (then sends `Input::Quit`) or
/// `stopped` is set by the emulation thread.
pub fn run_window(
    vga: Arc<Mutex<Vga>>,
    tx: Sender<Input>,
    stopped: Arc<AtomicBool>,
) -> Result<(), minifb::Error> {
    let (mut fw, mut fh) = (720u32, 400u32);
    let (ww, wh) = window_size(fw, fh);
    let mut win = Window::new(
        "oxpc",
        ww,
        wh,
        WindowOptions {
            resize: true,
            scale_mode: ScaleMode::AspectRatioStretch,
            ..WindowOptions::default()
        },
    )?;
    win.set_target_fps(60);
    let mut frame: Vec<u32> = vec![0; (fw * fh) as usize];
    let mut last_key = u64::MAX;
    let mut frame_no = 0u64;
    let mut last_mouse: Option<(f32, f32)> = None;
    let mut last_buttons = 0u8;
    while win.is_open() && !stopped.load(Ordering::Acquire) {
        frame_no += 1;
        let changed = {
            let mut v = lock(&vga);
            v.set_frame_counter(frame_no);
            let key = v.frame_key();
            if key != last_key {
                last_key = key;
                let (w, h) = v.render(&mut frame);
                (fw, fh) = (w.max(1), h.max(1));
                true
            } else {
                false
            }
        };
        if frame.len() < (fw * fh) as usize {
            frame.resize((fw * fh) as usize, 0);
        }
        let r = if changed {
            win.update_with_buffer(&frame, fw as usize, fh as usize)
        } else {
            win.update();
            Ok(())
        };
        if let Err(e) = r {
            log::warn!("window: {e}");
        }
        for k in win.get_keys_pressed(KeyRepeat::Yes) {
            if let Some(c) = keycode(k) {
                let _ = tx.send(Input::Key(c, true));
            }
        }
        for k in win.get_keys_released() {
            if let Some(c) = keycode(k) {
                let _ = tx.send(Input::Key(c, false));
            }
        }
        let buttons = u8::from(win.get_mouse_down(MouseButton::Left))
            | u8::from(win.get_mouse_down(MouseButton::Right)) << 1
            | u8::from(win.get_mouse_down(MouseButton::Middle)) << 2;
        let pos = win.get_mouse_pos(MouseMode::Discard);
        if let (Some((x, y)), Some((lx, ly))) = (pos, last_mouse) {
            let (dx, dy) = ((x - lx) as i32, (y - ly) as i32);
            if dx != 0 || dy != 0 || buttons != last_buttons {
                let _ = tx.send(Input::Mouse(dx, dy, buttons));
            }
        }
        last_mouse = pos;
        last_buttons = buttons;
    }
    let _ = tx.send(Input::Quit);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_map_and_sizes() {
        assert_eq!(keycode(Key::A), Some(KeyCode::A));
        assert_eq!(keycode(Key::Enter), Some(KeyCode::Enter));
        assert_eq!(keycode(Key::NumPadEnter), Some(KeyCode::KpEnter));
        assert_eq!(keycode(Key::F15), None);
        assert_eq!(window_size(320, 200), (640, 400));
        assert_eq!(window_size(720, 400), (720, 400));
        assert_eq!(window_size(1920, 1080), (1280, 720));
        assert_eq!(window_size(0, 0), (2, 2));
    }
}
