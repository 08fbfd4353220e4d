//! oxpc itself, as two runners: `oxpc run --engine interp` (the reference
//! interpreter) and `--engine dbt` (the translator), booting the same kernel
//! and initramfs as the peers with `--kernel/--initrd/--append`, headless,
//! COM1 on stdio. The binary is `--oxpc PATH`, `$OXPC_BIN`, or
//! `<target>/release/oxpc`, built with `cargo build --release -p machine`
//! when absent.
//!
//! Not modelled: oxpc's `--virtual-time` (the guest runs on host time like
//! the peers).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use super::{first_line_of, Engine, GuestSession, Session};
use crate::console::Console;
use crate::ctx::{Ctx, CMDLINE, GUEST_MEGS};

pub struct OxpcEngine {
    name: &'static str,
    /// `interp` or `dbt`.
    engine: &'static str,
    bin: Option<PathBuf>,
}

impl OxpcEngine {
    pub fn new(name: &'static str, engine: &'static str) -> OxpcEngine {
        OxpcEngine {
            name,
            engine,
            bin: None,
        }
    }
}

/// Where cargo puts release binaries for this workspace.
fn target_dir(ctx: &Ctx) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| ctx.root.join("target"), PathBuf::from)
}

/// Finds the oxpc binary, building it once if needed.
pub fn find_or_build(ctx: &Ctx) -> Result<PathBuf, String> {
    if let Some(p) = ctx
        .oxpc
        .clone()
        .or_else(|| std::env::var_os("OXPC_BIN").map(PathBuf::from))
    {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{} does not exist", p.display()))
        };
    }
    let bin = target_dir(ctx).join("release/oxpc");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!("bench-harness: building oxpc (cargo build --release -p machine)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "machine"])
        .current_dir(&ctx.root)
        .env("CARGO_TARGET_DIR", target_dir(ctx))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() || !bin.is_file() {
        return Err(format!(
            "cargo build --release -p machine failed ({status})"
        ));
    }
    Ok(bin)
}

impl Engine for OxpcEngine {
    fn name(&self) -> &'static str {
        self.name
    }

    fn prepare(&mut self, ctx: &Ctx) -> Result<(), String> {
        let bin = find_or_build(ctx)?;
        let help = Command::new(&bin)
            .args(["run", "--help"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let help = String::from_utf8_lossy(&help.stdout);
        if !help.contains("--kernel") || !help.contains("--engine") {
            return Err(format!(
                "{} has no `run --kernel ... --engine`",
                bin.display()
            ));
        }
        self.bin = Some(bin);
        Ok(())
    }

    fn version(&self, ctx: &Ctx) -> Option<String> {
        let bin = self.bin.clone().or_else(|| {
            let b = target_dir(ctx).join("release/oxpc");
            b.is_file().then_some(b)
        })?;
        first_line_of(bin.to_str()?, &["--version"])
    }

    fn start(&self, ctx: &Ctx, rep: u32) -> Result<Box<dyn Session>> {
        let bin = self.bin.as_ref().context("oxpc not prepared")?;
        let mut cmd = Command::new(bin);
        cmd.arg("run")
            .arg("--kernel")
            .arg(ctx.vmlinuz())
            .arg("--initrd")
            .arg(ctx.initrd())
            .args(["--append", CMDLINE, "--headless", "--engine", self.engine])
            .args(["--mem", &GUEST_MEGS.to_string()]);
        let stderr = ctx
            .log_file(self.name, rep, "stderr")
            .map_or_else(Stdio::null, Stdio::from);
        let console = Console::spawn(cmd, stderr, ctx.log_file(self.name, rep, "serial"))?;
        GuestSession::boot(console, ctx.boot_timeout)
            .map(|s| Box::new(s) as Box<dyn Session>)
            .map_err(|e| {
                // oxpc says why it stopped on stderr.
                let log = ctx
                    .log_dir()
                    .join(format!("{}-rep{rep}-stderr.log", self.name));
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                if last.is_empty() {
                    e
                } else {
                    e.context(format!("oxpc's stderr ends with: {last}"))
                }
            })
    }
}
