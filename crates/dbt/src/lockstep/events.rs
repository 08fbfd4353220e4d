//! What the translator's side of the lockstep engine saw from the machine
//! and the interpreter's side must see too: port I/O, INTR polls and
//! acknowledgements, memory-map changes and DMA writes made by the OUT
//! that caused them (all in program order in one log), and MMIO accesses
//! (in their own queue, filled by wrappers around the real machine's MMIO
//! handlers and drained by replay handlers in the shadow machine).
//!
//! Replay is strict: a port access, acknowledgement or MMIO access the
//! interpreter makes must be the next one recorded, with the same port or
//! address, size and (for writes) value; anything else is a difference.
//! INTR polls are answered from the log only when a recorded poll is next
//! (the interpreter looks at the line at every instruction boundary, the
//! translator only at block boundaries). Leaves out: FERR# (IRQ13) is
//! forwarded on the real side and ignored on the shadow side.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use cpu_interp::bus::Bus;
use mmu::{Mmio, Mmu, PhysMem};

/// The PAM granule size and count (0xC0000..0x100000).
const GRANULE: u32 = 0x4000;
const GRANULES: usize = 16;

/// The run-time memory map: A20 and the PAM (read RAM, write RAM) flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapState {
    pub a20: bool,
    pub pam: [(bool, bool); GRANULES],
}

impl MapState {
    pub fn of(p: &PhysMem) -> MapState {
        let mut pam = [(false, false); GRANULES];
        for (i, g) in pam.iter_mut().enumerate() {
            *g = p.shadow_flags(0xC_0000 + i as u32 * GRANULE);
        }
        MapState {
            a20: p.a20_enabled(),
            pam,
        }
    }

    /// Makes `mmu`'s map this one (flushing its TLB where it changes).
    pub fn apply(&self, mmu: &mut Mmu) {
        if mmu.phys.a20_enabled() != self.a20 {
            mmu.set_a20(self.a20);
        }
        for (i, &(r, w)) in self.pam.iter().enumerate() {
            let base = 0xC_0000 + i as u32 * GRANULE;
            if mmu.phys.shadow_flags(base) != (r, w) {
                mmu.set_shadow(base, GRANULE, r, w);
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    IoRead(u16, u8, u32),
    IoWrite(u16, u8, u32),
    Pending(bool),
    Ack(u8),
    /// A device wrote guest RAM (address, bytes).
    Dma(u32, Vec<u8>),
    /// The memory map after a port write was applied.
    Map(MapState),
    /// RDTSC: the CPU's instruction count and TSC offset, and the value
    /// the machine returned.
    Tsc(u64, u64, u64),
}

/// One MMIO access of the real machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioAccess {
    pub write: bool,
    pub addr: u64,
    pub size: u8,
    pub val: u32,
}

/// MMIO traffic shared by the recording and replaying handlers, plus the
/// differences the replay found.
#[derive(Default)]
pub struct MmioLog {
    pub queue: VecDeque<MmioAccess>,
    pub errors: Vec<String>,
}

pub type SharedMmio = Arc<Mutex<MmioLog>>;

fn lock(l: &SharedMmio) -> std::sync::MutexGuard<'_, MmioLog> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wraps a real MMIO handler: every access is performed and recorded
/// (while the lockstep engine that owns the log exists).
pub struct RecordMmio {
    pub inner: Box<dyn Mmio>,
    pub log: Weak<Mutex<MmioLog>>,
}

impl RecordMmio {
    fn record(&self, a: MmioAccess) {
        if let Some(l) = self.log.upgrade() {
            lock(&l).queue.push_back(a);
        }
    }
}

impl Mmio for RecordMmio {
    fn read(&mut self, addr: u64, size: u8) -> u32 {
        let val = self.inner.read(addr, size);
        self.record(MmioAccess {
            write: false,
            addr,
            size,
            val,
        });
        val
    }
    fn write(&mut self, addr: u64, size: u8, val: u32) {
        self.inner.write(addr, size, val);
        self.record(MmioAccess {
            write: true,
            addr,
            size,
            val,
        });
    }
}

/// The shadow machine's MMIO handler: answers reads from the recording and
/// checks writes against it.
pub struct ReplayMmio(pub SharedMmio);

impl ReplayMmio {
    fn next(&mut self, want: MmioAccess) -> u32 {
        let mut l = lock(&self.0);
        match l.queue.front().copied() {
            Some(a) if (a.write, a.addr, a.size) == (want.write, want.addr, want.size) => {
                l.queue.pop_front();
                if a.write && a.val != want.val {
                    l.errors.push(format!(
                        "mmio write {:#x}/{}={:#x} vs recorded {:#x}",
                        want.addr, want.size, want.val, a.val
                    ));
                }
                a.val
            }
            other => {
                let what = if want.write { "write" } else { "read" };
                l.errors.push(format!(
                    "mmio {what} {:#x}/{} vs recorded {other:X?}",
                    want.addr, want.size
                ));
                u32::MAX
            }
        }
    }
}

impl Mmio for ReplayMmio {
    fn read(&mut self, addr: u64, size: u8) -> u32 {
        self.next(MmioAccess {
            write: false,
            addr,
            size,
            val: 0,
        })
    }
    fn write(&mut self, addr: u64, size: u8, val: u32) {
        self.next(MmioAccess {
            write: true,
            addr,
            size,
            val,
        });
    }
}

/// The translator's bus: the machine's, with its traffic recorded.
pub struct Recorder<'a, 'b> {
    pub bus: &'a mut (dyn Bus + 'b),
    pub log: &'a mut VecDeque<Event>,
}

impl Bus for Recorder<'_, '_> {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        let v = self.bus.io_read(port, size);
        self.log.push_back(Event::IoRead(port, size, v));
        v
    }
    fn io_write(&mut self, port: u16, size: u8, val: u32) {
        self.bus.io_write(port, size, val);
        self.log.push_back(Event::IoWrite(port, size, val));
    }
    fn interrupt_pending(&mut self) -> bool {
        let p = self.bus.interrupt_pending();
        self.log.push_back(Event::Pending(p));
        p
    }
    fn acknowledge_interrupt(&mut self) -> u8 {
        let v = self.bus.acknowledge_interrupt();
        self.log.push_back(Event::Ack(v));
        v
    }
    fn fpu_error(&mut self, asserted: bool) {
        self.bus.fpu_error(asserted)
    }
    fn read_tsc(&mut self, icount: u64, tsc_offset: u64) -> u64 {
        let v = self.bus.read_tsc(icount, tsc_offset);
        self.log.push_back(Event::Tsc(icount, tsc_offset, v));
        v
    }
    fn sync_memory(&mut self, mmu: &mut Mmu) {
        self.bus.sync_memory(mmu);
        for (a, d) in mmu.phys.take_dma_log() {
            self.log.push_back(Event::Dma(a, d));
        }
        self.log.push_back(Event::Map(MapState::of(&mmu.phys)));
    }
}

/// The interpreter's bus: replays the translator's traffic.
pub struct Replay<'a> {
    pub log: &'a mut VecDeque<Event>,
    pub errors: Vec<String>,
    /// Map and DMA events passed over by a port access, applied at the
    /// next `sync_memory` or when the step ends.
    pub deferred: Vec<Event>,
}

impl Replay<'_> {
    /// Drops polls that said "nothing pending" and sets map/DMA events
    /// aside, so that the next event is one the caller must match.
    fn skip(&mut self) {
        while let Some(e) = self.log.front() {
            match e {
                Event::Pending(false) => {
                    self.log.pop_front();
                }
                Event::Dma(..) | Event::Map(_) => {
                    let e = self.log.pop_front().expect("front exists");
                    self.deferred.push(e);
                }
                _ => break,
            }
        }
    }
}

/// Applies a map or DMA event to the shadow machine.
pub fn apply(e: &Event, mmu: &mut Mmu) {
    match e {
        Event::Dma(a, d) => mmu.phys.dma().write(*a, d),
        Event::Map(m) => m.apply(mmu),
        _ => {}
    }
}

impl Bus for Replay<'_> {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        self.skip();
        match self.log.front() {
            Some(&Event::IoRead(p, s, v)) if (p, s) == (port, size) => {
                self.log.pop_front();
                v
            }
            other => {
                self.errors
                    .push(format!("io read {port:#x}/{size} vs recorded {other:X?}"));
                u32::MAX
            }
        }
    }
    fn io_write(&mut self, port: u16, size: u8, val: u32) {
        self.skip();
        match self.log.front() {
            Some(&Event::IoWrite(p, s, v)) if (p, s, v) == (port, size, val) => {
                self.log.pop_front();
            }
            other => self.errors.push(format!(
                "io write {port:#x}/{size}={val:#x} vs recorded {other:X?}"
            )),
        }
    }
    fn interrupt_pending(&mut self) -> bool {
        match self.log.front() {
            Some(&Event::Pending(p)) => {
                self.log.pop_front();
                p
            }
            _ => false,
        }
    }
    fn acknowledge_interrupt(&mut self) -> u8 {
        match self.log.front() {
            Some(&Event::Ack(v)) => {
                self.log.pop_front();
                v
            }
            other => {
                self.errors
                    .push(format!("interrupt acknowledge vs recorded {other:X?}"));
                0
            }
        }
    }
    fn read_tsc(&mut self, icount: u64, tsc_offset: u64) -> u64 {
        self.skip();
        match self.log.front() {
            Some(&Event::Tsc(i, o, v)) => {
                self.log.pop_front();
                if (i, o) != (icount, tsc_offset) {
                    self.errors.push(format!(
                        "rdtsc at icount {icount} offset {tsc_offset} vs recorded {i} {o}"
                    ));
                }
                v
            }
            other => {
                self.errors.push(format!("rdtsc vs recorded {other:X?}"));
                icount.wrapping_add(tsc_offset)
            }
        }
    }
    fn sync_memory(&mut self, mmu: &mut Mmu) {
        for e in self.deferred.drain(..) {
            apply(&e, mmu);
        }
        while let Some(Event::Dma(..) | Event::Map(_)) = self.log.front() {
            let e = self.log.pop_front().expect("front exists");
            apply(&e, mmu);
        }
    }
}

/// The recorded events the interpreter did not replay, as differences
/// (polls that found nothing, map changes and DMA are not).
pub fn unreplayed(log: &VecDeque<Event>) -> Vec<String> {
    log.iter()
        .filter(|e| !matches!(e, Event::Pending(false) | Event::Dma(..) | Event::Map(_)))
        .map(|e| format!("recorded {e:X?} not replayed"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::bus::NullBus;

    #[test]
    fn recorded_traffic_replays_and_differences_are_named() {
        let mut log = VecDeque::new();
        let mut null = NullBus::default();
        let mut rec = Recorder {
            bus: &mut null,
            log: &mut log,
        };
        assert_eq!(rec.io_read(0x60, 1), 0xFF);
        rec.io_write(0x80, 1, 0x12);
        assert!(!rec.interrupt_pending());
        assert_eq!(rec.read_tsc(10, 5), 15);
        let mut r = Replay {
            log: &mut log,
            errors: Vec::new(),
            deferred: Vec::new(),
        };
        assert!(!r.interrupt_pending(), "not a poll: nothing consumed");
        assert_eq!(r.io_read(0x60, 1), 0xFF);
        r.io_write(0x80, 1, 0x13);
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(r.errors[0].contains("0x80"), "{:?}", r.errors);
        assert_eq!(r.log.len(), 3, "the unmatched write, the poll, RDTSC");
        r.log.pop_front();
        assert_eq!(r.read_tsc(9, 5), 15, "the recorded value");
        assert!(r.errors[1].contains("rdtsc at icount 9"), "{:?}", r.errors);
        assert!(unreplayed(r.log).is_empty());
    }

    #[test]
    fn polls_and_acks_are_replayed_in_order() {
        let mut log = VecDeque::from(vec![
            Event::Pending(true),
            Event::Ack(0x08),
            Event::IoWrite(0x20, 1, 0x20),
        ]);
        let mut r = Replay {
            log: &mut log,
            errors: Vec::new(),
            deferred: Vec::new(),
        };
        assert!(r.interrupt_pending());
        assert_eq!(r.acknowledge_interrupt(), 0x08);
        assert!(!r.interrupt_pending(), "the next event is a port write");
        r.io_write(0x20, 1, 0x20);
        assert!(r.errors.is_empty());
        assert!(unreplayed(r.log).is_empty());
    }

    #[test]
    fn map_and_dma_events_reach_the_shadow() {
        let mut mmu = Mmu::new(PhysMem::new(2 << 20).unwrap());
        let mut m = MapState::of(&mmu.phys);
        assert!(m.a20);
        m.a20 = false;
        m.pam[12] = (true, true); // 0xF0000
        let mut log = VecDeque::from(vec![Event::Dma(0x1000, vec![7, 8]), Event::Map(m)]);
        let mut r = Replay {
            log: &mut log,
            errors: Vec::new(),
            deferred: Vec::new(),
        };
        r.sync_memory(&mut mmu);
        assert!(!mmu.phys.a20_enabled());
        assert_eq!(mmu.phys.shadow_flags(0xF0000), (true, true));
        assert_eq!(mmu.phys.read_u16(0x1000), 0x0807);
        assert_eq!(MapState::of(&mmu.phys), m);
    }

    #[test]
    fn mmio_replay_answers_reads_and_checks_writes() {
        let log = SharedMmio::default();
        struct Dev;
        impl Mmio for Dev {
            fn read(&mut self, addr: u64, _: u8) -> u32 {
                addr as u32 ^ 0x55
            }
            fn write(&mut self, _: u64, _: u8, _: u32) {}
        }
        let mut rec = RecordMmio {
            inner: Box::new(Dev),
            log: Arc::downgrade(&log),
        };
        assert_eq!(rec.read(0xA0000, 2), 0xA0055);
        rec.write(0xA0002, 1, 9);
        let mut rep = ReplayMmio(log.clone());
        assert_eq!(rep.read(0xA0000, 2), 0xA0055);
        rep.write(0xA0002, 1, 10);
        rep.read(0xA0004, 1);
        {
            let l = lock(&log);
            assert_eq!(l.errors.len(), 2, "{:?}", l.errors);
            assert!(l.queue.is_empty());
        }
        drop((rep, log));
        assert_eq!(rec.read(0xA0000, 1), 0xA0055, "still works, unrecorded");
    }
}
