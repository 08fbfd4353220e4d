//! Smoke tests of the interpreter core: the engine loop, block cache,
//! real-mode and flat protected-mode execution, exceptions, SMC.

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::{Engine, Stop};
use iced_x86::code_asm::*;

#[test]
fn real_mode_loop_and_memory() {
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
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 5050);
    assert_eq!(m.mmu.phys.read_u16(0x30010), 5050);
}

#[test]
fn flat32_call_ret_push_pop() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut f = a.create_label();
        a.mov(eax, 7u32).unwrap();
        a.call(f).unwrap();
        a.mov(dword_ptr(DATA_BASE), eax).unwrap();
        a.hlt().unwrap();
        a.set_label(&mut f).unwrap();
        a.push(eax).unwrap();
        a.pop(ebx).unwrap();
        a.lea(eax, ptr(ebx + ebx * 2 + 1)).unwrap();
        a.ret().unwrap();
    });
    let mut m = TestMachine::flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.mem32(DATA_BASE), 22);
    assert_eq!(m.s.regs[ESP], STACK_TOP);
}

#[test]
fn paged_flat32_runs() {
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
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.mem32(DATA_BASE), 500_500);
}

#[test]
fn self_modifying_code_is_seen() {
    // The loop body patches the immediate of an instruction it will run
    // next time around.
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 3u32).unwrap();
        a.xor(ebx, ebx).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(eax, 1u32).unwrap(); // B8 imm32: imm at patch+1
        a.add(ebx, eax).unwrap();
        a.mov(dword_ptr(CODE_BASE + 11), 100u32).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    // mov ecx (5 bytes) + xor (2 bytes) => patch at offset 7, imm at 8.
    assert_eq!(code[7], 0xB8);
    let code = {
        let mut c = code;
        // retarget the store to the imm32 at offset 8
        let pos = c
            .windows(4)
            .position(|w| w == (CODE_BASE + 11).to_le_bytes())
            .unwrap();
        c[pos..pos + 4].copy_from_slice(&(CODE_BASE + 8).to_le_bytes());
        c
    };
    let mut m = TestMachine::flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 1 + 100 + 100);
}

#[test]
fn undefined_opcode_goes_through_ivt() {
    // Real mode: UD2 vectors through IVT entry 6 to a handler that halts.
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
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x1234);
    // The pushed IP is the faulting instruction.
    let top = m.s.regs[ESP] & 0xFFFF;
    assert_eq!(m.mmu.phys.read_u16(0x20000 + top), 0);
}

#[test]
fn divide_flags_and_segment_limit_fault() {
    // A word read at offset 0xFFFF overruns a real-mode segment: #GP (int 13).
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
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EDX] & 0xFFFF, 0xBEEF);
}

#[test]
fn trap_flag_single_steps_each_instruction() {
    // Real mode: set TF with POPF; the #DB handler (IVT 1) counts traps in
    // BX and returns. POPF itself does not trap (TF was clear when it
    // began); the three instructions after it do, and the POPF that clears
    // TF traps too (it began with TF set).
    let handler = asm16(0x300, |a| {
        a.inc(bx).unwrap();
        a.iret().unwrap();
    });
    let code = asm16(0, |a| {
        a.xor(bx, bx).unwrap();
        a.push(0x0100u32 as i32).unwrap(); // TF
        a.popf().unwrap();
        a.nop().unwrap();
        a.nop().unwrap();
        a.push(0u32 as i32).unwrap();
        a.popf().unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::real(&code);
    m.mmu.phys.write_bytes(0x10300, &handler);
    m.mmu.phys.write_u16(4, 0x300);
    m.mmu.phys.write_u16(6, 0x1000);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 4);
}

#[test]
fn rep_bsf_executes_as_bsf_without_bmi1() {
    // F3 0F BC C9 (TZCNT ecx, ecx on BMI1 CPUs) is BSF on an i686: Linux
    // 6.1's find_first_bit depends on it.
    let mut code = vec![0xF3, 0x0F, 0xBC, 0xC9];
    code.extend(asm32(CODE_BASE as u64 + 4, |a| a.hlt().unwrap()));
    let mut m = TestMachine::flat32(&code);
    m.s.regs[ECX] = 8;
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[ECX], 3);
    assert!(!m.s.zf());
}

/// A bus whose port 0x92 closes the A20 gate, applied in `sync_memory`
/// as the PC's bus does.
#[derive(Default)]
struct A20Bus {
    pending_off: bool,
}

impl cpu_interp::Bus for A20Bus {
    fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
        0xFF
    }
    fn io_write(&mut self, port: u16, _size: u8, _val: u32) {
        self.pending_off |= port == 0x92;
    }
    fn interrupt_pending(&mut self) -> bool {
        false
    }
    fn acknowledge_interrupt(&mut self) -> u8 {
        0
    }
    fn sync_memory(&mut self, mmu: &mut mmu::Mmu) {
        if std::mem::take(&mut self.pending_off) {
            mmu.set_a20(false);
        }
    }
}

/// Runs `out` (which writes port 0x92) then reads FFFF:0010 = 1 MiB into
/// BL: the read must already see A20 closed (byte of physical 0).
fn a20_seen_by_next_instruction(out: impl FnOnce(&mut CodeAssembler)) {
    let code = asm16(0, |a| {
        a.mov(ax, 0xFFFFu32).unwrap();
        a.mov(es, ax).unwrap();
        a.mov(dx, 0x92u32).unwrap();
        a.xor(si, si).unwrap();
        out(a);
        a.mov(bl, byte_ptr(0x10).es()).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::real(&code);
    m.mmu.phys.write_u8(0, 0x11);
    m.mmu.phys.write_u8(0x10_0000, 0x22);
    let mut bus = A20Bus::default();
    let stop = m.interp.run(&mut m.s, &mut m.mmu, &mut bus, 1000);
    assert_eq!(stop, Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFF, 0x11, "A20 change applied at once");
}

#[test]
fn out_applies_memory_map_changes_before_the_next_instruction() {
    a20_seen_by_next_instruction(|a| a.out(dx, al).unwrap());
}

#[test]
fn outs_applies_memory_map_changes_before_the_next_instruction() {
    a20_seen_by_next_instruction(|a| a.outsb().unwrap());
}

#[test]
fn endbr32_is_a_nop_without_cet() {
    // F3 0F 1E FB: glibc's CET landing pads must run as NOPs on an i686.
    let mut code = vec![0xF3, 0x0F, 0x1E, 0xFB];
    code.extend(asm32(CODE_BASE as u64 + 4, |a| {
        a.mov(eax, 42u32).unwrap();
        a.hlt().unwrap();
    }));
    let mut m = TestMachine::flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EAX], 42);
}
