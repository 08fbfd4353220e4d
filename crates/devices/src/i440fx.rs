//! The i440FX PCI and memory controller (host bridge, 00:00.0, 8086:1237)
//! as firmware sees it: its configuration space, the PAM registers
//! 0x59-0x5F that switch the 0xC0000-0xFFFFF windows between ROM and shadow
//! RAM (reported through a callback the machine wires to the memory map), and
//! SMRAM control at 0x72 (stored, not enforced).
//!
//! Not modelled: DRAM configuration registers' effects (they are plain
//! storage), SMRAM open/close/lock semantics, the PCI-to-memory posting
//! controls.

use serde::{Deserialize, Serialize};

use crate::pci::{ConfigSpace, PciFunction};

/// Called with (base, length, reads go to RAM, writes go to RAM).
pub type PamCallback = Box<dyn FnMut(u32, u32, bool, bool) + Send>;

pub const PAM0: u8 = 0x59;
pub const SMRAM: u8 = 0x72;

/// The memory window a PAM nibble controls: (register, high nibble?) -> (base, len).
fn pam_window(reg: u8, high: bool) -> Option<(u32, u32)> {
    match (reg, high) {
        (0x59, true) => Some((0xF0000, 0x10000)),
        (0x59, false) => None, // reserved
        (0x5A..=0x5F, _) => {
            let base = 0xC0000 + (reg as u32 - 0x5A) * 0x8000 + if high { 0x4000 } else { 0 };
            Some((base, 0x4000))
        }
        _ => None,
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub config: ConfigSpace,
}

pub struct I440fx {
    pub state: State,
    pam: PamCallback,
}

impl I440fx {
    pub fn new(pam: PamCallback) -> Self {
        let mut c = ConfigSpace::new(0x8086, 0x1237, 0x060000, 0x02, 0x00);
        c.set16(0x04, 0x0006); // memory + bus master
        c.set16(0x06, 0x0280); // fast back-to-back, medium DEVSEL
                               // QEMU's subsystem IDs: SeaBIOS recognises "Running on QEMU" by them
                               // and only then uses fw_cfg and does its full PCI setup.
        c.set16(0x2C, 0x1AF4);
        c.set16(0x2E, 0x1100);
        // Device-specific registers are storage the firmware may program.
        c.set_writable(0x40, 0xC0);
        c.data[0x50] = 0x00; // PMCCFG
        c.data[0x57] = 0x01; // DRAMC
        c.data[SMRAM as usize] = 0x02; // C_BASE_SEG: 0xA0000
        c.wmask[SMRAM as usize] = 0x78; // D_OPEN, D_CLS, D_LCK, G_SMRAME
        I440fx {
            state: State { config: c },
            pam,
        }
    }

    /// Every PAM window with its current (read RAM, write RAM) setting, for
    /// the machine to apply after a restore.
    pub fn pam_windows(&self) -> Vec<(u32, u32, bool, bool)> {
        let mut v = Vec::new();
        for reg in PAM0..=0x5F {
            for high in [false, true] {
                if let Some((base, len)) = pam_window(reg, high) {
                    let nib = self.state.config.data[reg as usize] >> if high { 4 } else { 0 };
                    v.push((base, len, nib & 1 != 0, nib & 2 != 0));
                }
            }
        }
        v
    }
}

impl PciFunction for I440fx {
    fn config_read(&mut self, offset: u8) -> u32 {
        self.state.config.read(offset)
    }

    fn config_write(&mut self, offset: u8, size: u8, val: u32) {
        let old: Vec<u8> = self.state.config.data[PAM0 as usize..=0x5F].to_vec();
        self.state.config.write(offset, size, val);
        for (i, &was) in old.iter().enumerate() {
            let reg = PAM0 + i as u8;
            let now = self.state.config.data[reg as usize];
            for high in [false, true] {
                let sh = if high { 4 } else { 0 };
                if (was ^ now) >> sh & 3 == 0 {
                    continue;
                }
                if let Some((base, len)) = pam_window(reg, high) {
                    let n = now >> sh;
                    (self.pam)(base, len, n & 1 != 0, n & 2 != 0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::PortIo;
    use crate::pci::PciBus;
    use crate::testutil::hammer;
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<(u32, u32, bool, bool)>>>;

    fn setup() -> (PciBus, Log) {
        let log: Log = Arc::default();
        let l2 = log.clone();
        let nb = I440fx::new(Box::new(move |b, n, r, w| {
            l2.lock().unwrap().push((b, n, r, w))
        }));
        let mut bus = PciBus::new(None);
        bus.add(0, 0, Box::new(nb)).unwrap();
        (bus, log)
    }

    #[test]
    fn ids_and_pam_callbacks() {
        let (mut bus, log) = setup();
        bus.write(0xCF8, 4, 0x8000_0000);
        assert_eq!(bus.read(0xCFC, 4), 0x1237_8086);
        bus.write(0xCF8, 4, 0x8000_0008);
        assert_eq!(bus.read(0xCFC, 4) >> 8, 0x060000);
        // PAM0 high nibble = 3: BIOS area fully in RAM.
        bus.write(0xCF8, 4, 0x8000_0058);
        bus.write(0xCFD, 1, 0x30);
        assert_eq!(
            log.lock().unwrap().as_slice(),
            &[(0xF0000, 0x10000, true, true)]
        );
        log.lock().unwrap().clear();
        // PAM1 (0x5A) = 0x11 via a dword write covering 0x58-0x5B.
        bus.write(0xCFC, 4, 0x0011_3000);
        assert_eq!(
            log.lock().unwrap().as_slice(),
            &[
                (0xC0000, 0x4000, true, false),
                (0xC4000, 0x4000, true, false)
            ]
        );
        bus.write(0xCF8, 4, 0x8000_0070);
        assert_eq!(bus.read(0xCFE, 1), 0x02, "SMRAM default");
        bus.write(0xCFE, 1, 0x0A);
        assert_eq!(bus.read(0xCFE, 1), 0x0A);
    }

    #[test]
    fn windows_listed_for_restore() {
        let nb = I440fx::new(Box::new(|_, _, _, _| {}));
        let w = nb.pam_windows();
        assert_eq!(w.len(), 13);
        assert_eq!(w[0], (0xF0000, 0x10000, false, false));
        assert_eq!(w[12], (0xEC000, 0x4000, false, false));
    }

    #[test]
    fn hammer_config() {
        let (mut bus, _) = setup();
        let mut rng = crate::testutil::XorShift(7);
        for _ in 0..2000 {
            bus.write(0xCF8, 4, 0x8000_0000 | (rng.next() as u32 & 0xFC));
            hammer(&mut bus, &[0xCFC, 0xCFD, 0xCFE, 0xCFF], 4, rng.next());
        }
    }
}
