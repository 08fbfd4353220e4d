//! Translator-internal tests: translation, chaining and callout counters,
//! the budget check inside chained code, code-buffer flushes, lockstep's
//! difference report and block dumps. The architectural behaviour every
//! engine must share (smoke tests, system tests, bad input) is the
//! engine-generic suite in `test-suites` (`tests/engines.rs`), which runs
//! the translator in several configurations and under lockstep.

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::{Engine, Stop};
use dbt::{Dbt, Lockstep};
use iced_x86::code_asm::*;

fn run(m: &mut TestMachine, e: &mut dyn Engine) -> Stop {
    e.run(&mut m.s, &mut m.mmu, &mut m.bus, 10_000_000)
}

#[test]
fn translator_translates_chains_and_counts() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 10_000u32).unwrap();
        a.xor(eax, eax).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(eax, ecx).unwrap();
        a.mov(dword_ptr(DATA_BASE), eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    let mut d = Dbt::with_threshold(2);
    assert_eq!(run(&mut m, &mut d), Stop::Halted);
    let mut r = TestMachine::flat32(&code);
    r.run();
    assert_eq!(m.s.icount, r.s.icount, "retired-instruction count matches");
    assert_eq!(m.s.regs[EAX], r.s.regs[EAX]);
    let st = d.stats();
    assert!(st.blocks >= 1, "{st}");
    assert!(st.chains >= 1, "the loop is chained to itself: {st}");
    assert!(
        st.entries < 100,
        "the loop runs inside translated code: {st}"
    );
    assert_eq!(st.callout_insns, 0, "all of the loop is native: {st}");
}

#[test]
fn budget_stops_a_chained_loop() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.inc(eax).unwrap();
        a.jmp(top).unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    let mut d = Dbt::with_threshold(0);
    let stop = d.run(&mut m.s, &mut m.mmu, &mut m.bus, 1001);
    assert_eq!(stop, Stop::Budget);
    assert_eq!(
        m.s.icount, 1002,
        "stops at the first block boundary past the budget"
    );
    assert_eq!(m.s.regs[EAX], 501);
    // An external exit request is seen at the next block entry.
    m.s.exit_request |= cpu_interp::cpu::EXIT_EXTERNAL;
    assert_eq!(
        d.run(&mut m.s, &mut m.mmu, &mut m.bus, 1000),
        Stop::ExitRequest
    );
}

#[test]
fn full_code_buffer_flushes_and_stays_correct() {
    // 300 distinct blocks (each `add eax, i; jmp next`), run 3 times, in a
    // buffer that holds only a few dozen.
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 3u32).unwrap();
        a.set_label(&mut top).unwrap();
        for i in 0..300u32 {
            let mut next = a.create_label();
            a.add(eax, i).unwrap();
            a.jmp(next).unwrap();
            a.set_label(&mut next).unwrap();
        }
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    let mut d = Dbt::with_cache_size(0, 64 << 10);
    assert_eq!(run(&mut m, &mut d), Stop::Halted);
    assert_eq!(m.s.regs[EAX], 3 * (299 * 300 / 2));
    let st = d.stats();
    assert!(st.flushes > 0, "{st}");
    // A buffer too small for some block: that block is interpreted.
    let mut m = TestMachine::flat32(&code);
    let mut d = Dbt::with_cache_size(0, 4 << 10);
    assert_eq!(run(&mut m, &mut d), Stop::Halted);
    assert_eq!(m.s.regs[EAX], 3 * (299 * 300 / 2));
}

#[test]
fn lockstep_reports_a_difference() {
    // Diverge the engines on purpose: change the real machine's RAM behind
    // the lockstep's back (a raw write is not logged as an outside write,
    // so the interpreter's copy keeps the old value).
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 100u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(eax, dword_ptr(DATA_BASE)).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    let mut l = Lockstep::new(Dbt::with_threshold(0));
    assert_eq!(l.run(&mut m.s, &mut m.mmu, &mut m.bus, 5), Stop::Budget);
    assert!(l.mismatch.is_none());
    m.mmu
        .phys
        .write_ram_raw(DATA_BASE, &0xDEADu32.to_le_bytes());
    assert_eq!(
        l.run(&mut m.s, &mut m.mmu, &mut m.bus, 1000),
        Stop::Shutdown
    );
    let mm = l.mismatch.as_ref().expect("a mismatch");
    let text = mm.to_string();
    assert!(text.contains("regs"), "{text}");
    assert!(text.contains("dec ecx"), "guest code shown: {text}");
    assert!(text.contains("r15"), "host code shown: {text}");
}

#[test]
fn dump_shows_guest_and_host_code() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, 5u32).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    let mut d = Dbt::with_threshold(0);
    let key = Dbt::key_for(&m.s, &mut m.mmu).unwrap();
    assert_eq!(run(&mut m, &mut d), Stop::Halted);
    let text = d.dump_block(&key).expect("translated");
    assert!(text.contains("mov eax,5"), "{text}");
    assert!(text.contains("r15"), "{text}");
}

#[test]
fn real_mode_stack_code_is_native_and_exact() {
    let code = asm16(0, |a| {
        let mut top = a.create_label();
        let mut f = a.create_label();
        a.mov(cx, 300u32).unwrap();
        a.xor(dx, dx).unwrap();
        a.set_label(&mut top).unwrap();
        a.push(cx).unwrap();
        a.call(f).unwrap();
        a.pop(cx).unwrap();
        a.add(dx, ax).unwrap();
        a.mov(word_ptr(bx + si + 0x20), dx).unwrap();
        a.dec(cx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
        a.set_label(&mut f).unwrap();
        a.push(bp).unwrap();
        a.mov(bp, sp).unwrap();
        a.mov(ax, word_ptr(bp + 4)).unwrap();
        a.shl(ax, 1).unwrap();
        a.pop(bp).unwrap();
        a.ret().unwrap();
    });
    let mut m = TestMachine::real(&code);
    let mut d = Dbt::with_threshold(1);
    assert_eq!(run(&mut m, &mut d), Stop::Halted);
    let mut r = TestMachine::real(&code);
    r.run();
    assert_eq!(m.s.regs, r.s.regs);
    assert_eq!(m.s.icount, r.s.icount);
    assert_eq!(m.mmu.phys.read_u16(0x30020), r.mmu.phys.read_u16(0x30020));
    assert_eq!(m.s.regs[EDX] & 0xFFFF, (300 * 301) as u32 & 0xFFFF);
    let st = d.stats();
    assert_eq!(st.callout_insns, 0, "16-bit stack code is native: {st}");
    assert!(st.entries < 50, "{st}");
}
