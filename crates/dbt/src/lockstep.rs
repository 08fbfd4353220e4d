//! The lockstep engine: runs the translator and, from the same state, the
//! interpreter, block by block, and stops at the first difference.
//!
//! The translator runs on the real machine (its `Mmu` and bus; bus traffic
//! is recorded). The interpreter runs on a private copy of the CPU state
//! and of guest RAM, single-stepping until it has retired as many
//! instructions as the translator did (plus a faulting instruction whose
//! exception the translator delivered), with the recorded port reads,
//! interrupt polls and acknowledgements replayed and its port writes
//! compared. After each step the architectural CPU state is compared, and
//! every `mem_every` steps all of guest RAM.
//!
//! Leaves out: ROM and MMIO regions are not duplicated (guest code that
//! reads MMIO sees nothing on the interpreter side), DMA writes made by
//! devices between `run` calls are not mirrored.

use std::collections::VecDeque;
use std::fmt;

use cpu_interp::bus::{Bus, Engine, Stop};
use cpu_interp::cpu::{Cpu, EXIT_BLOCK};
use cpu_interp::state::{CpuState, RunState, CS};
use cpu_interp::Interpreter;
use mmu::{Mmu, PhysMem};

use crate::disasm;
use crate::engine::Dbt;
use crate::key::Key;

/// The first difference found.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// CS:EIP where the compared step started.
    pub cs: u16,
    pub eip: u32,
    pub what: String,
    pub guest: String,
    pub host: String,
    pub dbt: CpuState,
    pub interp: CpuState,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lockstep mismatch at {:04X}:{:08X}: {}",
            self.cs, self.eip, self.what
        )?;
        writeln!(f, "guest block:\n{}", self.guest)?;
        writeln!(f, "host code:\n{}", self.host)?;
        writeln!(f, "dbt:    {}", brief(&self.dbt))?;
        write!(f, "interp: {}", brief(&self.interp))
    }
}

/// One line of architectural state.
pub fn brief(s: &CpuState) -> String {
    format!(
        "eip={:08X} eflags={:08X} regs={:08X?} cs={:04X} ss={:04X} ds={:04X} icount={} run={:?} cr0={:08X}",
        s.eip,
        s.get_eflags(),
        s.regs,
        s.seg[CS].selector,
        s.seg[2].selector,
        s.seg[3].selector,
        s.icount,
        s.run_state,
        s.cr0
    )
}

/// Differences in the architectural state (lazy-flag representation and
/// the interrupt-shadow bookkeeping aside).
pub fn diff_state(a: &CpuState, b: &CpuState) -> Option<String> {
    let mut d = Vec::new();
    if a.regs != b.regs {
        d.push(format!("regs {:08X?} vs {:08X?}", a.regs, b.regs));
    }
    if a.eip != b.eip {
        d.push(format!("eip {:08X} vs {:08X}", a.eip, b.eip));
    }
    if a.get_eflags() != b.get_eflags() {
        d.push(format!(
            "eflags {:08X} vs {:08X}",
            a.get_eflags(),
            b.get_eflags()
        ));
    }
    if a.seg != b.seg || a.ldtr != b.ldtr || a.tr != b.tr || a.gdtr != b.gdtr || a.idtr != b.idtr {
        d.push("segments/descriptor tables".into());
    }
    if (a.cr0, a.cr2, a.cr3, a.cr4, a.cpl) != (b.cr0, b.cr2, b.cr3, b.cr4, b.cpl) {
        d.push(format!(
            "cr0/2/3/4/cpl {:08X} {:08X} {:08X} {:08X} {} vs {:08X} {:08X} {:08X} {:08X} {}",
            a.cr0, a.cr2, a.cr3, a.cr4, a.cpl, b.cr0, b.cr2, b.cr3, b.cr4, b.cpl
        ));
    }
    if a.icount != b.icount {
        d.push(format!("icount {} vs {}", a.icount, b.icount));
    }
    if a.run_state != b.run_state {
        d.push(format!("run state {:?} vs {:?}", a.run_state, b.run_state));
    }
    (!d.is_empty()).then(|| d.join("; "))
}

/// First differing RAM address of two memories.
pub fn diff_ram(a: &PhysMem, b: &PhysMem) -> Option<u32> {
    let size = a.ram_size().min(b.ram_size());
    let mut x = vec![0u8; 1 << 16];
    let mut y = vec![0u8; 1 << 16];
    let mut off = 0u32;
    while off < size {
        let n = ((size - off) as usize).min(x.len());
        a.read_ram_raw(off, &mut x[..n]);
        b.read_ram_raw(off, &mut y[..n]);
        if x[..n] != y[..n] {
            let i = x[..n]
                .iter()
                .zip(&y[..n])
                .position(|(p, q)| p != q)
                .unwrap_or(0);
            return Some(off + i as u32);
        }
        off += n as u32;
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    IoRead(u16, u8, u32),
    IoWrite(u16, u8, u32),
    Pending(bool),
    Ack(u8),
}

/// The translator's bus, recording what the interpreter must see.
struct Recorder<'a, 'b> {
    bus: &'a mut (dyn Bus + 'b),
    log: &'a mut VecDeque<Event>,
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
}

/// The interpreter's bus: replays the translator's traffic.
struct Replay<'a> {
    log: &'a mut VecDeque<Event>,
    errors: Vec<String>,
}

impl Replay<'_> {
    fn take(&mut self, want: fn(&Event) -> bool) -> Option<Event> {
        let pos = self.log.iter().position(want)?;
        self.log.remove(pos)
    }
}

impl Bus for Replay<'_> {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        match self.take(|e| matches!(e, Event::IoRead(..))) {
            Some(Event::IoRead(p, s, v)) if p == port && s == size => v,
            other => {
                self.errors
                    .push(format!("io read {port:#x}/{size} vs recorded {other:?}"));
                0
            }
        }
    }
    fn io_write(&mut self, port: u16, size: u8, val: u32) {
        match self.take(|e| matches!(e, Event::IoWrite(..))) {
            Some(Event::IoWrite(p, s, v)) if (p, s, v) == (port, size, val) => {}
            other => self.errors.push(format!(
                "io write {port:#x}/{size}={val:#x} vs recorded {other:?}"
            )),
        }
    }
    fn interrupt_pending(&mut self) -> bool {
        matches!(
            self.take(|e| matches!(e, Event::Pending(_))),
            Some(Event::Pending(true))
        )
    }
    fn acknowledge_interrupt(&mut self) -> u8 {
        match self.take(|e| matches!(e, Event::Ack(_))) {
            Some(Event::Ack(v)) => v,
            _ => 0,
        }
    }
}

/// Translator and interpreter side by side.
pub struct Lockstep {
    pub dbt: Dbt,
    pub interp: Interpreter,
    shadow: Option<(CpuState, Mmu)>,
    /// Compare all of RAM every this many steps (0: never).
    pub mem_every: u64,
    pub steps: u64,
    pub mismatch: Option<Mismatch>,
}

impl Default for Lockstep {
    fn default() -> Self {
        Self::new(Dbt::new())
    }
}

impl Lockstep {
    pub fn new(dbt: Dbt) -> Lockstep {
        Lockstep {
            dbt,
            interp: Interpreter::new(),
            shadow: None,
            mem_every: 1,
            steps: 0,
            mismatch: None,
        }
    }

    fn make_shadow(s: &CpuState, mmu: &Mmu) -> (CpuState, Mmu) {
        let size = mmu.phys.ram_size();
        let mut phys = PhysMem::new(size as usize).expect("lockstep RAM copy");
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < size {
            let n = ((size - off) as usize).min(buf.len());
            mmu.phys.read_ram_raw(off, &mut buf[..n]);
            phys.write_ram_raw(off, &buf[..n]);
            off += n as u32;
        }
        phys.set_a20(mmu.phys.a20_enabled());
        // The same ROMs and PAM shadowing (MMIO devices are not mirrored:
        // the shadow reads all ones there, so a guest reading device
        // memory, e.g. VGA, ends the comparison with a reported difference).
        for (base, data) in mmu.phys.roms() {
            if let Err(e) = phys.add_rom(base, data) {
                log::warn!("lockstep: ROM at {base:#x} not mirrored: {e}");
            }
        }
        for granule in (0xC_0000u32..0x10_0000).step_by(0x4000) {
            let (read_ram, write_ram) = mmu.phys.shadow_flags(granule);
            phys.set_shadow(granule, 0x4000, read_ram, write_ram);
        }
        (s.clone(), Mmu::new(phys))
    }

    /// The interpreter catches up with the translator's retired count.
    fn interp_follow(&mut self, target: &CpuState, log: &mut VecDeque<Event>) -> Vec<String> {
        let (ss, smmu) = self.shadow.as_mut().expect("shadow machine");
        let mut bus = Replay {
            log,
            errors: Vec::new(),
        };
        let mut cpu = Cpu {
            s: ss,
            mmu: smmu,
            bus: &mut bus,
        };
        let mut extra = 2;
        for _ in 0..100_000 {
            if cpu.s.run_state == RunState::Shutdown {
                break;
            }
            let behind = cpu.s.icount < target.icount;
            let elsewhere = cpu.s.eip != target.eip || cpu.s.seg[CS] != target.seg[CS];
            if !behind && (!elsewhere || extra == 0) {
                break;
            }
            if !behind {
                extra -= 1;
            }
            let shadow = cpu.s.int_shadow;
            cpu.s.int_shadow = false;
            if !shadow {
                Interpreter::poll_interrupt(&mut cpu);
            }
            if cpu.s.run_state == RunState::Halted {
                break;
            }
            self.interp.run_block(&mut cpu, true);
            cpu.s.exit_request &= !EXIT_BLOCK;
        }
        bus.errors
    }

    fn report(&mut self, start: &CpuState, mmu: &mut Mmu, dbt: &CpuState, what: String) {
        let (guest, host) = match Dbt::key_for(start, mmu) {
            Some(key) => {
                let guest = self
                    .dbt
                    .cache
                    .get(&key)
                    .and_then(|id| self.dbt.cache.block(id))
                    .map(|b| (disasm::guest_block(&b.block), self.dbt.host_code(&key)))
                    .unwrap_or_else(|| ("(interpreted block)".into(), String::new()));
                guest
            }
            None => ("(not fetchable)".into(), String::new()),
        };
        let interp = self
            .shadow
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_else(|| dbt.clone());
        self.mismatch = Some(Mismatch {
            cs: start.seg[CS].selector,
            eip: start.eip,
            what,
            guest,
            host,
            dbt: dbt.clone(),
            interp,
        });
    }
}

impl Engine for Lockstep {
    fn name(&self) -> &'static str {
        "lockstep"
    }

    fn report(&self) -> Option<String> {
        let mut r = format!(
            "lockstep: {} blocks compared\n{}",
            self.steps,
            self.dbt.stats()
        );
        if let Some(m) = &self.mismatch {
            r.push_str(&format!("\n{m}"));
        }
        Some(r)
    }

    fn mismatch(&self) -> Option<String> {
        self.mismatch.as_ref().map(|m| m.to_string())
    }

    fn run(&mut self, s: &mut CpuState, mmu: &mut Mmu, bus: &mut dyn Bus, budget: u64) -> Stop {
        if self.mismatch.is_some() {
            return Stop::Shutdown;
        }
        if self.shadow.is_none() {
            self.shadow = Some(Lockstep::make_shadow(s, mmu));
        }
        let end = s.icount.saturating_add(budget);
        loop {
            let start = s.clone();
            let mut log = VecDeque::new();
            let stop = {
                let mut rec = Recorder { bus, log: &mut log };
                self.dbt.run(s, mmu, &mut rec, 1)
            };
            let errors = self.interp_follow(s, &mut log);
            self.steps += 1;
            let shadow_state = &self.shadow.as_ref().expect("shadow").0;
            let mut what = diff_state(s, shadow_state);
            if !errors.is_empty() {
                what = Some(format!(
                    "{} {}",
                    what.unwrap_or_default(),
                    errors.join("; ")
                ));
            }
            if what.is_none() && self.mem_every != 0 && self.steps.is_multiple_of(self.mem_every) {
                let smmu = &self.shadow.as_ref().expect("shadow").1;
                if let Some(a) = diff_ram(&mmu.phys, &smmu.phys) {
                    what = Some(format!("RAM differs at {a:#x}"));
                }
            }
            if let Some(w) = what {
                let dbt_state = s.clone();
                self.report(&start, mmu, &dbt_state, w);
                return Stop::Shutdown;
            }
            match stop {
                Stop::Budget if s.icount < end => continue,
                Stop::Budget => return Stop::Budget,
                other => return other,
            }
        }
    }
}

impl Dbt {
    /// The translation key of CS:EIP in `s`, if it can be fetched.
    pub fn key_for(s: &CpuState, mmu: &mut Mmu) -> Option<Key> {
        let cs = &s.seg[CS];
        if s.eip > cs.limit {
            return None;
        }
        let lin = cs.base.wrapping_add(s.eip);
        let paddr = mmu
            .translate(&s.paging_ctx(), lin, mmu::Access::Execute)
            .ok()?;
        Some(Key::of(s, paddr))
    }

    /// Guest and host disassembly of the translation for `key` (the
    /// debugging dump `oxpc` can offer).
    pub fn dump_block(&self, key: &Key) -> Option<String> {
        let b = self.cache.get(key).and_then(|id| self.cache.block(id))?;
        Some(format!(
            "; guest {:08X} (paddr {:08X})\n{}; host\n{}",
            key.eip,
            key.paddr,
            disasm::guest_block(&b.block),
            self.host_code(key)
        ))
    }

    /// Disassembly of the host code translated for `key`.
    pub fn host_code(&self, key: &Key) -> String {
        match self.cache.get(key).and_then(|id| self.cache.block(id)) {
            Some(b) => {
                let bytes = self.cache.code.bytes(b.entry, b.len);
                disasm::host_code(&bytes, self.cache.code.addr(b.entry) as u64)
            }
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_differences_are_named() {
        let a = CpuState::new();
        let mut b = a.clone();
        assert!(diff_state(&a, &b).is_none());
        b.regs[3] = 7;
        b.eip = 1;
        let d = diff_state(&a, &b).unwrap();
        assert!(d.contains("regs") && d.contains("eip"), "{d}");
    }

    #[test]
    fn ram_differences_are_found() {
        let mut a = PhysMem::new(1 << 20).unwrap();
        let b = PhysMem::new(1 << 20).unwrap();
        assert_eq!(diff_ram(&a, &b), None);
        a.write_u8(0x12345, 1);
        assert_eq!(diff_ram(&a, &b), Some(0x12345));
    }
}
