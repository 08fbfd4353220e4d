//! The lockstep engine (translator and interpreter compared at every block
//! exit) on whole machines, for a bounded number of instructions each:
//! SeaBIOS's POST, FreeDOS to its `A:\>` prompt, the start of a Linux
//! boot (loader, real-mode setup, decompression) and the Linux kernel's
//! own start (translator alone to near the end of decompression, then
//! lockstep through start_kernel and the initcalls, 380 M instructions). Each asserts that no
//! difference was found and that the bound or the boot marker was
//! reached. Also: an injected difference is reported with EIP, the guest
//! block, the host code and both states, and stops the machine; `oxpc run
//! --engine lockstep --max-instructions` exits 0, 4 on a difference; and
//! `--dbt-dump` writes guest and host disassembly.
//!
//! Each skips with a message when its firmware or image is missing.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::*;
use devices::disk::{open_floppy, DiskMode};
use devices::sink::CaptureSink;
use machine::board::Disks;
use machine::config::{LinuxBoot, MachineConfig};
use machine::sinks::{SharedSink, Watch, WatchSink};
use machine::{Exit, Machine, Outputs, RunLimits};

fn lockstep() -> Box<dbt::Lockstep> {
    Box::new(dbt::Lockstep::for_machine(dbt::Dbt::new()))
}

/// Runs `m` until `limits`, then checks the engines agreed all along.
#[track_caller]
fn run_checked(m: &mut Machine, limits: &RunLimits, what: &str) -> Exit {
    let t0 = Instant::now();
    let i0 = m.cpu.icount;
    let exit = m.run(limits, None);
    let secs = t0.elapsed().as_secs_f64();
    let report = m.engine.report().unwrap_or_default();
    eprintln!(
        "lockstep: {what}: {exit:?} after {} instructions in {secs:.1} s ({:.1} MIPS)\n{report}",
        m.cpu.icount - i0,
        (m.cpu.icount - i0) as f64 / secs.max(1e-9) / 1e6
    );
    if let Some(d) = m.engine.mismatch() {
        panic!("{what}: the engines differ:\n{d}");
    }
    exit
}

fn captured(com1: &CaptureSink) -> String {
    String::from_utf8_lossy(&com1.contents()).into_owned()
}

#[test]
fn seabios_post_in_lockstep() {
    let Some(cfg) = pc_config() else { return };
    let log = CaptureSink::new();
    let done = Watch::new("No bootable device");
    let out = Outputs {
        bioslog: Box::new(WatchSink::new(
            SharedSink::new(Box::new(log.clone())),
            done.clone(),
        )),
        ..Outputs::default()
    };
    let mut m = Machine::with_engine(cfg, out, Disks::default(), lockstep()).unwrap();
    let limits = RunLimits {
        insns: Some(60_000_000),
        watch: Some(done),
        ..RunLimits::default()
    };
    let exit = run_checked(&mut m, &limits, "SeaBIOS POST");
    let text = captured(&log);
    assert_eq!(exit, Exit::Matched, "bios log:\n{text}");
    for s in ["SeaBIOS (version", "PCI devices", "No bootable device"] {
        assert!(text.contains(s), "{s:?} missing from the log:\n{text}");
    }
}

#[test]
fn freedos_boots_to_the_prompt_in_lockstep() {
    let img = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/guests/freedos.boot.disk.1.4MB.img");
    let Some(cfg) = pc_config() else { return };
    if !img.is_file() {
        eprintln!("SKIP: {} not found", img.display());
        return;
    }
    let disks = Disks {
        fda: Some(open_floppy(&img, DiskMode::Snapshot).expect("floppy image opens")),
        ..Disks::default()
    };
    let mut m = Machine::with_engine(cfg, Outputs::default(), disks, lockstep()).unwrap();
    let prompt = Watch::new("A:\\>");
    let limits = RunLimits {
        insns: Some(100_000_000),
        watch: Some(prompt),
        ..RunLimits::default()
    };
    let exit = run_checked(&mut m, &limits, "FreeDOS boot");
    let screen = m.text_screen().unwrap_or_default();
    assert_eq!(exit, Exit::Matched, "screen:\n{screen}");
}

/// The Linux kernel and initrd of roms/fetch.sh, booted by SeaBIOS.
fn linux_config() -> Option<MachineConfig> {
    let (Some(mut cfg), Some(kernel), Some(initrd)) =
        (pc_config(), guest("vmlinuz"), guest("initrd.gz"))
    else {
        return None;
    };
    cfg.linux = Some(LinuxBoot {
        name: kernel.display().to_string(),
        kernel: std::fs::read(&kernel).unwrap(),
        initrd: Some(std::fs::read(&initrd).unwrap()),
        cmdline: "console=ttyS0 noapic nolapic".into(),
    });
    // SeaBIOS and the kernel's setup code print on COM1 too.
    cfg.sercon = true;
    Some(cfg)
}

fn linux_machine(
    cfg: MachineConfig,
    engine: Box<dyn cpu_interp::Engine>,
) -> (Machine, CaptureSink) {
    let com1 = CaptureSink::new();
    let out = Outputs {
        com1: Box::new(com1.clone()),
        ..Outputs::default()
    };
    let m = Machine::with_engine(cfg, out, Disks::default(), engine).unwrap();
    (m, com1)
}

/// From power-on: SeaBIOS, the loader ROM copying the kernel in, the
/// kernel's real-mode setup, and the start of decompression.
#[test]
fn linux_boot_start_in_lockstep() {
    let Some(cfg) = linux_config() else { return };
    let (mut m, com1) = linux_machine(cfg, lockstep());
    const BOUND: u64 = 250_000_000;
    let limits = RunLimits {
        insns: Some(BOUND),
        ..RunLimits::default()
    };
    let exit = run_checked(&mut m, &limits, "Linux boot start");
    assert_eq!(exit, Exit::Timeout);
    assert!(m.cpu.icount >= BOUND);
    let text = captured(&com1);
    assert!(text.contains("Probing EDD"), "the setup code ran: {text}");
    assert!(m.cpu.cr0 & 1 != 0, "in protected mode, decompressing");
}

/// The translator alone until near the end of the kernel's decompression
/// (2.1 G instructions), then lockstep through the jump into the kernel,
/// `start_kernel` (its banner on the serial console at 2.39 G) and the
/// initcalls up to the network stack's (2.48 G).
#[test]
fn linux_kernel_start_in_lockstep() {
    let Some(cfg) = linux_config() else { return };
    let (mut m, com1) = linux_machine(cfg, Box::new(dbt::Dbt::new()));
    let t0 = Instant::now();
    let first = RunLimits {
        insns: Some(2_100_000_000),
        ..RunLimits::default()
    };
    assert_eq!(m.run(&first, None), Exit::Timeout);
    eprintln!(
        "lockstep: translator to {} in {:.1} s",
        m.cpu.icount,
        t0.elapsed().as_secs_f64()
    );
    m.engine = lockstep();
    let banner = Watch::new("NET: Registered PF_INET");
    m.dev
        .com1
        .lock()
        .unwrap()
        .set_backend(Box::new(WatchSink::new(
            SharedSink::new(Box::new(com1.clone())),
            banner.clone(),
        )));
    let limits = RunLimits {
        insns: Some(3_000_000_000),
        watch: Some(banner),
        ..RunLimits::default()
    };
    let exit = run_checked(&mut m, &limits, "Linux kernel start");
    let text = captured(&com1);
    assert_eq!(exit, Exit::Matched, "serial console:\n{text}");
    for s in [
        "Linux version 6.",
        "Calibrating delay loop",
        "NET: Registered PF_INET",
    ] {
        assert!(text.contains(s), "{s:?} missing:\n{text}");
    }
    assert!(m.cpu.cr0 & 0x8000_0000 != 0, "paging on");
}

#[test]
fn an_injected_difference_is_reported_and_stops_the_machine() {
    let Some(cfg) = pc_config() else { return };
    let mut l = dbt::Lockstep::for_machine(dbt::Dbt::new());
    l.inject_at = Some(1_000_000);
    let mut m =
        Machine::with_engine(cfg, Outputs::default(), Disks::default(), Box::new(l)).unwrap();
    let limits = RunLimits {
        insns: Some(20_000_000),
        ..RunLimits::default()
    };
    let exit = m.run(&limits, None);
    let text = m.engine.mismatch().expect("the difference is reported");
    eprintln!("{text}");
    assert_eq!(
        exit,
        Exit::Mismatch,
        "the machine stops instead of resetting"
    );
    assert!(
        m.cpu.icount < 2_000_000,
        "stopped at once: {}",
        m.cpu.icount
    );
    assert!(text.starts_with("lockstep mismatch at "), "{text}");
    assert!(text.contains("regs ["), "{text}");
    let section = |from: &str, to: &str| {
        let a = text
            .find(from)
            .unwrap_or_else(|| panic!("{from:?} in {text}"));
        let b = text[a..].find(to).map_or(text.len(), |b| a + b);
        text[a + from.len()..b].trim().to_string()
    };
    let guest = section("guest block:", "host code:");
    let host = section("host code:", "dbt:");
    assert!(
        guest.lines().count() >= 1 && !guest.contains("interpreted"),
        "{guest}"
    );
    assert!(host.lines().count() >= 3, "host code shown: {host}");
    assert!(
        text.contains("\ndbt:    eip=") && text.contains("\ninterp: eip="),
        "{text}"
    );
}

fn oxpc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxpc"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("oxpc runs")
}

fn firmware_present() -> bool {
    pc_config().is_some()
}

#[test]
fn cli_lockstep_exit_status() {
    if !firmware_present() {
        return;
    }
    let base = [
        "run",
        "--headless",
        "--virtual-time",
        "--serial",
        "null",
        "--engine",
        "lockstep",
    ];
    let ok = oxpc(&[&base[..], &["--max-instructions", "3000000"]].concat());
    let err = String::from_utf8_lossy(&ok.stderr);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "bound reached, no difference: {err}"
    );
    let bad = oxpc(
        &[
            &base[..],
            &[
                "--max-instructions",
                "3000000",
                "--lockstep-inject",
                "500000",
            ],
        ]
        .concat(),
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(4), "a difference: {err}");
    assert!(err.contains("lockstep mismatch at"), "{err}");
    let late = oxpc(
        &[
            &base[..],
            &[
                "--max-instructions",
                "3000000",
                "--lockstep-after",
                "2000000",
            ],
        ]
        .concat(),
    );
    assert_eq!(
        late.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&late.stderr)
    );
}

#[test]
fn cli_dbt_dump_writes_guest_and_host_code() {
    if !firmware_present() {
        return;
    }
    let path = std::env::temp_dir().join(format!("oxpc-dbt-dump-{}.txt", std::process::id()));
    let p = path.to_str().unwrap();
    let out = oxpc(&[
        "run",
        "--headless",
        "--virtual-time",
        "--serial",
        "null",
        "--max-instructions",
        "3000000",
        "--dbt-dump",
        p,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    let blocks = text.matches("; guest ").count();
    assert!(
        blocks >= 10,
        "{blocks} blocks dumped:\n{}",
        &text[..text.len().min(2000)]
    );
    assert_eq!(
        blocks,
        text.matches("; host\n").count(),
        "each with its host code"
    );
    // A guest line and a host line of the first block.
    let first = &text[..text.find("\n\n").unwrap_or(text.len())];
    assert!(
        first
            .lines()
            .any(|l| l.len() > 10 && l.as_bytes()[8] == b':'),
        "{first}"
    );
    assert!(
        first.contains("r15") || first.contains("rsp") || first.contains("mov "),
        "{first}"
    );
}
