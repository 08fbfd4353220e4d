//! Interrupt lines from devices to an interrupt controller.
//!
//! A device holds an [`IrqLine`] (cheap to clone, `Send`) and drives it with
//! [`IrqLine::set_level`] or [`IrqLine::pulse`]. The line forwards straight
//! to an [`IrqController`] (the PIC pair behind a mutex); the controller never
//! calls back into devices, so there is no lock-order problem. Not modelled:
//! an I/O APIC, MSIs, line sharing between devices (each line has one driver).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Something that receives interrupt request levels (the 8259 pair).
pub trait IrqController: Send + Sync {
    /// Drives input `irq` (0..=15 on a PC) to `level`.
    fn set_irq(&self, irq: u8, level: bool);
}

/// One interrupt request line of one device.
#[derive(Clone)]
pub struct IrqLine {
    ctrl: Option<Arc<dyn IrqController>>,
    irq: u8,
}

impl IrqLine {
    pub fn new(ctrl: Arc<dyn IrqController>, irq: u8) -> Self {
        IrqLine {
            ctrl: Some(ctrl),
            irq,
        }
    }

    /// A line connected to nothing (devices without an interrupt wired).
    pub fn disconnected() -> Self {
        IrqLine { ctrl: None, irq: 0 }
    }

    pub fn irq(&self) -> u8 {
        self.irq
    }

    pub fn set_level(&self, level: bool) {
        if let Some(c) = &self.ctrl {
            c.set_irq(self.irq, level);
        }
    }

    /// A low-high-low pulse: one edge for an edge-triggered input.
    pub fn pulse(&self) {
        self.set_level(false);
        self.set_level(true);
        self.set_level(false);
    }
}

impl std::fmt::Debug for IrqLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IrqLine({}, connected: {})",
            self.irq,
            self.ctrl.is_some()
        )
    }
}

/// A controller that records levels and counts rising edges; for tests of
/// devices without a PIC.
#[derive(Debug, Default)]
pub struct IrqRecorder {
    levels: AtomicU32,
    edges: [AtomicU64; 16],
}

impl IrqRecorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A line into this recorder.
    pub fn line(self: &Arc<Self>, irq: u8) -> IrqLine {
        IrqLine::new(self.clone(), irq)
    }

    pub fn level(&self, irq: u8) -> bool {
        self.levels.load(Ordering::SeqCst) & (1 << (irq & 15)) != 0
    }

    /// Rising edges seen on `irq` since creation.
    pub fn edges(&self, irq: u8) -> u64 {
        self.edges[irq as usize & 15].load(Ordering::SeqCst)
    }
}

impl IrqController for IrqRecorder {
    fn set_irq(&self, irq: u8, level: bool) {
        let bit = 1u32 << (irq & 15);
        let old = if level {
            self.levels.fetch_or(bit, Ordering::SeqCst)
        } else {
            self.levels.fetch_and(!bit, Ordering::SeqCst)
        };
        if level && old & bit == 0 {
            self.edges[irq as usize & 15].fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_reaches_controller() {
        let rec = IrqRecorder::new();
        let l = rec.line(4);
        l.set_level(true);
        assert!(rec.level(4));
        l.set_level(true);
        assert_eq!(rec.edges(4), 1);
        l.pulse();
        assert!(!rec.level(4));
        assert_eq!(rec.edges(4), 2);
        IrqLine::disconnected().pulse();
    }
}
