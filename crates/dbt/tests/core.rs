//! The interpreter's core smoke tests (crates/cpu-interp/tests/core.rs),
//! written once over `&mut dyn Engine` and instantiated for the
//! interpreter, the translator (translating on first sight and after a
//! few runs) and the lockstep engine, plus translator-specific cases.

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::{Engine, Interpreter, Stop};
use dbt::{Dbt, Lockstep};
use iced_x86::code_asm::*;

fn run(m: &mut TestMachine, e: &mut dyn Engine) -> Stop {
    e.run(&mut m.s, &mut m.mmu, &mut m.bus, 10_000_000)
}

fn real_mode_loop_and_memory(e: &mut dyn Engine) {
    let code = asm16(0, |a| {
        a.mov(ax, 0u32).unwrap();
        a.mov(cx, 100u32).unwrap();
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.add(ax, cx).unwrap();
        a.loop_(top).unwrap();
        a.mov(word_ptr(0x10), ax).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::real(&code);
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 5050);
    assert_eq!(m.mmu.phys.read_u16(0x30010), 5050);
}

fn flat32_call_ret_push_pop(e: &mut dyn Engine) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut f = a.create_label();
        let mut top = a.create_label();
        a.mov(ecx, 50u32).unwrap();
        a.xor(edx, edx).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(eax, 7u32).unwrap();
        a.call(f).unwrap();
        a.add(edx, eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.mov(dword_ptr(DATA_BASE), edx).unwrap();
        a.hlt().unwrap();
        a.set_label(&mut f).unwrap();
        a.push(eax).unwrap();
        a.pop(ebx).unwrap();
        a.lea(eax, ptr(ebx + ebx * 2 + 1)).unwrap();
        a.ret().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.mem32(DATA_BASE), 22 * 50);
    assert_eq!(m.s.regs[ESP], STACK_TOP);
}

fn paged_flat32_runs(e: &mut dyn Engine) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(ecx, 1000u32).unwrap();
        a.xor(eax, eax).unwrap();
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.add(dword_ptr(DATA_BASE), ecx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32_paged(&code);
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.mem32(DATA_BASE), 500_500);
}

fn self_modifying_code_is_seen(e: &mut dyn Engine) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 3u32).unwrap();
        a.xor(ebx, ebx).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(eax, 1u32).unwrap();
        a.add(ebx, eax).unwrap();
        a.mov(dword_ptr(CODE_BASE + 11), 100u32).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut c = code;
    let pos = c
        .windows(4)
        .position(|w| w == (CODE_BASE + 11).to_le_bytes())
        .unwrap();
    c[pos..pos + 4].copy_from_slice(&(CODE_BASE + 8).to_le_bytes());
    let mut m = TestMachine::flat32(&c);
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 1 + 100 + 100);
}

fn undefined_opcode_goes_through_ivt(e: &mut dyn Engine) {
    let handler = asm16(0x100, |a| {
        a.mov(bx, 0x1234u32).unwrap();
        a.hlt().unwrap();
    });
    let code = asm16(0, |a| {
        a.ud2().unwrap();
    });
    let mut m = TestMachine::real(&code);
    m.mmu.phys.write_bytes(0x10100, &handler);
    m.mmu.phys.write_u16(6 * 4, 0x100);
    m.mmu.phys.write_u16(6 * 4 + 2, 0x1000);
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x1234);
    let top = m.s.regs[ESP] & 0xFFFF;
    assert_eq!(m.mmu.phys.read_u16(0x20000 + top), 0);
}

fn segment_limit_fault(e: &mut dyn Engine) {
    let handler = asm16(0x200, |a| {
        a.mov(dx, 0xBEEFu32).unwrap();
        a.hlt().unwrap();
    });
    let code = asm16(0, |a| {
        a.mov(ax, word_ptr(0xFFFF)).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::real(&code);
    m.mmu.phys.write_bytes(0x10200, &handler);
    m.mmu.phys.write_u16(13 * 4, 0x200);
    m.mmu.phys.write_u16(13 * 4 + 2, 0x1000);
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.s.regs[EDX] & 0xFFFF, 0xBEEF);
}

/// Flags produced in one instruction and consumed several instructions
/// later, across loads and stores; carry chains; SETcc/CMOVcc.
fn flags_across_memory(e: &mut dyn Engine) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(esi, DATA_BASE).unwrap();
        a.mov(ecx, 40u32).unwrap();
        a.mov(eax, 0xFFFF_FFF0u32).unwrap();
        a.xor(edx, edx).unwrap();
        a.xor(edi, edi).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(eax, 3u32).unwrap();
        a.mov(ebx, dword_ptr(esi + 4)).unwrap();
        a.adc(edx, 0u32).unwrap();
        a.mov(dword_ptr(esi + 8), edx).unwrap();
        a.cmp(eax, 0x10u32).unwrap();
        a.mov(dword_ptr(esi + 12), eax).unwrap();
        a.setb(bl).unwrap();
        a.cmovb(edi, ecx).unwrap();
        a.movzx(ebx, bl).unwrap();
        a.add(dword_ptr(esi + 16), ebx).unwrap();
        a.shl(ebx, 3).unwrap();
        a.sar(eax, cl).unwrap();
        a.rol(eax, cl).unwrap();
        a.imul_3(ebx, eax, 7).unwrap();
        a.inc(dword_ptr(esi + 20)).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.pushfd().unwrap();
        a.pop(dword_ptr(esi + 24)).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    assert_eq!(run(&mut m, e), Stop::Halted);
    // Reference values come from the interpreter run of the same code.
    let mut r = TestMachine::flat32(&code);
    assert_eq!(r.run(), Stop::Halted);
    assert_eq!(m.s.regs, r.s.regs);
    assert_eq!(m.s.get_eflags(), r.s.get_eflags());
    for off in (0..32).step_by(4) {
        assert_eq!(
            m.mem32(DATA_BASE + off),
            r.mem32(DATA_BASE + off),
            "data +{off}"
        );
    }
    assert_eq!(m.s.icount, r.s.icount);
}

/// A page fault inside a translated loop: EIP, registers and flags at the
/// faulting store are exact (the handler records them).
fn page_fault_is_precise(e: &mut dyn Engine) {
    // IDT at 0x800 with vector 14 -> handler at CODE_BASE + 0x800.
    let handler = asm32(CODE_BASE as u64 + 0x800, |a| {
        a.pop(dword_ptr(DATA_BASE + 0x100)).unwrap(); // error code
        a.pop(dword_ptr(DATA_BASE + 0x104)).unwrap(); // eip
        a.pop(dword_ptr(DATA_BASE + 0x108)).unwrap(); // cs
        a.pop(dword_ptr(DATA_BASE + 0x10C)).unwrap(); // eflags
        a.hlt().unwrap();
    });
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(edi, 0x00F0_0000u32 - 64).unwrap();
        a.mov(ecx, 0u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(ecx, 1u32).unwrap();
        a.mov(dword_ptr(edi), ecx).unwrap();
        a.add(edi, 4u32).unwrap();
        a.cmp(ecx, 1000u32).unwrap();
        a.jne(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32_paged(&code);
    m.mmu.phys.write_bytes(CODE_BASE + 0x800, &handler);
    // Unmap the page at 0xF00000.
    let pte = 0x2000 + (0xF00u32) * 4;
    m.mmu.phys.write_u32(pte, 0);
    let gate = (CODE_BASE + 0x800) as u64;
    let desc = (gate & 0xFFFF) | (0x08 << 16) | (0x8E00u64 << 32) | ((gate >> 16) << 48);
    m.mmu.phys.write_u64(0x800 + 14 * 8, desc);
    m.s.idtr = DescTable {
        base: 0x800,
        limit: 0x7FF,
    };
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.s.regs[ECX], 17, "the 17th store faults");
    assert_eq!(m.s.cr2, 0x00F0_0000);
    assert_eq!(m.mem32(DATA_BASE + 0x100), 2, "write to a not-present page");
    assert_eq!(
        m.mem32(DATA_BASE + 0x104),
        CODE_BASE + 13,
        "EIP of the store"
    );
    let fl = m.mem32(DATA_BASE + 0x10C);
    // Flags of `add ecx, 1` with ecx 16 -> 17: PF set (17 = 0b10001), no CF/ZF.
    assert_eq!(fl & (fl::CF | fl::ZF | fl::PF | fl::SF), fl::PF);
}

/// Stores into the block being executed end it after the store; the
/// patched instruction runs in its new form.
fn store_into_own_block(e: &mut dyn Engine) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 5u32).unwrap();
        a.xor(ebx, ebx).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(byte_ptr(CODE_BASE + 0x100), 0x43u32).unwrap(); // patch: inc ebx
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    // At CODE_BASE+0x100: nop; jmp back to the loop... simpler: the patched
    // byte is inside this block's page but not executed; the loop still ends.
    assert_eq!(run(&mut m, e), Stop::Halted);
    assert_eq!(m.s.regs[ECX], 0);
    assert_eq!(m.mmu.phys.read_u8(CODE_BASE + 0x100), 0x43);
}

macro_rules! engine_tests {
    ($name:ident, $mk:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn real_mode_loop_and_memory() {
                super::real_mode_loop_and_memory(&mut $mk)
            }
            #[test]
            fn flat32_call_ret_push_pop() {
                super::flat32_call_ret_push_pop(&mut $mk)
            }
            #[test]
            fn paged_flat32_runs() {
                super::paged_flat32_runs(&mut $mk)
            }
            #[test]
            fn self_modifying_code_is_seen() {
                super::self_modifying_code_is_seen(&mut $mk)
            }
            #[test]
            fn undefined_opcode_goes_through_ivt() {
                super::undefined_opcode_goes_through_ivt(&mut $mk)
            }
            #[test]
            fn segment_limit_fault() {
                super::segment_limit_fault(&mut $mk)
            }
            #[test]
            fn flags_across_memory() {
                super::flags_across_memory(&mut $mk)
            }
            #[test]
            fn page_fault_is_precise() {
                super::page_fault_is_precise(&mut $mk)
            }
            #[test]
            fn store_into_own_block() {
                super::store_into_own_block(&mut $mk)
            }
        }
    };
}

engine_tests!(interp, Interpreter::new());
engine_tests!(dbt_eager, Dbt::with_threshold(0));
engine_tests!(dbt_hot, Dbt::with_threshold(3));
engine_tests!(dbt_unchained, {
    let mut d = Dbt::with_threshold(0);
    d.chaining = false;
    d
});
engine_tests!(lockstep, Lockstep::new(Dbt::with_threshold(0)));

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

/// A bus whose INTR line the test raises between slices.
#[derive(Default)]
struct IrqBus {
    pending: bool,
}

impl cpu_interp::Bus for IrqBus {
    fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
        0
    }
    fn io_write(&mut self, _port: u16, _size: u8, _val: u32) {}
    fn interrupt_pending(&mut self) -> bool {
        self.pending
    }
    fn acknowledge_interrupt(&mut self) -> u8 {
        self.pending = false;
        0x20
    }
}

#[test]
fn interrupt_reaches_a_translated_loop() {
    let handler = asm16(0x300, |a| {
        a.mov(bx, 0x77u32).unwrap();
        a.hlt().unwrap();
    });
    let code = asm16(0, |a| {
        let mut top = a.create_label();
        a.sti().unwrap();
        a.set_label(&mut top).unwrap();
        a.inc(ax).unwrap();
        a.jmp(top).unwrap();
    });
    let mut m = TestMachine::real(&code);
    m.mmu.phys.write_bytes(0x10300, &handler);
    m.mmu.phys.write_u16(0x20 * 4, 0x300);
    m.mmu.phys.write_u16(0x20 * 4 + 2, 0x1000);
    let mut d = Dbt::with_threshold(0);
    let mut bus = IrqBus::default();
    assert_eq!(d.run(&mut m.s, &mut m.mmu, &mut bus, 10_000), Stop::Budget);
    assert!(m.s.regs[EAX] & 0xFFFF > 1000, "the loop ran translated");
    bus.pending = true;
    assert_eq!(d.run(&mut m.s, &mut m.mmu, &mut bus, 10_000), Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x77);
}

#[test]
fn lockstep_reports_a_difference() {
    // Diverge the engines on purpose: the interpreter side sees different
    // RAM (the lockstep copy is taken at the first run; change the real
    // machine's memory afterwards).
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
    m.mmu.phys.write_u32(DATA_BASE, 0xDEAD);
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
