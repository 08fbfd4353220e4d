//! QEMU TCG (`qemu-system-i386` from Debian's `qemu-system-x86`): boots the
//! kernel and initramfs with `-kernel`/`-initrd` on a Pentium II (family 6
//! with CMOV, which the Debian 686 kernel needs), COM1 on stdio.
//!
//! Not modelled: KVM (absent here and not the point: this is the binary
//! translation peer).

use std::process::{Command, Stdio};

use anyhow::Result;

use super::{first_line_of, peers, Engine, GuestSession, Session};
use crate::console::Console;
use crate::ctx::{Ctx, CMDLINE, GUEST_MEGS};

const QEMU: &str = "qemu-system-i386";

#[derive(Default)]
pub struct Qemu;

impl Engine for Qemu {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn prepare(&mut self, ctx: &Ctx) -> Result<(), String> {
        peers::apt_install(&["qemu-system-x86"], ctx.install, || peers::on_path(QEMU))
    }

    fn version(&self, _ctx: &Ctx) -> Option<String> {
        // "QEMU emulator version 7.2.x (Debian ...)"
        first_line_of(QEMU, &["--version"]).map(|l| l.replace("QEMU emulator version ", ""))
    }

    fn start(&self, ctx: &Ctx, rep: u32) -> Result<Box<dyn Session>> {
        let mut cmd = Command::new(QEMU);
        cmd.args([
            "-M",
            "pc",
            "-cpu",
            "pentium2",
            "-m",
            &GUEST_MEGS.to_string(),
        ])
        .args([
            "-display",
            "none",
            "-serial",
            "stdio",
            "-monitor",
            "none",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(ctx.vmlinuz())
        .arg("-initrd")
        .arg(ctx.initrd())
        .args(["-append", CMDLINE]);
        let console = Console::spawn(cmd, Stdio::null(), ctx.log_file(self.name(), rep, "serial"))?;
        Ok(Box::new(GuestSession::boot(console, ctx.boot_timeout)?))
    }
}
