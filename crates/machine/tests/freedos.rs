//! FreeDOS boots from floppy under SeaBIOS (interpreter, virtual time,
//! `--snapshot`-style overlay so the image is never written):
//! - the minimal boot disk from ../shared/guests reaches the `A:\>` prompt
//!   on the VGA text screen, and a command typed on the emulated keyboard
//!   runs;
//! - roms/fetch.sh's serial variant (`CTTY COM1`) runs commands sent over
//!   COM1.
//!
//! Each skips with a message when its image or the firmware is missing.

use std::path::{Path, PathBuf};

use crossbeam_channel::unbounded;
use devices::disk::{open_floppy, DiskMode};
use devices::keycode::KeyCode;
use devices::sink::CaptureSink;
use machine::board::Disks;
use machine::config::{self, ClockMode, MachineConfig};
use machine::sinks::{SharedSink, Watch, WatchSink};
use machine::{Exit, Input, Machine, Outputs, RunLimits};

const MAX_INSNS: u64 = 400_000_000;

fn config() -> Option<MachineConfig> {
    let fw = config::firmware_dir();
    let (Ok(bios), Ok(vga)) = (
        config::load_bios(&fw.join("bios-256k.bin")),
        config::load_vgabios(&fw.join("vgabios-stdvga.bin")),
    ) else {
        eprintln!("SKIP: no firmware in {fw:?}: run roms/fetch.sh");
        return None;
    };
    let mut cfg = MachineConfig::new(bios, Some(vga));
    cfg.clock = ClockMode::Virtual { ns_per_insn: 10 };
    Some(cfg)
}

fn floppy(path: &Path) -> Option<Disks> {
    if !path.is_file() {
        eprintln!("SKIP: {} not found", path.display());
        return None;
    }
    let fda = open_floppy(path, DiskMode::Snapshot).expect("floppy image opens");
    Some(Disks {
        fda: Some(fda),
        ..Disks::default()
    })
}

fn limits(w: &std::sync::Arc<Watch>) -> RunLimits {
    RunLimits {
        insns: Some(MAX_INSNS),
        watch: Some(w.clone()),
        ..RunLimits::default()
    }
}

#[test]
fn freedos_boots_to_the_prompt_and_takes_keyboard_input() {
    let img = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/guests/freedos.boot.disk.1.4MB.img");
    let (Some(cfg), Some(disks)) = (config(), floppy(&img)) else {
        return;
    };
    let mut m = Machine::with_disks(cfg, Outputs::default(), disks).unwrap();
    let prompt = Watch::new("A:\\>");
    let (tx, rx) = unbounded();
    let t0 = std::time::Instant::now();
    let exit = m.run(&limits(&prompt), Some(&rx));
    let screen = m.text_screen().unwrap_or_default();
    assert_eq!(exit, Exit::Matched, "screen:\n{screen}");
    eprintln!(
        "boot: freedos interp {:.1}s {} insns",
        t0.elapsed().as_secs_f64(),
        m.cpu.icount
    );
    // Type VER and Enter on the keyboard.
    for k in [KeyCode::V, KeyCode::E, KeyCode::R, KeyCode::Enter] {
        tx.send(Input::Key(k, true)).unwrap();
        tx.send(Input::Key(k, false)).unwrap();
    }
    let done = Watch::new("FreeCom version 0.82 pl 3 XMS_Swap [Dec 10 2003 06:49:21]\n");
    let exit = m.run(&limits(&done), Some(&rx));
    let screen = m.text_screen().unwrap_or_default();
    assert_eq!(exit, Exit::Matched, "screen:\n{screen}");
    assert!(screen.contains("A:\\>ver"), "{screen}");
    let shot = std::env::temp_dir().join("oxpc-freedos.png");
    let (w, h, px) = m.render();
    machine::screen::write_png(&shot, w, h, &px).unwrap();
    eprintln!(
        "screenshot: {} after {} instructions",
        shot.display(),
        m.cpu.icount
    );
}

#[test]
fn freedos_serial_console_runs_commands() {
    let img = config::firmware_dir().join("../guests/freedos-serial.img");
    let (Some(cfg), Some(disks)) = (config(), floppy(&img)) else {
        return;
    };
    let com1 = CaptureSink::new();
    let ready = Watch::new("A:\\>");
    let out = Outputs {
        com1: Box::new(WatchSink::new(
            SharedSink::new(Box::new(com1.clone())),
            ready.clone(),
        )),
        ..Outputs::default()
    };
    let mut m = Machine::with_disks(cfg, out, disks).unwrap();
    let (tx, rx) = unbounded();
    let t0 = std::time::Instant::now();
    let exit = m.run(&limits(&ready), Some(&rx));
    let text = || String::from_utf8_lossy(&com1.contents()).into_owned();
    assert_eq!(exit, Exit::Matched, "COM1: {}", text());
    eprintln!(
        "boot: freedos-serial interp {:.1}s {} insns",
        t0.elapsed().as_secs_f64(),
        m.cpu.icount
    );
    assert!(text().contains("OXPC-DOS-READY"), "{}", text());
    tx.send(Input::Serial(b"DIR\r\n".to_vec())).unwrap();
    // The watch only sees new output: wait for DIR's summary line.
    let listed = Watch::new("file(s)");
    let mut m2 = m;
    m2.dev
        .com1
        .lock()
        .unwrap()
        .set_backend(Box::new(WatchSink::new(
            SharedSink::new(Box::new(com1.clone())),
            listed.clone(),
        )));
    let exit = m2.run(&limits(&listed), Some(&rx));
    assert_eq!(exit, Exit::Matched, "COM1: {}", text());
    assert!(text().contains("COMMAND  COM"), "{}", text());
}

/// Boots the serial FreeDOS image from a copy, creates a file with a
/// command sent over COM1, drops the machine, and looks for the file's
/// directory entry in the image: there with read-write, absent with a
/// snapshot overlay.
fn write_a_file(mode: DiskMode) -> Option<bool> {
    let src = config::firmware_dir().join("../guests/freedos-serial.img");
    let cfg = config()?;
    if !src.is_file() {
        eprintln!("SKIP: {} not found", src.display());
        return None;
    }
    let copy = std::env::temp_dir().join(format!("oxpc-fd-{}-{mode:?}.img", std::process::id()));
    std::fs::copy(&src, &copy).unwrap();
    let disks = Disks {
        fda: Some(open_floppy(&copy, mode).unwrap()),
        ..Disks::default()
    };
    let w = Watch::new("A:\\>");
    let out = Outputs {
        com1: Box::new(WatchSink::new(devices::sink::NullSink, w.clone())),
        ..Outputs::default()
    };
    let mut m = Machine::with_disks(cfg, out, disks).unwrap();
    let (tx, rx) = unbounded();
    assert_eq!(m.run(&limits(&w), Some(&rx)), Exit::Matched);
    tx.send(Input::Serial(b"ECHO HI > A:\\NEWFILE.TXT\r\n".to_vec()))
        .unwrap();
    let _ = m.run(
        &RunLimits {
            insns: Some(m.cpu.icount + 30_000_000),
            ..RunLimits::default()
        },
        Some(&rx),
    );
    drop(m);
    let img = std::fs::read(&copy).unwrap();
    let _ = std::fs::remove_file(&copy);
    Some(img.windows(11).any(|e| e == b"NEWFILE TXT"))
}

#[test]
fn guest_writes_reach_the_image_but_not_with_a_snapshot() {
    let Some(written) = write_a_file(DiskMode::ReadWrite) else {
        return;
    };
    assert!(written, "the new file's directory entry is in the image");
    assert_eq!(write_a_file(DiskMode::Snapshot), Some(false));
}
