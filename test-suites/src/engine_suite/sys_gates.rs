//! System tests: privilege changes through interrupt gates and IRET, call
//! gates (with stack switch and parameter copy), RETF to an outer level,
//! conforming code.

use super::sys_harness::*;
use super::Eng;

const USER: u32 = CODE_BASE + 0x400;
const KERNEL: u32 = CODE_BASE + 0x800;

pub fn ring3_int_to_ring0_and_iret_back(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, USER, 0x202));
    let ucode = asm32(USER as u64, |a| {
        a.mov(eax, 0x23u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(ebx, 5u32).unwrap();
        a.int(0x80).unwrap();
        // Back in ring 3: EBX doubled by the kernel.
        a.mov(dword_ptr(DATA_BASE), ebx).unwrap();
        a.mov(ax, cs).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), eax).unwrap();
        a.mov(dword_ptr(DATA_BASE + 8), esp).unwrap();
        a.pushfd().unwrap();
        a.pop(dword_ptr(DATA_BASE + 12)).unwrap();
        a.ud2().unwrap();
    });
    let kcode = asm32(KERNEL as u64, |a| {
        a.add(ebx, ebx).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x10), esp).unwrap();
        a.mov(ax, cs).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x14), eax).unwrap();
        a.mov(ax, ss).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x18), eax).unwrap();
        a.pushfd().unwrap();
        a.pop(dword_ptr(DATA_BASE + 0x1C)).unwrap();
        a.iretd().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(USER, &ucode);
    s.load(KERNEL, &kcode);
    s.set_idt(0x80, gate_desc(0x08, KERNEL, 0xEE, 0)); // DPL 3 interrupt gate
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault().0, 6, "ended with the UD2 in ring 3");
    assert_eq!(s.mem32(DATA_BASE), 10);
    assert_eq!(s.mem32(DATA_BASE + 4) & 0xFFFF, 0x1B);
    assert_eq!(s.mem32(DATA_BASE + 8), RING3_STACK);
    assert_ne!(s.mem32(DATA_BASE + 12) & fl::IF, 0, "IF restored");
    assert_eq!(s.mem32(DATA_BASE + 0x10), RING0_STACK - 20);
    assert_eq!(s.mem32(DATA_BASE + 0x14) & 0xFFFF, 0x08);
    assert_eq!(s.mem32(DATA_BASE + 0x18) & 0xFFFF, 0x10);
    assert_eq!(
        s.mem32(DATA_BASE + 0x1C) & fl::IF,
        0,
        "interrupt gate clears IF"
    );
}

pub fn trap_gate_keeps_if(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.sti().unwrap();
        a.int(0x81).unwrap();
    });
    let kcode = asm32(KERNEL as u64, |a| {
        a.pushfd().unwrap();
        a.pop(dword_ptr(DATA_BASE)).unwrap();
        a.hlt().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(KERNEL, &kcode);
    s.set_idt(0x81, gate_desc(0x08, KERNEL, 0x8F, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_ne!(s.mem32(DATA_BASE) & fl::IF, 0);
}

/// Ring 3 calls a 32-bit DPL-3 call gate to ring 0 with two parameters;
/// the callee returns with RETF 8 to ring 3.
pub fn call_gate_with_parameters_and_outer_retf(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, USER, 2));
    let ucode = asm32(USER as u64, |a| {
        a.mov(eax, 0x23u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(es, ax).unwrap();
        a.push(0x1111u32).unwrap();
        a.push(0x2222u32).unwrap();
        a.call_far(0x43, 0).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x20), esp).unwrap();
        a.mov(ax, cs).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x24), eax).unwrap();
        a.mov(ax, es).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x28), eax).unwrap();
        a.ud2().unwrap();
    });
    let kcode = asm32(KERNEL as u64, |a| {
        a.mov(ax, cs).unwrap();
        a.mov(dword_ptr(DATA_BASE), eax).unwrap();
        a.mov(ax, ss).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), eax).unwrap();
        a.mov(eax, dword_ptr(esp + 8)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 8), eax).unwrap();
        a.mov(eax, dword_ptr(esp + 12)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 12), eax).unwrap();
        a.mov(eax, dword_ptr(esp + 16)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 16), eax).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x1C), esp).unwrap();
        // Load ES with ring-0 data: RETF to ring 3 must null it.
        a.mov(eax, 0x10u32).unwrap();
        a.mov(es, ax).unwrap();
        a.retf_1(8).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(USER, &ucode);
    s.load(KERNEL, &kcode);
    s.set_gdt(0x40, gate_desc(0x08, KERNEL, 0xEC, 2));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault().0, 6, "ended with the UD2 in ring 3");
    assert_eq!(s.mem32(DATA_BASE) & 0xFFFF, 0x08);
    assert_eq!(s.mem32(DATA_BASE + 4) & 0xFFFF, 0x10);
    // [esp+8] = first copied parameter (the deepest: 0x1111 pushed first
    // sits above 0x2222): layout EIP, CS, 0x2222, 0x1111, ESP, SS.
    assert_eq!(s.mem32(DATA_BASE + 8), 0x2222);
    assert_eq!(s.mem32(DATA_BASE + 12), 0x1111);
    assert_eq!(s.mem32(DATA_BASE + 16), RING3_STACK - 8, "old ESP");
    assert_eq!(s.mem32(DATA_BASE + 0x1C), RING0_STACK - 24);
    assert_eq!(
        s.mem32(DATA_BASE + 0x20),
        RING3_STACK,
        "RETF 8 popped the parameters"
    );
    assert_eq!(s.mem32(DATA_BASE + 0x24) & 0xFFFF, 0x1B);
    assert_eq!(s.mem32(DATA_BASE + 0x28) & 0xFFFF, 0, "ES nulled");
}

/// A 16-bit call gate at the same privilege pushes 16-bit CS:IP.
pub fn call_gate_16_same_level(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.call_far(0x40, 0).unwrap();
        a.hlt().unwrap();
    });
    let kcode = asm32(KERNEL as u64, |a| {
        a.mov(dword_ptr(DATA_BASE), esp).unwrap();
        a.mov(eax, dword_ptr(esp)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), eax).unwrap();
        a.hlt().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(KERNEL, &kcode);
    // A 16-bit gate can only reach offsets below 64 KiB: use a code
    // segment based at CODE_BASE.
    s.set_gdt(0x48, seg_desc(CODE_BASE, 0xFFFF, 0x9B, 0x4));
    s.set_gdt(0x40, gate_desc(0x48, KERNEL - CODE_BASE, 0x84, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.mem32(DATA_BASE), STACK_TOP - 4);
    // Low word: return IP (CALL FAR is 7 bytes), high word: CS 0x08.
    assert_eq!(
        s.mem32(DATA_BASE + 4),
        (0x08 << 16) | ((CODE_BASE + 7) & 0xFFFF)
    );
}

pub fn conforming_code_keeps_cpl(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, USER, 2));
    let ucode = asm32(USER as u64, |a| {
        a.call_far(0x4B, KERNEL).unwrap();
        a.mov(eax, 0x23u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), esp).unwrap();
        a.ud2().unwrap();
    });
    let kcode = asm32(KERNEL as u64, |a| {
        a.mov(eax, cs).unwrap();
        a.mov(dword_ptr(DATA_BASE).ss(), eax).unwrap();
        a.retf().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(USER, &ucode);
    s.load(KERNEL, &kcode);
    s.set_gdt(0x48, seg_desc(0, 0xFFFFF, 0x9F, 0xC)); // conforming, DPL 0
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault().0, 6);
    assert_eq!(s.mem32(DATA_BASE) & 0xFFFF, 0x4B, "RPL = CPL 3");
    assert_eq!(s.mem32(DATA_BASE + 4), RING3_STACK);
}

pub fn call_gate_privilege_checks(e: Eng) {
    // A DPL-0 gate called from ring 3: #GP(gate selector).
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, USER, 2));
    let ucode = asm32(USER as u64, |a| {
        a.call_far(0x43, 0).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(USER, &ucode);
    s.set_gdt(0x40, gate_desc(0x08, KERNEL, 0x8C, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (13, 0x40, USER, 0x1B));
    // A not-present gate: #NP(gate selector).
    let mut s = Sys::new(e, &code);
    s.load(USER, &ucode);
    s.set_gdt(0x40, gate_desc(0x08, KERNEL, 0x6C, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (11, 0x40, USER, 0x1B));
    // Gate to a data segment: #GP(target selector).
    let mut s = Sys::new(e, &code);
    s.load(USER, &ucode);
    s.set_gdt(0x40, gate_desc(0x10, KERNEL, 0xEC, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (13, 0x10, USER, 0x1B));
}

pub fn iret_to_ring0_from_ring3_is_gp(e: Eng) {
    // Ring 3 tries IRET to a ring-0 CS: RPL < CPL -> #GP(selector).
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, USER, 2));
    let ucode = asm32(USER as u64, |a| {
        a.push(2u32).unwrap();
        a.push(0x08u32).unwrap();
        a.push(KERNEL).unwrap();
        a.iretd().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(USER, &ucode);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (13, 0x08, USER + 9, 0x1B));
}

/// A 16-bit call gate to ring 0 copies 16-bit parameters onto a 16-bit
/// ring-0 stack; RETF 4 (16-bit) returns to ring 3. A 16-bit gate saves
/// only IP and SP, so the ring-3 caller runs below 64 KiB.
pub fn call_gate_16_to_inner_ring_with_word_parameters(e: Eng) {
    const USER16: u32 = 0x8000;
    let code = asm32(CODE_BASE as u64, |a| {
        a.push(0x23u32).unwrap();
        a.push(0xF000u32).unwrap();
        a.push(2u32).unwrap();
        a.push(0x1Bu32).unwrap();
        a.push(USER16).unwrap();
        a.iretd().unwrap();
    });
    let ucode = asm32(USER16 as u64, |a| {
        a.mov(eax, 0x23u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.push(0xAAAA_1111u32).unwrap();
        a.call_far(0x43, 0).unwrap();
        a.mov(dword_ptr(DATA_BASE + 0x20), esp).unwrap();
        a.ud2().unwrap();
    });
    // 16-bit ring-0 code at KERNEL (segment 0x48 based there). DS is
    // still the flat ring-3 data segment: address it with EDI.
    let kcode = asm16(0, |a| {
        a.mov(edi, DATA_BASE).unwrap();
        a.mov(bx, sp).unwrap();
        a.mov(ax, word_ptr(bx + 4).ss()).unwrap();
        a.mov(dword_ptr(edi), eax).unwrap();
        a.mov(ax, word_ptr(bx + 6).ss()).unwrap();
        a.mov(dword_ptr(edi + 4), eax).unwrap();
        a.mov(dword_ptr(edi + 8), esp).unwrap();
        a.retf_1(4).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(USER16, &ucode);
    s.load(KERNEL, &kcode);
    s.set_gdt(0x48, seg_desc(KERNEL, 0xFFFF, 0x9B, 0x0));
    s.set_gdt(0x40, gate_desc(0x48, 0, 0xE4, 2));
    // A 16-bit ring-0 stack segment based at 0x80000 with SP0 = 0x1000.
    s.set_gdt(0x50, seg_desc(0x8_0000, 0xFFFF, 0x93, 0x0));
    s.m.mmu.phys.write_u32(TSS0 + 4, 0x1000);
    s.m.mmu.phys.write_u32(TSS0 + 8, 0x50);
    assert_eq!(s.run(), Stop::Halted);
    // The final #UD also ran on the 16-bit ring-0 stack segment, so the
    // recorder's SS-relative record landed at 0x80000 + REC.
    assert_eq!(s.m.mmu.phys.read_u32(0x8_0000 + REC), 6);
    // Stack: IP, CS, 0x1111 (low word pushed last), 0xAAAA, SP, SS.
    assert_eq!(s.mem32(DATA_BASE) & 0xFFFF, 0x1111);
    assert_eq!(s.mem32(DATA_BASE + 4) & 0xFFFF, 0xAAAA);
    assert_eq!(s.mem32(DATA_BASE + 8) & 0xFFFF, 0x1000 - 12);
    assert_eq!(
        s.mem32(DATA_BASE + 0x20),
        0xF000,
        "RETF 4 dropped the words"
    );
}

/// Data segments from the LDT, and an expand-down stack segment that an
/// interrupt pushes onto.
pub fn ldt_segments_and_expand_down_stack(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, 0x58u32).unwrap();
        a.lldt(ax).unwrap();
        a.mov(eax, 0x0Cu32).unwrap(); // LDT slot 1, TI
        a.mov(es, ax).unwrap();
        a.mov(dword_ptr(0x10).es(), 0x5A5Au32).unwrap();
        a.mov(eax, 0x14u32).unwrap(); // LDT slot 2: expand-down stack
        a.mov(ss, ax).unwrap();
        a.mov(esp, 0x2000u32).unwrap();
        a.int(0x60).unwrap();
        a.hlt().unwrap();
    });
    let kcode = asm32(KERNEL as u64, |a| {
        a.mov(dword_ptr(DATA_BASE), esp).unwrap();
        a.iretd().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(KERNEL, &kcode);
    s.set_idt(0x60, gate_desc(0x08, KERNEL, 0x8E, 0));
    let ldt = 0x4800;
    s.set_gdt(0x58, tss_desc(ldt, 0x17, 0x82));
    s.m.mmu
        .phys
        .write_u64(ldt + 8, seg_desc(0x4_4000, 0xFFF, 0x93, 0x4));
    // Expand-down, 32-bit (B=1): valid offsets 0x1000..=0xFFFFFFFF.
    s.m.mmu
        .phys
        .write_u64(ldt + 16, seg_desc(0, 0xFFF, 0x97, 0x4));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.mem32(0x4_4010), 0x5A5A);
    assert_eq!(s.mem32(DATA_BASE), 0x2000 - 12);
    assert_eq!(s.m.s.regs[ESP], 0x2000);
    assert_eq!(s.m.s.seg[SS].selector, 0x14);
    // A push below the expand-down bound is #SS(0): a CPL-0 fault on the
    // same stack escalates to a triple fault.
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, 0x58u32).unwrap();
        a.lldt(ax).unwrap();
        a.mov(eax, 0x14u32).unwrap();
        a.mov(ss, ax).unwrap();
        a.mov(esp, 0x1002u32).unwrap();
        a.push(eax).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.set_gdt(0x58, tss_desc(ldt, 0x17, 0x82));
    s.m.mmu
        .phys
        .write_u64(ldt + 16, seg_desc(0, 0xFFF, 0x97, 0x4));
    assert_eq!(s.run(), Stop::Shutdown);
    assert_eq!(s.m.s.regs[ESP], 0x1002);
}
