//! The port-I/O bus: a range map from I/O ports to devices.
//!
//! Registration refuses overlapping ranges with an error. Reads of ports no
//! device claims return all ones (as on an ISA bus with pull-ups); writes to
//! them are ignored. Both are logged at debug level.

use std::sync::{Arc, Mutex};

/// A device reachable through I/O ports. `size` is 1, 2 or 4 bytes.
pub trait PortIo: Send {
    fn read(&mut self, port: u16, size: u8) -> u32;
    fn write(&mut self, port: u16, size: u8, val: u32);
}

/// A device shared between the port bus and other owners (e.g. the machine
/// that also drives its IRQ output, or the MMIO map for VGA).
pub type SharedDevice = Arc<Mutex<dyn PortIo>>;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("port range {new_first:#06x}-{new_last:#06x} ({new_name}) overlaps {old_first:#06x}-{old_last:#06x} ({old_name})")]
    Overlap {
        new_first: u16,
        new_last: u16,
        new_name: &'static str,
        old_first: u16,
        old_last: u16,
        old_name: &'static str,
    },
    #[error("empty port range for {0}")]
    Empty(&'static str),
}

struct Range {
    first: u16,
    last: u16,
    name: &'static str,
    dev: SharedDevice,
}

/// Ports 0..=0xFFFF mapped to devices. Lookup is a 64 Ki table of indices so
/// the hot path is one array access.
pub struct PortBus {
    ranges: Vec<Range>,
    index: Vec<u16>, // 0 = unclaimed, else ranges index + 1
}

impl Default for PortBus {
    fn default() -> Self {
        Self::new()
    }
}

impl PortBus {
    pub fn new() -> Self {
        PortBus {
            ranges: Vec::new(),
            index: vec![0; 0x10000],
        }
    }

    /// Claims `first..=last` for `dev`. Fails if any port is already claimed.
    pub fn register(
        &mut self,
        first: u16,
        last: u16,
        name: &'static str,
        dev: SharedDevice,
    ) -> Result<(), BusError> {
        if last < first {
            return Err(BusError::Empty(name));
        }
        if let Some(old) = self
            .ranges
            .iter()
            .find(|r| r.first <= last && first <= r.last)
        {
            return Err(BusError::Overlap {
                new_first: first,
                new_last: last,
                new_name: name,
                old_first: old.first,
                old_last: old.last,
                old_name: old.name,
            });
        }
        self.ranges.push(Range {
            first,
            last,
            name,
            dev,
        });
        let idx = self.ranges.len() as u16;
        for p in first..=last {
            self.index[p as usize] = idx;
        }
        Ok(())
    }

    fn device(&self, port: u16) -> Option<&SharedDevice> {
        match self.index[port as usize] {
            0 => None,
            i => Some(&self.ranges[i as usize - 1].dev),
        }
    }

    pub fn read(&self, port: u16, size: u8) -> u32 {
        match self.device(port) {
            Some(dev) => lock(dev).read(port, size),
            None => {
                log::debug!("read of unclaimed port {port:#06x} size {size}");
                match size {
                    1 => 0xFF,
                    2 => 0xFFFF,
                    _ => 0xFFFF_FFFF,
                }
            }
        }
    }

    pub fn write(&self, port: u16, size: u8, val: u32) {
        match self.device(port) {
            Some(dev) => lock(dev).write(port, size, val),
            None => log::debug!("write {val:#x} to unclaimed port {port:#06x} size {size}"),
        }
    }
}

/// An 8-bit register read at a wider size: the upper bytes read as open bus
/// (all ones), as when an 8-bit ISA device answers a 16/32-bit access.
pub fn widen(v: u8, size: u8) -> u32 {
    match size {
        1 => v as u32,
        2 => 0xFF00 | v as u32,
        _ => 0xFFFF_FF00 | v as u32,
    }
}

/// Locks a device, recovering from a poisoned lock (a device never panics on
/// guest input, but a poisoned mutex must not take the whole machine down).
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(u32);
    impl PortIo for Echo {
        fn read(&mut self, port: u16, _size: u8) -> u32 {
            self.0 + port as u32
        }
        fn write(&mut self, _port: u16, _size: u8, val: u32) {
            self.0 = val;
        }
    }

    #[test]
    fn dispatch_and_unclaimed() {
        let mut bus = PortBus::new();
        bus.register(0x60, 0x64, "echo", Arc::new(Mutex::new(Echo(0))))
            .unwrap();
        bus.write(0x60, 1, 0x100);
        assert_eq!(bus.read(0x62, 1), 0x162);
        assert_eq!(bus.read(0x65, 1), 0xFF);
        assert_eq!(bus.read(0x65, 2), 0xFFFF);
        bus.write(0x1234, 4, 7); // ignored
        assert_eq!(widen(0x12, 1), 0x12);
        assert_eq!(widen(0x12, 2), 0xFF12);
        assert_eq!(widen(0x12, 4), 0xFFFF_FF12);
    }

    #[test]
    fn overlap_refused() {
        let mut bus = PortBus::new();
        bus.register(0x60, 0x64, "a", Arc::new(Mutex::new(Echo(0))))
            .unwrap();
        let err = bus
            .register(0x64, 0x64, "b", Arc::new(Mutex::new(Echo(0))))
            .unwrap_err();
        assert!(err.to_string().contains("overlaps"));
        assert!(bus
            .register(0x66, 0x65, "c", Arc::new(Mutex::new(Echo(0))))
            .is_err());
    }
}
