//! Memory operands: the effective address, the segment (base folded in,
//! limit checked inline for non-flat segments), and the inlined softmmu
//! TLB fast path. A miss jumps to the instruction's slow path.

use cpu_interp::cpu::NO_REG;
use cpu_interp::decode::Decoded;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi};
use mmu::{TLB_ENTRY_ADDEND_OFFSET, TLB_ENTRY_READ_OFFSET, TLB_ENTRY_WRITE_OFFSET, TLB_SIZE};

use super::{asm, Emitter, HOST};
use crate::key::{SEG_LIMITED, SEG_OTHER};
use crate::runtime::{st_seg_base, st_seg_limit};

const TAG_READ: i32 = TLB_ENTRY_READ_OFFSET as i32;
const TAG_WRITE: i32 = TLB_ENTRY_WRITE_OFFSET as i32;
const ADDEND: i32 = TLB_ENTRY_ADDEND_OFFSET as i32;
const _: () = assert!(std::mem::size_of::<mmu::TlbEntry>() == 32);

/// Whether memory operands through segment `seg` can be translated.
pub fn seg_ok(e: &Emitter, seg: usize) -> bool {
    e.key.seg_class(seg) != SEG_OTHER
}

/// Whether `d`'s memory operand can be translated natively.
pub fn operand_ok(e: &Emitter, d: &Decoded) -> bool {
    seg_ok(e, d.mem.seg as usize) && matches!(d.msize, 1 | 2 | 4)
}

/// `esi` = offset of `d`'s memory operand:
/// `lea esi, [base + index*scale + disp]` (`movzx esi, si` for 16-bit addressing)
pub fn ea(e: &mut Emitter, d: &Decoded) {
    let m = &d.mem;
    let disp = m.disp as i32;
    let base = (m.base != NO_REG).then(|| HOST[m.base as usize & 7]);
    let index = (m.index != NO_REG).then(|| HOST[m.index as usize & 7]);
    match (base, index) {
        (None, None) => asm!(e.ops ; mov esi, disp),
        (Some(b), None) => asm!(e.ops ; lea esi, [Rq(b) + disp]),
        (None, Some(i)) => match m.scale {
            0 => asm!(e.ops ; lea esi, [Rq(i) + disp]),
            1 => asm!(e.ops ; lea esi, [Rq(i) * 2 + disp]),
            2 => asm!(e.ops ; lea esi, [Rq(i) * 4 + disp]),
            _ => asm!(e.ops ; lea esi, [Rq(i) * 8 + disp]),
        },
        (Some(b), Some(i)) => match m.scale {
            0 => asm!(e.ops ; lea esi, [Rq(b) + Rq(i) + disp]),
            1 => asm!(e.ops ; lea esi, [Rq(b) + Rq(i) * 2 + disp]),
            2 => asm!(e.ops ; lea esi, [Rq(b) + Rq(i) * 4 + disp]),
            _ => asm!(e.ops ; lea esi, [Rq(b) + Rq(i) * 8 + disp]),
        },
    }
    if !d.addr32 {
        asm!(e.ops ; movzx esi, si);
    }
}

/// With `esi` = offset in segment `seg`: segment check and TLB probe for a
/// `size`-byte access; leaves the host address in `rdi`.
///
/// limited segment: `lea rbp, [rsi+size-1]; mov edi, [state+limit];`
///                  `cmp rbp, rdi; ja slow; add esi, [state+base]`
/// `lea ebp, [rsi+size-1]; and ebp, PAGE_MASK`        ; page of the last byte
/// `mov edi, esi; shr edi, 7; and edi, (TLB_SIZE-1)<<5` ; entry offset
/// `cmp ebp, [tlb+rdi+tag]; jne slow`                  ; flags or other page
/// `mov rdi, [tlb+rdi+addend]; add rdi, rsi`
pub fn check(e: &mut Emitter, seg: usize, size: u8, write: bool, slow: DynamicLabel) {
    check_addend(e, seg, size, write, slow);
    asm!(e.ops ; add rdi, rsi);
}

/// [`check`] without the final `add rdi, rsi`: the host address is
/// `[rdi + rsi]`, one add shorter on the way to the data.
pub fn check_addend(e: &mut Emitter, seg: usize, size: u8, write: bool, slow: DynamicLabel) {
    let last = size as i32 - 1;
    if e.key.seg_class(seg) == SEG_LIMITED {
        let lim = st_seg_limit(seg);
        let base = st_seg_base(seg);
        asm!(e.ops
            ; lea rbp, [rsi + last]
            ; mov edi, DWORD [state + lim]
            ; cmp rbp, rdi
            ; ja =>slow
            ; add esi, DWORD [state + base]
        );
    }
    let tag = if write { TAG_WRITE } else { TAG_READ };
    let idx_mask = ((TLB_SIZE as i32) - 1) << 5;
    asm!(e.ops
        ; lea ebp, [rsi + last]
        ; and ebp, mmu::PAGE_MASK as i32
        ; mov edi, esi
        ; shr edi, 7
        ; and edi, idx_mask
        ; cmp ebp, DWORD [tlb + rdi + tag]
        ; jne =>slow
        ; mov rdi, QWORD [tlb + rdi + ADDEND]
    );
}

/// Begins native instruction `idx` whose one memory access is `d`'s
/// operand: slow path registered, address checked, host pointer in `rdi`.
pub fn operand(e: &mut Emitter, idx: usize, d: &Decoded, write: bool, writes_flags: bool) {
    let slow = e.begin_slow(idx, writes_flags, false);
    ea(e, d);
    check(e, d.mem.seg as usize, d.msize, write, slow);
}

/// [`operand`] leaving the host address as `[rdi + rsi]`.
pub fn operand_addend(e: &mut Emitter, idx: usize, d: &Decoded, write: bool) {
    let slow = e.begin_slow(idx, false, false);
    ea(e, d);
    check_addend(e, d.mem.seg as usize, d.msize, write, slow);
}

#[cfg(test)]
mod tests {
    #[test]
    fn tlb_index_matches_mmu() {
        // The inline index (va >> 7) & ((N-1) << 5) is tlb_index(va) * 32.
        for va in [0u32, 0x1234_5678, 0xFFFF_FFFF, 0x0040_3000] {
            let inline = (va >> 7) & (((mmu::TLB_SIZE as u32) - 1) << 5);
            assert_eq!(inline as usize, mmu::tlb_index(va) * 32);
        }
    }
}
