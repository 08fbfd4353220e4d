//! The headless front end's terminal side: COM1 input from stdin (raw
//! keystrokes when stdin is a terminal, plain bytes when it is a pipe),
//! Ctrl-C (SIGINT) as a clean stop, and Ctrl-A x as an escape to quit.
//!
//! Raw mode keeps ISIG (so Ctrl-C still stops the machine) and output
//! processing (so the guest's "\n" still starts a new line); the previous
//! settings come back when the guard drops. Not modelled: window size
//! changes, the other QEMU-style Ctrl-A commands.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::run::Input;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT set a flag instead of killing the process, and starts a
/// thread that turns the flag into `Input::Quit`.
pub fn catch_ctrl_c(tx: Sender<Input>) {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: installs a handler that only stores to an atomic, which is
    // async-signal-safe; the function pointer lives for the whole program.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(50));
        if INTERRUPTED.swap(false, Ordering::SeqCst) && tx.send(Input::Quit).is_err() {
            return; // the machine is gone
        }
    });
}

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(0) == 1 }
}

/// Raw-ish mode on stdin while alive.
pub struct RawTerminal {
    saved: libc::termios,
}

impl RawTerminal {
    /// Switches stdin to raw input if it is a terminal.
    pub fn enable() -> Option<RawTerminal> {
        if !stdin_is_tty() {
            return None;
        }
        // SAFETY: termios is plain old data; tcgetattr fills it or fails.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 is a terminal and `t` is a valid termios.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        t.c_lflag &= !(libc::ICANON | libc::ECHO | libc::IEXTEN);
        t.c_iflag &= !(libc::ICRNL | libc::IXON | libc::INLCR | libc::ISTRIP);
        t.c_cc[libc::VMIN] = 1;
        t.c_cc[libc::VTIME] = 0;
        // SAFETY: as above, with a termios derived from the current one.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
            return None;
        }
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enable`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Splits typed bytes into guest input and the Ctrl-A escape: Ctrl-A x
/// quits, Ctrl-A Ctrl-A sends one Ctrl-A.
#[derive(Default)]
pub struct EscapeFilter {
    after_ctrl_a: bool,
}

impl EscapeFilter {
    /// Returns the bytes for the guest and whether to quit.
    pub fn filter(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.after_ctrl_a {
                self.after_ctrl_a = false;
                match b {
                    b'x' | b'X' => return (out, true),
                    0x01 => out.push(0x01),
                    _ => out.push(b),
                }
            } else if b == 0x01 {
                self.after_ctrl_a = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// Reads stdin on a thread and sends it as COM1 input. With `raw`, Ctrl-A x
/// quits. At end of input the thread ends (the guest just sees no more).
pub fn spawn_stdin_reader(tx: Sender<Input>, raw: bool) {
    std::thread::spawn(move || {
        let mut esc = EscapeFilter::default();
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let (data, quit) = if raw {
                esc.filter(&buf[..n])
            } else {
                (buf[..n].to_vec(), false)
            };
            if !data.is_empty() && tx.send(Input::Serial(data)).is_err() {
                return;
            }
            if quit {
                let _ = tx.send(Input::Quit);
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_a_escape() {
        let mut f = EscapeFilter::default();
        assert_eq!(f.filter(b"ab"), (b"ab".to_vec(), false));
        assert_eq!(f.filter(&[b'c', 1]), (b"c".to_vec(), false));
        assert_eq!(f.filter(&[1]), (vec![1], false), "Ctrl-A Ctrl-A sends one");
        assert_eq!(f.filter(&[1, b'x', b'y']), (vec![], true));
    }
}
