//! The time-stamp counter in host time: RDTSC reads the host clock at
//! [`HOST_TSC_HZ`], so its rate does not depend on what the guest runs.
//!
//! The CPU's own TSC is `icount + tsc_offset` (one tick per retired
//! instruction). Counting instructions alone made the rate depend on the
//! code: Linux calibrates the TSC against the PIT in an I/O-bound loop
//! (every port access a trip to the device model, few instructions per
//! second), then runs translated code at hundreds of MIPS, and its clock
//! ran 5-7x fast. So in host time:
//! - before each slice the machine moves `tsc_offset` up to the host-time
//!   value ([`HostTsc::sync`]), so the CPU's TSC never lags behind;
//! - RDTSC and RDMSR 0x10 go through [`cpu_interp::Bus::read_tsc`], which
//!   returns the larger of the CPU's TSC and the host-time value, so reads
//!   within a slice advance with the host clock too (Linux then calibrates
//!   exactly [`HOST_TSC_HZ`] and keeps the TSC as a stable clocksource).
//!
//! The value never goes backwards. A guest write to the TSC (WRMSR 0x10,
//! which changes `tsc_offset`) or a reset moves the host-time line to the
//! written value. In virtual time none of this applies: the TSC counts
//! instructions, which is what makes runs repeatable.

use std::sync::Arc;

use devices::Clock;

use crate::clock::MachineClock;

/// The TSC rate in host time: a 3 GHz part.
pub const HOST_TSC_HZ: u64 = 3_000_000_000;

/// Host-time TSC state shared by the run loop and the bus.
pub struct HostTsc {
    clock: Arc<MachineClock>,
    /// Guest TSC minus host ticks (wrapping).
    adjust: u64,
    /// `tsc_offset` as last seen: a different value means the guest wrote
    /// the TSC (or the machine reset).
    last_offset: u64,
    /// The largest value handed out, so reads never go backwards.
    last_read: u64,
}

impl HostTsc {
    pub fn new(clock: Arc<MachineClock>) -> HostTsc {
        HostTsc {
            clock,
            adjust: 0,
            last_offset: 0,
            last_read: 0,
        }
    }

    fn enabled(&self) -> bool {
        !self.clock.is_virtual()
    }

    fn host_ticks(&self) -> u64 {
        let ns = self.clock.now_ns() as u128;
        (ns * HOST_TSC_HZ as u128 / 1_000_000_000) as u64
    }

    /// Re-bases the host-time line if the guest changed `tsc_offset`.
    fn follow_writes(&mut self, icount: u64, offset: u64) {
        if offset != self.last_offset {
            let tsc = icount.wrapping_add(offset);
            self.adjust = tsc.wrapping_sub(self.host_ticks());
            self.last_offset = offset;
            self.last_read = tsc;
        }
    }

    /// Before a slice: raises `tsc_offset` so that the CPU's TSC is at
    /// least the host-time value.
    pub fn sync(&mut self, icount: u64, tsc_offset: &mut u64) {
        if !self.enabled() {
            return;
        }
        self.follow_writes(icount, *tsc_offset);
        let target = self
            .host_ticks()
            .wrapping_add(self.adjust)
            .max(self.last_read);
        let current = icount.wrapping_add(*tsc_offset);
        if target > current {
            *tsc_offset = tsc_offset.wrapping_add(target - current);
            self.last_offset = *tsc_offset;
        }
    }

    /// The value RDTSC returns.
    pub fn read(&mut self, icount: u64, tsc_offset: u64) -> u64 {
        let tsc = icount.wrapping_add(tsc_offset);
        if !self.enabled() {
            return tsc;
        }
        self.follow_writes(icount, tsc_offset);
        let v = tsc
            .max(self.host_ticks().wrapping_add(self.adjust))
            .max(self.last_read);
        self.last_read = v;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClockMode;
    use std::time::Duration;

    #[test]
    fn reads_follow_host_time_between_instructions() {
        let mut t = HostTsc::new(MachineClock::new(ClockMode::Host));
        let a = t.read(100, 0);
        std::thread::sleep(Duration::from_millis(20));
        let b = t.read(101, 0);
        // 20 ms at 3 GHz is 60 M ticks; allow for a slow, loaded host.
        assert!(b - a >= 50_000_000, "{a} -> {b}");
        assert!(b - a < 3_000_000_000, "{a} -> {b}");
    }

    #[test]
    fn never_goes_backwards_and_sync_catches_up() {
        let mut t = HostTsc::new(MachineClock::new(ClockMode::Host));
        std::thread::sleep(Duration::from_millis(5));
        let r = t.read(10, 0);
        let mut offset = 0;
        t.sync(11, &mut offset);
        assert!(11 + offset >= r, "the CPU's TSC is not behind a value read");
        let r2 = t.read(12, offset);
        assert!(r2 >= r);
    }

    #[test]
    fn a_guest_write_moves_the_line() {
        let mut t = HostTsc::new(MachineClock::new(ClockMode::Host));
        std::thread::sleep(Duration::from_millis(5));
        let _ = t.read(10, 0);
        // WRMSR 0x10 <- 1000 at icount 20: offset 980.
        let v = t.read(20, 980);
        assert!(
            (1000..1000 + 300_000_000).contains(&v),
            "reads continue from the written value: {v}"
        );
    }

    #[test]
    fn virtual_time_counts_instructions() {
        let mut t = HostTsc::new(MachineClock::new(ClockMode::Virtual { ns_per_insn: 10 }));
        assert_eq!(t.read(1234, 6), 1240);
        let mut offset = 6;
        t.sync(1234, &mut offset);
        assert_eq!(offset, 6);
    }
}
