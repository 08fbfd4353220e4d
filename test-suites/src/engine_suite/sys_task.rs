//! System tests: hardware task switches by JMP, CALL/IRET (NT, back
//! link, busy bits), an IDT task gate for #DF as Linux uses it, CR3 and
//! LDT loads, and faults reported in the new task.

use super::sys_harness::*;
use super::Eng;

const TSS1: u32 = 0x3200;
const TSS1_SEL: u16 = 0x30;
const TASK1: u32 = CODE_BASE + 0x800;

fn busy(s: &mut Sys, sel: u16) -> bool {
    s.m.mmu.phys.read_u8(GDT_BASE + sel as u32 + 5) & 2 != 0
}

pub fn jmp_to_task_and_back(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(ebx, 0x1111u32).unwrap();
        a.jmp_far(TSS1_SEL, 0).unwrap();
        // Resumed here by task 1's JMP back.
        a.mov(dword_ptr(DATA_BASE), ebx).unwrap();
        a.hlt().unwrap();
    });
    let t1 = asm32(TASK1 as u64, |a| {
        a.mov(ebx, 0x2222u32).unwrap();
        a.str(eax).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), eax).unwrap();
        a.pushfd().unwrap();
        a.pop(dword_ptr(DATA_BASE + 8)).unwrap();
        a.mov(eax, cr0).unwrap();
        a.mov(dword_ptr(DATA_BASE + 12), eax).unwrap();
        a.jmp_far(TSS0_SEL, 0).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(TASK1, &t1);
    s.write_tss32(TSS1, TASK1, 0x6_0000);
    s.set_gdt(TSS1_SEL, tss_desc(TSS1, 0x67, 0x89));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.mem32(DATA_BASE), 0x1111, "EBX restored from TSS0");
    assert_eq!(s.mem32(DATA_BASE + 4), TSS1_SEL as u32);
    assert_eq!(s.mem32(DATA_BASE + 8) & fl::NT, 0, "JMP does not nest");
    assert_ne!(s.mem32(DATA_BASE + 12) & cr0::TS, 0, "CR0.TS set");
    assert!(busy(&mut s, TSS0_SEL));
    assert!(!busy(&mut s, TSS1_SEL));
    // Task 1's state was saved: EIP after its JMP, EBX.
    assert_eq!(s.mem32(TSS1 + 0x34), 0x2222);
    assert_eq!(s.mem32(TSS1 + 0x20), TASK1 + 5 + 3 + 5 + 1 + 6 + 3 + 5 + 7);
    assert_eq!(s.m.s.tr.selector, TSS0_SEL);
}

pub fn call_task_and_iret_back(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.call_far(TSS1_SEL, 0).unwrap();
        a.pushfd().unwrap();
        a.pop(dword_ptr(DATA_BASE + 0x10)).unwrap();
        a.hlt().unwrap();
    });
    let t1 = asm32(TASK1 as u64, |a| {
        a.pushfd().unwrap();
        a.pop(dword_ptr(DATA_BASE)).unwrap();
        a.mov(eax, dword_ptr(TSS1)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), eax).unwrap();
        a.iretd().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(TASK1, &t1);
    s.write_tss32(TSS1, TASK1, 0x6_0000);
    s.set_gdt(TSS1_SEL, tss_desc(TSS1, 0x67, 0x89));
    assert_eq!(s.run(), Stop::Halted);
    assert_ne!(s.mem32(DATA_BASE) & fl::NT, 0, "CALL sets NT");
    assert_eq!(s.mem32(DATA_BASE + 4), TSS0_SEL as u32, "back link");
    assert_eq!(s.mem32(DATA_BASE + 0x10) & fl::NT, 0);
    assert!(busy(&mut s, TSS0_SEL));
    assert!(!busy(&mut s, TSS1_SEL), "IRET frees the nested task");
    // Calling a busy task is #GP(selector).
    let code = asm32(CODE_BASE as u64, |a| {
        a.call_far(TSS0_SEL, 0).unwrap();
    });
    let mut s = Sys::new(e, &code);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (13, TSS0_SEL as u32, CODE_BASE, 0x08));
}

/// Linux's double-fault handling: IDT vector 8 is a task gate to a TSS
/// with its own stack; the new task finds the error code (0) on its stack
/// and the faulting state in the old TSS.
pub fn double_fault_through_task_gate(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, 0x7Bu32).unwrap();
        a.mov(es, ax).unwrap();
    });
    let t1 = asm32(TASK1 as u64, |a| {
        a.pop(dword_ptr(DATA_BASE)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), esp).unwrap();
        a.mov(eax, dword_ptr(TSS1)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 8), eax).unwrap();
        a.mov(eax, dword_ptr(TSS0 + 0x20)).unwrap();
        a.mov(dword_ptr(DATA_BASE + 12), eax).unwrap();
        a.pushfd().unwrap();
        a.pop(dword_ptr(DATA_BASE + 16)).unwrap();
        a.hlt().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(TASK1, &t1);
    s.write_tss32(TSS1, TASK1, 0x6_0000);
    s.set_gdt(TSS1_SEL, tss_desc(TSS1, 0x67, 0x89));
    // #GP's gate is not present -> #NP while delivering -> #DF.
    let h = HANDLERS + 13 * 0x80;
    s.set_idt(13, gate_desc(0x08, h, 0x0E, 0));
    s.set_idt(8, gate_desc(TSS1_SEL, 0, 0x85, 0));
    s.m.mmu.phys.write_u32(DATA_BASE, 0xFFFF_FFFF);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.mem32(DATA_BASE), 0, "#DF error code");
    assert_eq!(s.mem32(DATA_BASE + 4), 0x6_0000);
    assert_eq!(s.mem32(DATA_BASE + 8), TSS0_SEL as u32);
    assert_eq!(s.mem32(DATA_BASE + 12), CODE_BASE + 5, "EIP of the fault");
    assert_ne!(s.mem32(DATA_BASE + 16) & fl::NT, 0);
    assert_eq!(s.m.s.tr.selector, TSS1_SEL);
}

/// The new task's CR3 is loaded (paging on), and its LDT.
pub fn task_switch_loads_cr3_and_ldt(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.jmp_far(TSS1_SEL, 0).unwrap();
    });
    let t1 = asm32(TASK1 as u64, |a| {
        // Linear 0x40_0000 maps to physical 0x5_0000 in the new space.
        a.mov(dword_ptr(0x40_0000), 0xCAFEu32).unwrap();
        // DS comes from the LDT (selector 0x04 | TI | RPL 0).
        a.mov(ax, ds).unwrap();
        a.mov(dword_ptr(0x40_0004), eax).unwrap();
        a.hlt().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(TASK1, &t1);
    // Old space: identity map of 4 MiB at 0x20_0000; new space adds a
    // second table mapping 0x40_0000 -> 0x5_0000.
    let pd0 = 0x20_0000u32;
    let pt = pd0 + 0x1000;
    for i in 0..1024u32 {
        s.m.mmu.phys.write_u32(pt + i * 4, (i << 12) | 3);
    }
    s.m.mmu.phys.write_u32(pd0, pt | 3);
    let pd1 = pd0 + 0x2000;
    let pt1 = pd0 + 0x3000;
    s.m.mmu.phys.write_u32(pd1, pt | 3);
    s.m.mmu.phys.write_u32(pd1 + 4, pt1 | 3);
    s.m.mmu.phys.write_u32(pt1, 0x5_0000 | 3);
    s.m.s.cr3 = pd0;
    s.m.s.cr0 |= cr0::PG;
    s.m.mmu.flush_all();
    s.write_tss32(TSS1, TASK1, 0x6_0000);
    s.m.mmu.phys.write_u32(TSS1 + 0x1C, pd1);
    // LDT at 0x4400 with one flat data segment in slot 0.
    s.m.mmu
        .phys
        .write_u64(0x4400, seg_desc(0, 0xFFFFF, 0x93, 0xC));
    s.set_gdt(0x38, tss_desc(0x4400, 7, 0x82));
    s.m.mmu.phys.write_u32(TSS1 + 0x60, 0x38);
    s.m.mmu.phys.write_u32(TSS1 + 0x54, 0x04);
    s.set_gdt(TSS1_SEL, tss_desc(TSS1, 0x67, 0x89));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.m.s.cr3, pd1);
    assert_eq!(s.m.mmu.phys.read_u32(0x5_0000), 0xCAFE);
    assert_eq!(s.m.mmu.phys.read_u32(0x5_0004) & 0xFFFF, 0x04);
    assert_eq!(s.m.s.ldtr.selector, 0x38);
}

/// A bad DS in the new TSS faults after the switch (CS and SS already
/// loaded): #TS(selector) is delivered in the new task, whose EIP is
/// pushed. (With a bad CS or SS there would be no usable stack: the SDM
/// expects a task gate for #TS.)
pub fn fault_after_switch_is_in_new_task(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.jmp_far(TSS1_SEL, 0).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.write_tss32(TSS1, TASK1, 0x6_0000);
    s.m.mmu.phys.write_u32(TSS1 + 0x54, 0x78); // DS beyond the GDT
    s.set_gdt(TSS1_SEL, tss_desc(TSS1, 0x67, 0x89));
    assert_eq!(s.run(), Stop::Halted);
    let (v, err, eip, _) = s.fault();
    assert_eq!((v, err, eip), (10, 0x78, TASK1));
    assert_eq!(s.m.s.tr.selector, TSS1_SEL);
    assert_eq!(s.mem32(TSS0 + 0x20), CODE_BASE + 7, "old task saved");
}

/// INT n through a task gate with IRET back (nested task).
pub fn int_through_task_gate_and_iret(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(ecx, 7u32).unwrap();
        a.int(0x50).unwrap();
        a.mov(dword_ptr(DATA_BASE + 4), ecx).unwrap();
        a.hlt().unwrap();
    });
    let t1 = asm32(TASK1 as u64, |a| {
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.inc(dword_ptr(DATA_BASE)).unwrap();
        a.iretd().unwrap();
        // The next INT through the gate resumes here.
        a.jmp(top).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(TASK1, &t1);
    s.write_tss32(TSS1, TASK1, 0x6_0000);
    s.set_gdt(TSS1_SEL, tss_desc(TSS1, 0x67, 0x89));
    s.set_idt(0x50, gate_desc(TSS1_SEL, 0, 0x85, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.mem32(DATA_BASE), 1);
    assert_eq!(s.mem32(DATA_BASE + 4), 7, "ECX restored");
    assert!(!busy(&mut s, TSS1_SEL));
    assert_eq!(s.m.s.tr.selector, TSS0_SEL);
}
