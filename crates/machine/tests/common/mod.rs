//! Shared by the end-to-end guest tests: where the firmware and the guest
//! images of roms/fetch.sh are (each lookup prints a SKIP reason when they
//! are missing), a machine with its COM1 console scripted, disposable
//! copies of images, the `boot:` timing line, and mtools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use devices::disk::{open_cdrom, open_hard_disk, DiskMode};
use machine::board::Disks;
use machine::config::{self, ClockMode, MachineConfig};
use machine::script::{Session, Transcript};
use machine::{Machine, Outputs};

/// Instructions a Linux boot may take to reach its shell (it needs ~7 G).
pub const LINUX_BOOT_INSNS: u64 = 20_000_000_000;
/// Instructions one shell command may take.
pub const CMD_INSNS: u64 = 4_000_000_000;

/// `$OXPC_CACHE` or `~/.cache/oxpc`.
pub fn cache_dir() -> PathBuf {
    config::firmware_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A guest file from roms/fetch.sh, or `None` with a SKIP line.
pub fn guest(name: &str) -> Option<PathBuf> {
    let p = cache_dir().join("guests").join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("SKIP: {} not found: run roms/fetch.sh", p.display());
        None
    }
}

/// SeaBIOS + SeaVGABIOS (PCI stdvga), 64 MiB, deterministic virtual time.
pub fn pc_config() -> Option<MachineConfig> {
    let fw = config::firmware_dir();
    let (Ok(bios), Ok(vga)) = (
        config::load_bios(&fw.join("bios-256k.bin")),
        config::load_vgabios(&fw.join("vgabios-stdvga.bin")),
    ) else {
        eprintln!("SKIP: no firmware in {}: run roms/fetch.sh", fw.display());
        return None;
    };
    let mut cfg = MachineConfig::new(bios, Some(vga));
    cfg.clock = ClockMode::Virtual { ns_per_insn: 10 };
    Some(cfg)
}

/// The CPU engines every guest boot test runs on.
#[derive(Clone, Copy, Debug)]
pub enum TestEngine {
    /// The reference interpreter.
    Interp,
    /// The translator (`oxpc run`'s default).
    Dbt,
}

impl TestEngine {
    pub fn build(self) -> Box<dyn cpu_interp::Engine> {
        match self {
            TestEngine::Interp => Box::new(cpu_interp::Interpreter::new()),
            TestEngine::Dbt => Box::new(dbt::Dbt::new()),
        }
    }
}

/// A machine on the interpreter whose COM1 output is scripted.
pub fn session(cfg: MachineConfig, disks: Disks) -> Session {
    session_on(TestEngine::Interp, cfg, disks)
}

/// A machine on `engine` whose COM1 output is scripted.
pub fn session_on(engine: TestEngine, cfg: MachineConfig, disks: Disks) -> Session {
    let console = Transcript::new();
    let out = Outputs {
        com1: console.sink(),
        ..Outputs::default()
    };
    let m = Machine::with_engine(cfg, out, disks, engine.build()).expect("machine builds");
    Session::new(m, console)
}

/// Disks with a hard disk and/or a CD-ROM image.
pub fn disks(hda: Option<(&Path, DiskMode)>, cdrom: Option<&Path>) -> Disks {
    Disks {
        hda: hda.map(|(p, mode)| open_hard_disk(p, mode).expect("disk image opens")),
        cdrom: cdrom.map(|p| open_cdrom(p, DiskMode::Snapshot).expect("ISO opens")),
        ..Disks::default()
    }
}

/// A copy of an image in the temp dir, removed on drop.
pub struct TempCopy(pub PathBuf);

impl TempCopy {
    pub fn of(src: &Path, tag: &str) -> TempCopy {
        let p = std::env::temp_dir().join(format!("oxpc-{tag}-{}.img", std::process::id()));
        std::fs::copy(src, &p).expect("copy the image");
        TempCopy(p)
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs until `marker`, then prints the `boot:` line and returns
/// (seconds, instructions).
pub fn boot_to(s: &mut Session, guest: &str, marker: &str, max_insns: u64) -> (f64, u64) {
    let t0 = Instant::now();
    if let Err(e) = s.wait_for_from(marker, 0, max_insns) {
        panic!("{guest}: boot failed: {e}");
    }
    let secs = t0.elapsed().as_secs_f64();
    let insns = s.machine.cpu.icount;
    let engine = s.machine.engine.name();
    eprintln!("boot: {guest} {engine} {secs:.1}s {insns} insns");
    (secs, insns)
}

/// Runs a command that must succeed; panics with its output otherwise.
#[track_caller]
pub fn sh(s: &mut Session, cmd: &str) -> String {
    let t0 = Instant::now();
    let i0 = s.machine.cpu.icount;
    match s.run_ok(cmd, CMD_INSNS) {
        Ok(out) => {
            eprintln!(
                "cmd: {cmd:?} {:.2}s {} insns",
                t0.elapsed().as_secs_f64(),
                s.machine.cpu.icount - i0
            );
            out
        }
        Err(e) => panic!("{e}"),
    }
}

/// `mtype -i IMG@@OFFSET ::/FILE`, or `None` (with a SKIP line) when
/// mtools is missing. An error from mtype is a test failure.
pub fn mtype(img: &Path, offset: u64, file: &str) -> Option<Result<String, String>> {
    let out = Command::new("mtype")
        .arg("-i")
        .arg(format!("{}@@{offset}", img.display()))
        .arg(format!("::/{file}"))
        .env("MTOOLS_SKIP_CHECK", "1")
        .output();
    match out {
        Err(e) => {
            eprintln!("SKIP: mtype (mtools) not runnable: {e}");
            None
        }
        Ok(o) if o.status.success() => Some(Ok(String::from_utf8_lossy(&o.stdout).into_owned())),
        Ok(o) => Some(Err(String::from_utf8_lossy(&o.stderr).into_owned())),
    }
}

/// Where partition 2 (FAT, label OXPCDATA) of disk.img starts.
pub const DATA_PARTITION_OFFSET: u64 = 26_214_400;

/// The bytes of an image (compared whole: 64 MiB is cheap).
pub fn image_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).expect("read image")
}
