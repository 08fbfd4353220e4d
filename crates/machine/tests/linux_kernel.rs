//! Debian Linux booted with `--kernel/--initrd` (roms/fetch.sh's vmlinuz
//! and busybox initrd.gz) to the shell on COM1, under SeaBIOS and the
//! interpreter, in one boot: `uname -a`, `/proc/cpuinfo` (family 6 with
//! fpu/tsc/cx8/cmov), a busybox workload (2 MiB from /dev/urandom,
//! sha256sum, gzip/gunzip round trip), a file written to the FAT data
//! partition of a read-write copy of disk.img (/dev/sda2), a clean
//! `poweroff`, and the file read back on the host with mtools.
//! Skips with a message when the images or the firmware are missing.

mod common;

use common::*;
use devices::disk::DiskMode;
use machine::config::LinuxBoot;

#[test]
fn linux_kernel_boot_shell_workload_disk_and_poweroff() {
    linux_kernel_boot_shell_workload_disk_and_poweroff_on(TestEngine::Interp);
}

#[test]
fn linux_kernel_boot_shell_workload_disk_and_poweroff_dbt() {
    linux_kernel_boot_shell_workload_disk_and_poweroff_on(TestEngine::Dbt);
}

fn linux_kernel_boot_shell_workload_disk_and_poweroff_on(engine: TestEngine) {
    let (Some(mut cfg), Some(kernel), Some(initrd), Some(img)) = (
        pc_config(),
        guest("vmlinuz"),
        guest("initrd.gz"),
        guest("disk.img"),
    ) else {
        return;
    };
    cfg.linux = Some(LinuxBoot {
        name: kernel.display().to_string(),
        kernel: std::fs::read(&kernel).unwrap(),
        initrd: Some(std::fs::read(&initrd).unwrap()),
        cmdline: "console=ttyS0 noapic nolapic quiet".into(),
    });
    let copy = TempCopy::of(&img, &format!("linux-kernel-hda-{engine:?}"));
    let mut s = session_on(
        engine,
        cfg,
        disks(Some((&copy.0, DiskMode::ReadWrite)), None),
    );
    boot_to(&mut s, "linux-kernel", "OXPC-INIT-READY", LINUX_BOOT_INSNS);

    let uname = sh(&mut s, "uname -a");
    assert!(uname.contains("Linux oxpc 6."), "{uname}");
    assert!(uname.contains("i686"), "{uname}");

    let cpuinfo = sh(&mut s, "cat /proc/cpuinfo");
    assert!(cpuinfo.contains("cpu family\t: 6\n"), "{cpuinfo}");
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_else(|| panic!("no flags line:\n{cpuinfo}"));
    for f in ["fpu", "tsc", "cx8", "cmov"] {
        assert!(
            flags.split_whitespace().any(|w| w == f),
            "{f} missing: {flags}"
        );
    }

    // The busybox workload.
    sh(
        &mut s,
        "dd if=/dev/urandom of=/tmp/f bs=1k count=2048 2>/dev/null",
    );
    let before = sh(&mut s, "sha256sum /tmp/f > /tmp/s; cat /tmp/s");
    sh(&mut s, "gzip -c /tmp/f > /tmp/f.gz");
    let after = sh(&mut s, "gunzip -c /tmp/f.gz | sha256sum");
    let digest = |t: &str| t.split_whitespace().next().unwrap_or("").to_string();
    assert_eq!(digest(&before).len(), 64, "{before}");
    assert_eq!(digest(&before), digest(&after), "gzip round trip");
    let size = sh(&mut s, "wc -c < /tmp/f");
    assert_eq!(size.trim(), "2097152");

    // The disk: read the fetch script's file, write ours.
    sh(&mut s, "mount -t vfat /dev/sda2 /mnt/data");
    let hello = sh(&mut s, "cat /mnt/data/HELLO.TXT");
    assert!(hello.contains("OXPC-DISK-DATA"), "{hello}");
    sh(
        &mut s,
        "echo oxpc-written-$((6*7)) > /mnt/data/OXPCTEST.TXT; sync",
    );
    sh(&mut s, "umount /mnt/data");

    s.type_text("poweroff\n");
    if let Err(e) = s.wait_for("OXPC-POWEROFF", CMD_INSNS) {
        panic!("poweroff: {e}");
    }
    // The kernel then halts the CPU for good.
    let halted = s.wait_for("System halted", CMD_INSNS);
    assert!(
        halted.is_ok() || s.console.text().contains("Power down"),
        "{halted:?}"
    );
    drop(s);

    if let Some(r) = mtype(&copy.0, DATA_PARTITION_OFFSET, "OXPCTEST.TXT") {
        let text = r.expect("mtype reads the file the guest wrote");
        assert_eq!(text.trim(), "oxpc-written-42");
    }
}
