//! Per-family tests of the integer instructions, run through the whole
//! interpreter (decode, dispatch, handler) in flat 32-bit mode: shifts,
//! multiplies and divides, bit tests and scans, SETcc/CMOVcc, CMPXCHG,
//! CMPXCHG8B, XADD, decimal adjust, ENTER/LEAVE nesting, NOP forms.

use cpu_interp::harness::*;
use cpu_interp::ops::flag_names;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

use super::Eng;

/// Runs `f` followed by HLT in flat 32-bit mode.
fn run32(e: Eng, f: impl FnOnce(&mut CodeAssembler)) -> TestMachine {
    let code = asm32(CODE_BASE as u64, |a| {
        f(a);
        a.hlt().unwrap();
    });
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    m
}

fn flags(m: &TestMachine) -> String {
    flag_names(m.s.get_eflags())
}

#[track_caller]
fn expect(m: &TestMachine, reg: usize, val: u32, fl: &str) {
    assert_eq!(m.s.regs[reg], val, "reg {reg}: {:#x}", m.s.regs[reg]);
    assert_eq!(flags(m), fl);
}

// ---- shifts and rotates ------------------------------------------------

pub fn shl_shr_sar_forms(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0x8000_0001u32).unwrap();
        a.shl(eax, 1).unwrap();
    });
    expect(&m, EAX, 2, "CF OF");
    let m = run32(e, |a| {
        a.mov(eax, 0x40u32).unwrap();
        a.mov(cl, 3).unwrap();
        a.shl(al, cl).unwrap();
    });
    // Host rule: OF from the top two bits of the source, AF cleared.
    expect(&m, EAX, 0, "PF ZF OF");
    let m = run32(e, |a| {
        a.mov(eax, 0xFFFF_8000u32).unwrap();
        a.sar(ax, 15).unwrap();
    });
    expect(&m, EAX, 0xFFFF_FFFF, "PF SF");
    let mut m = run32(e, |a| {
        a.mov(dword_ptr(DATA_BASE), 0x81u32).unwrap();
        a.shr(dword_ptr(DATA_BASE), 1).unwrap();
    });
    assert_eq!(m.mmu.phys.read_u32(DATA_BASE), 0x40);
    assert_eq!(flags(&m), "CF");
}

pub fn masked_zero_count_changes_nothing(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0x1234u32).unwrap();
        a.stc().unwrap();
        a.mov(ebx, 0u32).unwrap();
        a.cmp(ebx, 1).unwrap(); // CF SF AF PF
        a.mov(cl, 32).unwrap();
        a.shl(eax, cl).unwrap();
        a.rcl(eax, cl).unwrap();
    });
    expect(&m, EAX, 0x1234, "CF PF AF SF");
}

pub fn rotates_through_carry_modulo(e: Eng) {
    // RCL of a byte by 9 is the identity; by 10 is RCL by 1.
    let m = run32(e, |a| {
        a.mov(eax, 0x81u32).unwrap();
        a.clc().unwrap();
        a.mov(cl, 10).unwrap();
        a.rcl(al, cl).unwrap();
    });
    expect(&m, EAX, 0x02, "CF OF");
    let m = run32(e, |a| {
        a.mov(eax, 0x1u32).unwrap();
        a.stc().unwrap();
        a.rcr(ax, 1).unwrap();
    });
    expect(&m, EAX, 0x8000, "CF OF");
    let m = run32(e, |a| {
        a.mov(eax, 0x8000_0001u32).unwrap();
        a.rol(eax, 4).unwrap();
        a.mov(ebx, 0xF0u32).unwrap();
        a.ror(bl, 4).unwrap();
    });
    assert_eq!(m.s.regs[EAX], 0x18);
    assert_eq!(m.s.regs[EBX], 0x0F);
}

pub fn double_shifts(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0x1234_5678u32).unwrap();
        a.mov(ebx, 0x9ABC_DEF0u32).unwrap();
        a.shld(eax, ebx, 8).unwrap();
    });
    expect(&m, EAX, 0x3456_789A, "PF");
    let m = run32(e, |a| {
        a.mov(eax, 0x1234_5678u32).unwrap();
        a.mov(ebx, 0x9ABC_DEF0u32).unwrap();
        a.mov(cl, 4).unwrap();
        a.shrd(eax, ebx, cl).unwrap();
    });
    expect(&m, EAX, 0x0123_4567, "CF");
    // 16-bit with a count above 16: bits of the destination come back.
    let m = run32(e, |a| {
        a.mov(eax, 0x1234u32).unwrap();
        a.mov(ebx, 0xABCDu32).unwrap();
        a.shld(ax, bx, 20).unwrap();
    });
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 0xBCD1);
}

// ---- multiply and divide -------------------------------------------------

pub fn mul_imul_forms(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0x8000_0000u32).unwrap();
        a.mov(ecx, 4u32).unwrap();
        a.mul(ecx).unwrap();
    });
    assert_eq!((m.s.regs[EAX], m.s.regs[EDX]), (0, 2));
    assert_eq!(flags(&m), "CF PF OF");
    let m = run32(e, |a| {
        a.mov(eax, 0xFFu32).unwrap();
        a.mov(ecx, 0xFFu32).unwrap();
        a.imul(cl).unwrap();
    });
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 1);
    assert_eq!(flags(&m), "");
    let m = run32(e, |a| {
        a.mov(ebx, 1000u32).unwrap();
        a.imul_3(eax, ebx, -3).unwrap();
        a.mov(ecx, 0x10000u32).unwrap();
        a.imul_2(ecx, ecx).unwrap();
        a.mov(dx, 300).unwrap();
        a.imul_3(si, dx, 300).unwrap();
    });
    assert_eq!(m.s.regs[EAX], (-3000i32) as u32);
    assert_eq!(m.s.regs[ECX], 0);
    assert_eq!(m.s.regs[ESI] & 0xFFFF, (90000u32 & 0xFFFF));
    assert_eq!(flags(&m), "CF PF OF"); // last IMUL: 90000 overflows, low byte 0x90
}

pub fn div_idiv_forms(e: Eng) {
    let m = run32(e, |a| {
        a.mov(edx, 1u32).unwrap();
        a.mov(eax, 5u32).unwrap();
        a.mov(ecx, 2u32).unwrap();
        a.div(ecx).unwrap();
        a.mov(ebx, eax).unwrap();
        a.mov(esi, edx).unwrap();
        a.mov(eax, (-7i32) as u32).unwrap();
        a.cdq().unwrap();
        a.mov(ecx, 2u32).unwrap();
        a.idiv(ecx).unwrap();
    });
    assert_eq!(m.s.regs[EBX], 0x8000_0002);
    assert_eq!(m.s.regs[ESI], 1);
    assert_eq!(m.s.regs[EAX], (-3i32) as u32);
    assert_eq!(m.s.regs[EDX], (-1i32) as u32);
}

// ---- bit tests and scans ------------------------------------------------

pub fn bt_family_registers_and_immediates(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0x10u32).unwrap();
        a.mov(ecx, 36u32).unwrap();
        a.bt(eax, ecx).unwrap(); // 36 mod 32 = 4
        a.setc(bl).unwrap();
        a.bts(eax, 0).unwrap();
        a.btr(eax, 4).unwrap();
        a.btc(eax, 31).unwrap();
    });
    assert_eq!(m.s.regs[EBX] & 0xFF, 1);
    assert_eq!(m.s.regs[EAX], 0x8000_0001);
    assert_eq!(flags(&m), ""); // BTC saw bit 31 clear
}

pub fn bt_bit_string_memory(e: Eng) {
    let mut m = run32(e, |a| {
        a.mov(edi, DATA_BASE + 0x100).unwrap();
        a.mov(ecx, 100u32).unwrap();
        a.bts(dword_ptr(edi), ecx).unwrap(); // dword at +12, bit 4
        a.mov(ecx, (-1i32) as u32).unwrap();
        a.bts(dword_ptr(edi), ecx).unwrap(); // dword at -4, bit 31
        a.mov(cx, -17i32).unwrap();
        a.bts(word_ptr(edi), cx).unwrap(); // word at -4, bit 15
        a.mov(ecx, 100u32).unwrap();
        a.btc(dword_ptr(edi), ecx).unwrap(); // clears it again, CF = 1
    });
    assert_eq!(m.mmu.phys.read_u32(DATA_BASE + 0x10C), 0);
    assert_eq!(m.mmu.phys.read_u32(DATA_BASE + 0xFC), 0x8000_8000);
    assert!(m.s.get_eflags() & fl::CF != 0);
}

pub fn bsf_bsr(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0x1234u32).unwrap();
        a.xor(ecx, ecx).unwrap();
        a.bsf(eax, ecx).unwrap(); // zero source: EAX unchanged, ZF
    });
    expect(&m, EAX, 0x1234, "PF ZF");
    let m = run32(e, |a| {
        a.mov(ecx, 0x0F00u32).unwrap();
        a.bsr(eax, ecx).unwrap();
        a.bsf(bx, cx).unwrap();
    });
    assert_eq!(m.s.regs[EAX], 11);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 8);
    assert_eq!(flags(&m), "");
}

// ---- conditional data ----------------------------------------------------

pub fn setcc_and_cmovcc(e: Eng) {
    let mut m = run32(e, |a| {
        a.mov(eax, 5u32).unwrap();
        a.cmp(eax, 7).unwrap();
        a.setl(bl).unwrap();
        a.seta(bh).unwrap();
        a.setb(byte_ptr(DATA_BASE)).unwrap();
        a.mov(ecx, 0x1111_1111u32).unwrap();
        a.mov(edx, 0x2222_2222u32).unwrap();
        a.cmovg(ecx, edx).unwrap(); // false: unchanged
        a.cmovl(dx, ax).unwrap(); // true: low word only
    });
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x0001);
    assert_eq!(m.mmu.phys.read_u8(DATA_BASE), 1);
    assert_eq!(m.s.regs[ECX], 0x1111_1111);
    assert_eq!(m.s.regs[EDX], 0x2222_0005);
}

// ---- exchanges ----------------------------------------------------------

pub fn cmpxchg_xadd(e: Eng) {
    let mut m = run32(e, |a| {
        a.mov(dword_ptr(DATA_BASE), 10u32).unwrap();
        a.mov(eax, 10u32).unwrap();
        a.mov(ebx, 20u32).unwrap();
        a.lock().cmpxchg(dword_ptr(DATA_BASE), ebx).unwrap(); // equal: store
        a.setz(cl).unwrap();
        a.mov(eax, 99u32).unwrap();
        a.cmpxchg(dword_ptr(DATA_BASE), ebx).unwrap(); // differ: EAX = 20
        a.setz(ch).unwrap();
        a.mov(edx, 5u32).unwrap();
        a.lock().xadd(dword_ptr(DATA_BASE), edx).unwrap();
    });
    assert_eq!(m.s.regs[ECX] & 0xFFFF, 0x0001);
    assert_eq!(m.s.regs[EAX], 20);
    assert_eq!(m.s.regs[EDX], 20);
    assert_eq!(m.mmu.phys.read_u32(DATA_BASE), 25);
    let m = run32(e, |a| {
        a.mov(eax, 7u32).unwrap();
        a.xadd(eax, eax).unwrap();
    });
    assert_eq!(m.s.regs[EAX], 14);
}

pub fn cmpxchg8b_both_ways(e: Eng) {
    let mut m = run32(e, |a| {
        a.mov(dword_ptr(DATA_BASE), 1u32).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), 2u32).unwrap();
        a.mov(eax, 1u32).unwrap();
        a.mov(edx, 2u32).unwrap();
        a.mov(ebx, 3u32).unwrap();
        a.mov(ecx, 4u32).unwrap();
        a.lock().cmpxchg8b(qword_ptr(DATA_BASE)).unwrap();
        a.setz(byte_ptr(DATA_BASE + 8)).unwrap();
        a.cmpxchg8b(qword_ptr(DATA_BASE)).unwrap(); // now differs
    });
    assert_eq!(m.mmu.phys.read_u64(DATA_BASE), 0x4_0000_0003);
    assert_eq!(m.mmu.phys.read_u8(DATA_BASE + 8), 1);
    assert_eq!((m.s.regs[EAX], m.s.regs[EDX]), (3, 4));
    assert!(m.s.get_eflags() & fl::ZF == 0);
}

// ---- decimal adjust -----------------------------------------------------

pub fn bcd_sequence(e: Eng) {
    let m = run32(e, |a| {
        a.mov(al, 0x19).unwrap();
        a.add(al, 0x28).unwrap();
        a.daa().unwrap(); // 0x47
        a.mov(bl, al).unwrap();
        a.mov(al, 0x10).unwrap();
        a.sub(al, 0x01).unwrap();
        a.das().unwrap(); // 0x09
        a.mov(bh, al).unwrap();
        a.mov(ax, 0x0039).unwrap();
        a.add(al, 0x35).unwrap();
        a.aaa().unwrap(); // AX 0x0104
        a.mov(cx, ax).unwrap();
        a.mov(ax, 0x0207).unwrap();
        a.aad(10).unwrap(); // AL 27
        a.mov(dx, ax).unwrap();
        a.mov(al, 123).unwrap();
        a.aam(16).unwrap(); // AH 7, AL 11
    });
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x0947);
    assert_eq!(m.s.regs[ECX] & 0xFFFF, 0x0104);
    assert_eq!(m.s.regs[EDX] & 0xFFFF, 27);
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 0x070B);
}

// ---- stack frames and NOPs ------------------------------------------------

pub fn enter_leave_nesting(e: Eng) {
    let mut m = run32(e, |a| {
        a.mov(ebp, 0x7_0000u32).unwrap();
        a.mov(dword_ptr(0x7_0000 - 4), 0xAAAAu32).unwrap();
        a.mov(dword_ptr(0x7_0000 - 8), 0xBBBBu32).unwrap();
        a.enter(16u32, 3u32).unwrap();
        a.mov(esi, ebp).unwrap();
        a.mov(edi, esp).unwrap();
        a.leave().unwrap();
    });
    // Frame: old EBP, two copied display entries, the new frame pointer.
    let frame = STACK_TOP - 4;
    assert_eq!(m.s.regs[ESI], frame);
    assert_eq!(m.s.regs[EDI], frame - 12 - 16);
    assert_eq!(m.mmu.phys.read_u32(frame), 0x7_0000);
    assert_eq!(m.mmu.phys.read_u32(frame - 4), 0xAAAA);
    assert_eq!(m.mmu.phys.read_u32(frame - 8), 0xBBBB);
    assert_eq!(m.mmu.phys.read_u32(frame - 12), frame);
    assert_eq!(m.s.regs[ESP], STACK_TOP);
    assert_eq!(m.s.regs[EBP], 0x7_0000);
}

pub fn nop_forms(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 1u32).unwrap();
        a.nop().unwrap();
        a.db(&[0x0F, 0x1F, 0x00]).unwrap(); // nop [eax]
        a.db(&[0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00]).unwrap(); // nopw [eax+eax]
        a.db(&[0x0F, 0x19, 0xC0]).unwrap(); // hint nop
        a.db(&[0x0F, 0x1E, 0xFF]).unwrap(); // hint nop
        a.db(&[0xF3, 0x90]).unwrap(); // pause
        a.db(&[0x0F, 0x18, 0x00]).unwrap(); // prefetchnta [eax]
        a.mov(ebx, 2u32).unwrap();
    });
    assert_eq!(m.s.regs[EBX], 2);
    assert_eq!(m.s.regs[EAX], 1);
}

/// The SDM's condition table, independent of the interpreter's.
fn reference_cond(cc: u8, f: u32) -> bool {
    let (cf, zf, sf, of, pf) = (
        f & fl::CF != 0,
        f & fl::ZF != 0,
        f & fl::SF != 0,
        f & fl::OF != 0,
        f & fl::PF != 0,
    );
    let r = match cc >> 1 {
        0 => of,
        1 => cf,
        2 => zf,
        3 => cf || zf,
        4 => sf,
        5 => pf,
        6 => sf != of,
        _ => zf || sf != of,
    };
    r ^ (cc & 1 != 0)
}

pub fn all_sixteen_conditions(e: Eng) {
    for f in [
        0,
        fl::CF,
        fl::ZF,
        fl::SF,
        fl::OF,
        fl::PF,
        fl::SF | fl::OF,
        fl::CF | fl::ZF | fl::PF,
        fl::ZF | fl::SF,
    ] {
        let mut m = run32(e, |a| {
            a.mov(dword_ptr(DATA_BASE + 0x100), 0xABCD_1234u32).unwrap();
            a.push(f | 2).unwrap();
            a.popfd().unwrap();
            for cc in 0..16u8 {
                // SETcc [DATA_BASE + cc]
                a.db(&[0x0F, 0x90 + cc, 0x05]).unwrap();
                a.dd(&[DATA_BASE + cc as u32]).unwrap();
                // CMOVcc ecx, [DATA_BASE + 0x100]; store ECX
                a.mov(ecx, 0u32).unwrap();
                a.db(&[0x0F, 0x40 + cc, 0x0D]).unwrap();
                a.dd(&[DATA_BASE + 0x100]).unwrap();
                a.mov(dword_ptr(DATA_BASE + 0x200 + 4 * cc as u32), ecx)
                    .unwrap();
                // Jcc over a store of 1
                a.mov(byte_ptr(DATA_BASE + 0x300 + cc as u32), 0).unwrap();
                a.db(&[0x70 + cc, 7]).unwrap();
                a.mov(byte_ptr(DATA_BASE + 0x300 + cc as u32), 1).unwrap();
            }
        });
        for cc in 0..16u8 {
            let want = reference_cond(cc, f);
            let set = m.mmu.phys.read_u8(DATA_BASE + cc as u32);
            assert_eq!(set, want as u8, "SETcc {cc:x} flags {}", flag_names(f));
            let moved = m.mmu.phys.read_u32(DATA_BASE + 0x200 + 4 * cc as u32);
            let expect_moved = if want { 0xABCD_1234 } else { 0 };
            assert_eq!(moved, expect_moved, "CMOVcc {cc:x} flags {}", flag_names(f));
            let jumped = m.mmu.phys.read_u8(DATA_BASE + 0x300 + cc as u32) == 0;
            assert_eq!(jumped, want, "Jcc {cc:x} flags {}", flag_names(f));
        }
    }
}
