//! Helpers shared by the device unit tests: a tiny xorshift generator and a
//! port hammer that writes random values of random sizes to a device's ports.

use crate::bus::PortIo;

/// xorshift64: deterministic, good enough to produce garbage.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Writes and reads `rounds` random values of random sizes to random ports
/// from `ports`; only checks that nothing panics and reads fit their size.
pub fn hammer(dev: &mut dyn PortIo, ports: &[u16], rounds: usize, seed: u64) {
    let mut rng = XorShift(seed | 1);
    for _ in 0..rounds {
        let r = rng.next();
        let port = ports[(r as usize >> 8) % ports.len()];
        let size = [1u8, 2, 4][(r as usize >> 4) % 3];
        let val = (rng.next() >> 7) as u32;
        if r & 1 == 0 {
            dev.write(port, size, val);
        } else {
            let v = dev.read(port, size);
            if size < 4 {
                assert!(
                    v < 1 << (8 * size),
                    "read of {port:#x} size {size} gave {v:#x}"
                );
            }
        }
    }
}
