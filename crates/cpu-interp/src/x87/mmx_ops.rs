//! The arithmetic of the MMX instructions on 64-bit values, lane by lane:
//! wrap-around and saturating add/subtract, compares, multiplies, logic,
//! packs, unpacks and shifts (counts beyond the lane width give 0, or the
//! sign for arithmetic shifts). The handlers are in `mmx`.

/// Applies `f` lane by lane (`bits` = 8, 16, 32 or 64).
#[inline(always)]
fn lanes(bits: u32, a: u64, b: u64, f: impl Fn(u64, u64) -> u64) -> u64 {
    let mask = if bits == 64 { !0 } else { (1u64 << bits) - 1 };
    let mut r = 0;
    let mut i = 0;
    while i < 64 {
        r |= (f((a >> i) & mask, (b >> i) & mask) & mask) << i;
        i += bits;
    }
    r
}

#[inline(always)]
fn sx(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

fn sat_s(v: i64, bits: u32) -> u64 {
    let max = (1i64 << (bits - 1)) - 1;
    v.clamp(-max - 1, max) as u64
}

fn sat_u(v: i64, bits: u32) -> u64 {
    v.clamp(0, (1i64 << bits) - 1) as u64
}

/// The binary operations, by id (the order of `mmx::register`'s table:
/// padd b/w/d, padds b/w, paddus b/w, psub b/w/d, psubs b/w, psubus b/w,
/// pcmpeq b/w/d, pcmpgt b/w/d, pmullw, pmulhw, pmaddwd, pand, pandn, por,
/// pxor, packsswb, packssdw, packuswb, punpckl bw/wd/dq, punpckh bw/wd/dq,
/// psll w/d/q, psrl w/d/q, psra w/d).
pub fn op(id: u8, a: u64, b: u64) -> u64 {
    match id {
        0 => lanes(8, a, b, |x, y| x.wrapping_add(y)),
        1 => lanes(16, a, b, |x, y| x.wrapping_add(y)),
        2 => lanes(32, a, b, |x, y| x.wrapping_add(y)),
        3 => lanes(8, a, b, |x, y| sat_s(sx(x, 8) + sx(y, 8), 8)),
        4 => lanes(16, a, b, |x, y| sat_s(sx(x, 16) + sx(y, 16), 16)),
        5 => lanes(8, a, b, |x, y| sat_u(x as i64 + y as i64, 8)),
        6 => lanes(16, a, b, |x, y| sat_u(x as i64 + y as i64, 16)),
        7 => lanes(8, a, b, |x, y| x.wrapping_sub(y)),
        8 => lanes(16, a, b, |x, y| x.wrapping_sub(y)),
        9 => lanes(32, a, b, |x, y| x.wrapping_sub(y)),
        10 => lanes(8, a, b, |x, y| sat_s(sx(x, 8) - sx(y, 8), 8)),
        11 => lanes(16, a, b, |x, y| sat_s(sx(x, 16) - sx(y, 16), 16)),
        12 => lanes(8, a, b, |x, y| sat_u(x as i64 - y as i64, 8)),
        13 => lanes(16, a, b, |x, y| sat_u(x as i64 - y as i64, 16)),
        14 => lanes(8, a, b, |x, y| if x == y { !0 } else { 0 }),
        15 => lanes(16, a, b, |x, y| if x == y { !0 } else { 0 }),
        16 => lanes(32, a, b, |x, y| if x == y { !0 } else { 0 }),
        17 => lanes(8, a, b, |x, y| if sx(x, 8) > sx(y, 8) { !0 } else { 0 }),
        18 => lanes(16, a, b, |x, y| if sx(x, 16) > sx(y, 16) { !0 } else { 0 }),
        19 => lanes(32, a, b, |x, y| if sx(x, 32) > sx(y, 32) { !0 } else { 0 }),
        20 => lanes(16, a, b, |x, y| (sx(x, 16) * sx(y, 16)) as u64),
        21 => lanes(16, a, b, |x, y| ((sx(x, 16) * sx(y, 16)) >> 16) as u64),
        22 => pmaddwd(a, b),
        23 => a & b,
        24 => !a & b,
        25 => a | b,
        26 => a ^ b,
        27 => pack_ss(a, b, 16, 8),
        28 => pack_ss(a, b, 32, 16),
        29 => pack_us(a, b),
        30 => unpack(a, b, 8, false),
        31 => unpack(a, b, 16, false),
        32 => unpack(a, b, 32, false),
        33 => unpack(a, b, 8, true),
        34 => unpack(a, b, 16, true),
        35 => unpack(a, b, 32, true),
        36 => shift(a, b, 16, Shift::Left),
        37 => shift(a, b, 32, Shift::Left),
        38 => shift(a, b, 64, Shift::Left),
        39 => shift(a, b, 16, Shift::Logical),
        40 => shift(a, b, 32, Shift::Logical),
        41 => shift(a, b, 64, Shift::Logical),
        42 => shift(a, b, 16, Shift::Arith),
        _ => shift(a, b, 32, Shift::Arith),
    }
}

fn pmaddwd(a: u64, b: u64) -> u64 {
    let w = |v: u64, i: u32| sx(v >> (16 * i), 16);
    let lo = w(a, 0) * w(b, 0) + w(a, 1) * w(b, 1);
    let hi = w(a, 2) * w(b, 2) + w(a, 3) * w(b, 3);
    (lo as u32 as u64) | ((hi as u32 as u64) << 32)
}

/// Signed-saturating pack of the `from`-bit lanes of a (low half of the
/// result) and b (high half) to `to` bits.
fn pack_ss(a: u64, b: u64, from: u32, to: u32) -> u64 {
    let n = 64 / from;
    let mut r = 0;
    for (k, v) in [a, b].iter().enumerate() {
        for i in 0..n {
            let x = sat_s(sx(v >> (from * i), from), to) & ((1 << to) - 1);
            r |= x << (to * (i + n * k as u32));
        }
    }
    r
}

fn pack_us(a: u64, b: u64) -> u64 {
    let mut r = 0;
    for (k, v) in [a, b].iter().enumerate() {
        for i in 0..4u32 {
            let x = sat_u(sx(v >> (16 * i), 16), 8);
            r |= x << (8 * (i + 4 * k as u32));
        }
    }
    r
}

/// Interleave the low (or high) halves' `bits`-wide lanes of a and b.
fn unpack(a: u64, b: u64, bits: u32, high: bool) -> u64 {
    let n = 32 / bits;
    let base = if high { 32 } else { 0 };
    let mask = if bits == 32 {
        0xFFFF_FFFF
    } else {
        (1u64 << bits) - 1
    };
    let mut r = 0;
    for i in 0..n {
        let x = (a >> (base + bits * i)) & mask;
        let y = (b >> (base + bits * i)) & mask;
        r |= x << (2 * bits * i);
        r |= y << (2 * bits * i + bits);
    }
    r
}

#[derive(Clone, Copy)]
enum Shift {
    Left,
    Logical,
    Arith,
}

fn shift(a: u64, count: u64, bits: u32, kind: Shift) -> u64 {
    let big = count >= bits as u64;
    let c = count.min(63) as u32;
    lanes(bits, a, 0, |x, _| match kind {
        Shift::Left if big => 0,
        Shift::Logical if big => 0,
        Shift::Left => x << c,
        Shift::Logical => x >> c,
        Shift::Arith => (sx(x, bits) >> c.min(bits - 1)) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_add_sub_saturate() {
        assert_eq!(op(0, 0x01FF, 0x0101), 0x0200);
        assert_eq!(op(3, 0x7F80, 0x01FF), 0x7F80, "paddsb clamps both ways");
        assert_eq!(op(5, 0xF0, 0x20), 0xFF);
        assert_eq!(op(13, 0x0005, 0x0009), 0);
        assert_eq!(op(4, 0x7FFF, 0x0001), 0x7FFF);
        assert_eq!(op(9, 0, 1), 0xFFFF_FFFF);
    }

    #[test]
    fn multiplies_and_compares() {
        assert_eq!(op(20, 0xFFFF_0003, 0x0002_0005), 0xFFFE_000F);
        assert_eq!(op(21, 0x4000, 0x4000), 0x1000);
        assert_eq!(op(22, 0x0002_0003, 0x0004_0005), 2 * 4 + 3 * 5);
        assert_eq!(op(17, 0x80_01, 0x00_00), 0x00_FF, "signed bytes");
        assert_eq!(op(16, 5 | 7 << 32, 5 | 8 << 32), 0xFFFF_FFFF);
    }

    #[test]
    fn packs_unpacks_and_shifts() {
        assert_eq!(op(27, 0x0080_FF7F_0001_FFFF, 0), 0x7F80_01FF);
        assert_eq!(op(29, 0x0100_FFFF_0080_0010, 0), 0xFF00_8010);
        assert_eq!(
            op(30, 0x0000_0000_4433_2211, 0x0000_0000_8877_6655),
            0x8844_7733_6622_5511
        );
        assert_eq!(
            op(35, 0x1111_1111_0000_0000, 0x2222_2222_0000_0000),
            0x2222_2222_1111_1111
        );
        assert_eq!(op(36, 0x8001, 1), 0x0002);
        assert_eq!(op(41, 0x8000_0000_0000_0000, 63), 1);
        assert_eq!(op(42, 0x8000, 40), 0xFFFF);
        assert_eq!(op(39, 0xFFFF, 16), 0);
    }
}
