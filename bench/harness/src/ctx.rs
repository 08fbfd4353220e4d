//! What every runner needs to know about this run: where the guest kernel,
//! initramfs and native workload binaries are (made by `roms/fetch.sh` into
//! `${OXPC_CACHE:-$HOME/.cache/oxpc}`), the kernel command line shared by all
//! emulators, the workload size, time limits, and where logs go.
//!
//! Not done here: building the guests (that is `roms/fetch.sh`, which this
//! only calls when a file is missing).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The command line every emulator boots the kernel with (Bochs through the
/// ISOLINUX config of its CD, the others through `-kernel`/`-append`).
pub const CMDLINE: &str = "console=ttyS0 noapic nolapic quiet";

/// Guest RAM for every emulator, MiB (v86 needs at least 128).
pub const GUEST_MEGS: u32 = 128;

pub struct Ctx {
    /// The workspace root (holds `roms/`, `bench/`).
    pub root: PathBuf,
    /// `$OXPC_CACHE`.
    pub cache: PathBuf,
    /// The harness' own scratch space in the cache: peers, ISO, logs.
    pub work: PathBuf,
    /// Workload size argument: `quick`, `full` or a unit count.
    pub size: String,
    pub boot_timeout: Duration,
    pub workload_timeout: Duration,
    /// Whether missing peers may be installed with apt-get / npm.
    pub install: bool,
    /// Path of the oxpc binary, if given.
    pub oxpc: Option<PathBuf>,
}

impl Ctx {
    pub fn vmlinuz(&self) -> PathBuf {
        self.cache.join("guests/vmlinuz")
    }
    pub fn initrd(&self) -> PathBuf {
        self.cache.join("guests/initrd.gz")
    }
    pub fn firmware(&self, name: &str) -> PathBuf {
        self.cache.join("firmware").join(name)
    }
    /// The native build of workload `w`.
    pub fn native_bin(&self, w: &str) -> PathBuf {
        self.cache.join("bench").join(format!("oxpc-{w}"))
    }
    pub fn log_dir(&self) -> PathBuf {
        self.work.join("logs")
    }

    /// A fresh log file for one session.
    pub fn log_file(&self, engine: &str, rep: u32, what: &str) -> Option<File> {
        let dir = self.log_dir();
        fs::create_dir_all(&dir).ok()?;
        File::create(dir.join(format!("{engine}-rep{rep}-{what}.log"))).ok()
    }

    /// Makes sure the kernel, initramfs and native workloads exist, running
    /// `roms/fetch.sh` when one is missing.
    pub fn ensure_guests(&self, workloads: &[String]) -> Result<()> {
        let missing = |c: &Ctx| {
            let mut files = vec![c.vmlinuz(), c.initrd(), c.firmware("bios.bin")];
            files.extend(workloads.iter().map(|w| c.native_bin(w)));
            files
                .into_iter()
                .filter(|f| !f.exists())
                .collect::<Vec<_>>()
        };
        let before = missing(self);
        if before.is_empty() {
            return Ok(());
        }
        eprintln!(
            "bench-harness: missing {}; running roms/fetch.sh",
            before[0].display()
        );
        let fetch = self.root.join("roms/fetch.sh");
        let status = Command::new("bash")
            .arg(&fetch)
            .env("OXPC_CACHE", &self.cache)
            .status()
            .with_context(|| format!("cannot run {}", fetch.display()))?;
        let after = missing(self);
        if !status.success() || !after.is_empty() {
            bail!(
                "roms/fetch.sh ({status}) did not provide {}",
                after
                    .first()
                    .map_or("everything".into(), |p| p.display().to_string())
            );
        }
        Ok(())
    }
}

/// `$OXPC_CACHE`, or `$HOME/.cache/oxpc`.
pub fn default_cache() -> PathBuf {
    if let Some(c) = std::env::var_os("OXPC_CACHE") {
        return PathBuf::from(c);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/oxpc")
}

/// The workspace root: this crate lives in `<root>/bench/harness`.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_roms_scripts() {
        assert!(workspace_root().join("roms/fetch.sh").exists());
        assert!(workspace_root().join("bench/workloads/build.sh").exists());
    }

    #[test]
    fn paths_are_under_the_cache() {
        let ctx = Ctx {
            root: workspace_root(),
            cache: PathBuf::from("/c"),
            work: PathBuf::from("/c/bench-harness"),
            size: "quick".into(),
            boot_timeout: Duration::from_secs(1),
            workload_timeout: Duration::from_secs(1),
            install: false,
            oxpc: None,
        };
        assert_eq!(ctx.native_bin("sort"), PathBuf::from("/c/bench/oxpc-sort"));
        assert_eq!(ctx.vmlinuz(), PathBuf::from("/c/guests/vmlinuz"));
        assert_eq!(ctx.log_dir(), PathBuf::from("/c/bench-harness/logs"));
    }
}
