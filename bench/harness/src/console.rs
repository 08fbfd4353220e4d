//! A serial console to a running guest (or a native process): bytes from
//! the emulator's COM1 (its stdout, or a TCP socket for Bochs) arrive on a
//! reader thread stamped with the host clock on arrival; the harness waits for
//! marker strings and gets the arrival time of the chunk that completed them,
//! and types lines into the guest's shell.
//!
//! Each chunk is also stamped with the CPU time the emulator process has
//! used so far (all its threads, from `/proc/<pid>/task/*/schedstat`), so a
//! workload's CPU seconds can be reported beside its wall-clock seconds: on a
//! shared, overloaded machine the CPU time is far steadier.
//!
//! Not modelled: terminal emulation (the busybox shell's `ESC[6n` cursor query
//! is left unanswered; it does not need an answer), flow control.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Where typed lines go.
enum Input {
    Stdin(ChildStdin),
    Tcp(TcpStream),
}

impl Write for Input {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Input::Stdin(s) => s.write(buf),
            Input::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Input::Stdin(s) => s.flush(),
            Input::Tcp(s) => s.flush(),
        }
    }
}

/// When a chunk of output arrived: host time, and the CPU nanoseconds the
/// process had used by then (None when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub at: Instant,
    pub cpu_ns: Option<u64>,
}

impl Stamp {
    /// Wall and CPU seconds from `earlier` to `self`.
    pub fn since(&self, earlier: &Stamp) -> (f64, Option<f64>) {
        let wall = self.at.duration_since(earlier.at).as_secs_f64();
        let cpu = match (self.cpu_ns, earlier.cpu_ns) {
            (Some(b), Some(a)) if b >= a => Some((b - a) as f64 / 1e9),
            _ => None,
        };
        (wall, cpu)
    }
}

/// One chunk of output as the reader thread saw it; `None` is end of file.
type Chunk = (Stamp, Option<Vec<u8>>);

/// CPU nanoseconds used so far by process `pid`: the sum over its threads
/// (a thread that already exited is no longer counted), or the leader's
/// alone for a process that exited but was not reaped yet.
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let first = |path: &std::path::Path| -> Option<u64> {
        std::fs::read_to_string(path)
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let mut total = 0u64;
    let mut any = false;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Some(ns) = first(&t.path().join("schedstat")) {
                total += ns;
                any = true;
            }
        }
    }
    if any {
        Some(total)
    } else {
        first(std::path::Path::new(&format!("/proc/{pid}/schedstat")))
    }
}

fn stamp(pid: Option<u32>) -> Stamp {
    Stamp {
        at: Instant::now(),
        cpu_ns: pid.and_then(cpu_ns),
    }
}

/// The console of one running emulator or program.
pub struct Console {
    rx: Receiver<Chunk>,
    input: Option<Input>,
    child: Option<Child>,
    /// All output so far.
    seen: Vec<u8>,
    /// `(end offset in seen, arrival)` of every chunk, in order.
    arrivals: Vec<(usize, Stamp)>,
    /// Where the next search starts (just past the previous match).
    scan_from: usize,
    eof: bool,
    log: Option<File>,
    /// When the process was started.
    pub started: Instant,
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R, pid: Option<u32>) -> Receiver<Chunk> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = vec![0u8; 16384];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send((stamp(pid), None));
                    return;
                }
                Ok(n) => {
                    if tx.send((stamp(pid), Some(buf[..n].to_vec()))).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

impl Console {
    /// Starts `cmd` with its stdin and stdout piped (stderr goes to `stderr`)
    /// and a transcript of its stdout in `log`.
    pub fn spawn(mut cmd: Command, stderr: Stdio, log: Option<File>) -> Result<Console> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        let input = child.stdin.take().map(Input::Stdin);
        let pid = Some(child.id());
        Ok(Console::new(
            spawn_reader(stdout, pid),
            input,
            Some(child),
            started,
            log,
        ))
    }

    /// Connects to a serial port that `child` serves on `addr` (Bochs'
    /// `socket-server` mode, which waits for this connection before it
    /// runs), retrying until `timeout`.
    pub fn tcp(
        mut child: Child,
        addr: SocketAddr,
        started: Instant,
        timeout: Duration,
        log: Option<File>,
    ) -> Result<Console> {
        let stream = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(s) => break s,
                Err(e) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        bail!("emulator exited ({status}) before its serial port was up");
                    }
                    if started.elapsed() > timeout {
                        let _ = child.kill();
                        let _ = child.wait();
                        bail!("cannot connect to the serial port at {addr}: {e}");
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let reader = stream.try_clone().context("cloning the serial socket")?;
        let pid = Some(child.id());
        Ok(Console::new(
            spawn_reader(reader, pid),
            Some(Input::Tcp(stream)),
            Some(child),
            started,
            log,
        ))
    }

    fn new(
        rx: Receiver<Chunk>,
        input: Option<Input>,
        child: Option<Child>,
        started: Instant,
        log: Option<File>,
    ) -> Console {
        Console {
            rx,
            input,
            child,
            seen: Vec::new(),
            arrivals: Vec::new(),
            scan_from: 0,
            eof: false,
            log,
            started,
        }
    }

    /// A console over any reader, for tests.
    #[cfg(test)]
    fn from_reader<R: Read + Send + 'static>(r: R) -> Console {
        Console::new(spawn_reader(r, None), None, None, Instant::now(), None)
    }

    /// Types `line` and a newline.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        let input = self
            .input
            .as_mut()
            .ok_or_else(|| anyhow!("console has no input"))?;
        input.write_all(line.as_bytes())?;
        input.write_all(b"\n")?;
        input.flush()?;
        Ok(())
    }

    /// The arrival of the chunk that holds byte `end - 1`.
    fn arrival_of(&self, end: usize) -> Stamp {
        let i = self.arrivals.partition_point(|&(e, _)| e < end);
        self.arrivals
            .get(i)
            .map_or_else(|| stamp(None), |&(_, t)| t)
    }

    /// The end of the first match of `pat` after `scan_from`.
    fn find(&self, pat: &[u8]) -> Option<usize> {
        if pat.is_empty() {
            return Some(self.scan_from);
        }
        self.seen
            .get(self.scan_from..)?
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| self.scan_from + p + pat.len())
    }

    fn take(&mut self, chunk: Chunk) {
        match chunk {
            (t, Some(bytes)) => {
                if let Some(log) = self.log.as_mut() {
                    let _ = log.write_all(&bytes);
                }
                self.seen.extend_from_slice(&bytes);
                self.arrivals.push((self.seen.len(), t));
            }
            (_, None) => self.eof = true,
        }
    }

    /// Waits until `pat` appears after the previous match and returns the
    /// arrival of its last byte. Fails on timeout or end of output.
    pub fn wait_for(&mut self, pat: &str, timeout: Duration) -> Result<Stamp> {
        self.wait_for_any(&[pat], timeout).map(|(_, t)| t)
    }

    /// Waits until one of `pats` appears after the previous match; returns
    /// the index of the one that ends first and the arrival of its last byte.
    pub fn wait_for_any(&mut self, pats: &[&str], timeout: Duration) -> Result<(usize, Stamp)> {
        let deadline = Instant::now() + timeout;
        loop {
            let first = pats
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((self.find(p.as_bytes())?, i)))
                .min();
            if let Some((end, i)) = first {
                self.scan_from = end;
                return Ok((i, self.arrival_of(end)));
            }
            if self.eof {
                bail!("output ended before {pats:?}{}", self.exit_note());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.take(chunk),
                Err(RecvTimeoutError::Timeout) => {
                    bail!("no {pats:?} within {:.0} s", timeout.as_secs_f64())
                }
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
            }
        }
    }

    /// Waits for `pat` then returns the rest of its line (up to `\n`, without
    /// `\r`), and the arrival of `pat`.
    pub fn wait_line(&mut self, pat: &str, timeout: Duration) -> Result<(Stamp, String)> {
        let t = self.wait_for(pat, timeout)?;
        let from = self.scan_from;
        self.wait_for("\n", timeout)?;
        let rest = String::from_utf8_lossy(&self.seen[from..self.scan_from - 1]);
        Ok((t, rest.trim_end_matches('\r').to_string()))
    }

    fn exit_note(&mut self) -> String {
        match self.child.as_mut().map(|c| c.wait_timeout_ms(500)) {
            Some(Some(status)) => format!(" (process exited: {status})"),
            _ => String::new(),
        }
    }

    /// The last `n` bytes of output, for error messages.
    pub fn tail(&self, n: usize) -> String {
        let from = self.seen.len().saturating_sub(n);
        String::from_utf8_lossy(&self.seen[from..]).into_owned()
    }
}

/// `Child::wait` with a timeout, polling.
trait WaitTimeout {
    fn wait_timeout_ms(&mut self, ms: u64) -> Option<std::process::ExitStatus>;
}

impl WaitTimeout for Child {
    fn wait_timeout_ms(&mut self, ms: u64) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + Duration::from_millis(ms);
        loop {
            if let Ok(Some(s)) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        // Closing the input first lets well-behaved programs (v86's driver)
        // stop on their own; emulators are then killed.
        self.input = None;
        if let Some(child) = self.child.as_mut() {
            if child.wait_timeout_ms(200).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn finds_markers_in_order_and_reads_the_rest_of_the_line() {
        let text = "boot...\nOXPC-INIT-READY\n# cmd\nOXPC-BENCH-START crc32\nOXPC-BENCH-END crc32 9d6d7da6\r\n";
        let mut c = Console::from_reader(Cursor::new(text.as_bytes().to_vec()));
        let d = Duration::from_secs(5);
        c.wait_for("OXPC-INIT-READY", d).unwrap();
        let t0 = c.wait_for("OXPC-BENCH-START crc32", d).unwrap();
        let (t1, rest) = c.wait_line("OXPC-BENCH-END crc32", d).unwrap();
        assert!(t1.at >= t0.at);
        assert_eq!(rest.trim(), "9d6d7da6");
        // Everything was consumed: a second READY is not there.
        let err = c.wait_for("OXPC-INIT-READY", d).unwrap_err();
        assert!(err.to_string().contains("output ended"), "{err}");
    }

    #[test]
    fn a_marker_split_across_chunks_is_found_with_the_later_arrival() {
        let (tx, rx) = mpsc::channel();
        let mut c = Console::new(rx, None, None, Instant::now(), None);
        let t1 = Stamp {
            at: Instant::now(),
            cpu_ns: Some(5),
        };
        let t2 = Stamp {
            at: t1.at + Duration::from_millis(50),
            cpu_ns: Some(7_000_000_005),
        };
        tx.send((t1, Some(b"xx OXPC-BEN".to_vec()))).unwrap();
        tx.send((t2, Some(b"CH-END a 1\n".to_vec()))).unwrap();
        let t = c
            .wait_for("OXPC-BENCH-END", Duration::from_secs(1))
            .unwrap();
        assert_eq!(t, t2);
        assert_eq!(t2.since(&t1), (0.05, Some(7.0)));
    }

    #[test]
    fn cpu_time_of_a_busy_process_grows() {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done")
            .spawn()
            .unwrap();
        let a = cpu_ns(child.id()).unwrap();
        thread::sleep(Duration::from_millis(200));
        let b = cpu_ns(child.id()).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(b > a, "{a} {b}");
        assert_eq!(cpu_ns(u32::MAX), None);
    }

    #[test]
    fn the_earliest_of_several_patterns_wins() {
        let text = "x\nIllegal instruction\noxpc:~# \nOXPC-BENCH-START a\n";
        let mut c = Console::from_reader(Cursor::new(text.as_bytes().to_vec()));
        let d = Duration::from_secs(5);
        let (i, _) = c
            .wait_for_any(&["OXPC-BENCH-START a", "Illegal instruction"], d)
            .unwrap();
        assert_eq!(i, 1);
        let (i, _) = c
            .wait_for_any(&["OXPC-BENCH-START a", "Illegal instruction"], d)
            .unwrap();
        assert_eq!(i, 0);
    }

    #[test]
    fn times_out_when_the_marker_never_comes() {
        let (_tx, rx) = mpsc::channel::<Chunk>();
        let mut c = Console::new(rx, None, None, Instant::now(), None);
        let err = c.wait_for("never", Duration::from_millis(50)).unwrap_err();
        assert!(err.to_string().contains("within"), "{err}");
    }

    #[test]
    fn spawned_process_output_is_captured_and_input_is_typed() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo READY; read x; echo got-$x");
        let mut c = Console::spawn(cmd, Stdio::null(), None).unwrap();
        c.wait_for("READY", Duration::from_secs(5)).unwrap();
        c.send_line("hello").unwrap();
        let (_, rest) = c.wait_line("got-", Duration::from_secs(5)).unwrap();
        assert_eq!(rest, "hello");
    }
}
