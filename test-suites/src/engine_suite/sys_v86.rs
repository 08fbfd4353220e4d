//! System tests: virtual-8086 mode entered by IRETD, IOPL-sensitive
//! instructions trapping to the monitor with #GP(0), INT n through the IDT
//! with IOPL 3 (segment registers pushed and nulled, IRET back to V86),
//! and the TSS I/O permission bitmap.

use super::sys_harness::*;
use super::Eng;

const V86_CS: u32 = 0x0900;
const V86_DS: u32 = 0x0A00;
const V86_SS: u32 = 0x0B00;
const MONITOR: u32 = CODE_BASE + 0x800;
const REC2: u32 = 0x5100;
const COUNT: u32 = 0x5200;

/// Ring-0 code entering V86 mode at V86_CS:0 with `eflags` (VM added).
fn enter_v86(eflags: u32) -> Vec<u8> {
    asm32(CODE_BASE as u64, |a| {
        a.push(0x0Fu32).unwrap(); // GS
        a.push(0x0Eu32).unwrap(); // FS
        a.push(V86_DS).unwrap();
        a.push(0x0Du32).unwrap(); // ES
        a.push(V86_SS).unwrap();
        a.push(0x1000u32).unwrap();
        a.push(eflags | fl::VM | 2).unwrap();
        a.push(V86_CS).unwrap();
        a.push(0u32).unwrap();
        a.iretd().unwrap();
    })
}

pub fn int_with_iopl0_goes_to_the_monitor(e: Eng) {
    let v86 = asm16(0, |a| {
        a.mov(word_ptr(0), 0x1234u32).unwrap();
        a.int(0x21).unwrap();
        a.mov(word_ptr(2), 0x5678u32).unwrap();
        a.hlt().unwrap();
    });
    let monitor = asm32(MONITOR as u64, |a| {
        let mut done = a.create_label();
        a.inc(dword_ptr(COUNT).ss()).unwrap();
        a.cmp(dword_ptr(COUNT).ss(), 1u32).unwrap();
        a.jne(done).unwrap();
        for i in 0..10u32 {
            a.mov(eax, dword_ptr(esp + 4 * i)).unwrap();
            a.mov(dword_ptr(REC2 + 4 * i).ss(), eax).unwrap();
        }
        a.mov(eax, ds).unwrap();
        a.mov(dword_ptr(REC2 + 40).ss(), eax).unwrap();
        a.add(esp, 4u32).unwrap();
        a.add(dword_ptr(esp), 2u32).unwrap();
        a.iretd().unwrap();
        a.set_label(&mut done).unwrap();
        a.mov(eax, dword_ptr(esp + 4)).unwrap();
        a.mov(dword_ptr(REC2 + 44).ss(), eax).unwrap();
        a.hlt().unwrap();
    });
    let mut s = Sys::new(e, &enter_v86(0));
    s.load(V86_CS << 4, &v86);
    s.load(MONITOR, &monitor);
    s.set_idt(13, gate_desc(0x08, MONITOR, 0x8E, 0));
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.mem32(COUNT), 2);
    let frame: Vec<u32> = (0..11).map(|i| s.mem32(REC2 + 4 * i)).collect();
    assert_eq!(frame[0], 0, "#GP(0)");
    assert_eq!(frame[1], 6, "IP of INT 21h");
    assert_eq!(frame[2], V86_CS);
    assert_ne!(frame[3] & fl::VM, 0, "VM in the pushed EFLAGS");
    assert_eq!(frame[4], 0x1000);
    assert_eq!(frame[5], V86_SS);
    assert_eq!(&frame[6..10], &[0x0D, V86_DS, 0x0E, 0x0F], "ES DS FS GS");
    assert_eq!(frame[10] & 0xFFFF, 0, "DS nulled in the monitor");
    // V86 code ran before and after the trap; HLT trapped too.
    assert_eq!(s.m.mmu.phys.read_u16(V86_DS << 4), 0x1234);
    assert_eq!(s.m.mmu.phys.read_u16((V86_DS << 4) + 2), 0x5678);
    assert_eq!(s.mem32(REC2 + 44), 14, "IP of HLT");
}

pub fn iopl3_int_through_idt_and_io_bitmap(e: Eng) {
    let v86 = asm16(0, |a| {
        a.cli().unwrap();
        a.sti().unwrap();
        a.int(0x21).unwrap();
        a.mov(word_ptr(4), 0x9999u32).unwrap();
        a.mov(al, 0x55u32).unwrap();
        a.out(0x80, al).unwrap();
        a.out(0x81, al).unwrap();
    });
    let handler = asm32(MONITOR as u64, |a| {
        for i in 0..9u32 {
            a.mov(eax, dword_ptr(esp + 4 * i)).unwrap();
            a.mov(dword_ptr(REC2 + 4 * i).ss(), eax).unwrap();
        }
        a.mov(eax, ds).unwrap();
        a.mov(dword_ptr(REC2 + 36).ss(), eax).unwrap();
        a.iretd().unwrap();
    });
    let mut s = Sys::new(e, &enter_v86(0x3000));
    s.load(V86_CS << 4, &v86);
    s.load(MONITOR, &handler);
    s.set_idt(0x21, gate_desc(0x08, MONITOR, 0xEE, 0));
    // I/O bitmap right after the TSS: ports 0..0xFF, port 0x81 denied.
    s.set_gdt(TSS0_SEL, tss_desc(TSS0, 0x88, 0x8B));
    s.m.s.tr.limit = 0x88;
    for i in 0..0x21u32 {
        s.m.mmu.phys.write_u8(TSS0 + 0x68 + i, 0);
    }
    s.m.mmu.phys.write_u8(TSS0 + 0x68 + 0x10, 0x02);
    s.m.mmu.phys.write_u8(TSS0 + 0x68 + 0x20, 0xFF);
    assert_eq!(s.run(), Stop::Halted);
    let frame: Vec<u32> = (0..10).map(|i| s.mem32(REC2 + 4 * i)).collect();
    assert_eq!(frame[0], 4, "return IP after INT 21h");
    assert_eq!(frame[1], V86_CS);
    assert_eq!(
        frame[2] & (fl::VM | fl::IOPL | fl::IF),
        fl::VM | fl::IOPL | fl::IF
    );
    assert_eq!(&frame[5..9], &[0x0D, V86_DS, 0x0E, 0x0F]);
    assert_eq!(frame[9] & 0xFFFF, 0, "DS nulled in the handler");
    // Back in V86 with DS restored; OUT 80h allowed, OUT 81h #GP(0).
    assert_eq!(s.m.mmu.phys.read_u16((V86_DS << 4) + 4), 0x9999);
    assert_eq!(s.m.bus.writes, vec![(0x80, 1, 0x55)]);
    assert_eq!(s.fault(), (13, 0, 14, V86_CS));
}

pub fn v86_segment_loads_are_real_mode_style(e: Eng) {
    let v86 = asm16(0, |a| {
        a.mov(ax, 0x1234u32).unwrap();
        a.mov(es, ax).unwrap();
        a.mov(word_ptr(0).es(), 0x4321u32).unwrap();
        a.pushf().unwrap(); // IOPL 0: #GP(0)
    });
    let mut s = Sys::new(e, &enter_v86(0));
    s.load(V86_CS << 4, &v86);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.m.mmu.phys.read_u16(0x12340), 0x4321);
    assert_eq!(s.fault(), (13, 0, 12, V86_CS));
    // CPL 3 in V86 mode; back to CPL 0 in the handler.
    assert_eq!(s.m.s.cpl, 0);
}
