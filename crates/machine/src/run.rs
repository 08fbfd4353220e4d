//! The run loop: the engine runs in slices of at most [`SLICE_INSNS`]
//! instructions (shorter when a timer is due sooner in virtual time);
//! between slices the machine publishes the clock, applies A20/PAM
//! changes, polls the timers (PIT, CMOS, UARTs), feeds host input to
//! COM1 and the 8042, and checks stop conditions. HLT advances virtual
//! time to the next timer event (or sleeps, in host time); a triple fault
//! or a reset request resets the machine.
//!
//! No lock is taken per instruction: devices are locked per port access
//! and per slice. Not modelled: fairness between several CPUs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_interp::Stop;
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use devices::bus::lock;
use devices::keycode::KeyCode;
use devices::Clock;

use crate::board::Machine;
use crate::sinks::Watch;

/// Most instructions run between two device polls.
pub const SLICE_INSNS: u64 = 20_000;
/// How often (in slices) the text screen is checked for the watch string.
const SCREEN_CHECK_SLICES: u64 = 256;
/// Longest host sleep while halted (host time), so input stays responsive.
const MAX_HALT_SLEEP: Duration = Duration::from_millis(10);

/// Host input for the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Bytes for COM1's receiver.
    Serial(Vec<u8>),
    Key(KeyCode, bool),
    /// Mouse motion (dy positive = down) and buttons.
    Mouse(i32, i32, u8),
    /// Stop the machine (window closed, Ctrl-C).
    Quit,
}

/// When to stop.
#[derive(Clone, Default)]
pub struct RunLimits {
    /// Host wall-clock time.
    pub wall: Option<Duration>,
    /// Virtual (machine clock) time in ns.
    pub machine_ns: Option<u64>,
    /// Instructions retired.
    pub insns: Option<u64>,
    /// Stop when this is seen (sinks wired to it, and the text screen).
    pub watch: Option<Arc<Watch>>,
}

/// Why [`Machine::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The watch string appeared.
    Matched,
    /// A time or instruction limit passed.
    Timeout,
    /// Input said to quit, or the input side went away while the guest
    /// waits for it.
    Quit,
    /// The CPU is halted with interrupts disabled or no timer armed, and no
    /// input can arrive: nothing will ever happen again.
    Dead,
    /// The engine found a difference between two engines it compares
    /// (`--engine lockstep`; see `Engine::mismatch`).
    Mismatch,
}

/// Per-run bookkeeping the loop keeps between slices.
#[derive(Default)]
struct LoopState {
    serial_pending: VecDeque<u8>,
    input_closed: bool,
    slices: u64,
}

impl Machine {
    /// Polls the timers at machine time `now`; returns the earliest next event.
    pub fn poll_devices(&mut self, now: u64) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut take = |t: Option<u64>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        take(lock(&self.dev.pit).poll(now));
        take(lock(&self.dev.cmos).poll(now));
        take(lock(&self.dev.com1).poll(now));
        take(lock(&self.dev.com2).poll(now));
        next
    }

    fn deliver_input(&mut self, ev: Input, st: &mut LoopState) -> bool {
        match ev {
            Input::Serial(b) => st.serial_pending.extend(b),
            Input::Key(k, down) => lock(&self.dev.kbc).key_event(k, down),
            Input::Mouse(dx, dy, b) => lock(&self.dev.kbc).mouse_event(dx, dy, b),
            Input::Quit => return false,
        }
        true
    }

    /// Moves queued serial input into COM1 as far as its FIFO allows.
    fn feed_serial(&mut self, st: &mut LoopState) {
        if st.serial_pending.is_empty() {
            return;
        }
        let mut u = lock(&self.dev.com1);
        while u.can_receive() {
            match st.serial_pending.pop_front() {
                Some(b) => {
                    u.receive(b);
                }
                None => break,
            }
        }
    }

    /// Runs one slice of at most `max` instructions; returns the engine's
    /// stop reason and the next timer event.
    pub fn run_slice(&mut self, max: u64) -> (Stop, Option<u64>) {
        self.apply_memory_changes();
        let now = self.clock.now_ns();
        if !self.clock.is_virtual() {
            self.follow_host_time();
        }
        let next = self.poll_devices(now);
        let mut budget = max.max(1);
        if let (Some(t), true) = (next, self.clock.is_virtual()) {
            if let Some(n) = self.clock.insns_for(t.saturating_sub(now)) {
                budget = budget.min(n);
            }
        }
        let before = self.cpu.icount;
        let stop = self
            .engine
            .run(&mut self.cpu, &mut self.mmu, &mut self.bus, budget);
        self.clock.sync(self.cpu.icount);
        if let Some(n) = self.trace_every.filter(|n| *n > 0) {
            if before / n != self.cpu.icount / n {
                eprintln!(
                    "trace: icount {} {:04x}:{:08x} {:?} eflags {:08x}",
                    self.cpu.icount,
                    self.cpu.seg[1].selector,
                    self.cpu.eip,
                    stop,
                    self.cpu.get_eflags()
                );
            }
        }
        if stop == Stop::Shutdown {
            log::warn!(
                "triple fault at {:04x}:{:08x}",
                self.cpu.seg[1].selector,
                self.cpu.eip
            );
            self.reset();
        }
        if self.sys.take_reset() {
            self.reset();
        }
        // After a reset the CPU runs again, whatever stopped it before.
        let stop = match stop {
            Stop::Shutdown => Stop::ExitRequest,
            Stop::Halted if self.cpu.run_state != cpu_interp::state::RunState::Halted => {
                Stop::ExitRequest
            }
            s => s,
        };
        // The slice may have programmed a timer: look again before idling.
        let next = if stop == Stop::Halted {
            self.apply_memory_changes();
            self.poll_devices(self.clock.now_ns())
        } else {
            next
        };
        (stop, next)
    }

    /// Runs until a limit, the watch, a quit request or a dead CPU. `input`
    /// carries host input; without it the guest gets none.
    pub fn run(&mut self, limits: &RunLimits, input: Option<&Receiver<Input>>) -> Exit {
        let start = Instant::now();
        let mut st = LoopState {
            input_closed: input.is_none(),
            ..LoopState::default()
        };
        loop {
            // Host input.
            if let Some(rx) = input {
                loop {
                    match rx.try_recv() {
                        Ok(ev) => {
                            if !self.deliver_input(ev, &mut st) {
                                return Exit::Quit;
                            }
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            st.input_closed = true;
                            break;
                        }
                    }
                }
                self.feed_serial(&mut st);
            }

            let (stop, next) = self.run_slice(SLICE_INSNS);
            st.slices += 1;
            if self.engine.mismatch().is_some() {
                return Exit::Mismatch;
            }

            // Stop conditions.
            if let Some(w) = &limits.watch {
                if st.slices.is_multiple_of(SCREEN_CHECK_SLICES) {
                    if let Some(t) = self.text_screen() {
                        w.check_text(&t);
                    }
                }
                if w.hit() {
                    return Exit::Matched;
                }
            }
            if limits.wall.is_some_and(|d| start.elapsed() >= d)
                || limits.machine_ns.is_some_and(|t| self.clock.now_ns() >= t)
                || limits.insns.is_some_and(|n| self.cpu.icount >= n)
            {
                return Exit::Timeout;
            }

            if stop == Stop::Halted {
                if let Some(e) = self.idle(next, input, &mut st) {
                    return e;
                }
            }
        }
    }

    /// The CPU is halted: let time pass until the next event or input.
    fn idle(
        &mut self,
        next: Option<u64>,
        input: Option<&Receiver<Input>>,
        st: &mut LoopState,
    ) -> Option<Exit> {
        let can_wake =
            self.cpu.iflag() || self.cpu.run_state != cpu_interp::state::RunState::Halted;
        let waiting_input = !st.serial_pending.is_empty();
        if self.clock.is_virtual() {
            match next {
                Some(t) if can_wake => {
                    let before = self.clock.now_ns();
                    self.clock.skip_to(t);
                    self.advance_tsc_for_idle(t.saturating_sub(before));
                    return None;
                }
                // HLT with IF=0: no timer or input can wake it.
                _ if !can_wake => return Some(Exit::Dead),
                _ if waiting_input => return None,
                _ => {}
            }
            // Nothing scheduled: only host input can wake the guest.
            if st.input_closed {
                return Some(Exit::Dead);
            }
            let rx = input?;
            log::debug!("halted with no timer armed: waiting for host input");
            // Bounded, so the caller's wall-clock limit is still checked.
            return match rx.recv_timeout(MAX_HALT_SLEEP) {
                Ok(ev) => (!self.deliver_input(ev, st)).then_some(Exit::Quit),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    st.input_closed = true;
                    None
                }
            };
        }
        // Host time: sleep until the next event, waking early for input.
        if !can_wake && (st.input_closed || input.is_none()) {
            return Some(Exit::Dead);
        }
        let now = self.clock.now_ns();
        let wait = next
            .map(|t| Duration::from_nanos(t.saturating_sub(now)))
            .unwrap_or(MAX_HALT_SLEEP)
            .min(MAX_HALT_SLEEP);
        if wait.is_zero() || waiting_input {
            return None;
        }
        match input {
            Some(rx) if !st.input_closed => match rx.recv_timeout(wait) {
                Ok(ev) => (!self.deliver_input(ev, st)).then_some(Exit::Quit),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    st.input_closed = true;
                    None
                }
            },
            _ => {
                std::thread::sleep(wait);
                None
            }
        }
    }

    /// Virtual time: the TSC counts retired instructions, and none retire
    /// while the CPU is halted, so skipping `idle_ns` of virtual time to
    /// the next timer advances the TSC by the instructions that time
    /// stands for. Otherwise a guest that calibrated its TSC (Linux) would
    /// see its clock stand still whenever it idles.
    fn advance_tsc_for_idle(&mut self, idle_ns: u64) {
        let ticks = self.clock.insns_for(idle_ns).unwrap_or(0);
        self.cpu.tsc_offset = self.cpu.tsc_offset.wrapping_add(ticks);
    }

    /// Host time: the CPU's TSC is moved up to the host-time value
    /// before each slice (see `tsc.rs`).
    fn follow_host_time(&mut self) {
        let icount = self.cpu.icount;
        self.bus.tsc.sync(icount, &mut self.cpu.tsc_offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Outputs;
    use crate::config::{ClockMode, MachineConfig};
    use crate::tsc::HOST_TSC_HZ;
    use devices::sink::CaptureSink;

    fn bios(code: &[u8]) -> Vec<u8> {
        let mut b = vec![0xF4u8; 64 << 10];
        b[..code.len()].copy_from_slice(code);
        b[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
        b
    }

    /// Writes "OK" to COM1 (polling LSR.THRE) then HLTs with IF=0.
    fn serial_hello() -> Vec<u8> {
        let mut c = Vec::new();
        for ch in [b'O', b'K'] {
            // mov dx,0x3fd; l: in al,dx; test al,0x20; jz l; mov dx,0x3f8; mov al,ch; out dx,al
            c.extend_from_slice(&[0xBA, 0xFD, 0x03, 0xEC, 0xA8, 0x20, 0x74, 0xFB]);
            c.extend_from_slice(&[0xBA, 0xF8, 0x03, 0xB0, ch, 0xEE]);
        }
        c.extend_from_slice(&[0xFA, 0xF4]); // cli; hlt
        c
    }

    #[test]
    fn serial_output_and_dead_cpu() {
        let cap = CaptureSink::new();
        let out = Outputs {
            com1: Box::new(cap.clone()),
            ..Outputs::default()
        };
        let mut m = Machine::new(MachineConfig::new(bios(&serial_hello()), None), out).unwrap();
        let exit = m.run(
            &RunLimits {
                insns: Some(1_000_000),
                ..Default::default()
            },
            None,
        );
        assert_eq!(exit, Exit::Dead);
        assert_eq!(cap.contents(), b"OK");
    }

    #[test]
    fn reset_through_port_92_reruns_the_bios() {
        // mov dx,0x402; mov al,'R'; out dx,al; in al,0x92; or al,1; out 0x92,al; cli; hlt
        let code = [
            0xBA, 0x02, 0x04, 0xB0, b'R', 0xEE, 0xE4, 0x92, 0x0C, 0x01, 0xE6, 0x92, 0xFA, 0xF4,
        ];
        let log = CaptureSink::new();
        let out = Outputs {
            bioslog: Box::new(log.clone()),
            ..Outputs::default()
        };
        let mut m = Machine::new(MachineConfig::new(bios(&code), None), out).unwrap();
        let exit = m.run(
            &RunLimits {
                insns: Some(200),
                ..Default::default()
            },
            None,
        );
        assert_eq!(exit, Exit::Timeout);
        assert!(m.resets >= 3, "{} resets", m.resets);
        assert!(log.contents().len() as u64 >= m.resets);
    }

    #[test]
    fn watch_stops_the_run() {
        let w = Watch::new("OK");
        let out = Outputs {
            com1: Box::new(crate::sinks::WatchSink::new(
                devices::sink::NullSink,
                w.clone(),
            )),
            ..Outputs::default()
        };
        let mut m = Machine::new(MachineConfig::new(bios(&serial_hello()), None), out).unwrap();
        let limits = RunLimits {
            watch: Some(w),
            insns: Some(1_000_000),
            ..Default::default()
        };
        assert_eq!(m.run(&limits, None), Exit::Matched);
    }

    /// Programs PIT channel 0 for ~1 ms, unmasks IRQ0, and counts timer
    /// interrupts in BX with STI; HLT in a loop.
    #[test]
    fn halt_skips_virtual_time_to_the_timer() {
        #[rustfmt::skip]
        let code = [
            0x31, 0xC0,                   // xor ax,ax
            0x8E, 0xD8,                   // mov ds,ax
            0x8E, 0xD0,                   // mov ss,ax
            0xBC, 0x00, 0x7C,             // mov sp,0x7c00
            0xC7, 0x06, 0x20, 0x00, 0x40, 0x00, // mov word [0x20],0x0040 (IRQ0 -> F000:0040)
            0xC7, 0x06, 0x22, 0x00, 0x00, 0xF0, // mov word [0x22],0xf000
            0xB0, 0x11, 0xE6, 0x20,       // ICW1
            0xB0, 0x08, 0xE6, 0x21,       // ICW2: vector 8
            0xB0, 0x04, 0xE6, 0x21,       // ICW3
            0xB0, 0x01, 0xE6, 0x21,       // ICW4
            0xB0, 0xFE, 0xE6, 0x21,       // mask all but IRQ0
            0xB0, 0x34, 0xE6, 0x43,       // PIT ch0 mode 2 lohi
            0xB0, 0xA9, 0xE6, 0x40,       // 1193 = 0x04A9: ~1 ms
            0xB0, 0x04, 0xE6, 0x40,
            0x31, 0xDB,                   // xor bx,bx
            0xFB,                         // sti
            0xF4,                         // l: hlt
            0xEB, 0xFD,                   // jmp l
        ];
        let mut b = bios(&code);
        // IRQ0 handler at F000:0040: inc bx; mov al,0x20; out 0x20,al; iret
        b[0x40..0x47].copy_from_slice(&[0x43, 0xB0, 0x20, 0xE6, 0x20, 0xCF, 0x90]);
        let mut cfg = MachineConfig::new(b, None);
        cfg.clock = ClockMode::Virtual { ns_per_insn: 10 };
        let mut m = Machine::new(cfg, Outputs::default()).unwrap();
        let exit = m.run(
            &RunLimits {
                machine_ns: Some(100_000_000),
                ..Default::default()
            },
            None,
        );
        assert_eq!(exit, Exit::Timeout);
        let ticks = m.cpu.regs[cpu_interp::state::EBX] & 0xFFFF;
        // 100 ms of machine time at ~1 kHz, almost all of it halted.
        assert!((95..=105).contains(&ticks), "{ticks} timer interrupts");
        assert!(
            m.cpu.icount < 10_000,
            "time was skipped, not executed: {}",
            m.cpu.icount
        );
    }

    /// In host time the TSC runs at `HOST_TSC_HZ` whatever the guest
    /// executes: here a loop of port reads, far below 3000 MIPS.
    #[test]
    fn host_time_tsc_follows_the_clock_not_the_instruction_count() {
        // l: in al,0x61; jmp l
        let code = [0xE4, 0x61, 0xEB, 0xFC];
        let created = Instant::now();
        let mut cfg = MachineConfig::new(bios(&code), None);
        cfg.clock = ClockMode::Host;
        let mut m = Machine::new(cfg, Outputs::default()).unwrap();
        let started = Instant::now();
        let exit = m.run(
            &RunLimits {
                wall: Some(Duration::from_millis(300)),
                ..Default::default()
            },
            None,
        );
        assert_eq!(exit, Exit::Timeout);
        let hz = HOST_TSC_HZ as f64;
        let tsc = m.cpu.tsc() as f64;
        let low = started.elapsed().as_secs_f64() * hz * 0.8;
        let high = created.elapsed().as_secs_f64() * hz + SLICE_INSNS as f64;
        assert!(
            tsc >= low && tsc <= high,
            "tsc {tsc} outside {low}..{high} ({} instructions)",
            m.cpu.icount
        );
        assert!(
            (m.cpu.icount as f64) < tsc / 4.0,
            "the TSC counted instructions"
        );
    }

    #[test]
    fn serial_input_reaches_com1() {
        // Polls LSR.DR, reads a byte from COM1, echoes it back, forever.
        #[rustfmt::skip]
        let code = [
            0xBA, 0xFD, 0x03, 0xEC, 0xA8, 0x01, 0x74, 0xFB, // wait DR
            0xBA, 0xF8, 0x03, 0xEC, 0xEE,                   // in al,dx; out dx,al
            0xEB, 0xF1,                                     // jmp start
        ];
        let cap = CaptureSink::new();
        let out = Outputs {
            com1: Box::new(cap.clone()),
            ..Outputs::default()
        };
        let mut m = Machine::new(MachineConfig::new(bios(&code), None), out).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(Input::Serial(
            b"hello, world: more than sixteen bytes".to_vec(),
        ))
        .unwrap();
        let exit = m.run(
            &RunLimits {
                insns: Some(2_000_000),
                ..Default::default()
            },
            Some(&rx),
        );
        assert_eq!(exit, Exit::Timeout);
        assert_eq!(cap.contents(), b"hello, world: more than sixteen bytes");
        tx.send(Input::Quit).unwrap();
        assert_eq!(m.run(&RunLimits::default(), Some(&rx)), Exit::Quit);
    }
}
