//! What a machine is built from: RAM size, firmware images, display, clock
//! mode, boot order, and where the default firmware lives.
//!
//! Plain data with validation; building the machine is `board.rs`'s job.
//! Not modelled here: disks (the floppy and IDE controllers are not wired
//! yet), SMP (one CPU).

use std::path::{Path, PathBuf};

use devices::cmos::BootDevice;

/// Smallest and largest guest RAM the machine accepts, in MiB.
pub const MIN_RAM_MIB: u32 = 2;
pub const MAX_RAM_MIB: u32 = 3072;

/// How machine time advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// Time is `icount * ns_per_insn` plus the time skipped while halted:
    /// deterministic, used by tests.
    Virtual { ns_per_insn: u64 },
    /// Time is the host's monotonic clock since machine start.
    Host,
}

/// Default virtual time per instruction: a 100 MIPS machine.
pub const DEFAULT_NS_PER_INSN: u64 = 10;

/// Which VGA the machine has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VgaKind {
    /// QEMU's stdvga (1234:1111) at PCI 00:02.0 with the Bochs VBE interface.
    Pci,
    /// The same VGA without a PCI function (for `vgabios-isavga.bin`).
    Isa,
}

/// Errors in a configuration or its firmware files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("RAM size {0} MiB not supported (use {MIN_RAM_MIB}..={MAX_RAM_MIB} MiB)")]
    BadRam(u32),
    #[error("cannot parse memory size {0:?} (examples: 64, 64M, 1G)")]
    BadRamSpec(String),
    #[error("cannot read {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("BIOS image {path} is {len} bytes; expected 64, 128 or 256 KiB")]
    BadBiosSize { path: PathBuf, len: usize },
    #[error("VGA BIOS {path} is {len} bytes; expected an option ROM (0x55AA, at most 128 KiB)")]
    BadVgaBios { path: PathBuf, len: usize },
    #[error("firmware {name} not found in {dir}: run roms/fetch.sh (or pass --bios/--vgabios)")]
    MissingFirmware { name: &'static str, dir: PathBuf },
}

/// A kernel to boot directly (`--kernel`).
#[derive(Clone, Debug)]
pub struct LinuxBoot {
    /// For messages: the kernel's file name.
    pub name: String,
    pub kernel: Vec<u8>,
    pub initrd: Option<Vec<u8>>,
    pub cmdline: String,
}

/// Everything needed to build a machine.
#[derive(Clone, Debug)]
pub struct MachineConfig {
    pub ram_mib: u32,
    /// The raw system BIOS image (64, 128 or 256 KiB).
    pub bios: Vec<u8>,
    /// The VGA BIOS option ROM, if any.
    pub vgabios: Option<Vec<u8>>,
    pub vga: VgaKind,
    /// Give SeaBIOS `etc/sercon-port` = COM1 so it mirrors its screen text
    /// there (headless mode).
    pub sercon: bool,
    pub clock: ClockMode,
    pub boot_order: Vec<BootDevice>,
    /// Unix time at machine start for the RTC (fixed in tests).
    pub wall_clock_base: i64,
    /// Boot this kernel instead of a disk.
    pub linux: Option<LinuxBoot>,
}

impl MachineConfig {
    /// A configuration with the given firmware and defaults elsewhere:
    /// 64 MiB, PCI VGA, virtual time, boot order floppy, disk, CD.
    pub fn new(bios: Vec<u8>, vgabios: Option<Vec<u8>>) -> MachineConfig {
        MachineConfig {
            ram_mib: 64,
            bios,
            vgabios,
            vga: VgaKind::Pci,
            sercon: false,
            clock: ClockMode::Virtual {
                ns_per_insn: DEFAULT_NS_PER_INSN,
            },
            boot_order: vec![BootDevice::Floppy, BootDevice::HardDisk, BootDevice::CdRom],
            wall_clock_base: 1_700_000_000,
            linux: None,
        }
    }

    pub fn ram_bytes(&self) -> usize {
        self.ram_mib as usize * 1024 * 1024
    }

    /// Checks sizes; file-level checks are done by [`load_bios`] and
    /// [`load_vgabios`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_RAM_MIB..=MAX_RAM_MIB).contains(&self.ram_mib) {
            return Err(ConfigError::BadRam(self.ram_mib));
        }
        Ok(())
    }
}

/// Parses "64", "64M", "64MiB", "1G" into MiB.
pub fn parse_mem_mib(s: &str) -> Result<u32, ConfigError> {
    let bad = || ConfigError::BadRamSpec(s.to_string());
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (num, mul) = if let Some(n) = lower.strip_suffix("gib").or(lower.strip_suffix('g')) {
        (n.to_string(), 1024)
    } else if let Some(n) = lower.strip_suffix("mib").or(lower.strip_suffix('m')) {
        (n.to_string(), 1)
    } else {
        (lower.clone(), 1)
    };
    let n: u32 = num.trim().parse().map_err(|_| bad())?;
    let mib = n.checked_mul(mul).ok_or_else(bad)?;
    if !(MIN_RAM_MIB..=MAX_RAM_MIB).contains(&mib) {
        return Err(ConfigError::BadRam(mib));
    }
    Ok(mib)
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|err| ConfigError::Read {
        path: path.to_path_buf(),
        err,
    })
}

/// Reads a system BIOS image and checks its size.
pub fn load_bios(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let data = read(path)?;
    if ![64 << 10, 128 << 10, 256 << 10].contains(&data.len()) {
        return Err(ConfigError::BadBiosSize {
            path: path.to_path_buf(),
            len: data.len(),
        });
    }
    Ok(data)
}

/// Reads a VGA BIOS option ROM and checks its signature and size.
pub fn load_vgabios(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let data = read(path)?;
    if data.len() < 512 || data.len() > 128 << 10 || data[0] != 0x55 || data[1] != 0xAA {
        return Err(ConfigError::BadVgaBios {
            path: path.to_path_buf(),
            len: data.len(),
        });
    }
    Ok(data)
}

/// Where `roms/fetch.sh` puts the firmware: `$OXPC_CACHE/firmware` or
/// `~/.cache/oxpc/firmware`.
pub fn firmware_dir() -> PathBuf {
    let cache = std::env::var_os("OXPC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            home.join(".cache/oxpc")
        });
    cache.join("firmware")
}

/// The default firmware file `name` (e.g. "bios.bin") or an error telling
/// the user to run the fetch script.
pub fn default_firmware(name: &'static str) -> Result<PathBuf, ConfigError> {
    let dir = firmware_dir();
    let p = dir.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(ConfigError::MissingFirmware { name, dir })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_specs() {
        assert_eq!(parse_mem_mib("64").unwrap(), 64);
        assert_eq!(parse_mem_mib("128M").unwrap(), 128);
        assert_eq!(parse_mem_mib("1G").unwrap(), 1024);
        assert_eq!(parse_mem_mib("2GiB").unwrap(), 2048);
        assert!(parse_mem_mib("lots").is_err());
        assert!(parse_mem_mib("1").is_err());
        assert!(parse_mem_mib("4G").is_err());
    }

    #[test]
    fn bios_size_checked() {
        let dir = std::env::temp_dir().join(format!("oxpc-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.bin");
        std::fs::write(&bad, vec![0u8; 1000]).unwrap();
        let e = load_bios(&bad).unwrap_err().to_string();
        assert!(e.contains("expected 64, 128 or 256 KiB"), "{e}");
        let good = dir.join("good.bin");
        std::fs::write(&good, vec![0u8; 128 << 10]).unwrap();
        assert_eq!(load_bios(&good).unwrap().len(), 128 << 10);
        assert!(load_vgabios(&good).is_err());
        assert!(load_bios(&dir.join("missing.bin"))
            .unwrap_err()
            .to_string()
            .contains("cannot read"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn config_validation() {
        let mut c = MachineConfig::new(vec![0; 65536], None);
        assert!(c.validate().is_ok());
        c.ram_mib = 1;
        assert!(c.validate().is_err());
    }
}
