//! A small deterministic xorshift generator and the operand values the
//! oracle favours: zero, one, all ones, the sign boundaries of every width
//! and plain random numbers.

/// xorshift64* (Vigna): fast, deterministic, good enough for test inputs.
#[derive(Clone, Debug)]
pub struct Rng(u64);

/// Values worth trying at every operand width (truncated by the caller).
pub const EDGES: [u32; 16] = [
    0,
    1,
    2,
    0xFFFF_FFFF,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FF80,
    0xFFFF_8000,
    0x0001_0000,
    0x0000_0100,
];

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        ((self.u32() as u64 * n as u64) >> 32) as u32
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u32, den: u32) -> bool {
        self.below(den) < num
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u32) as usize]
    }

    /// An operand value: half the time an edge value (possibly shifted into
    /// the upper half of a 16-bit or 32-bit register), otherwise random,
    /// sometimes small.
    pub fn value(&mut self) -> u32 {
        match self.below(8) {
            0..=3 => {
                let e = self.pick(&EDGES);
                match self.below(4) {
                    0 => e ^ (self.u32() & 0xFFFF_FF00),
                    1 => e.wrapping_neg(),
                    _ => e,
                }
            }
            4 => self.below(16),
            _ => self.u32(),
        }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            *b = self.u32() as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u32> = (0..100).map(|_| a.u32()).collect();
        let ys: Vec<u32> = (0..100).map(|_| b.u32()).collect();
        assert_eq!(xs, ys);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[a.below(10) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn values_include_edges() {
        let mut r = Rng::new(1);
        let vs: Vec<u32> = (0..2000).map(|_| r.value()).collect();
        assert!(vs.contains(&0));
        assert!(vs.contains(&0x8000_0000));
        assert!(vs.contains(&0xFFFF_FFFF));
    }
}
