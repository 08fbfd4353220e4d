//! Bochs 2.7 (Debian's `bochs` + `bochsbios` + `vgabios`), the interpreter
//! peer. Bochs cannot load a kernel itself, so it boots an ISOLINUX CD
//! (built here with `xorriso` from the same bzImage and initramfs, with the
//! same kernel command line as the other emulators) through its own BIOS.
//! Headless through the RFB display with no wait for a viewer; COM1 is a TCP
//! socket that Bochs serves and the harness connects to (Bochs' `file` mode
//! cannot take input). Debian's build has the debugger, so `-rc` feeds it `c`.
//!
//! Not modelled: Bochs' real-time clock sync (`clock: sync=none`: guest time
//! follows `ips`, the host clock still times the workloads).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};

use super::{peers, Engine, GuestSession, Session};
use crate::console::Console;
use crate::ctx::{Ctx, CMDLINE, GUEST_MEGS};

const BIOS: &str = "/usr/share/bochs/BIOS-bochs-latest";
const VGABIOS: &str = "/usr/share/vgabios/vgabios.bin";
const ISOLINUX_BIN: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const LDLINUX: &str = "/usr/lib/syslinux/modules/bios/ldlinux.c32";

#[derive(Default)]
pub struct Bochs {
    iso: Option<PathBuf>,
}

/// The ISOLINUX configuration that boots the kernel with `cmdline`.
fn isolinux_cfg(cmdline: &str) -> String {
    format!(
        "SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz {cmdline}\n"
    )
}

/// The Bochs configuration for one run.
fn bochsrc(iso: &Path, port: u16, log: &Path) -> String {
    format!(
        "megs: {GUEST_MEGS}\n\
         cpu: model=p3_katmai, ips=100000000\n\
         clock: sync=none\n\
         romimage: file={BIOS}\n\
         vgaromimage: file={VGABIOS}\n\
         display_library: rfb, options=\"timeout=0\"\n\
         ata0-master: type=cdrom, path={}, status=inserted\n\
         boot: cdrom\n\
         com1: enabled=1, mode=socket-server, dev=127.0.0.1:{port}\n\
         sound: driver=dummy\n\
         speaker: enabled=0\n\
         mouse: enabled=0\n\
         panic: action=report\n\
         error: action=report\n\
         log: {}\n",
        iso.display(),
        log.display()
    )
}

/// Builds (or reuses) the CD in `dir` from the kernel and initramfs.
fn build_iso(ctx: &Ctx, dir: &Path) -> Result<PathBuf, String> {
    let iso = dir.join("bench.iso");
    let cfg = isolinux_cfg(CMDLINE);
    let stamp = dir.join("bench.iso.cfg");
    let newer = |src: PathBuf| -> bool {
        let m = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
        match (m(&src), m(&iso)) {
            (Some(s), Some(i)) => s > i,
            _ => true,
        }
    };
    let fresh = iso.exists()
        && fs::read_to_string(&stamp).ok().as_deref() == Some(cfg.as_str())
        && !newer(ctx.vmlinuz())
        && !newer(ctx.initrd());
    if fresh {
        return Ok(iso);
    }
    let tree = dir.join("iso");
    let _ = fs::remove_dir_all(&tree);
    let err = |e: std::io::Error| format!("building the Bochs CD: {e}");
    fs::create_dir_all(tree.join("isolinux")).map_err(err)?;
    fs::copy(ISOLINUX_BIN, tree.join("isolinux/isolinux.bin")).map_err(err)?;
    fs::copy(LDLINUX, tree.join("isolinux/ldlinux.c32")).map_err(err)?;
    fs::write(tree.join("isolinux/isolinux.cfg"), &cfg).map_err(err)?;
    fs::copy(ctx.vmlinuz(), tree.join("vmlinuz")).map_err(err)?;
    fs::copy(ctx.initrd(), tree.join("initrd.gz")).map_err(err)?;
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-V", "OXPC", "-R", "-J", "-o"])
        .arg(&iso)
        .args(["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .arg(&tree)
        .output()
        .map_err(|e| format!("cannot run xorriso: {e}"))?;
    let _ = fs::remove_dir_all(&tree);
    if !out.status.success() {
        return Err(format!(
            "xorriso failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    fs::write(&stamp, &cfg).map_err(err)?;
    Ok(iso)
}

/// A free local TCP port (there is a small window before Bochs binds it).
fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

impl Engine for Bochs {
    fn name(&self) -> &'static str {
        "bochs"
    }

    fn prepare(&mut self, ctx: &Ctx) -> Result<(), String> {
        peers::apt_install(&["bochs", "bochsbios", "vgabios"], ctx.install, || {
            peers::on_path("bochs") && Path::new(BIOS).exists() && Path::new(VGABIOS).exists()
        })?;
        peers::apt_install(
            &["xorriso", "isolinux", "syslinux-common"],
            ctx.install,
            || {
                peers::on_path("xorriso")
                    && Path::new(ISOLINUX_BIN).exists()
                    && Path::new(LDLINUX).exists()
            },
        )?;
        let dir = ctx.work.join("bochs");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.iso = Some(build_iso(ctx, &dir)?);
        Ok(())
    }

    fn version(&self, _ctx: &Ctx) -> Option<String> {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", "bochs"])
            .output()
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!v.is_empty()).then_some(v)
    }

    fn start(&self, ctx: &Ctx, rep: u32) -> Result<Box<dyn Session>> {
        let iso = self
            .iso
            .as_ref()
            .ok_or_else(|| anyhow!("bochs not prepared"))?;
        let dir = ctx.work.join("bochs");
        let port = free_port()?;
        let rc = dir.join("bochsrc");
        let log = ctx.log_dir().join(format!("bochs-rep{rep}-bochs.log"));
        fs::create_dir_all(ctx.log_dir())?;
        fs::write(&rc, bochsrc(iso, port, &log)).context("writing bochsrc")?;
        let cont = dir.join("continue.rc");
        fs::write(&cont, "c\n")?;
        let out = ctx
            .log_file(self.name(), rep, "stdout")
            .map_or_else(Stdio::null, Stdio::from);
        let started = Instant::now();
        let child = Command::new("bochs")
            .arg("-q")
            .arg("-f")
            .arg(&rc)
            .arg("-rc")
            .arg(&cont)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start bochs")?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let console = Console::tcp(
            child,
            addr,
            started,
            std::time::Duration::from_secs(30),
            ctx.log_file(self.name(), rep, "serial"),
        )?;
        Ok(Box::new(GuestSession::boot(console, ctx.boot_timeout)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cd_boots_with_the_shared_command_line() {
        let cfg = isolinux_cfg(CMDLINE);
        assert!(cfg.contains(&format!("APPEND initrd=/initrd.gz {CMDLINE}\n")));
        assert!(cfg.contains("PROMPT 0"));
    }

    #[test]
    fn bochsrc_is_headless_with_com1_on_a_socket() {
        let rc = bochsrc(Path::new("/x/bench.iso"), 4242, Path::new("/l"));
        assert!(rc.contains("mode=socket-server, dev=127.0.0.1:4242"));
        assert!(rc.contains("display_library: rfb, options=\"timeout=0\""));
        assert!(rc.contains("path=/x/bench.iso"));
        assert!(rc.contains(&format!("megs: {GUEST_MEGS}")));
    }
}
