//! Debian Linux from the IDE disk through SYSLINUX (no `--kernel`): a copy
//! of roms/fetch.sh's disk.img attached with a snapshot overlay boots to
//! the shell on COM1 (`OXPC-INIT-READY`) and on the VGA console; the guest
//! mounts the FAT data partition (/dev/sda2), writes a file, powers off
//! cleanly, and the image is byte for byte what it was. A PNG of the VGA
//! console is left in the temp dir for a human to look at. Skips with a
//! message when the image or the firmware is missing.

mod common;

use common::*;
use devices::disk::DiskMode;

#[test]
fn linux_disk_boot_through_syslinux_with_snapshot() {
    linux_disk_boot_through_syslinux_with_snapshot_on(TestEngine::Interp);
}

#[test]
fn linux_disk_boot_through_syslinux_with_snapshot_dbt() {
    linux_disk_boot_through_syslinux_with_snapshot_on(TestEngine::Dbt);
}

fn linux_disk_boot_through_syslinux_with_snapshot_on(engine: TestEngine) {
    let (Some(mut cfg), Some(img)) = (pc_config(), guest("disk.img")) else {
        return;
    };
    let copy = TempCopy::of(&img, &format!("linux-disk-snapshot-{engine:?}"));
    let original = image_bytes(&copy.0);
    // As `oxpc run --headless`: SeaBIOS mirrors its screen text on COM1.
    cfg.sercon = true;
    let mut s = session_on(
        engine,
        cfg,
        disks(Some((&copy.0, DiskMode::Snapshot)), None),
    );
    boot_to(&mut s, "linux-disk", "OXPC-INIT-READY", LINUX_BOOT_INSNS);
    let log = s.console.text();
    assert!(log.contains("SYSLINUX"), "booted by SYSLINUX:\n{log}");

    let cmdline = sh(&mut s, "cat /proc/cmdline");
    assert!(cmdline.contains("console=ttyS0"), "{cmdline}");
    assert!(
        cmdline.contains("console=tty0"),
        "the disk's SYSLINUX config: {cmdline}"
    );
    sh(&mut s, "mount -t vfat /dev/sda2 /mnt/data");
    sh(&mut s, "echo snapshot-$((6*7)) > /mnt/data/SNAP.TXT");
    let back = sh(&mut s, "cat /mnt/data/SNAP.TXT; umount /mnt/data");
    assert_eq!(back.trim(), "snapshot-42");

    // The VGA console has its own shell (console=tty0).
    let screen = s.machine.text_screen().unwrap_or_default();
    assert!(screen.contains("OXPC-INIT-READY"), "VGA console:\n{screen}");
    let shot = std::env::temp_dir().join(format!("oxpc-linux-console-{engine:?}.png"));
    let (w, h, px) = s.machine.render();
    machine::screen::write_png(&shot, w, h, &px).unwrap();
    eprintln!("screenshot: {} ({w}x{h})", shot.display());

    s.type_text("poweroff\n");
    if let Err(e) = s.wait_for("OXPC-POWEROFF", CMD_INSNS) {
        panic!("poweroff: {e}");
    }
    let _ = s.wait_for("System halted", CMD_INSNS);
    drop(s);
    assert!(
        image_bytes(&copy.0) == original,
        "the snapshot overlay leaked writes into the image"
    );
}
