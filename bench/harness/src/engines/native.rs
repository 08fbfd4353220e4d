//! Native runs: the i386 static workload binaries of `roms/fetch.sh`
//! executed directly by the host's x86-64 kernel, timed between their markers
//! on a pipe like every emulator's serial console.
//!
//! Not modelled: pinning to a core or any other isolation from the noise of a
//! shared machine (medians of interleaved repetitions deal with that).

use std::process::{Command, Stdio};

use anyhow::Result;

use super::{time_markers, Engine, Session, Timed};
use crate::console::Console;
use crate::ctx::Ctx;

pub struct Native;

impl Engine for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn prepare(&mut self, ctx: &Ctx) -> Result<(), String> {
        let bin = ctx.native_bin("sort");
        let out = Command::new(&bin)
            .arg("1")
            .output()
            .map_err(|e| format!("cannot run {} ({e}); run roms/fetch.sh", bin.display()))?;
        if !String::from_utf8_lossy(&out.stdout).contains("OXPC-BENCH-END") {
            return Err(format!("{} printed no END marker", bin.display()));
        }
        Ok(())
    }

    fn version(&self, _ctx: &Ctx) -> Option<String> {
        None
    }

    fn start(&self, _ctx: &Ctx, _rep: u32) -> Result<Box<dyn Session>> {
        Ok(Box::new(NativeSession))
    }
}

struct NativeSession;

impl Session for NativeSession {
    fn boot_secs(&self) -> Option<f64> {
        None
    }

    fn run(&mut self, ctx: &Ctx, workload: &str) -> Result<Timed> {
        let mut cmd = Command::new(ctx.native_bin(workload));
        cmd.arg(&ctx.size);
        let mut console = Console::spawn(cmd, Stdio::null(), None)?;
        time_markers(&mut console, workload, ctx.workload_timeout)
    }
}
