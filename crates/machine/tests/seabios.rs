//! SeaBIOS (Debian's `seabios` package, fetched by roms/fetch.sh) POSTs on
//! the machine under the interpreter, headless, with virtual time: its
//! 0x402 log, COM1 (through `etc/sercon-port`) and the VGA text screen all
//! show the banner and the end of the boot sequence. Skips with a message
//! when the firmware is missing.

use std::path::PathBuf;

use devices::sink::CaptureSink;
use machine::config::{self, ClockMode, MachineConfig, VgaKind};
use machine::sinks::{SharedSink, Watch, WatchSink};
use machine::{Exit, Machine, Outputs, RunLimits};

/// Enough for SeaBIOS to give up on every boot device several times over.
const MAX_INSNS: u64 = 60_000_000;

fn firmware(name: &str) -> Option<PathBuf> {
    [config::firmware_dir(), PathBuf::from("/usr/share/seabios")]
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn load(vga: VgaKind) -> Option<MachineConfig> {
    let vgarom = if vga == VgaKind::Pci {
        "vgabios-stdvga.bin"
    } else {
        "vgabios-isavga.bin"
    };
    let (Some(bios), Some(vgabios)) = (firmware("bios-256k.bin"), firmware(vgarom)) else {
        eprintln!(
            "SKIP: SeaBIOS firmware not found in {:?}: run roms/fetch.sh",
            config::firmware_dir()
        );
        return None;
    };
    let mut cfg = MachineConfig::new(
        config::load_bios(&bios).unwrap(),
        Some(config::load_vgabios(&vgabios).unwrap()),
    );
    cfg.vga = vga;
    cfg.clock = ClockMode::Virtual { ns_per_insn: 10 };
    Some(cfg)
}

struct Boot {
    exit: Exit,
    icount: u64,
    log: String,
    com1: String,
    screen: String,
    machine: Machine,
}

fn boot(cfg: MachineConfig, until: &str) -> Boot {
    let log = CaptureSink::new();
    let com1 = CaptureSink::new();
    let watch = Watch::new(until);
    let out = Outputs {
        com1: Box::new(com1.clone()),
        bioslog: Box::new(WatchSink::new(
            SharedSink::new(Box::new(log.clone())),
            watch.clone(),
        )),
        ..Outputs::default()
    };
    let mut m = Machine::new(cfg, out).unwrap();
    let limits = RunLimits {
        insns: Some(MAX_INSNS),
        watch: Some(watch),
        ..RunLimits::default()
    };
    let exit = m.run(&limits, None);
    Boot {
        exit,
        icount: m.cpu.icount,
        log: String::from_utf8_lossy(&log.contents()).into_owned(),
        com1: String::from_utf8_lossy(&com1.contents()).into_owned(),
        screen: m.text_screen().unwrap_or_default(),
        machine: m,
    }
}

#[test]
fn seabios_posts_to_no_bootable_device_with_serial_console() {
    let Some(mut cfg) = load(VgaKind::Pci) else {
        return;
    };
    cfg.sercon = true;
    let b = boot(cfg, "No bootable device");
    assert_eq!(b.exit, Exit::Matched, "0x402 log:\n{}", b.log);
    assert!(b.log.contains("SeaBIOS (version"), "{}", b.log);
    assert!(b.log.contains("Running on QEMU (i440fx)"), "{}", b.log);
    assert!(
        b.log.contains("Start SeaVGABIOS"),
        "VGA BIOS ran:\n{}",
        b.log
    );
    assert!(b.log.contains("Booting from"), "{}", b.log);
    assert!(b.com1.contains("SeaBIOS (version"), "COM1: {:?}", b.com1);
    assert!(b.com1.contains("No bootable device"), "COM1: {:?}", b.com1);
    assert!(
        b.screen.contains("SeaBIOS (version"),
        "screen:\n{}",
        b.screen
    );
    assert!(
        b.screen.contains("No bootable device"),
        "screen:\n{}",
        b.screen
    );
    // The picture, for a human to look at once.
    let (w, h, px) = b.machine.render();
    assert_eq!((w, h), (720, 400), "80x25 text with a 9x16 font");
    assert!(px.iter().any(|&p| p != 0), "something is drawn");
    let shot = std::env::temp_dir().join("oxpc-seabios.png");
    machine::screen::write_png(&shot, w, h, &px).unwrap();
    eprintln!("screenshot: {} ({} instructions)", shot.display(), b.icount);
}

#[test]
fn seabios_without_serial_console_uses_only_the_screen() {
    let Some(cfg) = load(VgaKind::Pci) else {
        return;
    };
    let b = boot(cfg, "No bootable device");
    assert_eq!(b.exit, Exit::Matched, "0x402 log:\n{}", b.log);
    assert!(
        b.screen.contains("SeaBIOS (version"),
        "screen:\n{}",
        b.screen
    );
    assert!(!b.com1.contains("SeaBIOS"), "COM1: {:?}", b.com1);
}

#[test]
fn seabios_with_isa_vga() {
    let Some(cfg) = load(VgaKind::Isa) else {
        return;
    };
    let b = boot(cfg, "No bootable device");
    assert_eq!(b.exit, Exit::Matched, "0x402 log:\n{}", b.log);
    assert!(
        b.screen.contains("No bootable device"),
        "screen:\n{}",
        b.screen
    );
}

#[test]
fn virtual_time_boots_are_deterministic() {
    let Some(cfg) = load(VgaKind::Pci) else {
        return;
    };
    let a = boot(cfg.clone(), "Booting from");
    let b = boot(cfg, "Booting from");
    assert_eq!(a.exit, Exit::Matched);
    assert_eq!(a.icount, b.icount);
    assert_eq!(a.log, b.log);
    assert_eq!(a.screen, b.screen);
}
