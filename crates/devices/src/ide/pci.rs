//! [`Piix3Ide`]: the PIIX3's IDE function (00:01.1, 8086:7010, class
//! 0x0101, prog-if 0x80: both channels in compatibility mode at the legacy
//! ports and IRQs 14/15, bus-master capable). Its IDE timing registers
//! 0x40-0x4F are plain storage; IDETIM's decode-enable bits start set so
//! Linux's `ata_piix` sees both channels enabled even if the firmware does
//! not touch them. No BAR 4: no bus-master DMA, PIO only.

use crate::pci::{ConfigSpace, PciFunction};

pub struct Piix3Ide {
    pub config: ConfigSpace,
}

impl Default for Piix3Ide {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix3Ide {
    pub fn new() -> Self {
        let mut c = ConfigSpace::new(0x8086, 0x7010, 0x01_01_80, 0x00, 0x00);
        c.set16(0x06, 0x0280); // fast back-to-back, medium DEVSEL
        c.set_writable(0x40, 16);
        c.set16(0x40, 0x8000); // IDETIM primary: decode enable
        c.set16(0x42, 0x8000); // IDETIM secondary
        Piix3Ide { config: c }
    }
}

impl PciFunction for Piix3Ide {
    fn config_read(&mut self, offset: u8) -> u32 {
        self.config.read(offset)
    }

    fn config_write(&mut self, offset: u8, size: u8, val: u32) {
        self.config.write(offset, size, val);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_class_and_timing_registers() {
        let mut f = Piix3Ide::new();
        assert_eq!(f.config_read(0), 0x7010_8086);
        assert_eq!(f.config_read(8) >> 8, 0x01_01_80);
        assert_eq!(f.config_read(0x40), 0x8000_8000);
        f.config_write(0x40, 2, 0xA307);
        assert_eq!(f.config_read(0x40) & 0xFFFF, 0xA307);
        // No BAR 4, nothing decodes as a BAR.
        f.config_write(0x20, 4, 0xFFFF_FFFF);
        assert_eq!(f.config_read(0x20), 0);
        assert_eq!(
            f.config_read(0x0C) >> 16 & 0xFF,
            0,
            "single-function header"
        );
    }
}
