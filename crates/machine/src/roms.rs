//! Where firmware goes in the physical address space.
//!
//! The system BIOS is mapped read-only at the top of the 4 GiB space (the
//! reset vector) and, as much of it as fits below 1 MiB (the last 128 KiB),
//! read-only at 0xE0000 (0xF0000 for a 64 KiB image). As on QEMU's
//! i440FX, the shadow area 0xC0000-0xFFFFF starts with its PAM registers
//! at 0: reads and writes reach the ROM (or nothing); SeaBIOS opens the
//! PAM windows and copies itself into the shadow RAM (the change reaches
//! the memory map before its next instruction, see `bus.rs`). Option ROMs
//! are not mapped here: SeaBIOS takes the VGA BIOS from fw_cfg.
//!
//! Not modelled: flash writes, BIOS images larger than 256 KiB.

use mmu::{Mmu, PhysMem};

/// Start of the area PAM registers control.
pub const SHADOW_BASE: u32 = 0xC0000;
/// Size of the PAM-controlled area.
pub const SHADOW_LEN: u32 = 0x40000;

/// Where a BIOS image of `len` bytes goes: (base of the part below 1 MiB,
/// offset of that part in the image, its length, base of the full image
/// below 4 GiB).
pub fn bios_layout(len: usize) -> (u32, usize, u32, u32) {
    let low_len = len.min(128 << 10);
    let low_base = 0x10_0000 - low_len as u32;
    let high_base = (0x1_0000_0000u64 - len as u64) as u32;
    (low_base, len - low_len, low_len as u32, high_base)
}

/// Maps the BIOS's ROM regions (once per machine).
pub fn map_bios(phys: &mut PhysMem, bios: &[u8]) -> mmu::Result<()> {
    let (low_base, off, _, high_base) = bios_layout(bios.len());
    phys.add_rom(high_base, bios)?;
    phys.add_rom(low_base, &bios[off..])?;
    Ok(())
}

/// Puts the shadow area in its power-on state (at power-on and after
/// every reset): PAM registers at 0, every access reaches the ROM. The
/// RAM behind it keeps its contents, as on real hardware.
pub fn reset_shadow(mmu: &mut Mmu) {
    mmu.set_shadow(SHADOW_BASE, SHADOW_LEN, false, false);
}

/// The PCI vendor and device ID in an option ROM's PCI data structure, if
/// it has one.
pub fn pci_rom_ids(rom: &[u8]) -> Option<(u16, u16)> {
    let ptr = u16::from_le_bytes([*rom.get(0x18)?, *rom.get(0x19)?]) as usize;
    let pcir = rom.get(ptr..ptr + 8)?;
    if &pcir[..4] != b"PCIR" {
        return None;
    }
    Some((
        u16::from_le_bytes([pcir[4], pcir[5]]),
        u16::from_le_bytes([pcir[6], pcir[7]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        assert_eq!(bios_layout(64 << 10), (0xF0000, 0, 0x10000, 0xFFFF_0000));
        assert_eq!(bios_layout(128 << 10), (0xE0000, 0, 0x20000, 0xFFFE_0000));
        assert_eq!(
            bios_layout(256 << 10),
            (0xE0000, 0x20000, 0x20000, 0xFFFC_0000)
        );
    }

    #[test]
    fn bios_visible_low_and_high() {
        let mut bios = vec![0u8; 256 << 10];
        bios[0] = 0x11; // only in the high alias
        *bios.last_mut().unwrap() = 0x22;
        bios[0x20000] = 0x33; // first byte of the low part
        let mut phys = PhysMem::new(4 << 20).unwrap();
        map_bios(&mut phys, &bios).unwrap();
        let mut mmu = Mmu::new(phys);
        assert_eq!(mmu.phys.read_u8(0xFFFC_0000), 0x11);
        assert_eq!(mmu.phys.read_u8(0xFFFF_FFFF), 0x22);
        // Power-on PAM state: ROM at 0xE0000, writes dropped.
        reset_shadow(&mut mmu);
        assert_eq!(mmu.phys.read_u8(0xE0000), 0x33);
        assert_eq!(mmu.phys.read_u8(0xFFFFF), 0x22);
        mmu.phys.write_u8(0xE0000, 0x44);
        assert_eq!(mmu.phys.read_u8(0xE0000), 0x33, "ROM is not writable");
        // What SeaBIOS does: open the window, copy itself, write-protect.
        mmu.set_shadow(0xE0000, 0x20000, true, true);
        mmu.phys.write_bytes(0xE0000, &bios[0x20000..]);
        mmu.phys.write_u8(0xE0000, 0x44);
        assert_eq!(mmu.phys.read_u8(0xE0000), 0x44, "shadow RAM is writable");
        mmu.set_shadow(0xE0000, 0x20000, true, false);
        mmu.phys.write_u8(0xE0000, 0x55);
        assert_eq!(mmu.phys.read_u8(0xE0000), 0x44, "read-only shadow");
        assert_eq!(mmu.phys.read_u8(0xFFFFF), 0x22);
        reset_shadow(&mut mmu);
        assert_eq!(mmu.phys.read_u8(0xE0000), 0x33, "ROM again after reset");
    }

    #[test]
    fn pci_ids_of_option_rom() {
        let mut rom = vec![0u8; 512];
        rom[0] = 0x55;
        rom[1] = 0xAA;
        rom[0x18] = 0x40;
        rom[0x40..0x44].copy_from_slice(b"PCIR");
        rom[0x44..0x46].copy_from_slice(&0x1234u16.to_le_bytes());
        rom[0x46..0x48].copy_from_slice(&0x1111u16.to_le_bytes());
        assert_eq!(pci_rom_ids(&rom), Some((0x1234, 0x1111)));
        rom[0x18] = 0xFF;
        rom[0x19] = 0xFF;
        assert_eq!(pci_rom_ids(&rom), None);
        assert_eq!(pci_rom_ids(&[]), None);
    }
}
