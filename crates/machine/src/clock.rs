//! The machine's clock, shared with the devices as a `devices::Clock`.
//!
//! Virtual mode: time is `icount * ns_per_insn` plus the time skipped while
//! the CPU was halted, published by the run loop at slice boundaries (so a
//! device sees time advance in steps of one slice). Same image, same
//! inputs: same execution. Host mode: the host's monotonic clock since
//! machine start. Not modelled: pausing, time scaling of host time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use devices::Clock;

use crate::config::ClockMode;

/// Virtual or host time in nanoseconds since machine start.
pub struct MachineClock {
    mode: ClockMode,
    start: Instant,
    /// Virtual mode: the published time.
    virt_ns: AtomicU64,
    /// Virtual mode: time skipped while halted.
    idle_ns: AtomicU64,
}

impl MachineClock {
    pub fn new(mode: ClockMode) -> Arc<MachineClock> {
        Arc::new(MachineClock {
            mode,
            start: Instant::now(),
            virt_ns: AtomicU64::new(0),
            idle_ns: AtomicU64::new(0),
        })
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self.mode, ClockMode::Virtual { .. })
    }

    /// Virtual mode: publishes the time for `icount` retired instructions.
    /// Never moves time backwards. No effect in host mode.
    pub fn sync(&self, icount: u64) {
        if let ClockMode::Virtual { ns_per_insn } = self.mode {
            let t = icount
                .saturating_mul(ns_per_insn)
                .saturating_add(self.idle_ns.load(Ordering::Relaxed));
            self.virt_ns.fetch_max(t, Ordering::Release);
        }
    }

    /// Virtual mode: the CPU is halted; jumps time forward to `t` (if it is
    /// in the future) by adding idle time. No effect in host mode.
    pub fn skip_to(&self, t: u64) {
        if self.is_virtual() {
            let now = self.virt_ns.load(Ordering::Acquire);
            if t > now {
                self.idle_ns.fetch_add(t - now, Ordering::Relaxed);
                self.virt_ns.fetch_max(t, Ordering::Release);
            }
        }
    }

    /// Instructions that take `ns` of virtual time (at least 1); `None` in
    /// host mode.
    pub fn insns_for(&self, ns: u64) -> Option<u64> {
        match self.mode {
            ClockMode::Virtual { ns_per_insn } => Some((ns / ns_per_insn.max(1)).max(1)),
            ClockMode::Host => None,
        }
    }
}

impl Clock for MachineClock {
    fn now_ns(&self) -> u64 {
        match self.mode {
            ClockMode::Virtual { .. } => self.virt_ns.load(Ordering::Acquire),
            ClockMode::Host => self.start.elapsed().as_nanos() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_from_icount_and_idle() {
        let c = MachineClock::new(ClockMode::Virtual { ns_per_insn: 10 });
        assert_eq!(c.now_ns(), 0);
        c.sync(100);
        assert_eq!(c.now_ns(), 1000);
        c.skip_to(5000);
        assert_eq!(c.now_ns(), 5000);
        c.sync(100); // same icount: idle time kept
        assert_eq!(c.now_ns(), 5000);
        c.sync(150);
        assert_eq!(c.now_ns(), 5500);
        c.skip_to(10); // the past: ignored
        assert_eq!(c.now_ns(), 5500);
        assert_eq!(c.insns_for(1000), Some(100));
        assert_eq!(c.insns_for(1), Some(1));
    }

    #[test]
    fn host_time_moves() {
        let c = MachineClock::new(ClockMode::Host);
        let a = c.now_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(c.now_ns() >= a + 1_000_000);
        assert_eq!(c.insns_for(10), None);
        c.skip_to(u64::MAX); // no effect
        assert!(c.now_ns() < 60_000_000_000);
    }
}
