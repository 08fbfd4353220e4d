//! `--kernel` under SeaBIOS: the BIOS boots the loader option ROM from
//! fw_cfg, which has the machine copy the kernel into RAM and enters its
//! real-mode setup code. The "kernel" here is a fake bzImage whose setup
//! code prints the command line (read from 0x20000) on COM1. Skips without
//! firmware.

use devices::sink::CaptureSink;
use machine::config::{self, ClockMode, LinuxBoot, MachineConfig};
use machine::sinks::{SharedSink, Watch, WatchSink};
use machine::{Exit, Machine, Outputs, RunLimits};

fn fake_bzimage() -> Vec<u8> {
    let mut k = vec![0u8; 5 * 512 + 512];
    k[0x1FE..0x200].copy_from_slice(&0xAA55u16.to_le_bytes());
    k[0x202..0x206].copy_from_slice(b"HdrS");
    k[0x206..0x208].copy_from_slice(&0x020Au16.to_le_bytes());
    k[0x211] = 1; // LOADED_HIGH
    k[0x22C..0x230].copy_from_slice(&0x37FF_FFFFu32.to_le_bytes());
    k[0x238..0x23C].copy_from_slice(&255u32.to_le_bytes());
    // Setup entry (1020:0000 = file offset 0x200): jump over the header.
    k[0x200..0x202].copy_from_slice(&[0xEB, 0x7E]); // jmp 0x280
    #[rustfmt::skip]
    let code = [
        0xB8, 0x00, 0x20, 0x8E, 0xD8, 0x31, 0xF6, // mov ax,0x2000; mov ds,ax; xor si,si
        0xAC, 0x84, 0xC0, 0x74, 0x06,             // l: lodsb; test al,al; jz done
        0xBA, 0xF8, 0x03, 0xEE, 0xEB, 0xF5,       // mov dx,0x3f8; out dx,al; jmp l
        0xFA, 0xF4,                               // done: cli; hlt
    ];
    k[0x280..0x280 + code.len()].copy_from_slice(&code);
    k
}

#[test]
fn seabios_boots_a_kernel_through_the_loader_rom() {
    let fw = config::firmware_dir();
    let (Ok(bios), Ok(vga)) = (
        config::load_bios(&fw.join("bios-256k.bin")),
        config::load_vgabios(&fw.join("vgabios-stdvga.bin")),
    ) else {
        eprintln!("SKIP: no firmware in {fw:?}: run roms/fetch.sh");
        return;
    };
    let mut cfg = MachineConfig::new(bios, Some(vga));
    cfg.clock = ClockMode::Virtual { ns_per_insn: 10 };
    cfg.linux = Some(LinuxBoot {
        name: "fake".into(),
        kernel: fake_bzimage(),
        initrd: Some(vec![0x42; 5000]),
        cmdline: "HELLO-FROM-CMDLINE".into(),
    });
    let com1 = CaptureSink::new();
    let log = CaptureSink::new();
    let watch = Watch::new("HELLO-FROM-CMDLINE");
    let out = Outputs {
        com1: Box::new(WatchSink::new(
            SharedSink::new(Box::new(com1.clone())),
            watch.clone(),
        )),
        bioslog: Box::new(log.clone()),
        ..Outputs::default()
    };
    let mut m = Machine::new(cfg, out).unwrap();
    let limits = RunLimits {
        insns: Some(60_000_000),
        watch: Some(watch),
        ..RunLimits::default()
    };
    let exit = m.run(&limits, None);
    let log = String::from_utf8_lossy(&log.contents()).into_owned();
    assert_eq!(
        exit,
        Exit::Matched,
        "COM1 {:?}\nlog:\n{log}",
        String::from_utf8_lossy(&com1.contents())
    );
    assert!(log.contains("Booting from ROM"), "{log}");
    // The header the setup code sees: loader type, initrd, heap.
    assert_eq!(m.mmu.phys.read_u8(0x10210), 0xB0);
    assert_eq!(m.mmu.phys.read_u32(0x10228), 0x20000);
    let initrd = m.mmu.phys.read_u32(0x10218);
    assert_eq!(m.mmu.phys.read_u32(0x1021C), 5000);
    assert_eq!(m.mmu.phys.read_u8(initrd), 0x42);
}
