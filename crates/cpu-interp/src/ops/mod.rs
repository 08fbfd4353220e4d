//! User-mode integer instruction families, one file per family.
//!
//! Each family has a `register` function filling the dispatch table, small
//! per-form handlers, and (where the semantics are more than a line) pure
//! width-generic helpers that compute a result and its flags, so they can
//! be unit-tested against the host CPU.

pub mod alu;
pub mod bcd;
pub mod bits;
pub mod cond;
pub mod fast;
pub mod flagops;
pub mod jump;
pub mod misc;
pub mod mov;
pub mod muldiv;
pub mod shift;
pub mod stack;
pub mod string;
pub mod xchg;

use crate::cpu::Cpu;
use crate::dispatch::Table;
use crate::state::fl;

/// Registers every integer family's handlers.
pub fn register(t: &mut Table) {
    alu::register(t);
    bcd::register(t);
    bits::register(t);
    cond::register(t);
    flagops::register(t);
    jump::register(t);
    misc::register(t);
    mov::register(t);
    muldiv::register(t);
    shift::register(t);
    stack::register(t);
    string::register(t);
    xchg::register(t);
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

/// GPR index of operand `n` when it is a 32-bit general register (the
/// handlers' register fast paths).
#[inline(always)]
pub fn reg32(d: &crate::decode::Decoded, n: u32) -> Option<usize> {
    if d.ins.op_kind(n) == iced_x86::OpKind::Register {
        let i = (d.ins.op_register(n) as usize).wrapping_sub(iced_x86::Register::EAX as usize);
        if i < 8 {
            return Some(i);
        }
    }
    None
}

/// The six arithmetic flags of EFLAGS, materialised.
#[inline(always)]
pub fn arith_flags(cpu: &Cpu) -> u32 {
    cpu.s.get_eflags() & fl::ARITH
}

/// Replaces the six arithmetic flags with `f` (eagerly computed flags;
/// the lazy record is dropped).
#[inline(always)]
pub fn set_arith_flags(cpu: &mut Cpu, f: u32) {
    let e = cpu.s.eflags;
    cpu.s.flags.clear();
    cpu.s.eflags = (e & !fl::ARITH) | (f & fl::ARITH);
}

/// Builds an EFLAGS arithmetic-bit value from individual flags.
#[inline(always)]
pub fn flag_if(cond: bool, bit: u32) -> u32 {
    if cond {
        bit
    } else {
        0
    }
}

/// Names of the set arithmetic flags in `f`, in the order "CF PF AF ZF SF
/// OF" (for compact test expectations).
pub fn flag_names(f: u32) -> String {
    let mut names = Vec::new();
    for (bit, n) in [
        (fl::CF, "CF"),
        (fl::PF, "PF"),
        (fl::AF, "AF"),
        (fl::ZF, "ZF"),
        (fl::SF, "SF"),
        (fl::OF, "OF"),
    ] {
        if f & bit != 0 {
            names.push(n);
        }
    }
    names.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(mask(1), 0xFF);
        assert_eq!(mask(2), 0xFFFF);
        assert_eq!(mask(4), 0xFFFF_FFFF);
        assert_eq!(sign(2), 0x8000);
        assert_eq!(sext(0x80, 1), 0xFFFF_FF80);
        assert_eq!(sext(0x7FFF, 2), 0x7FFF);
        assert_eq!(flag_names(fl::CF | fl::ZF | fl::OF), "CF ZF OF");
        assert_eq!(flag_if(true, fl::SF), fl::SF);
    }
}
