//! The runners: one per way of executing the workloads (native, oxpc's
//! interpreter and translator, QEMU, Bochs, v86). Every guest runner starts an
//! emulator whose COM1 is a [`Console`]; [`GuestSession`] then times boot to
//! `OXPC-INIT-READY` and each workload between its `OXPC-BENCH-START` and
//! `OXPC-BENCH-END` lines by the host clock, so all are measured the same way.
//!
//! Not modelled: guests other than the busybox initramfs of `roms/fetch.sh`.

mod bochs;
mod native;
mod oxpc;
mod peers;
mod qemu;
mod v86;

use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::console::Console;
use crate::ctx::Ctx;

pub use oxpc::OxpcEngine;

/// Every engine name, in report order.
pub const ALL: [&str; 6] = ["native", "oxpc-interp", "oxpc-dbt", "qemu", "bochs", "v86"];

/// One timed workload run.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub secs: f64,
    /// CPU seconds of the emulator (or native program) between the markers.
    pub cpu_secs: Option<f64>,
    pub checksum: String,
}

/// A way of running the workloads.
pub trait Engine {
    fn name(&self) -> &'static str;
    /// Checks (and, when allowed, installs) what this engine needs.
    /// `Err` is the reason it is skipped.
    fn prepare(&mut self, ctx: &Ctx) -> Result<(), String>;
    /// The emulator's version, for the report.
    fn version(&self, ctx: &Ctx) -> Option<String>;
    /// Starts the engine: for emulators, boots the guest to its shell.
    fn start(&self, ctx: &Ctx, rep: u32) -> Result<Box<dyn Session>>;
}

/// A started engine that runs workloads one after another.
pub trait Session {
    /// Seconds from starting the emulator to `OXPC-INIT-READY` (None natively).
    fn boot_secs(&self) -> Option<f64>;
    /// CPU seconds the emulator used to boot (None natively or when unknown).
    fn boot_cpu_secs(&self) -> Option<f64> {
        None
    }
    fn run(&mut self, ctx: &Ctx, workload: &str) -> Result<Timed>;
}

/// Makes the engine called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Engine>> {
    Some(match name {
        "native" => Box::new(native::Native),
        "oxpc-interp" => Box::new(OxpcEngine::new("oxpc-interp", "interp")),
        "oxpc-dbt" => Box::new(OxpcEngine::new("oxpc-dbt", "dbt")),
        "qemu" => Box::new(qemu::Qemu),
        "bochs" => Box::new(bochs::Bochs::default()),
        "v86" => Box::new(v86::V86::default()),
        _ => return None,
    })
}

/// A guest booted to its shell.
pub struct GuestSession {
    console: Console,
    boot: f64,
    boot_cpu: Option<f64>,
}

impl GuestSession {
    /// Waits for the shell of a just-started emulator.
    pub fn boot(mut console: Console, timeout: Duration) -> Result<GuestSession> {
        let ready = console
            .wait_for("OXPC-INIT-READY", timeout)
            .with_context(|| format!("guest did not boot; last output: {:?}", console.tail(300)))?;
        let boot = ready.at.duration_since(console.started).as_secs_f64();
        let boot_cpu = ready.cpu_ns.map(|ns| ns as f64 / 1e9);
        Ok(GuestSession {
            console,
            boot,
            boot_cpu,
        })
    }
}

/// What the guest's shell (or the kernel) prints when a workload dies; seeing
/// one ends the wait for its markers at once.
pub const DEATHS: [&str; 7] = [
    "Illegal instruction",
    "Segmentation fault",
    "Bus error",
    "Floating point exception",
    "Aborted",
    "Killed",
    "not found",
];

/// Waits for `marker` unless the workload dies first.
fn wait_marker(
    console: &mut Console,
    marker: &str,
    timeout: Duration,
) -> Result<crate::console::Stamp> {
    let mut pats = vec![marker];
    pats.extend(DEATHS);
    let (i, t) = console.wait_for_any(&pats, timeout)?;
    if i > 0 {
        bail!("the workload died: {:?} before {marker:?}", pats[i]);
    }
    Ok(t)
}

/// Times one workload on a console: the command has been started; waits for
/// its markers and returns seconds between them and the checksum.
pub fn time_markers(console: &mut Console, workload: &str, timeout: Duration) -> Result<Timed> {
    let start = format!("OXPC-BENCH-START {workload}");
    let end = format!("OXPC-BENCH-END {workload} ");
    let t0 = wait_marker(console, &start, timeout)?;
    let t1 = wait_marker(console, &end, timeout)?;
    let (_, rest) = console.wait_line("", timeout)?;
    let checksum = rest.split_whitespace().next().unwrap_or("").to_string();
    if checksum.is_empty() {
        bail!("{workload}: END marker without a checksum");
    }
    let (secs, cpu_secs) = t1.since(&t0);
    Ok(Timed {
        secs,
        cpu_secs,
        checksum,
    })
}

impl Session for GuestSession {
    fn boot_secs(&self) -> Option<f64> {
        Some(self.boot)
    }

    fn boot_cpu_secs(&self) -> Option<f64> {
        self.boot_cpu
    }

    fn run(&mut self, ctx: &Ctx, workload: &str) -> Result<Timed> {
        // The echo of this line holds neither marker, so the waits below only
        // match the program's own output.
        self.console
            .send_line(&format!("/bench/oxpc-{workload} {}", ctx.size))?;
        time_markers(&mut self.console, workload, ctx.workload_timeout)
            .with_context(|| format!("{workload}: last output: {:?}", self.console.tail(300)))
    }
}

/// Runs `prog --version`-like commands and returns the first line.
pub fn first_line_of(prog: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(prog).args(args).output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn every_name_makes_its_engine() {
        for n in ALL {
            assert_eq!(by_name(n).unwrap().name(), n);
        }
        assert!(by_name("vmware").is_none());
    }

    #[test]
    fn a_fake_guest_is_booted_and_timed() {
        // A shell pretending to be a guest: prints the ready marker, then
        // answers the typed command with markers.
        let script = "echo OXPC-INIT-READY; read cmd; echo $cmd; \
                      echo OXPC-BENCH-START crc32; sleep 0.2; echo OXPC-BENCH-END crc32 0000abcd";
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        let console = Console::spawn(cmd, Stdio::null(), None).unwrap();
        let mut s = GuestSession::boot(console, Duration::from_secs(5)).unwrap();
        assert!(s.boot_secs().unwrap() < 5.0);
        let ctx = crate::ctx::Ctx {
            root: crate::ctx::workspace_root(),
            cache: "/nonexistent".into(),
            work: "/nonexistent".into(),
            size: "quick".into(),
            boot_timeout: Duration::from_secs(5),
            workload_timeout: Duration::from_secs(5),
            install: false,
            oxpc: None,
        };
        let t = s.run(&ctx, "crc32").unwrap();
        assert_eq!(t.checksum, "0000abcd");
        assert!(t.secs >= 0.15 && t.secs < 3.0, "{}", t.secs);
    }

    #[test]
    fn a_workload_that_dies_fails_at_once() {
        let script = "echo OXPC-INIT-READY; read cmd; echo Illegal instruction; sleep 30";
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        let console = Console::spawn(cmd, Stdio::null(), None).unwrap();
        let mut s = GuestSession::boot(console, Duration::from_secs(5)).unwrap();
        let ctx = crate::ctx::Ctx {
            root: crate::ctx::workspace_root(),
            cache: "/nonexistent".into(),
            work: "/nonexistent".into(),
            size: "quick".into(),
            boot_timeout: Duration::from_secs(5),
            workload_timeout: Duration::from_secs(20),
            install: false,
            oxpc: None,
        };
        let t = std::time::Instant::now();
        let err = s.run(&ctx, "crc32").unwrap_err();
        assert!(
            format!("{err:#}").contains("Illegal instruction"),
            "{err:#}"
        );
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_guest_that_never_boots_is_an_error() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo Kernel panic");
        let console = Console::spawn(cmd, Stdio::null(), None).unwrap();
        let err = GuestSession::boot(console, Duration::from_secs(5))
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("Kernel panic"), "{err:#}");
    }
}
