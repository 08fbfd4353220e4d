//! Issue 6's bad input through the `oxpc` command: a truncated, empty or
//! oversized image, a directory given as an image, an image of an unknown
//! floppy size, a kernel that is not a bzImage (or is cut short). Each gets
//! one line on stderr and a non-zero exit, and the file is left exactly as
//! it was (bytes and modification time). Uses stand-in firmware files, so
//! it needs nothing from roms/fetch.sh.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

struct Dir(PathBuf);

impl Dir {
    /// A directory of its own for each test (they run in parallel).
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("oxpc-bad-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A 64 KiB "BIOS" and a minimal VGA option ROM, so no firmware is needed.
fn firmware(d: &Dir) -> (PathBuf, PathBuf) {
    let mut bios = vec![0xF4u8; 64 << 10];
    bios[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
    let mut vga = vec![0u8; 512];
    vga[0] = 0x55;
    vga[1] = 0xAA;
    vga[2] = 1;
    (d.file("bios.bin", &bios), d.file("vga.bin", &vga))
}

fn stamp(p: &Path) -> (Option<Vec<u8>>, SystemTime) {
    let md = std::fs::metadata(p).unwrap();
    let bytes = md.is_file().then(|| std::fs::read(p).unwrap());
    (bytes, md.modified().unwrap())
}

/// Runs `oxpc run --headless` with `opt file` and checks the failure.
#[track_caller]
fn refused(d: &Dir, opt: &str, file: &Path, needle: &str) {
    let (bios, vga) = firmware(d);
    let before = stamp(file);
    let out = Command::new(env!("CARGO_BIN_EXE_oxpc"))
        .args(["run", "--headless", "--max-seconds", "5"])
        .arg("--bios")
        .arg(&bios)
        .arg("--vgabios")
        .arg(&vga)
        .arg(opt)
        .arg(file)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("oxpc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{opt} {file:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("oxpc: "), "{err}");
    assert!(
        err.contains(needle),
        "{opt} {file:?}: {err:?} lacks {needle:?}"
    );
    assert!(out.stdout.is_empty(), "the guest never ran");
    assert!(before == stamp(file), "{file:?} was touched");
}

#[test]
fn bad_disk_images_are_refused_untouched() {
    let d = Dir::new("disks");
    let empty = d.file("empty.img", &[]);
    refused(&d, "--hda", &empty, "the image is empty");
    refused(&d, "--fda", &empty, "the image is empty");
    refused(&d, "--cdrom", &empty, "the image is empty");
    refused(&d, "--hda", &d.0, "is a directory");
    refused(&d, "--fda", &d.0, "is a directory");
    let partial = d.file("partial.img", &vec![0xE5; 10 * 512 + 100]);
    refused(&d, "--hda", &partial, "partial trailing sector");
    let cd = d.file("partial.iso", &vec![0; 3 * 2048 + 512]);
    refused(&d, "--cdrom", &cd, "partial trailing sector");
}

#[test]
fn bad_floppy_images_are_refused_untouched() {
    let d = Dir::new("floppies");
    let truncated = d.file("truncated.img", &vec![0xF6; 1_474_560 - 9 * 512]);
    refused(&d, "--fda", &truncated, "truncated image?");
    let oversized = d.file("big.img", &vec![0xF6; 2_949_120 + 512]);
    refused(&d, "--fda", &oversized, "larger than the largest floppy");
    let odd = d.file("odd.img", &vec![0xF6; 500 * 1024]);
    refused(&d, "--fda", &odd, "not a floppy size");
}

#[test]
fn bad_kernels_are_refused_untouched() {
    let d = Dir::new("kernels");
    let text = d.file("notes.txt", b"this is not a kernel\n");
    refused(&d, "--kernel", &text, "not a bzImage");
    let empty = d.file("empty", &[]);
    refused(&d, "--kernel", &empty, "not a bzImage");
    // A real-looking header whose protected-mode part is cut short.
    let mut k = vec![0u8; 5 * 512 + 4096];
    k[0x1F1] = 4;
    k[0x1F4..0x1F8].copy_from_slice(&(0x10_0000u32 / 16).to_le_bytes()); // 1 MiB
    k[0x1FE..0x200].copy_from_slice(&0xAA55u16.to_le_bytes());
    k[0x202..0x206].copy_from_slice(b"HdrS");
    k[0x206..0x208].copy_from_slice(&0x020Au16.to_le_bytes());
    k[0x211] = 1;
    let cut = d.file("cut-bzImage", &k);
    refused(&d, "--kernel", &cut, "truncated bzImage");
    refused(&d, "--kernel", &d.0, "is a directory");
}
