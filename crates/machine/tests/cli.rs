//! The `oxpc` command: bad input gets a one-line error and a non-zero
//! exit; a headless run with piped stdio boots SeaBIOS to its prompt on
//! COM1 and stops on `--until-serial` (skipped without firmware).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn oxpc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxpc"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("oxpc runs")
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("oxpc-cli-{}-{name}", std::process::id()))
}

#[track_caller]
fn fails_with(args: &[&str], needle: &str) {
    let out = oxpc(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.contains(needle),
        "{args:?}: stderr {err:?} lacks {needle:?}"
    );
    if !first.starts_with("error:") {
        // Ours; clap's usage errors have their own multi-line format.
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one line for {args:?}: {err}"
        );
    }
}

#[test]
fn bad_command_lines() {
    let bad = tmp("bad.bin");
    std::fs::write(&bad, vec![0u8; 1000]).unwrap();
    let b = bad.to_str().unwrap();
    fails_with(
        &["run", "--headless", "--bios", b],
        "expected 64, 128 or 256 KiB",
    );
    fails_with(
        &["run", "--headless", "--bios", "/nonexistent/bios.bin"],
        "cannot read /nonexistent/bios.bin",
    );
    fails_with(
        &["run", "--headless", "--mem", "lots"],
        "cannot parse memory size",
    );
    fails_with(&["run", "--headless", "--mem", "8G"], "not supported");
    fails_with(&["run", "--headless", "--engine", "jit"], "invalid value");
    fails_with(&["run", "--headless", "--kernel", b], "not a bzImage");
    fails_with(
        &["run", "--headless", "--fda", "/nonexistent.img"],
        "/nonexistent.img: No such file",
    );
    fails_with(&["run", "--no-such-option"], "unexpected argument");
    let _ = std::fs::remove_file(&bad);
}

#[test]
fn missing_default_firmware_says_how_to_get_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_oxpc"))
        .args(["run", "--headless"])
        .env("OXPC_CACHE", "/nonexistent-oxpc-cache")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("roms/fetch.sh"), "{err}");
}

#[test]
fn headless_boot_until_serial() {
    if !machine::config::firmware_dir()
        .join("bios-256k.bin")
        .is_file()
    {
        eprintln!(
            "SKIP: no firmware in {:?}: run roms/fetch.sh",
            machine::config::firmware_dir()
        );
        return;
    }
    let log = tmp("bios.log");
    let screen = tmp("screen.txt");
    let out = oxpc(&[
        "run",
        "--headless",
        "--virtual-time",
        "--max-seconds",
        "120",
        "--until-serial",
        "No bootable device",
        "--bioslog",
        log.to_str().unwrap(),
        "--dump-screen",
        screen.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("SeaBIOS (version"),
        "COM1 on stdout: {stdout:?}"
    );
    assert!(stdout.contains("No bootable device"));
    let l = std::fs::read_to_string(&log).unwrap();
    assert!(l.contains("SeaBIOS (version"), "{l}");
    let s = std::fs::read_to_string(&screen).unwrap();
    assert!(s.contains("SeaBIOS (version"), "{s}");
    // A timeout is an error that says what was not seen.
    let out = oxpc(&[
        "run",
        "--headless",
        "--virtual-time",
        "--max-seconds",
        "0.5",
        "--until-serial",
        "never printed",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"never printed\" not seen"));
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&screen);
}
