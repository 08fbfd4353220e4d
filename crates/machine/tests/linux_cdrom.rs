//! Debian Linux from roms/fetch.sh's ISOLINUX CD image through the ATAPI
//! CD-ROM (secondary master, boot order CD first) to the shell on COM1;
//! the guest mounts /dev/sr0 and the kernel and initrd on it match the
//! host's files. Skips with a message when the images or the firmware
//! are missing.

mod common;

use common::*;
use devices::cmos::BootDevice;

#[test]
fn linux_cdrom_boot_and_mount() {
    linux_cdrom_boot_and_mount_on(TestEngine::Interp);
}

#[test]
fn linux_cdrom_boot_and_mount_dbt() {
    linux_cdrom_boot_and_mount_on(TestEngine::Dbt);
}

fn linux_cdrom_boot_and_mount_on(engine: TestEngine) {
    let (Some(mut cfg), Some(iso), Some(initrd)) =
        (pc_config(), guest("linux.iso"), guest("initrd.gz"))
    else {
        return;
    };
    cfg.boot_order = vec![BootDevice::CdRom, BootDevice::HardDisk];
    // As `oxpc run --headless`: SeaBIOS mirrors its screen text on COM1.
    cfg.sercon = true;
    let mut s = session_on(engine, cfg, disks(None, Some(&iso)));
    boot_to(&mut s, "linux-cdrom", "OXPC-INIT-READY", LINUX_BOOT_INSNS);
    let log = s.console.text();
    assert!(log.contains("ISOLINUX"), "booted by ISOLINUX:\n{log}");

    sh(&mut s, "mount -t iso9660 /dev/sr0 /mnt/cdrom");
    let ls = sh(&mut s, "ls /mnt/cdrom");
    for f in ["vmlinuz", "initrd.gz", "isolinux"] {
        assert!(ls.split_whitespace().any(|w| w == f), "{f} missing: {ls}");
    }
    let size = sh(&mut s, "wc -c < /mnt/cdrom/initrd.gz");
    let host = std::fs::metadata(&initrd).unwrap().len();
    assert_eq!(size.trim(), host.to_string(), "initrd.gz size on the CD");
    let sum = sh(&mut s, "md5sum /mnt/cdrom/initrd.gz");
    let guest_sum = sum.split_whitespace().next().unwrap_or("").to_string();
    if let Ok(o) = std::process::Command::new("md5sum").arg(&initrd).output() {
        let host_sum = String::from_utf8_lossy(&o.stdout);
        if let Some(h) = host_sum.split_whitespace().next() {
            assert_eq!(guest_sum, h, "initrd.gz read through ATAPI");
        }
    }
    sh(&mut s, "umount /mnt/cdrom");
}
