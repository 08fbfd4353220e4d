//! Smoke tests of an engine's core: the run loop, blocks, real-mode and
//! flat protected-mode execution (with and without paging), exceptions
//! through the IVT and the IDT with exact state, single-stepping,
//! self-modifying code, memory-map changes made by port I/O.

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

use super::{Eng, IrqBus};

pub fn real_mode_loop_and_memory(e: Eng) {
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
    let mut m = e.real(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 5050);
    assert_eq!(m.mmu.phys.read_u16(0x30010), 5050);
}

pub fn flat32_call_ret_push_pop(e: Eng) {
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
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.mem32(DATA_BASE), 22 * 50);
    assert_eq!(m.s.regs[ESP], STACK_TOP);
}

pub fn paged_flat32_runs(e: Eng) {
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
    let mut m = e.flat32_paged(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.mem32(DATA_BASE), 500_500);
}

pub fn self_modifying_code_is_seen(e: Eng) {
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
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 1 + 100 + 100);
}

pub fn undefined_opcode_goes_through_ivt(e: Eng) {
    // Real mode: UD2 vectors through IVT entry 6 to a handler that halts.
    let handler = asm16(0x100, |a| {
        a.mov(bx, 0x1234u32).unwrap();
        a.hlt().unwrap();
    });
    let code = asm16(0, |a| {
        a.ud2().unwrap();
    });
    let mut m = e.real(&code);
    m.mmu.phys.write_bytes(0x10100, &handler);
    m.mmu.phys.write_u16(6 * 4, 0x100);
    m.mmu.phys.write_u16(6 * 4 + 2, 0x1000);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x1234);
    // The pushed IP is the faulting instruction.
    let top = m.s.regs[ESP] & 0xFFFF;
    assert_eq!(m.mmu.phys.read_u16(0x20000 + top), 0);
}

pub fn segment_limit_fault(e: Eng) {
    // A word read at offset 0xFFFF overruns a real-mode segment: #GP (int 13).
    let handler = asm16(0x200, |a| {
        a.mov(dx, 0xBEEFu32).unwrap();
        a.hlt().unwrap();
    });
    let code = asm16(0, |a| {
        a.mov(ax, word_ptr(0xFFFF)).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.real(&code);
    m.mmu.phys.write_bytes(0x10200, &handler);
    m.mmu.phys.write_u16(13 * 4, 0x200);
    m.mmu.phys.write_u16(13 * 4 + 2, 0x1000);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EDX] & 0xFFFF, 0xBEEF);
}

pub fn trap_flag_single_steps_each_instruction(e: Eng) {
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
    let mut m = e.real(&code);
    m.mmu.phys.write_bytes(0x10300, &handler);
    m.mmu.phys.write_u16(4, 0x300);
    m.mmu.phys.write_u16(6, 0x1000);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 4);
}

pub fn rep_bsf_executes_as_bsf_without_bmi1(e: Eng) {
    // F3 0F BC C9 (TZCNT ecx, ecx on BMI1 CPUs) is BSF on an i686: Linux
    // 6.1's find_first_bit depends on it.
    let mut code = vec![0xF3, 0x0F, 0xBC, 0xC9];
    code.extend(asm32(CODE_BASE as u64 + 4, |a| a.hlt().unwrap()));
    let mut m = e.flat32(&code);
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
fn a20_seen_by_next_instruction(e: Eng, out: impl FnOnce(&mut CodeAssembler)) {
    let code = asm16(0, |a| {
        a.mov(ax, 0xFFFFu32).unwrap();
        a.mov(es, ax).unwrap();
        a.mov(dx, 0x92u32).unwrap();
        a.xor(si, si).unwrap();
        out(a);
        a.mov(bl, byte_ptr(0x10).es()).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.real(&code);
    m.mmu.phys.write_u8(0, 0x11);
    m.mmu.phys.write_u8(0x10_0000, 0x22);
    let mut bus = A20Bus::default();
    let stop = super::run_on_bus(&mut m, &mut bus, 1000);
    assert_eq!(stop, Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFF, 0x11, "A20 change applied at once");
}

pub fn out_applies_memory_map_changes_before_the_next_instruction(e: Eng) {
    a20_seen_by_next_instruction(e, |a| a.out(dx, al).unwrap());
}

pub fn outs_applies_memory_map_changes_before_the_next_instruction(e: Eng) {
    a20_seen_by_next_instruction(e, |a| a.outsb().unwrap());
}

pub fn endbr32_is_a_nop_without_cet(e: Eng) {
    // F3 0F 1E FB: glibc's CET landing pads must run as NOPs on an i686.
    let mut code = vec![0xF3, 0x0F, 0x1E, 0xFB];
    code.extend(asm32(CODE_BASE as u64 + 4, |a| {
        a.mov(eax, 42u32).unwrap();
        a.hlt().unwrap();
    }));
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EAX], 42);
}

/// Flags produced in one instruction and consumed several instructions
/// later, across loads and stores; carry chains; SETcc/CMOVcc.
pub fn flags_across_memory(e: Eng) {
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
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
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
pub fn page_fault_is_precise(e: Eng) {
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
    let mut m = e.flat32_paged(&code);
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
    assert_eq!(m.run(), Stop::Halted);
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

/// A store into the page of the running loop (but not into its bytes)
/// lands in memory and leaves the loop running unchanged.
pub fn store_into_own_block(e: Eng) {
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
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[ECX], 0);
    assert_eq!(m.mmu.phys.read_u8(CODE_BASE + 0x100), 0x43);
}

/// An external interrupt raised between slices reaches an endless (hot,
/// translated, chained) loop at an instruction boundary.
pub fn interrupt_reaches_a_running_loop(e: Eng) {
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
    let mut m = e.real(&code);
    m.mmu.phys.write_bytes(0x10300, &handler);
    m.mmu.phys.write_u16(0x20 * 4, 0x300);
    m.mmu.phys.write_u16(0x20 * 4 + 2, 0x1000);
    let mut bus = IrqBus::default();
    assert_eq!(super::run_on_bus(&mut m, &mut bus, 10_000), Stop::Budget);
    let ax_before = m.s.regs[EAX] & 0xFFFF;
    assert!(ax_before > 1000, "the loop ran: ax={ax_before}");
    bus.pending = true;
    assert_eq!(super::run_on_bus(&mut m, &mut bus, 10_000), Stop::Halted);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x77);
    // The handler's frame: FLAGS, CS, IP of the interrupted loop.
    let top = m.s.regs[ESP] & 0xFFFF;
    let ip = m.mmu.phys.read_u16(0x20000 + top) as u32;
    assert_eq!(m.mmu.phys.read_u16(0x20000 + top + 2), 0x1000);
    assert!(
        (1..=2).contains(&ip),
        "interrupted at an instruction boundary of the loop: {ip:#x}"
    );
}
