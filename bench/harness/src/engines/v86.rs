//! v86 (npm package `v86`, an interpreter with a WebAssembly JIT) under
//! Node.js: `assets/v86-serial.mjs` boots the bzImage and initramfs with
//! SeaBIOS and puts COM1 on its stdio. v86 is installed into the harness'
//! cache with npm when missing.
//!
//! Not modelled: the browser (v86's usual home), which may be faster or slower
//! than Node's WebAssembly engine.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use super::{first_line_of, peers, Engine, GuestSession, Session};
use crate::console::Console;
use crate::ctx::{Ctx, CMDLINE, GUEST_MEGS};

/// The driver script, written into the cache before each run.
const DRIVER: &str = include_str!("../../assets/v86-serial.mjs");

#[derive(Default)]
pub struct V86 {
    /// `<cache>/bench-harness/v86`, holding `node_modules/v86`.
    dir: Option<PathBuf>,
}

impl V86 {
    fn package(&self) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join("node_modules/v86"))
    }
}

/// Where the harness installs v86.
fn install_dir(ctx: &Ctx) -> PathBuf {
    ctx.work.join("v86")
}

impl Engine for V86 {
    fn name(&self) -> &'static str {
        "v86"
    }

    fn prepare(&mut self, ctx: &Ctx) -> Result<(), String> {
        peers::apt_install(&["nodejs"], ctx.install, || peers::on_path("node"))?;
        let major = first_line_of("node", &["--version"])
            .and_then(|v| {
                v.trim_start_matches('v')
                    .split('.')
                    .next()?
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0);
        if major < 16 {
            return Err(format!("node {major} is too old for v86 (needs 16+)"));
        }
        let dir = install_dir(ctx);
        peers::npm_install(&dir, "v86", ctx.install)?;
        self.dir = Some(dir);
        Ok(())
    }

    fn version(&self, ctx: &Ctx) -> Option<String> {
        let package = install_dir(ctx).join("node_modules/v86/package.json");
        let text = std::fs::read_to_string(package).ok()?;
        let at = text.find("\"version\"")?;
        let v = text[at..].split('"').nth(3)?;
        let node = first_line_of("node", &["--version"]).unwrap_or_default();
        Some(format!("{v} (Node {node})"))
    }

    fn start(&self, ctx: &Ctx, rep: u32) -> Result<Box<dyn Session>> {
        let package = self.package().context("v86 not prepared")?;
        let driver = ctx.work.join("v86-serial.mjs");
        std::fs::write(&driver, DRIVER).with_context(|| driver.display().to_string())?;
        let mut cmd = Command::new("node");
        cmd.arg(&driver)
            .arg(&package)
            .arg(ctx.firmware("bios.bin"))
            .arg(ctx.firmware("vgabios-stdvga.bin"))
            .arg(ctx.vmlinuz())
            .arg(ctx.initrd())
            .arg(CMDLINE)
            .arg(GUEST_MEGS.to_string());
        let stderr = ctx
            .log_file(self.name(), rep, "stderr")
            .map_or_else(Stdio::null, Stdio::from);
        let console = Console::spawn(cmd, stderr, ctx.log_file(self.name(), rep, "serial"))?;
        Ok(Box::new(GuestSession::boot(console, ctx.boot_timeout)?))
    }
}
