//! System control lines several devices drive: the A20 gate and the CPU
//! reset request (8042 output port, port 0x92, PCI reset register 0xCF9).
//!
//! A shared handle: devices set the lines, the machine reads them (or gets a
//! callback on A20 changes so it can update the memory map at once). Not
//! modelled: INIT versus full reset (every request is a full reset).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::bus::lock;

type A20Hook = Box<dyn Fn(bool) + Send + Sync>;

pub struct SystemControl {
    a20: AtomicBool,
    reset: AtomicBool,
    a20_hook: Mutex<Option<A20Hook>>,
}

impl SystemControl {
    /// A20 starts enabled-off (masked), as after power-on.
    pub fn new() -> Arc<Self> {
        Arc::new(SystemControl {
            a20: AtomicBool::new(false),
            reset: AtomicBool::new(false),
            a20_hook: Mutex::new(None),
        })
    }

    /// Called with the new state whenever A20 changes.
    pub fn on_a20_change(&self, hook: impl Fn(bool) + Send + Sync + 'static) {
        *lock(&self.a20_hook) = Some(Box::new(hook));
    }

    pub fn a20(&self) -> bool {
        self.a20.load(Ordering::SeqCst)
    }

    pub fn set_a20(&self, on: bool) {
        if self.a20.swap(on, Ordering::SeqCst) != on {
            log::debug!("A20 {}", if on { "enabled" } else { "disabled" });
            if let Some(h) = lock(&self.a20_hook).as_ref() {
                h(on);
            }
        }
    }

    pub fn request_reset(&self) {
        log::debug!("system reset requested");
        self.reset.store(true, Ordering::SeqCst);
    }

    /// Whether a reset was requested since the last call (and clears it).
    pub fn take_reset(&self) -> bool {
        self.reset.swap(false, Ordering::SeqCst)
    }

    pub fn reset_pending(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn a20_hook_fires_on_change_only() {
        let s = SystemControl::new();
        let n = Arc::new(AtomicU32::new(0));
        let n2 = n.clone();
        s.on_a20_change(move |_| {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        s.set_a20(true);
        s.set_a20(true);
        s.set_a20(false);
        assert_eq!(n.load(Ordering::SeqCst), 2);
        assert!(!s.a20());
        s.request_reset();
        assert!(s.take_reset());
        assert!(!s.take_reset());
    }
}
