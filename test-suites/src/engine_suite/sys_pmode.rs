//! System tests: entering and leaving protected mode, each exception class
//! with its error code and return EIP, double and triple faults, paging
//! faults.

use super::sys_harness::*;
use super::Eng;

/// Runs `body` (flat ring 0, at CODE_BASE) in a fresh `Sys` after
/// `setup`; returns the recorded (vector, error, EIP, CS).
fn fault_of(
    e: Eng,
    body: impl FnOnce(&mut CodeAssembler),
    setup: impl FnOnce(&mut Sys),
) -> (Sys, (u32, u32, u32, u32)) {
    let code = asm32(CODE_BASE as u64, body);
    let mut s = Sys::new(e, &code);
    setup(&mut s);
    assert_eq!(s.run(), Stop::Halted);
    let f = s.fault();
    (s, f)
}

const NO_ERR: u32 = 0xEEEE_EEEE;

pub fn real_to_protected_and_back(e: Eng) {
    // GDT at linear 0x800: 0x08 flat code32, 0x10 flat data32,
    // 0x18 code16 base 0x10000, 0x20 data16 base 0.
    let code = asm16(0, |a| {
        a.cli().unwrap();
        a.lgdt(ptr(0)).unwrap(); // DS = 0x3000: pseudo-descriptor at 0x30000
        a.mov(eax, cr0).unwrap();
        a.or(eax, 1u32).unwrap();
        a.mov(cr0, eax).unwrap();
        // jmp dword 0x08:0x10100
        a.db(&[0x66, 0xEA, 0x00, 0x01, 0x01, 0x00, 0x08, 0x00])
            .unwrap();
    });
    let pm32 = asm32(0x10100, |a| {
        a.mov(eax, 0x10u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(es, ax).unwrap();
        a.mov(ss, ax).unwrap();
        a.mov(esp, 0x8_0000u32).unwrap();
        a.mov(dword_ptr(0x4_0000), 0x1234_5678u32).unwrap();
        a.jmp_far(0x18, 0x200).unwrap();
    });
    let pm16 = asm16(0x200, |a| {
        a.mov(ax, 0x20u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(ss, ax).unwrap();
        a.mov(eax, cr0).unwrap();
        a.and(eax, 0xFFFF_FFFEu32).unwrap();
        a.mov(cr0, eax).unwrap();
        a.jmp_far(0x1000, 0x300).unwrap();
    });
    let real = asm16(0x300, |a| {
        a.mov(ax, 0x3000u32).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(ss, ax).unwrap();
        a.mov(word_ptr(0x10), cs).unwrap();
        a.mov(sp, 0x100u32).unwrap();
        a.push(0xBEEFu32).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.real(&code);
    m.mmu.phys.write_bytes(0x10100, &pm32);
    m.mmu.phys.write_bytes(0x10200, &pm16);
    m.mmu.phys.write_bytes(0x10300, &real);
    let gdt = [
        0u64,
        0x00CF_9A00_0000_FFFF,
        0x00CF_9200_0000_FFFF,
        0x0000_9A01_0000_FFFF,
        0x0000_9200_0000_FFFF,
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.mmu.phys.write_u64(0x800 + 8 * i as u32, *d);
    }
    m.mmu.phys.write_u16(0x30000, 39);
    m.mmu.phys.write_u32(0x30002, 0x800);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.mmu.phys.read_u32(0x4_0000), 0x1234_5678);
    assert_eq!(m.mmu.phys.read_u16(0x30010), 0x1000);
    assert_eq!(m.mmu.phys.read_u16(0x300FE), 0xBEEF);
    assert!(!m.s.protected_mode());
    assert_eq!(m.s.cpl, 0);
    assert_eq!(m.s.seg[CS].base, 0x10000);
    assert!(!m.s.code32());
    // The accessed bit of the code descriptor was set by the far jump.
    assert_eq!(m.mmu.phys.read_u8(0x808 + 5), 0x9B);
}

pub fn ud_has_no_error_code(e: Eng) {
    let (_, f) = fault_of(
        e,
        |a| {
            a.nop().unwrap();
            a.ud2().unwrap();
        },
        |_| {},
    );
    assert_eq!(f, (6, NO_ERR, CODE_BASE + 1, 0x08));
}

pub fn gp_on_bad_selector_reports_selector(e: Eng) {
    let (_, f) = fault_of(
        e,
        |a| {
            a.mov(eax, 0x7Bu32).unwrap(); // GDT slot 15 (empty), RPL 3
            a.mov(es, ax).unwrap();
        },
        |_| {},
    );
    assert_eq!(f, (13, 0x78, CODE_BASE + 5, 0x08));
}

pub fn np_on_not_present_segment(e: Eng) {
    let (_, f) = fault_of(
        e,
        |a| {
            a.mov(eax, 0x40u32).unwrap();
            a.mov(fs, ax).unwrap();
        },
        |s| s.set_gdt(0x40, seg_desc(0, 0xFFFFF, 0x13, 0xC)),
    );
    assert_eq!(f, (11, 0x40, CODE_BASE + 5, 0x08));
}

pub fn ss_fault_on_stack_limit_and_not_present_stack(e: Eng) {
    // Ring 3 runs on a 4 KiB stack segment at 0x70000; a push at offset 2
    // would wrap past the limit -> #SS(0), delivered on the ring-0 stack.
    let user = CODE_BASE + 0x100;
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, user, 2));
    let ucode = asm32(user as u64, |a| {
        a.mov(eax, 0x43u32).unwrap();
        a.mov(ss, ax).unwrap();
        a.mov(esp, 2u32).unwrap();
        a.push(eax).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(user, &ucode);
    s.set_gdt(0x40, seg_desc(0x7_0000, 0xFFF, 0xF3, 0x4));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (12, 0, user + 13, 0x1B)); // 5 + 3 (o16 mov ss) + 5
    assert_eq!(s.rec(24), 2, "outer ESP");
    assert_eq!(s.rec(28), 0x43, "outer SS");
    // The same at CPL 0 cannot even push the #SS frame: #DF, whose frame
    // cannot be pushed either -> triple fault.
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, 0x40u32).unwrap();
        a.mov(ss, ax).unwrap();
        a.mov(esp, 2u32).unwrap();
        a.push(eax).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.set_gdt(0x40, seg_desc(0x7_0000, 0xFFF, 0x93, 0x4));
    assert_eq!(s.run(), Stop::Shutdown);
    // Not-present stack segment: #SS(selector).
    let (_, f) = fault_of(
        e,
        |a| {
            a.mov(eax, 0x40u32).unwrap();
            a.mov(ss, ax).unwrap();
        },
        |s| s.set_gdt(0x40, seg_desc(0, 0xFFFFF, 0x13, 0xC)),
    );
    assert_eq!(f, (12, 0x40, CODE_BASE + 5, 0x08));
}

pub fn breakpoint_and_overflow_are_traps(e: Eng) {
    let (_, f) = fault_of(
        e,
        |a| {
            a.int3().unwrap();
        },
        |_| {},
    );
    assert_eq!(f, (3, NO_ERR, CODE_BASE + 1, 0x08));
    let (_, f) = fault_of(
        e,
        |a| {
            a.mov(al, 0x7Fu32).unwrap();
            a.add(al, 1u32).unwrap();
            a.into().unwrap();
        },
        |_| {},
    );
    assert_eq!(f, (4, NO_ERR, CODE_BASE + 5, 0x08));
}

pub fn page_fault_error_code_and_cr2(e: Eng) {
    // Paging on; the page at 0x40_0000 is not mapped (beyond the 4 MiB
    // identity map) and page 0x41000 is read-only.
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(dword_ptr(0x41000), 1u32).unwrap();
    });
    let mut s = Sys::new(e, &code);
    let pd = 0x20_0000u32;
    let pt = pd + 0x1000;
    for i in 0..1024u32 {
        s.m.mmu.phys.write_u32(pt + i * 4, (i << 12) | 3);
    }
    s.m.mmu.phys.write_u32(pt + 0x41 * 4, 0x41000 | 1); // read-only
    s.m.mmu.phys.write_u32(pd, pt | 3);
    s.m.s.cr3 = pd;
    s.m.s.cr0 |= cr0::PG | cr0::WP;
    s.m.mmu.flush_all();
    assert_eq!(s.run(), Stop::Halted);
    let f = s.fault();
    assert_eq!(
        f,
        (14, 0b011, CODE_BASE, 0x08),
        "present + write, supervisor"
    );
    assert_eq!(s.rec(32), 0x41000);
}

pub fn user_page_fault_from_ring3(e: Eng) {
    let user = CODE_BASE + 0x100;
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, user, 2));
    let ucode = asm32(user as u64, |a| {
        a.mov(eax, dword_ptr(0x20_0000).ss()).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(user, &ucode);
    let pd = 0x20_0000u32;
    let pt = pd + 0x1000;
    for i in 0..1024u32 {
        s.m.mmu.phys.write_u32(pt + i * 4, (i << 12) | 7);
    }
    s.m.mmu.phys.write_u32(pd, pt | 7);
    // The page directory's own page is supervisor-only.
    s.m.mmu.phys.write_u32(pt + 0x200 * 4, 0x20_0000 | 3);
    s.m.s.cr3 = pd;
    s.m.s.cr0 |= cr0::PG;
    s.m.mmu.flush_all();
    assert_eq!(s.run(), Stop::Halted);
    let f = s.fault();
    assert_eq!(f, (14, 0b101, user, 0x1B), "present, read, user");
    assert_eq!(s.rec(32), 0x20_0000);
    assert_eq!(s.rec(24), RING3_STACK, "outer ESP pushed");
    assert_eq!(s.rec(28), 0x23, "outer SS pushed");
    assert_eq!(s.rec(20), RING0_STACK - 8, "ring-0 stack from the TSS");
}

pub fn not_present_gp_gate_is_a_double_fault(e: Eng) {
    let (_, f) = fault_of(
        e,
        |a| {
            a.mov(eax, 0x7Bu32).unwrap();
            a.mov(es, ax).unwrap();
        },
        |s| {
            // Vector 13's gate not present: delivering #GP raises
            // #NP(13*8+2+EXT) -> contributory twice -> #DF(0).
            let h = HANDLERS + 13 * 0x80;
            s.set_idt(13, gate_desc(0x08, h, 0x0E, 0));
        },
    );
    assert_eq!(f, (8, 0, CODE_BASE + 5, 0x08));
}

pub fn triple_fault_shuts_down(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        a.ud2().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.m.s.idtr.limit = 0x2F; // vectors 0..5 only
    assert_eq!(s.run(), Stop::Shutdown);
}

pub fn software_int_to_dpl0_gate_from_ring3_is_gp(e: Eng) {
    let user = CODE_BASE + 0x100;
    let code = asm32(CODE_BASE as u64, |a| enter_ring3(a, user, 2));
    let ucode = asm32(user as u64, |a| {
        a.int(0x30).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(user, &ucode);
    let h = s.recorder(0x30);
    s.set_idt(0x30, gate_desc(0x08, h, 0x8E, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (13, 0x30 * 8 + 2, user, 0x1B));
}

pub fn ts_on_short_tss(e: Eng) {
    let (_, f) = fault_of(
        e,
        |a| {
            a.jmp_far(0x40, 0).unwrap();
        },
        |s| s.set_gdt(0x40, tss_desc(0x4000, 0x50, 0x89)),
    );
    assert_eq!(f, (10, 0x40, CODE_BASE, 0x08));
}
