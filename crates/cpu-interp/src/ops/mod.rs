//! User-mode integer instruction families, one file per family.

pub mod alu;
pub mod flagops;
pub mod jump;
pub mod misc;
pub mod mov;
pub mod stack;

use crate::dispatch::Table;

/// Registers every integer family's handlers.
pub fn register(t: &mut Table) {
    alu::register(t);
    flagops::register(t);
    jump::register(t);
    misc::register(t);
    mov::register(t);
    stack::register(t);
}

/// All-ones mask of `size` bytes.
#[inline(always)]
pub fn mask(size: u8) -> u32 {
    u32::MAX >> (32 - size as u32 * 8)
}

/// Sign bit of `size` bytes.
#[inline(always)]
pub fn sign(size: u8) -> u32 {
    1u32 << (size as u32 * 8 - 1)
}

/// Sign-extends the low `size` bytes of `v` to 32 bits.
#[inline(always)]
pub fn sext(v: u32, size: u8) -> u32 {
    let sh = 32 - size as u32 * 8;
    (((v << sh) as i32) >> sh) as u32
}
