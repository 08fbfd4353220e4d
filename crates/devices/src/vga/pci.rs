//! The PCI function the machine registers for this VGA: QEMU's "stdvga"
//! identity (vendor 0x1234, device 0x1111, display/VGA class), which
//! SeaVGABIOS's `vgabios-stdvga.bin` and Linux's `bochs` driver look for,
//! with BAR0 as the prefetchable linear framebuffer. Plain data only: the
//! configuration-space plumbing lives in the PCI host bridge.

/// Identity and resources of the VGA's PCI function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciFunctionInfo {
    pub vendor_id: u16,
    pub device_id: u16,
    pub subsystem_vendor_id: u16,
    pub subsystem_id: u16,
    pub revision: u8,
    /// Class code, subclass and programming interface (0x030000: VGA).
    pub class_code: u32,
    /// BAR0: 32-bit prefetchable memory, the linear framebuffer.
    pub bar0_prefetchable: bool,
    /// BAR0 size in bytes (= VRAM size, a power of two).
    pub bar0_size: u32,
    /// Where BAR0 sits until the firmware moves it.
    pub bar0_default: u32,
}

/// QEMU `-vga std` with 16 MiB of VRAM.
pub const STDVGA_PCI: PciFunctionInfo = PciFunctionInfo {
    vendor_id: 0x1234,
    device_id: 0x1111,
    subsystem_vendor_id: 0x1AF4,
    subsystem_id: 0x1100,
    revision: 0x02,
    class_code: 0x03_00_00,
    bar0_prefetchable: true,
    bar0_size: super::DEFAULT_VRAM_SIZE as u32,
    bar0_default: super::DEFAULT_LFB_BASE as u32,
};

impl PciFunctionInfo {
    /// The low bits of BAR0 as read from config space: memory, 32-bit,
    /// prefetchable when so.
    pub fn bar0_flags(&self) -> u32 {
        if self.bar0_prefetchable {
            0x8
        } else {
            0
        }
    }

    /// The same function for a VGA with `vram` bytes of VRAM.
    pub fn with_vram(self, vram: usize) -> Self {
        PciFunctionInfo {
            bar0_size: vram.min(u32::MAX as usize / 2 + 1) as u32,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdvga_identity() {
        assert_eq!(
            (STDVGA_PCI.vendor_id, STDVGA_PCI.device_id),
            (0x1234, 0x1111)
        );
        assert_eq!(STDVGA_PCI.class_code >> 8, 0x0300);
        assert_eq!(STDVGA_PCI.bar0_flags(), 0x8);
        assert!(STDVGA_PCI.bar0_size.is_power_of_two());
        assert_eq!(STDVGA_PCI.bar0_default % STDVGA_PCI.bar0_size, 0);
        assert_eq!(STDVGA_PCI.with_vram(8 << 20).bar0_size, 8 << 20);
    }
}
