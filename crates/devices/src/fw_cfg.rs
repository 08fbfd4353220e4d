//! QEMU's firmware configuration device, I/O-port interface: a 16-bit
//! selector at 0x510 and an 8-bit data port at 0x511 that streams the
//! selected item. SeaBIOS reads it once it knows it runs on QEMU.
//!
//! Provides the signature "QEMU" (key 0), the interface ID (key 1: no DMA),
//! RAM size (3), "no graphics" (4, makes SeaBIOS mirror text to COM1),
//! CPU counts (5, 0xF), the boot menu flag (0xE), the file directory (0x19,
//! big-endian entries of 64 bytes) and named files from 0x20 on, added by the
//! machine: `etc/e820`, `bootorder`, `etc/sercon-port`, `vgaroms/*` have
//! helpers. Reads past an item's end, and of absent items, return 0. Not
//! modelled: the DMA interface (0x514), guest writes to items, the legacy
//! ACPI/SMBIOS/NUMA blobs (they read as empty).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::bus::PortIo;

pub const FW_CFG_PORT_SEL: u16 = 0x510;
pub const FW_CFG_PORT_DATA: u16 = 0x511;

pub const KEY_SIGNATURE: u16 = 0x00;
pub const KEY_ID: u16 = 0x01;
pub const KEY_RAM_SIZE: u16 = 0x03;
pub const KEY_NOGRAPHIC: u16 = 0x04;
pub const KEY_NB_CPUS: u16 = 0x05;
pub const KEY_BOOT_MENU: u16 = 0x0E;
pub const KEY_MAX_CPUS: u16 = 0x0F;
pub const KEY_FILE_DIR: u16 = 0x19;
pub const KEY_FILE_FIRST: u16 = 0x20;
/// Room for this many files (QEMU's default is 32; we allow more).
pub const MAX_FILES: usize = 0x1000;

/// E820 memory types.
pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FwCfgError {
    #[error("fw_cfg file name {0:?} is empty or longer than 55 bytes")]
    BadName(String),
    #[error("fw_cfg file {0:?} already exists")]
    Duplicate(String),
    #[error("fw_cfg file directory is full")]
    Full,
}

/// Items and the read cursor.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub items: BTreeMap<u16, Vec<u8>>,
    /// File names in key order (key = KEY_FILE_FIRST + index).
    pub files: Vec<String>,
    pub selector: u16,
    pub offset: usize,
}

#[derive(Default)]
pub struct FwCfg {
    pub state: State,
}

impl FwCfg {
    /// A device with the fixed items for `ram_bytes` of RAM and `cpus` CPUs.
    pub fn new(ram_bytes: u64, cpus: u16) -> Self {
        let mut f = FwCfg::default();
        f.set_item(KEY_SIGNATURE, b"QEMU".to_vec());
        f.set_item(KEY_ID, 1u32.to_le_bytes().to_vec());
        f.set_item(KEY_RAM_SIZE, ram_bytes.to_le_bytes().to_vec());
        f.set_item(KEY_NOGRAPHIC, 0u16.to_le_bytes().to_vec());
        f.set_item(KEY_NB_CPUS, cpus.to_le_bytes().to_vec());
        f.set_item(KEY_MAX_CPUS, cpus.to_le_bytes().to_vec());
        f.set_item(KEY_BOOT_MENU, 0u16.to_le_bytes().to_vec());
        f.rebuild_dir();
        f
    }

    /// Sets a numbered item (replacing any previous contents).
    pub fn set_item(&mut self, key: u16, data: Vec<u8>) {
        self.state.items.insert(key, data);
    }

    /// Adds a named file to the directory.
    pub fn add_file(&mut self, name: &str, data: Vec<u8>) -> Result<(), FwCfgError> {
        if name.is_empty() || name.len() > 55 {
            return Err(FwCfgError::BadName(name.to_string()));
        }
        if self.state.files.iter().any(|f| f == name) {
            return Err(FwCfgError::Duplicate(name.to_string()));
        }
        if self.state.files.len() >= MAX_FILES {
            return Err(FwCfgError::Full);
        }
        let key = KEY_FILE_FIRST + self.state.files.len() as u16;
        self.state.files.push(name.to_string());
        self.state.items.insert(key, data);
        self.rebuild_dir();
        Ok(())
    }

    /// "No graphics": SeaBIOS then mirrors its screen to COM1 by itself.
    pub fn set_nographic(&mut self, on: bool) {
        self.set_item(KEY_NOGRAPHIC, u16::from(on).to_le_bytes().to_vec());
    }

    /// `etc/sercon-port`: SeaBIOS's serial console on this I/O port.
    pub fn set_sercon_port(&mut self, port: u16) -> Result<(), FwCfgError> {
        self.add_file("etc/sercon-port", port.to_le_bytes().to_vec())
    }

    /// `etc/e820`: entries of (address, length, type), 20 bytes each.
    pub fn set_e820(&mut self, entries: &[(u64, u64, u32)]) -> Result<(), FwCfgError> {
        let mut v = Vec::with_capacity(entries.len() * 20);
        for &(addr, len, ty) in entries {
            v.extend_from_slice(&addr.to_le_bytes());
            v.extend_from_slice(&len.to_le_bytes());
            v.extend_from_slice(&ty.to_le_bytes());
        }
        self.add_file("etc/e820", v)
    }

    /// `bootorder`: one OpenFirmware device path per line.
    pub fn set_bootorder(&mut self, paths: &[&str]) -> Result<(), FwCfgError> {
        let mut s = paths.join("\n");
        s.push('\0');
        self.add_file("bootorder", s.into_bytes())
    }

    /// `vgaroms/NAME`: an option ROM SeaBIOS runs as the VGA BIOS.
    pub fn add_vga_rom(&mut self, name: &str, rom: Vec<u8>) -> Result<(), FwCfgError> {
        self.add_file(&format!("vgaroms/{name}"), rom)
    }

    fn rebuild_dir(&mut self) {
        let mut d = Vec::with_capacity(4 + 64 * self.state.files.len());
        d.extend_from_slice(&(self.state.files.len() as u32).to_be_bytes());
        for (i, name) in self.state.files.iter().enumerate() {
            let key = KEY_FILE_FIRST + i as u16;
            let size = self.state.items.get(&key).map_or(0, |v| v.len()) as u32;
            d.extend_from_slice(&size.to_be_bytes());
            d.extend_from_slice(&key.to_be_bytes());
            d.extend_from_slice(&0u16.to_be_bytes());
            let mut n = [0u8; 56];
            n[..name.len()].copy_from_slice(name.as_bytes());
            d.extend_from_slice(&n);
        }
        self.state.items.insert(KEY_FILE_DIR, d);
    }

    fn read_data(&mut self) -> u8 {
        // Bit 14 (write) and bit 15 (architecture-specific) select items too.
        let item = self.state.items.get(&self.state.selector);
        let b = item
            .and_then(|v| v.get(self.state.offset))
            .copied()
            .unwrap_or(0);
        if item.is_some_and(|v| self.state.offset < v.len()) {
            self.state.offset += 1;
        }
        b
    }
}

impl PortIo for FwCfg {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        match port {
            FW_CFG_PORT_DATA => {
                // Wider reads stream consecutive bytes, little-endian.
                let mut v = 0u32;
                for i in 0..size.clamp(1, 4) {
                    v |= (self.read_data() as u32) << (8 * i);
                }
                v
            }
            _ => match size {
                1 => 0xFF,
                2 => 0xFFFF,
                _ => u32::MAX,
            },
        }
    }

    fn write(&mut self, port: u16, _size: u8, val: u32) {
        match port {
            FW_CFG_PORT_SEL => {
                self.state.selector = val as u16;
                self.state.offset = 0;
            }
            FW_CFG_PORT_DATA => log::debug!("fw_cfg: write to the data port ignored"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hammer;

    fn read_item(f: &mut FwCfg, key: u16, len: usize) -> Vec<u8> {
        f.write(FW_CFG_PORT_SEL, 2, key as u32);
        (0..len)
            .map(|_| f.read(FW_CFG_PORT_DATA, 1) as u8)
            .collect()
    }

    #[test]
    fn signature_id_and_numbers() {
        let mut f = FwCfg::new(128 << 20, 1);
        assert_eq!(read_item(&mut f, KEY_SIGNATURE, 5), b"QEMU\0");
        assert_eq!(read_item(&mut f, KEY_ID, 4), [1, 0, 0, 0]);
        assert_eq!(
            read_item(&mut f, KEY_RAM_SIZE, 8),
            (128u64 << 20).to_le_bytes()
        );
        assert_eq!(read_item(&mut f, KEY_NB_CPUS, 2), [1, 0]);
        assert_eq!(read_item(&mut f, 0x8000, 2), [0, 0], "absent item reads 0");
        f.write(FW_CFG_PORT_SEL, 2, 0);
        assert_eq!(f.read(FW_CFG_PORT_DATA, 4), u32::from_le_bytes(*b"QEMU"));
    }

    #[test]
    fn file_directory() {
        let mut f = FwCfg::new(64 << 20, 1);
        f.set_e820(&[(0, 0x9FC00, E820_RAM), (0x100000, 0x3F00000, E820_RAM)])
            .unwrap();
        f.set_sercon_port(0x3F8).unwrap();
        f.add_vga_rom("vgabios.bin", vec![0x55, 0xAA, 1]).unwrap();
        assert_eq!(
            f.set_sercon_port(0x2F8),
            Err(FwCfgError::Duplicate("etc/sercon-port".into()))
        );
        assert!(f.add_file(&"x".repeat(56), vec![]).is_err());
        let dir = read_item(&mut f, KEY_FILE_DIR, 4 + 3 * 64);
        assert_eq!(&dir[..4], &[0, 0, 0, 3]);
        let e = &dir[4..68];
        assert_eq!(&e[..4], &40u32.to_be_bytes());
        assert_eq!(&e[4..6], &[0, 0x20]);
        assert_eq!(&e[8..17], b"etc/e820\0");
        let e = &dir[4 + 128..4 + 192];
        assert_eq!(&e[..4], &3u32.to_be_bytes());
        assert_eq!(&e[4..6], &[0, 0x22]);
        assert_eq!(&e[8..20], b"vgaroms/vgab");
        assert_eq!(read_item(&mut f, 0x21, 3), [0xF8, 0x03, 0]);
        let e820 = read_item(&mut f, 0x20, 40);
        assert_eq!(&e820[20..28], &0x100000u64.to_le_bytes());
        assert_eq!(&e820[36..40], &1u32.to_le_bytes());
        f.set_bootorder(&[
            "/pci@i0cf8/ide@1,1/drive@0/disk@0",
            "/isa/fdc@03f0/floppy@0",
        ])
        .unwrap();
        let b = read_item(&mut f, 0x23, 80);
        assert!(b.starts_with(b"/pci@i0cf8/ide@1,1/drive@0/disk@0\n/isa/fdc@03f0/floppy@0\0"));
        f.set_nographic(true);
        assert_eq!(read_item(&mut f, KEY_NOGRAPHIC, 2), [1, 0]);
    }

    #[test]
    fn hammer_ports() {
        let mut f = FwCfg::new(1 << 20, 1);
        f.add_file("a", vec![1; 100]).unwrap();
        for seed in 1..20 {
            hammer(&mut f, &[0x510, 0x511, 0x512, 0x514], 2000, seed);
        }
    }
}
