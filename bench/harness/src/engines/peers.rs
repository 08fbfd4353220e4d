//! Installing peer emulators that are missing: Debian packages with
//! `apt-get install -y` (after `apt-get update` if the first try fails), npm
//! packages with `npm install` into a directory of the harness' cache.
//! Each failure becomes the reason the engine is skipped.
//!
//! Not done: any download outside the package registries.

use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `prog` is an executable on `$PATH`.
pub fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file()))
}

fn quiet_status(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(format!(
        "{:?} failed ({}): {last}",
        cmd.get_program(),
        out.status
    ))
}

/// Installs Debian packages unless `check` already passes.
pub fn apt_install(pkgs: &[&str], allowed: bool, check: impl Fn() -> bool) -> Result<(), String> {
    if check() {
        return Ok(());
    }
    if !allowed {
        return Err(format!(
            "not installed ({}) and --no-install given",
            pkgs.join(" ")
        ));
    }
    eprintln!("bench-harness: apt-get install -y {}", pkgs.join(" "));
    let install = || {
        quiet_status(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(pkgs)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        quiet_status(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    if check() {
        Ok(())
    } else {
        Err(format!("still missing after installing {}", pkgs.join(" ")))
    }
}

/// Installs npm package `pkg` into `dir` (its `node_modules/`) unless
/// `dir/node_modules/<pkg>/package.json` exists.
pub fn npm_install(dir: &Path, pkg: &str, allowed: bool) -> Result<(), String> {
    let manifest = dir.join("node_modules").join(pkg).join("package.json");
    if manifest.exists() {
        return Ok(());
    }
    if !allowed {
        return Err(format!(
            "npm package {pkg} not in {} and --no-install given",
            dir.display()
        ));
    }
    if !on_path("npm") {
        return Err("npm is not installed".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    eprintln!("bench-harness: npm install {pkg} in {}", dir.display());
    quiet_status(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .arg(pkg),
    )?;
    if manifest.exists() {
        Ok(())
    } else {
        Err(format!("npm install {pkg} left no {}", manifest.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path() {
        assert!(on_path("sh"));
        assert!(!on_path("no-such-program-oxpc"));
    }

    #[test]
    fn installed_packages_are_not_reinstalled_and_refusal_is_a_reason() {
        assert!(apt_install(&["x"], false, || true).is_ok());
        let err = apt_install(&["nothing-here"], false, || false).unwrap_err();
        assert!(err.contains("--no-install"), "{err}");
        let err = npm_install(Path::new("/nonexistent"), "v86", false).unwrap_err();
        assert!(err.contains("--no-install"), "{err}");
    }
}
