//! Tests of the data-movement, stack, control and flag families the lead
//! started (mov, stack, jump, flagops): XCHG, MOVSX/MOVZX, CBW..CDQ, XLAT,
//! BSWAP, LAHF/SAHF, PUSHA/POPA, PUSH ESP / POP ESP / POP m, PUSHF/POPF,
//! CALL/RET imm16, LOOP/JECXZ, CLC/STC/CMC, SALC.

use cpu_interp::harness::*;
use cpu_interp::ops::flag_names;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

use super::Eng;

fn run32(e: Eng, f: impl FnOnce(&mut CodeAssembler)) -> TestMachine {
    let code = asm32(CODE_BASE as u64, |a| {
        f(a);
        a.hlt().unwrap();
    });
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    m
}

pub fn extend_and_convert(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0x1234_5680u32).unwrap();
        a.movsx(ebx, al).unwrap();
        a.movzx(ecx, al).unwrap();
        a.movsx(dx, al).unwrap();
        a.cbw().unwrap(); // AX = 0xFF80
        a.cwde().unwrap(); // EAX = 0xFFFFFF80
        a.cdq().unwrap(); // EDX = -1
        a.mov(esi, edx).unwrap();
        a.mov(eax, 0x0000_8000u32).unwrap();
        a.cwd().unwrap(); // DX = 0xFFFF, upper EDX kept
    });
    assert_eq!(m.s.regs[EBX], 0xFFFF_FF80);
    assert_eq!(m.s.regs[ECX], 0x80);
    assert_eq!(m.s.regs[ESI], 0xFFFF_FFFF);
    assert_eq!(m.s.regs[EDX], 0xFFFF_FFFF);
}

pub fn xchg_xlat_bswap(e: Eng) {
    let mut m = run32(e, |a| {
        a.mov(dword_ptr(DATA_BASE), 0x1111_1111u32).unwrap();
        a.mov(eax, 0x2222_2222u32).unwrap();
        a.xchg(dword_ptr(DATA_BASE), eax).unwrap();
        a.mov(ecx, 0x1234u32).unwrap();
        a.xchg(cl, ch).unwrap();
        a.mov(ebx, DATA_BASE + 0x10).unwrap();
        a.mov(byte_ptr(DATA_BASE + 0x15), 0x99u32).unwrap();
        a.mov(edx, eax).unwrap();
        a.mov(eax, 5u32).unwrap();
        a.xlatb().unwrap();
        a.mov(esi, 0x1122_3344u32).unwrap();
        a.bswap(esi).unwrap();
    });
    assert_eq!(m.mmu.phys.read_u32(DATA_BASE), 0x2222_2222);
    assert_eq!(m.s.regs[EDX], 0x1111_1111);
    assert_eq!(m.s.regs[ECX], 0x3412);
    assert_eq!(m.s.regs[EAX], 0x99);
    assert_eq!(m.s.regs[ESI], 0x4433_2211);
}

pub fn lahf_sahf_and_carry_ops(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 0xD5_00u32).unwrap(); // AH = SF ZF AF PF CF
        a.sahf().unwrap();
        a.setc(bl).unwrap();
        a.cmc().unwrap();
        a.setc(bh).unwrap();
        a.stc().unwrap();
        a.db(&[0xD6]).unwrap(); // SALC: AL = 0xFF
        a.mov(ecx, 0u32).unwrap();
        a.lahf().unwrap();
    });
    assert_eq!(m.s.regs[EBX] & 0xFFFF, 0x0001);
    assert_eq!((m.s.regs[EAX] >> 8) & 0xFF, 0xD7);
    assert_eq!(m.s.regs[EAX] & 0xFF, 0xFF);
    assert_eq!(flag_names(m.s.get_eflags()), "CF PF AF ZF SF");
}

pub fn pusha_popa_round_trip(e: Eng) {
    let m = run32(e, |a| {
        a.mov(eax, 1u32).unwrap();
        a.mov(ecx, 2u32).unwrap();
        a.mov(edx, 3u32).unwrap();
        a.mov(ebx, 4u32).unwrap();
        a.mov(ebp, 6u32).unwrap();
        a.mov(esi, 7u32).unwrap();
        a.mov(edi, 8u32).unwrap();
        a.pushad().unwrap();
        a.mov(ebp, esp).unwrap(); // keep the frame pointer
        a.xor(eax, eax).unwrap();
        a.xor(ecx, ecx).unwrap();
        a.xor(edi, edi).unwrap();
        a.mov(dword_ptr(esp + 12), 0xDEADu32).unwrap(); // stored ESP: ignored
        a.popad().unwrap();
    });
    assert_eq!(m.s.regs[EAX], 1);
    assert_eq!(m.s.regs[ECX], 2);
    assert_eq!(m.s.regs[EDI], 8);
    assert_eq!(m.s.regs[EBP], 6);
    assert_eq!(m.s.regs[ESP], STACK_TOP);
}

pub fn push_esp_pop_esp_pop_mem(e: Eng) {
    let mut m = run32(e, |a| {
        a.push(esp).unwrap(); // pushes the old ESP
        a.pop(eax).unwrap();
        a.push(0x1234u32).unwrap();
        a.pop(dword_ptr(esp - 4)).unwrap(); // address computed after the pop
        a.push(0x5678u32).unwrap();
        a.pop(esp).unwrap(); // ESP = popped value
    });
    assert_eq!(m.s.regs[EAX], STACK_TOP);
    assert_eq!(m.mmu.phys.read_u32(STACK_TOP - 4), 0x5678);
    assert_eq!(m.s.regs[ESP], 0x5678);
}

pub fn pushf_popf_and_ret_imm(e: Eng) {
    let m = run32(e, |a| {
        let mut f = a.create_label();
        let mut end = a.create_label();
        a.push(0x0000_08D7u32).unwrap(); // all arithmetic flags
        a.popfd().unwrap();
        a.pushfd().unwrap();
        a.pop(ebx).unwrap();
        a.push(11u32).unwrap();
        a.push(22u32).unwrap();
        a.call(f).unwrap();
        a.jmp(end).unwrap();
        a.set_label(&mut f).unwrap();
        a.mov(eax, dword_ptr(esp + 4)).unwrap();
        a.ret_1(8).unwrap();
        a.set_label(&mut end).unwrap();
        a.nop().unwrap();
    });
    assert_eq!(m.s.regs[EBX] & 0xFFF, 0x8D7 | 2);
    assert_eq!(m.s.regs[EAX], 22);
    assert_eq!(m.s.regs[ESP], STACK_TOP);
}

pub fn loops_and_jecxz(e: Eng) {
    let m = run32(e, |a| {
        let mut top = a.create_label();
        let mut out = a.create_label();
        let mut z = a.create_label();
        a.mov(ecx, 5u32).unwrap();
        a.xor(eax, eax).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(eax, 2).unwrap();
        a.cmp(eax, 6).unwrap();
        a.loopne(top).unwrap(); // stops when EAX == 6 (ZF) after 3 rounds
        a.mov(ebx, ecx).unwrap();
        a.xor(ecx, ecx).unwrap();
        a.jecxz(z).unwrap();
        a.mov(edx, 1u32).unwrap();
        a.jmp(out).unwrap();
        a.set_label(&mut z).unwrap();
        a.mov(edx, 2u32).unwrap();
        a.set_label(&mut out).unwrap();
        a.nop().unwrap();
    });
    assert_eq!(m.s.regs[EAX], 6);
    assert_eq!(m.s.regs[EBX], 2);
    assert_eq!(m.s.regs[EDX], 2);
}
