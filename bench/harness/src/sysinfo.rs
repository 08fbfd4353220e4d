//! The machine and software a report was measured on: CPU model and core
//! count from `/proc/cpuinfo`, the host kernel, and the guest kernel and
//! busybox versions from the guests' `MANIFEST` (written by `roms/fetch.sh`).
//!
//! Not modelled: CPU frequency scaling or load from other users, which a
//! report cannot see.

use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub host_kernel: String,
    pub guest_kernel: String,
    pub busybox: String,
}

/// The `model name` of the first CPU and the number of `processor` lines.
pub fn parse_cpuinfo(text: &str) -> (String, usize) {
    let model = text
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_string(), |(_, v)| v.trim().to_string());
    let cpus = text.lines().filter(|l| l.starts_with("processor")).count();
    (model, cpus)
}

/// The value of `key: value` in a MANIFEST.
pub fn manifest_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

pub fn probe(cache: &Path) -> Machine {
    let (cpu_model, cpus) =
        parse_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
    let host_kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let manifest = std::fs::read_to_string(cache.join("guests/MANIFEST")).unwrap_or_default();
    Machine {
        cpu_model,
        cpus,
        host_kernel,
        guest_kernel: manifest_value(&manifest, "kernel").unwrap_or_else(|| "unknown".into()),
        busybox: manifest_value(&manifest, "busybox").unwrap_or_else(|| "unknown".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_model_and_count_from_cpuinfo() {
        let text = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n";
        assert_eq!(
            parse_cpuinfo(text),
            ("Intel(R) Xeon(R) Processor".to_string(), 2)
        );
        assert_eq!(parse_cpuinfo(""), ("unknown".to_string(), 0));
    }

    #[test]
    fn reads_manifest_lines() {
        let m = "seabios: 1.16.2-1\nkernel: linux-image-6.1.0-50-686-unsigned 6.1.176-1 (release 6.1.0-50-686)\n";
        assert_eq!(manifest_value(m, "seabios").as_deref(), Some("1.16.2-1"));
        assert!(manifest_value(m, "kernel")
            .unwrap()
            .starts_with("linux-image-6.1.0-50-686"));
        assert_eq!(manifest_value(m, "busybox"), None);
    }
}
