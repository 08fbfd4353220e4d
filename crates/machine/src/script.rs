//! Driving a guest through a text console from code, as a person at a
//! serial terminal would: a [`Transcript`] records everything a console
//! prints; a [`Session`] runs the machine until a string appears in the
//! transcript, types lines on COM1, and runs shell commands, returning
//! their output and exit status. Used by the end-to-end guest tests and
//! usable by benchmarks.
//!
//! Commands are run as `CMD; echo "=$?=@@N@@"` with a fresh `N` each time,
//! written so that the marker only appears once the shell has *computed*
//! it (`$((...))`), never in the echo of the typed line.
//!
//! Not modelled: several consoles at once, patterns other than plain
//! strings, terminal escape sequences (the transcript is raw bytes).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use devices::bus::lock;
use devices::sink::ByteSink;

use crate::board::Machine;
use crate::run::{Exit, Input, RunLimits};
use crate::sinks::Watch;

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    /// The armed watch and the offset the search starts at.
    waiting: Option<(Arc<Watch>, usize)>,
}

impl State {
    /// Fires the armed watch if its pattern ends at the end of the buffer
    /// (or anywhere after its start, when `scan_all`).
    fn check(&mut self, scan_all: bool) {
        let Some((w, from)) = &self.waiting else {
            return;
        };
        let pat = w.pattern();
        let hay = self.buf.get(*from..).unwrap_or_default();
        let found = if scan_all {
            !pat.is_empty() && hay.windows(pat.len()).any(|x| x == pat)
        } else {
            hay.ends_with(pat)
        };
        if found {
            w.fire();
            self.waiting = None;
        }
    }
}

/// Everything a console printed, shared between its sink and its reader.
#[derive(Clone, Default)]
pub struct Transcript(Arc<Mutex<State>>);

/// The [`ByteSink`] end of a [`Transcript`].
struct TranscriptSink(Transcript);

impl ByteSink for TranscriptSink {
    fn write(&mut self, byte: u8) {
        let mut s = lock(&self.0 .0);
        s.buf.push(byte);
        s.check(false);
    }
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// A sink recording into this transcript (give it to `Outputs::com1`).
    pub fn sink(&self) -> Box<dyn ByteSink> {
        Box::new(TranscriptSink(self.clone()))
    }

    /// Bytes recorded so far.
    pub fn len(&self) -> usize {
        lock(&self.0).buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What was recorded from byte `from` on, as (lossy) UTF-8.
    pub fn text_from(&self, from: usize) -> String {
        let s = lock(&self.0);
        String::from_utf8_lossy(s.buf.get(from..).unwrap_or_default()).into_owned()
    }

    /// Bytes `from..to` (clamped to what was recorded), as (lossy) UTF-8.
    pub fn text_range(&self, from: usize, to: usize) -> String {
        let s = lock(&self.0);
        let to = to.min(s.buf.len());
        String::from_utf8_lossy(s.buf.get(from.min(to)..to).unwrap_or_default()).into_owned()
    }

    /// The whole transcript.
    pub fn text(&self) -> String {
        self.text_from(0)
    }

    /// The last `n` bytes, for error messages.
    pub fn tail(&self, n: usize) -> String {
        let len = self.len();
        self.text_from(len.saturating_sub(n))
    }

    /// A watch that fires once `pattern` has been recorded at or after
    /// byte `from` (at once if it already has). Replaces any earlier one.
    pub fn watch(&self, pattern: &str, from: usize) -> Arc<Watch> {
        let w = Watch::new(pattern);
        let mut s = lock(&self.0);
        s.waiting = Some((w.clone(), from));
        s.check(true);
        w
    }

    /// Offset of the first `pattern` at or after `from`.
    pub fn find(&self, pattern: &str, from: usize) -> Option<usize> {
        let s = lock(&self.0);
        let hay = s.buf.get(from..)?;
        let p = pattern.as_bytes();
        if p.is_empty() {
            return Some(from);
        }
        hay.windows(p.len()).position(|w| w == p).map(|i| i + from)
    }
}

/// Why a scripted step failed.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error(
        "{pattern:?} not seen: {exit:?} after {insns} instructions; console ends with:\n{tail}"
    )]
    NotSeen {
        pattern: String,
        exit: Exit,
        insns: u64,
        tail: String,
    },
}

/// What a shell command printed and its exit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// The output lines, without the echo of the typed command and without
    /// carriage returns.
    pub output: String,
    pub status: i32,
}

/// Splits what the console showed for one command, up to (not including)
/// the marker, into output and status. The output starts after the last
/// echo of the typed line, recognised by its end `echo_end` (the kernel's
/// tty may echo a line typed before the shell's prompt, and the shell's
/// line editor echoes it again); `=STATUS=` comes last.
pub fn parse_command_output(body: &str, echo_end: &str) -> CommandOutput {
    let (body, status) = match body.rfind('=') {
        Some(close) => {
            let open = body[..close].rfind('=').unwrap_or(close);
            let status = body[open + 1..close].trim().parse().unwrap_or(-1);
            (&body[..open], status)
        }
        None => (body, -1),
    };
    let start = match body.rfind(echo_end) {
        Some(i) => body[i..].find('\n').map_or(body.len(), |j| i + j + 1),
        None => 0,
    };
    CommandOutput {
        output: body[start..].replace('\r', ""),
        status,
    }
}

/// A machine with a console transcript and a keyboard for COM1.
pub struct Session {
    pub machine: Machine,
    pub console: Transcript,
    tx: Sender<Input>,
    rx: Receiver<Input>,
    /// Wall-clock limit of each wait (a guard against a hung guest).
    pub wall_limit: Duration,
    commands: u64,
}

impl Session {
    /// `console` must be the transcript whose sink the machine's console
    /// writes to.
    pub fn new(machine: Machine, console: Transcript) -> Session {
        let (tx, rx) = unbounded();
        Session {
            machine,
            console,
            tx,
            rx,
            wall_limit: Duration::from_secs(900),
            commands: 0,
        }
    }

    /// Runs until `pattern` appears at or after byte `from` of the
    /// transcript, at most `max_insns` more instructions. Returns the
    /// offset just past the match.
    pub fn wait_for_from(
        &mut self,
        pattern: &str,
        from: usize,
        max_insns: u64,
    ) -> Result<usize, ScriptError> {
        let watch = self.console.watch(pattern, from);
        let limits = RunLimits {
            insns: Some(self.machine.cpu.icount.saturating_add(max_insns)),
            wall: Some(self.wall_limit),
            watch: Some(watch.clone()),
            ..RunLimits::default()
        };
        let exit = if watch.hit() {
            Exit::Matched
        } else {
            self.machine.run(&limits, Some(&self.rx))
        };
        match (exit, self.console.find(pattern, from)) {
            (Exit::Matched, Some(at)) => Ok(at + pattern.len()),
            _ => Err(ScriptError::NotSeen {
                pattern: pattern.to_string(),
                exit,
                insns: self.machine.cpu.icount,
                tail: self.console.tail(1500),
            }),
        }
    }

    /// [`Session::wait_for_from`] counting only output not yet recorded.
    pub fn wait_for(&mut self, pattern: &str, max_insns: u64) -> Result<usize, ScriptError> {
        let from = self.console.len();
        self.wait_for_from(pattern, from, max_insns)
    }

    /// Queues bytes for COM1's receiver.
    pub fn type_text(&mut self, text: &str) {
        // The receiver lives as long as `self`: sending cannot fail.
        let _ = self.tx.send(Input::Serial(text.as_bytes().to_vec()));
    }

    /// Runs one shell command line and returns what it printed and its
    /// exit status. The command must not read from the terminal.
    pub fn run_command(&mut self, cmd: &str, max_insns: u64) -> Result<CommandOutput, ScriptError> {
        self.commands += 1;
        let n = self.commands;
        let from = self.console.len();
        let echo_end = format!("@@$((1000+{n}))@@\"");
        self.type_text(&format!("{cmd}; echo \"=$?={echo_end}\n"));
        let marker = format!("@@{}@@", 1000 + n);
        let end = self.wait_for_from(&marker, from, max_insns)?;
        let body = self.console.text_range(from, end - marker.len());
        Ok(parse_command_output(&body, &echo_end))
    }

    /// [`Session::run_command`] that also requires exit status 0; the
    /// error shows the output.
    pub fn run_ok(&mut self, cmd: &str, max_insns: u64) -> Result<String, String> {
        let r = self
            .run_command(cmd, max_insns)
            .map_err(|e| e.to_string())?;
        if r.status != 0 {
            return Err(format!(
                "`{cmd}` exited with {}; output:\n{}",
                r.status, r.output
            ));
        }
        Ok(r.output)
    }

    /// Time a closure of guest work took: (wall seconds, instructions).
    pub fn measure<T>(&mut self, f: impl FnOnce(&mut Session) -> T) -> (T, f64, u64) {
        let t0 = Instant::now();
        let i0 = self.machine.cpu.icount;
        let r = f(self);
        (r, t0.elapsed().as_secs_f64(), self.machine.cpu.icount - i0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_watch_fires_only_after_its_start() {
        let t = Transcript::new();
        let mut s = t.sink();
        for b in b"ready> ready> " {
            s.write(*b);
        }
        let w = t.watch("ready>", 0);
        assert!(w.hit(), "already recorded");
        let w = t.watch("ready>", t.len());
        assert!(!w.hit());
        for b in b"xx read" {
            s.write(*b);
        }
        assert!(!w.hit());
        s.write(b'y');
        s.write(b'>');
        assert!(w.hit());
        assert_eq!(t.find("ready>", 1), Some(7));
        assert_eq!(t.find("ready>", 8), Some(17));
        assert_eq!(t.find("nope", 0), None);
        assert_eq!(t.tail(3), "dy>");
        assert_eq!(t.text_from(1000), "");
        assert_eq!(t.text_range(2, 5), "ady");
        assert_eq!(t.text_range(5, 2), "");
        assert_eq!(t.text_range(20, 1000), "dy>");
    }

    #[test]
    fn command_output_is_split_from_echo_and_status() {
        let echo = "@@$((1000+1))@@\"";
        let r = parse_command_output(
            "ls; echo \"=$?=@@$((1000+1))@@\"\r\nfile1\r\na=b\r\n=2=",
            echo,
        );
        assert_eq!(r.output, "file1\na=b\n");
        assert_eq!(r.status, 2);
        // Echoed twice (tty, then the shell after its prompt).
        let r = parse_command_output(
            "ls; echo \"=$?=@@$((1000+1))@@\"\r\nsh# ls; echo \"=$?=@@$((1000+1))@@\"\r\nf\r\n=0=",
            echo,
        );
        assert_eq!((r.output.as_str(), r.status), ("f\n", 0));
        let r = parse_command_output("true; echo \"=$?=@@$((1000+1))@@\"\r\n=0=", echo);
        assert_eq!((r.output.as_str(), r.status), ("", 0));
        assert_eq!(parse_command_output("garbage", echo).status, -1);
    }

    /// A 64 KiB BIOS that halts with interrupts off.
    fn halt_bios() -> Vec<u8> {
        let mut b = vec![0xF4u8; 64 << 10];
        b[0] = 0xFA;
        b[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
        b
    }

    #[test]
    fn waiting_on_a_dead_machine_fails_with_the_console_tail() {
        let t = Transcript::new();
        let cfg = crate::config::MachineConfig::new(halt_bios(), None);
        let m = Machine::new(cfg, crate::board::Outputs::default()).unwrap();
        let mut sess = Session::new(m, t.clone());
        let mut s = t.sink();
        for b in b"earlier output" {
            s.write(*b);
        }
        let e = sess.run_command("true", 10_000).unwrap_err().to_string();
        assert!(e.contains("@@1001@@"), "{e}");
        assert!(e.contains("Dead"), "{e}");
        assert!(e.contains("earlier output"), "{e}");
        // But a pattern already recorded after `from` is found at once.
        assert_eq!(sess.wait_for_from("output", 0, 10).unwrap(), 14);
    }
}
