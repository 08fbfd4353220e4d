//! The VGA's PCI function (QEMU stdvga, 1234:1111 at 00:02.0): a type-0
//! configuration space with BAR0 as the prefetchable linear framebuffer.
//! When the firmware moves BAR0 the VGA's LFB base follows, so the memory
//! side (one `VgaMmio` over the whole PCI memory window, see `board.rs`)
//! decodes the new address at once.
//!
//! Not modelled: the expansion-ROM BAR (the VGA BIOS reaches SeaBIOS
//! through fw_cfg instead), QEMU's MMIO register BAR2.

use std::sync::{Arc, Mutex};

use devices::bus::lock;
use devices::pci::{BarKind, ConfigSpace, PciFunction, PCI_BAR0};
use devices::vga::Vga;

/// Physical window where PCI memory BARs live (as SeaBIOS assigns them on
/// an i440FX): 0xE0000000 up to the I/O APIC page.
pub const PCI_MEM_BASE: u32 = 0xE000_0000;
pub const PCI_MEM_END: u32 = 0xFEC0_0000;

pub struct VgaPci {
    cfg: ConfigSpace,
    vga: Arc<Mutex<Vga>>,
}

impl VgaPci {
    pub fn new(vga: Arc<Mutex<Vga>>) -> VgaPci {
        let info = lock(&vga).pci_function();
        let mut cfg = ConfigSpace::new(
            info.vendor_id,
            info.device_id,
            info.class_code,
            info.revision,
            0,
        );
        cfg.set16(0x2C, info.subsystem_vendor_id);
        cfg.set16(0x2E, info.subsystem_id);
        cfg.set_bar(
            0,
            info.bar0_size,
            BarKind::Mem32 {
                prefetchable: info.bar0_prefetchable,
            },
        );
        VgaPci { cfg, vga }
    }
}

impl PciFunction for VgaPci {
    fn config_read(&mut self, offset: u8) -> u32 {
        self.cfg.read(offset)
    }

    fn config_write(&mut self, offset: u8, size: u8, val: u32) {
        self.cfg.write(offset, size, val);
        if offset & 0xFC == PCI_BAR0 || offset < 8 {
            if let Some(base) = self.cfg.bar_address(0) {
                let mut v = lock(&self.vga);
                if v.lfb_base() != u64::from(base) {
                    log::debug!("vga: linear framebuffer at {base:#x}");
                    v.set_lfb_base(u64::from(base));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devices::pci::PCI_COMMAND;

    #[test]
    fn bar0_sizing_and_move() {
        let vga = Arc::new(Mutex::new(Vga::new()));
        let mut f = VgaPci::new(vga.clone());
        assert_eq!(f.config_read(0), 0x1111_1234);
        assert_eq!(f.config_read(8) >> 8, 0x030000);
        f.config_write(PCI_BAR0, 4, u32::MAX);
        let size_mask = f.config_read(PCI_BAR0);
        assert_eq!(size_mask & 0xFFFF_FFF0, !(16u32 << 20) + 1);
        assert_eq!(size_mask & 0xF, 0x8, "prefetchable 32-bit memory");
        f.config_write(PCI_BAR0, 4, 0xFD00_0000);
        f.config_write(PCI_COMMAND, 2, 0x3);
        assert_eq!(lock(&vga).lfb_base(), 0xFD00_0000);
    }
}
