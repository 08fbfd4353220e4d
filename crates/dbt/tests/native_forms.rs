//! The forms the translator emits natively since issue 7 (one-operand
//! MUL/IMUL, DIV/IDIV with #DE, BT/BTS/BTR/BTC, BSF/BSR, paired
//! load/store, DF=1 string steps, the budget pre-check): each program runs
//! on the interpreter and on the translator (translating on first sight)
//! from the same state, and the whole CPU state and RAM must agree; the
//! translator must also have run the form without a callout where the
//! fast path applies.

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::{Engine, Interpreter, Stop};
use iced_x86::code_asm::*;

/// Runs `code` (ending in HLT) on both engines after `setup`; returns the
/// translator's machine and how many instructions it translated as
/// callouts (static count). Panics on any difference.
#[track_caller]
fn both(code: &[u8], budget: u64, setup: &dyn Fn(&mut TestMachine)) -> (TestMachine, u64) {
    let mut a = TestMachine::flat32_paged(code);
    let mut b = TestMachine::flat32_paged(code);
    setup(&mut a);
    setup(&mut b);
    let sa = Interpreter::new().run(&mut a.s, &mut a.mmu, &mut a.bus, budget);
    let mut d = dbt::Dbt::with_threshold(0);
    let sb = d.run(&mut b.s, &mut b.mmu, &mut b.bus, budget);
    assert_eq!(sa, sb, "stop");
    assert_eq!(a.s.regs, b.s.regs, "registers");
    assert_eq!(a.s.eip, b.s.eip, "eip");
    assert_eq!(a.s.get_eflags(), b.s.get_eflags(), "eflags");
    assert_eq!(a.s.icount, b.s.icount, "icount");
    assert_eq!(a.s.run_state, b.s.run_state, "run state");
    for off in (0..0x1000).step_by(4) {
        assert_eq!(
            a.mem32(DATA_BASE + off),
            b.mem32(DATA_BASE + off),
            "data at {off:#x}"
        );
    }
    (b, d.stats().callout_insns)
}

fn set(regs: [u32; 4], flags: u32) -> impl Fn(&mut TestMachine) {
    move |m: &mut TestMachine| {
        m.s.regs[..4].copy_from_slice(&regs);
        m.s.regs[ESI] = DATA_BASE;
        m.s.set_eflags_raw(flags | fl::FIXED1);
    }
}

const EDGE: [u32; 7] = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1234_5678];

#[test]
fn mul_and_imul_one_operand() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.mul(ebx).unwrap();
        a.mov(dword_ptr(esi), eax).unwrap();
        a.imul(cx).unwrap();
        a.mul(bl).unwrap();
        a.imul(dword_ptr(esi)).unwrap();
        a.setc(byte_ptr(esi + 4)).unwrap();
        a.seto(byte_ptr(esi + 5)).unwrap();
        a.hlt().unwrap();
    });
    for &x in &EDGE {
        for &y in &EDGE {
            let (_, callouts) = both(&code, 1000, &set([x, y, 7, y ^ 0x55], fl::ZF | fl::AF));
            assert_eq!(callouts, 1, "only the HLT is a callout");
        }
    }
}

#[test]
fn div_and_idiv_with_divide_errors() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.div(ebx).unwrap();
        a.mov(dword_ptr(esi), edx).unwrap();
        a.mov(edx, ecx).unwrap();
        a.idiv(ebx).unwrap();
        a.mov(dword_ptr(esi + 4), eax).unwrap();
        a.xor(edx, edx).unwrap();
        a.div(bx).unwrap();
        a.div(bl).unwrap();
        a.hlt().unwrap();
    });
    // (EAX, EBX divisor, ECX high half for IDIV, EDX high half for DIV)
    let cases = [
        [100, 7, 0, 0],
        [100, 0, 0, 0],                             // #DE: zero divisor
        [5, 3, 0, 7],                               // #DE: quotient too large
        [0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFF, 0], // IDIV most negative / -1
        [0x8000_0000, 2, 0xFFFF_FFFF, 0],           // IDIV fits
        [0, 2, 0x4000_0000, 0],                     // IDIV overflows
        [0xFFFF_FFF9, 0xFFFF_FFFD, 0xFFFF_FFFF, 0],
        [0x1234, 0x100, 0, 0],
    ];
    for r in cases {
        let [va, vb, vc, vd] = r;
        both(&code, 1000, &set([va, vc, vd, vb], fl::CF | fl::SF));
    }
    // Registers are untouched by a faulting DIV.
    let code = asm32(CODE_BASE as u64, |a| {
        a.div(ebx).unwrap();
        a.hlt().unwrap();
    });
    let (m, _) = both(&code, 1000, &set([100, 1, 200, 0], 0));
    assert_eq!(m.s.regs[EAX], 100);
    assert_eq!(m.s.regs[EDX], 200);
}

#[test]
fn bit_tests_and_scans() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.bt(eax, ecx).unwrap();
        a.setc(byte_ptr(esi)).unwrap();
        a.bts(eax, ecx).unwrap();
        a.btr(bx, cx).unwrap();
        a.btc(edx, 37).unwrap();
        a.adc(dword_ptr(esi + 8), 0).unwrap();
        a.bts(dword_ptr(esi + 12), 33).unwrap();
        a.btc(word_ptr(esi + 16), 15).unwrap();
        a.bsf(edx, eax).unwrap();
        a.bsr(cx, bx).unwrap();
        a.setz(byte_ptr(esi + 1)).unwrap();
        a.bsf(ebx, dword_ptr(esi + 20)).unwrap();
        a.hlt().unwrap();
    });
    for &x in &EDGE {
        for c in [0, 1, 15, 31, 32, 33, 70] {
            let (_, callouts) = both(
                &code,
                1000,
                &set([x, c, x.rotate_left(7), !x], fl::OF | fl::PF),
            );
            assert_eq!(callouts, 1, "only the HLT is a callout");
        }
    }
}

#[test]
fn paired_load_store_and_read_only_pages() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.mov(eax, dword_ptr(esi + edx * 4)).unwrap();
        a.add(eax, ebx).unwrap();
        a.rol(eax, 5).unwrap();
        a.mov(dword_ptr(esi + edx * 4), eax).unwrap();
        a.inc(edx).unwrap();
        a.cmp(edx, 40).unwrap();
        a.jne(top).unwrap();
        a.hlt().unwrap();
    });
    let (_, callouts) = both(&code, 10_000, &set([0, 0, 0, 3], 0));
    assert_eq!(callouts, 1, "only the HLT is a callout");
    // The same loop over a read-only page: the paired load's write check
    // misses, the load runs in the interpreter, the store faults.
    let ro = |m: &mut TestMachine| {
        set([0, 0, 0, 3], 0)(m);
        let page = DATA_BASE + 0x1000;
        m.s.regs[ESI] = page - 64;
        m.mmu.phys.write_u32(0x2000 + (page >> 12) * 4, page | 1);
        m.mmu.flush_all();
    };
    both(&code, 10_000, &ro);
}

#[test]
fn string_steps_with_the_direction_flag_set() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.std().unwrap();
        a.set_label(&mut top).unwrap();
        a.lodsd().unwrap();
        a.add(eax, 3).unwrap();
        a.stosw().unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.cld().unwrap();
        a.stosb().unwrap();
        a.hlt().unwrap();
    });
    both(&code, 10_000, &|m: &mut TestMachine| {
        set([1, 20, 0, 0], 0)(m);
        m.s.regs[ESI] = DATA_BASE + 0x400;
        m.s.regs[EDI] = DATA_BASE + 0x800;
    });
}

#[test]
fn budget_stops_match_the_interpreter() {
    // Blocks with a budget pre-check, fast chains between them, a loop:
    // every budget must stop both engines at the same block boundary.
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        let mut skip = a.create_label();
        a.set_label(&mut top).unwrap();
        a.add(eax, ebx).unwrap();
        a.xor(ebx, eax).unwrap();
        a.test(eax, 1).unwrap();
        a.jz(skip).unwrap();
        a.add(edi, eax).unwrap();
        a.set_label(&mut skip).unwrap();
        a.imul_3(ebx, ebx, 13).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    for budget in 1..120 {
        let (m, _) = both(&code, budget, &set([1, 30, 0, 0x1234_5678], 0));
        assert!(m.s.icount >= budget || m.s.run_state != RunState::Running);
    }
    let (_, _) = both(&code, 100_000, &set([1, 30, 0, 5], 0));
    let _ = Stop::Budget;
}

#[test]
fn shifts_and_rotates_by_cl() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.add(edx, 0).unwrap(); // known flags in host EFLAGS
        a.rol(eax, cl).unwrap();
        a.pushfd().unwrap();
        a.ror(bx, cl).unwrap();
        a.pushfd().unwrap();
        a.rol(dl, cl).unwrap();
        a.pushfd().unwrap();
        a.shl(ebx, cl).unwrap();
        a.pushfd().unwrap();
        a.sar(ax, cl).unwrap();
        a.pushfd().unwrap();
        a.shr(dl, cl).unwrap();
        a.pushfd().unwrap();
        a.hlt().unwrap();
    });
    for &x in &EDGE {
        for c in [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40] {
            let (_, callouts) = both(
                &code,
                1000,
                &set([x, c, x ^ 0xC000_0001, !x], fl::OF | fl::SF),
            );
            assert_eq!(callouts, 7, "only PUSHFD and HLT are callouts");
        }
    }
}

#[test]
fn test_memory_bswap_pause_leave() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.push(ebp).unwrap();
        a.mov(ebp, esp).unwrap();
        a.push(eax).unwrap();
        a.test(dword_ptr(esi + 8), ebx).unwrap();
        a.setz(byte_ptr(esi)).unwrap();
        a.bswap(ebx).unwrap();
        a.pause().unwrap();
        a.mov(ecx, dword_ptr(ebp - 4)).unwrap();
        a.leave().unwrap();
        a.hlt().unwrap();
    });
    for &x in &EDGE {
        let (m, callouts) = both(&code, 1000, &set([x, 0, 0, x.rotate_left(3)], 0));
        assert_eq!(callouts, 1, "only the HLT is a callout");
        assert_eq!(m.s.regs[ECX], x);
        assert_eq!(m.s.regs[ESP], STACK_TOP);
    }
}

/// Direct jumps into another virtual page (here CALL rel32) probe the jump
/// cache inline instead of returning to the dispatcher: after the target
/// page is remapped (INVLPG, then a CR3 reload) the same call must reach
/// the new code.
#[test]
fn cross_page_direct_exits_follow_remapping() {
    const PTE_11000: u32 = 0x2000 + 0x11 * 4;
    let code = asm32(CODE_BASE as u64, |a| {
        let mut l1 = a.create_label();
        let mut l2 = a.create_label();
        let mut l3 = a.create_label();
        a.xor(eax, eax).unwrap();
        a.mov(ecx, 50u32).unwrap();
        a.set_label(&mut l1).unwrap();
        a.call(0x11000u64).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(l1).unwrap();
        a.mov(dword_ptr(PTE_11000), 0x30007u32).unwrap();
        a.invlpg(byte_ptr(0x11000)).unwrap();
        a.mov(ecx, 50u32).unwrap();
        a.set_label(&mut l2).unwrap();
        a.call(0x11000u64).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(l2).unwrap();
        a.mov(dword_ptr(PTE_11000), 0x11007u32).unwrap();
        a.mov(ebx, cr3).unwrap();
        a.mov(cr3, ebx).unwrap();
        a.mov(ecx, 50u32).unwrap();
        a.set_label(&mut l3).unwrap();
        a.call(0x11000u64).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(l3).unwrap();
        a.hlt().unwrap();
    });
    let setup = |m: &mut TestMachine| {
        // 0x11000: add eax, 1; ret    0x30000: add eax, 100; ret
        for (i, b) in [0x83u8, 0xC0, 0x01, 0xC3].into_iter().enumerate() {
            m.mmu.phys.write_u8(0x11000 + i as u32, b);
        }
        for (i, b) in [0x83u8, 0xC0, 0x64, 0xC3].into_iter().enumerate() {
            m.mmu.phys.write_u8(0x30000 + i as u32, b);
        }
    };
    let (m, _) = both(&code, 100_000, &setup);
    assert_eq!(m.s.regs[EAX], 50 + 50 * 100 + 50);
}

/// x87 instructions in a mostly-integer block run as light callouts
/// (`emit::light_callout`): registers, flags, FNSTSW AX and memory agree
/// with the interpreter.
#[test]
fn x87_light_callouts_in_integer_blocks() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.add(ebx, eax).unwrap();
        a.fld(dword_ptr(esi)).unwrap();
        a.add(ecx, 3).unwrap();
        a.sub(edx, 1).unwrap();
        a.fadd_2(st0, st0).unwrap();
        a.cmp(ecx, edx).unwrap();
        a.fstp(dword_ptr(esi + 4)).unwrap();
        a.setb(byte_ptr(esi + 8)).unwrap();
        a.add(eax, ecx).unwrap();
        a.fnstsw(ax).unwrap();
        a.adc(ebx, 1).unwrap();
        a.xor(ecx, edx).unwrap();
        a.hlt().unwrap();
    });
    let setup = |m: &mut TestMachine| {
        set([7, 0xFFFF_FFFE, 0, 0x8000_0000], fl::CF)(m);
        m.mmu.phys.write_u32(DATA_BASE, 1.5f32.to_bits());
    };
    let (mut m, callouts) = both(&code, 1000, &setup);
    assert_eq!(m.mem32(DATA_BASE + 4), 3.0f32.to_bits());
    assert!(callouts >= 4, "the x87 instructions ran as callouts");
}
