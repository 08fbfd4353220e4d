//! Hardware breakpoints (DR0-DR3) on code the translator has already
//! translated and chained: once DR7 enables a breakpoint the shared outer
//! loop (`cpu_interp::driver`) runs instructions one at a time in the
//! interpreter, so translated code cannot skip a hit.

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::{Engine, Interpreter, Stop};
use dbt::Dbt;
use iced_x86::code_asm::*;

const HANDLER: u32 = CODE_BASE + 0x400;
const IDT: u32 = 0x3000;

/// A hot loop (translated after a few iterations), then DR7 armed with an
/// execute breakpoint on the loop body and a write breakpoint on a
/// counter the loop stores; the #DB handler counts hits by DR6 bit and
/// sets RF so the instruction then runs.
fn program() -> TestMachine {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut warm = a.create_label();
        let mut body = a.create_label();
        a.mov(ecx, 200u32).unwrap();
        a.set_label(&mut warm).unwrap();
        a.add(ebx, 1).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x40), ebx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(warm).unwrap();
        // Arm: DR0 = execute at `body`, DR1 = write of 4 bytes at
        // DATA_BASE + 0x40, both global.
        a.mov(eax, 0x000A_u32 | (0b1101 << 20)).unwrap();
        a.mov(dr7, eax).unwrap();
        a.mov(ecx, 5u32).unwrap();
        a.set_label(&mut body).unwrap();
        a.add(ebx, 1).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x40), ebx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(body).unwrap();
        a.hlt().unwrap();
    });
    let handler = asm32(HANDLER as u64, |a| {
        let mut not_b0 = a.create_label();
        let mut done = a.create_label();
        a.push(eax).unwrap();
        a.mov(eax, dr6).unwrap();
        a.test(eax, 1).unwrap();
        a.jz(not_b0).unwrap();
        a.inc(dword_ptr(DATA_BASE)).unwrap();
        a.or(dword_ptr(esp + 12), fl::RF).unwrap();
        a.jmp(done).unwrap();
        a.set_label(&mut not_b0).unwrap();
        a.inc(dword_ptr(DATA_BASE + 4)).unwrap();
        a.set_label(&mut done).unwrap();
        a.xor(eax, eax).unwrap();
        a.mov(dr6, eax).unwrap();
        a.pop(eax).unwrap();
        a.iretd().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    m.mmu.phys.write_bytes(HANDLER, &handler);
    m.mmu
        .phys
        .write_u32(IDT + 8, (0x08 << 16) | (HANDLER & 0xFFFF));
    m.mmu
        .phys
        .write_u32(IDT + 12, (HANDLER & 0xFFFF_0000) | 0x8E00);
    m.s.idtr = DescTable {
        base: IDT,
        limit: 0x7FF,
    };
    // The body starts after 17 bytes of warm loop (mov ecx 5, add 3,
    // mov 6, dec 1, jnz 2) and 13 of arming (mov eax 5, mov dr7 3,
    // mov ecx 5).
    let body = CODE_BASE + 17 + 13;
    m.s.dr[0] = body;
    m.s.dr[1] = DATA_BASE + 0x40;
    m
}

fn check(e: &mut dyn Engine) {
    let mut m = program();
    // Sanity-check the computed breakpoint address: it must hold `add ebx,1`.
    assert_eq!(
        m.mmu.phys.read_u8(m.s.dr[0]),
        0x83,
        "breakpoint address is the add"
    );
    let stop = e.run(&mut m.s, &mut m.mmu, &mut m.bus, 1_000_000);
    assert_eq!(stop, Stop::Halted, "{}", e.name());
    assert_eq!(m.mem32(DATA_BASE), 5, "{}: execute hits", e.name());
    assert_eq!(m.mem32(DATA_BASE + 4), 5, "{}: write hits", e.name());
    assert_eq!(m.s.regs[EBX], 205, "{}", e.name());
    assert_eq!(m.s.regs[ESP], STACK_TOP, "{}", e.name());
}

#[test]
fn interpreter_honours_breakpoints_after_a_hot_loop() {
    check(&mut Interpreter::new());
}

#[test]
fn translator_honours_breakpoints_on_translated_code() {
    let mut e = Dbt::with_threshold(2);
    check(&mut e);
    assert!(e.stats().blocks > 0, "the warm loop was translated");
}

#[test]
fn translator_on_first_sight_honours_breakpoints() {
    check(&mut Dbt::with_threshold(0));
}
