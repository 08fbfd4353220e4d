//! Faults raised by integer instructions, observed in real mode through
//! IVT handlers that record the vector: #DE (DIV, IDIV, AAM 0), #BR,
//! #UD (UD2, bad LOCK, CMPXCHG8B with a register), segment faults in the
//! middle of a REP string (restartable state) and CMOVcc reading its
//! source even when the condition is false.

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

use super::Eng;

/// Handler for vector v at 0x1000:(HANDLERS + 4v): `mov bp, v; hlt`.
const HANDLERS: u16 = 0xF00;

/// Runs 16-bit code at 0x1000:0 with every exception vector recording
/// itself in BP (0xFFFF if none fired). Returns the machine.
fn run_real(e: Eng, f: impl FnOnce(&mut CodeAssembler)) -> TestMachine {
    let code = asm16(0, |a| {
        a.mov(bp, 0xFFFF).unwrap();
        f(a);
        a.hlt().unwrap();
    });
    assert!(code.len() < HANDLERS as usize);
    let mut m = e.real(&code);
    for v in 0..32u16 {
        let off = HANDLERS + 4 * v;
        let h = asm16(off as u64, |a| {
            a.mov(bp, v as u32).unwrap();
            a.hlt().unwrap();
        });
        m.mmu.phys.write_bytes(0x10000 + off as u32, &h);
        m.mmu.phys.write_u16(4 * v as u32, off);
        m.mmu.phys.write_u16(4 * v as u32 + 2, 0x1000);
    }
    assert_eq!(m.run(), Stop::Halted);
    m
}

fn vector(m: &TestMachine) -> u32 {
    m.s.regs[EBP] & 0xFFFF
}

/// IP pushed by the exception.
fn fault_ip(m: &mut TestMachine) -> u16 {
    let top = m.s.regs[ESP] & 0xFFFF;
    m.mmu.phys.read_u16(0x20000 + top)
}

pub fn divide_errors(e: Eng) {
    let m = run_real(e, |a| {
        a.mov(ax, 100).unwrap();
        a.mov(cl, 0).unwrap();
        a.div(cl).unwrap();
    });
    assert_eq!(vector(&m), 0);
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 100, "AX untouched");
    // Quotient overflow: 0x1000 / 2 does not fit in AL.
    let m = run_real(e, |a| {
        a.mov(ax, 0x1000).unwrap();
        a.mov(cl, 2).unwrap();
        a.div(cl).unwrap();
    });
    assert_eq!(vector(&m), 0);
    // IDIV of the most negative value by -1.
    let m = run_real(e, |a| {
        a.mov(eax, 0x8000_0000u32).unwrap();
        a.cdq().unwrap();
        a.mov(ecx, 0xFFFF_FFFFu32).unwrap();
        a.idiv(ecx).unwrap();
    });
    assert_eq!(vector(&m), 0);
    assert_eq!(m.s.regs[EAX], 0x8000_0000);
    let m = run_real(e, |a| {
        a.mov(ax, 0x55).unwrap();
        a.aam(0).unwrap();
    });
    assert_eq!(vector(&m), 0);
    let m = run_real(e, |a| {
        a.mov(ax, 100).unwrap();
        a.mov(cl, 7).unwrap();
        a.div(cl).unwrap();
    });
    assert_eq!(vector(&m), 0xFFFF);
    assert_eq!(m.s.regs[EAX] & 0xFFFF, 0x020E);
}

pub fn bound_range(e: Eng) {
    let mut m = run_real(e, |a| {
        a.mov(word_ptr(0x100), 10).unwrap();
        a.mov(word_ptr(0x102), 20).unwrap();
        a.mov(ax, 20).unwrap();
        a.bound(ax, dword_ptr(0x100)).unwrap(); // in range
        a.mov(ax, -1i32).unwrap();
        a.bound(ax, dword_ptr(0x100)).unwrap(); // below: #BR
    });
    assert_eq!(vector(&m), 5);
    // mov bp(3) + 2 * mov word(6) + mov ax(3) + bound(4) + mov ax(3)
    assert_eq!(fault_ip(&mut m), 3 + 12 + 3 + 4 + 3);
}

pub fn undefined_opcodes(e: Eng) {
    for bytes in [
        &[0x0F, 0x0B][..],                // UD2
        &[0xF0, 0x01, 0xD8][..],          // LOCK ADD AX, BX (register destination)
        &[0xF0, 0x90][..],                // LOCK NOP
        &[0xF0, 0x8B, 0x07][..],          // LOCK MOV AX, [BX]
        &[0x0F, 0xC7, 0xC8][..],          // CMPXCHG8B with a register operand
        &[0xF0, 0x0F, 0xA3, 0x07][..],    // LOCK BT [BX], AX (BT is not lockable)
        &[0xF0, 0x87, 0xD8][..],          // LOCK XCHG AX, BX
        &[0xF0, 0x0F, 0xB1, 0xD8][..],    // LOCK CMPXCHG AX, BX
        &[0xF0, 0x0F, 0xBA, 0xE8, 1][..], // LOCK BTS AX, 1
        &[0xF0, 0xF7, 0xD8][..],          // LOCK NEG AX
    ] {
        let mut m = run_real(e, |a| {
            a.db(bytes).unwrap();
        });
        assert_eq!(vector(&m), 6, "{bytes:02X?}");
        assert_eq!(fault_ip(&mut m), 3, "{bytes:02X?}");
    }
    // LOCK on a lockable memory form is fine.
    for bytes in [
        &[0xF0, 0x01, 0x07][..],          // LOCK ADD [BX], AX
        &[0xF0, 0x87, 0x07][..],          // LOCK XCHG [BX], AX
        &[0xF0, 0x0F, 0xB1, 0x07][..],    // LOCK CMPXCHG [BX], AX
        &[0xF0, 0x0F, 0xC7, 0x0F][..],    // LOCK CMPXCHG8B [BX]
        &[0xF0, 0x0F, 0xBA, 0x2F, 1][..], // LOCK BTS WORD [BX], 1
        &[0xF0, 0x0F, 0xC1, 0x07][..],    // LOCK XADD [BX], AX
    ] {
        let m = run_real(e, |a| {
            a.mov(bx, 0x100).unwrap();
            a.db(bytes).unwrap();
        });
        assert_eq!(vector(&m), 0xFFFF, "{bytes:02X?}");
    }
}

pub fn rep_string_fault_is_restartable(e: Eng) {
    // 32-bit addressing in real mode: EDI passes the 64 KiB limit after
    // 16 bytes and the 17th store raises #GP with the registers showing
    // the remaining work.
    let m = run_real(e, |a| {
        a.mov(edi, 0xFFF0u32).unwrap();
        a.mov(ecx, 0x20u32).unwrap();
        a.mov(al, 0xAB).unwrap();
        a.db(&[0x67, 0xF3, 0xAA]).unwrap(); // a32 rep stosb
    });
    assert_eq!(vector(&m), 13);
    assert_eq!(m.s.regs[ECX], 0x10);
    assert_eq!(m.s.regs[EDI], 0x10000);
    let mut m = m;
    assert_eq!(m.mmu.phys.read_u8(0x30000 + 0xFFFF), 0xAB);
    assert_eq!(m.mmu.phys.read_u8(0x30000 + 0xFFEF), 0);
}

pub fn cmov_reads_source_when_false(e: Eng) {
    let m = run_real(e, |a| {
        a.xor(ax, ax).unwrap(); // ZF = 1
        a.mov(bx, 0x1234).unwrap();
        a.cmovne(bx, word_ptr(0xFFFF)).unwrap(); // straddles the limit
    });
    assert_eq!(vector(&m), 13);
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x1234);
}
