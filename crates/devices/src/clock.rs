//! Time as the devices see it: a monotonic nanosecond counter owned by the
//! machine (virtual time from retired instructions, or host time).
//!
//! Devices never read the wall clock. [`FakeClock`] is a settable clock for
//! tests. Not modelled: anything about wall-clock dates (the CMOS gets its
//! date base separately).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A monotonic clock in nanoseconds since machine start.
pub trait Clock: Send + Sync {
    fn now_ns(&self) -> u64;
}

/// A clock shared between the machine and its devices.
pub type SharedClock = Arc<dyn Clock>;

/// A clock tests (and simple front ends) set by hand.
#[derive(Debug, Default)]
pub struct FakeClock {
    ns: AtomicU64,
}

impl FakeClock {
    pub fn new(ns: u64) -> Arc<Self> {
        Arc::new(FakeClock {
            ns: AtomicU64::new(ns),
        })
    }

    pub fn set(&self, ns: u64) {
        self.ns.store(ns, Ordering::SeqCst);
    }

    /// The current time (also available through [`Clock`]).
    pub fn now_ns(&self) -> u64 {
        self.ns.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ns: u64) {
        self.ns.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ns(&self) -> u64 {
        FakeClock::now_ns(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_set_and_advance() {
        let c = FakeClock::new(5);
        assert_eq!(c.now_ns(), 5);
        c.advance(10);
        assert_eq!(c.now_ns(), 15);
        c.set(3);
        let shared: SharedClock = c.clone();
        assert_eq!(shared.now_ns(), 3);
    }
}
