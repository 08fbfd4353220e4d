//! String instructions through the whole interpreter: MOVS/CMPS/SCAS/
//! LODS/STOS/INS/OUTS, REP/REPE/REPNE, DF, 16-bit addressing, segment
//! override, chunked execution of long REP runs.

use cpu_interp::harness::*;
use cpu_interp::ops::string::MAX_ITERS;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

use super::Eng;

fn machine32(e: Eng, f: impl FnOnce(&mut CodeAssembler)) -> TestMachine {
    let code = asm32(CODE_BASE as u64, |a| {
        f(a);
        a.hlt().unwrap();
    });
    e.flat32(&code)
}

fn run32(e: Eng, f: impl FnOnce(&mut CodeAssembler)) -> TestMachine {
    let mut m = machine32(e, f);
    assert_eq!(m.run(), Stop::Halted);
    m
}

const SRC: u32 = DATA_BASE;
const DST: u32 = DATA_BASE + 0x1000;
const FAR: u32 = DATA_BASE + 0x10000;

pub fn rep_movsb_forward(e: Eng) {
    let mut m = machine32(e, |a| {
        a.cld().unwrap();
        a.mov(esi, SRC).unwrap();
        a.mov(edi, DST).unwrap();
        a.mov(ecx, 11u32).unwrap();
        a.rep().movsb().unwrap();
    });
    m.mmu.phys.write_bytes(SRC, b"hello world");
    assert_eq!(m.run(), Stop::Halted);
    let mut buf = [0u8; 11];
    m.mmu.phys.read_bytes(DST, &mut buf);
    assert_eq!(&buf, b"hello world");
    assert_eq!(m.s.regs[ECX], 0);
    assert_eq!(m.s.regs[ESI], SRC + 11);
    assert_eq!(m.s.regs[EDI], DST + 11);
}

pub fn rep_movsd_backward_with_df(e: Eng) {
    let mut m = machine32(e, |a| {
        a.std().unwrap();
        a.mov(esi, SRC + 8).unwrap();
        a.mov(edi, DST + 8).unwrap();
        a.mov(ecx, 3u32).unwrap();
        a.rep().movsd().unwrap();
        a.cld().unwrap();
    });
    for i in 0..3 {
        m.mmu.phys.write_u32(SRC + 4 * i, 0x1111_1111 * (i + 1));
    }
    assert_eq!(m.run(), Stop::Halted);
    for i in 0..3 {
        assert_eq!(m.mmu.phys.read_u32(DST + 4 * i), 0x1111_1111 * (i + 1));
    }
    assert_eq!(m.s.regs[ESI], SRC - 4);
    assert_eq!(m.s.regs[EDI], DST - 4);
}

pub fn repe_cmpsb_stops_at_difference(e: Eng) {
    let mut m = machine32(e, |a| {
        a.mov(esi, SRC).unwrap();
        a.mov(edi, DST).unwrap();
        a.mov(ecx, 10u32).unwrap();
        a.repe().cmpsb().unwrap();
    });
    m.mmu.phys.write_bytes(SRC, b"abcdXfgh");
    m.mmu.phys.write_bytes(DST, b"abcdYfgh");
    assert_eq!(m.run(), Stop::Halted);
    // Four equal bytes, the fifth differs: 5 iterations.
    assert_eq!(m.s.regs[ECX], 5);
    assert_eq!(m.s.regs[ESI], SRC + 5);
    assert_eq!(m.s.regs[EDI], DST + 5);
    // 'X' - 'Y' borrows.
    let f = m.s.get_eflags();
    assert!(f & fl::CF != 0 && f & fl::ZF == 0 && f & fl::SF != 0);
}

pub fn repne_scasb_finds_byte_and_stosd_lodsw(e: Eng) {
    let mut m = machine32(e, |a| {
        a.mov(edi, DST).unwrap();
        a.mov(ecx, 100u32).unwrap();
        a.mov(al, 0).unwrap();
        a.repne().scasb().unwrap();
        a.mov(ebx, ecx).unwrap();
        a.mov(edx, edi).unwrap();
        // STOSD x2, then LODSW back.
        a.mov(edi, SRC).unwrap();
        a.mov(eax, 0xCAFE_BABEu32).unwrap();
        a.mov(ecx, 2u32).unwrap();
        a.rep().stosd().unwrap();
        a.mov(esi, SRC + 2).unwrap();
        a.lodsw().unwrap();
    });
    m.mmu.phys.write_bytes(DST, b"string\0");
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 100 - 7);
    assert_eq!(m.s.regs[EDX], DST + 7);
    assert!(m.s.get_eflags() & fl::ZF == 0 || m.s.regs[EBX] != 0);
    assert_eq!(m.mmu.phys.read_u32(SRC + 4), 0xCAFE_BABE);
    assert_eq!(m.s.regs[EAX], 0xCAFE_CAFE);
    assert_eq!(m.s.regs[ESI], SRC + 4);
}

pub fn rep_with_zero_count_does_nothing(e: Eng) {
    let m = run32(e, |a| {
        a.mov(edi, DST).unwrap();
        a.xor(ecx, ecx).unwrap();
        a.mov(eax, 0x55u32).unwrap();
        a.cmp(eax, 0x55).unwrap(); // ZF = 1
        a.repne().scasb().unwrap();
        a.rep().stosb().unwrap();
    });
    assert_eq!(m.s.regs[EDI], DST);
    assert!(m.s.get_eflags() & fl::ZF != 0);
}

pub fn address_size_16_uses_cx_si_di(e: Eng) {
    let mut m = machine32(e, |a| {
        a.mov(esi, 0xABCD_0000u32 | (SRC & 0xFFFF)).unwrap();
        a.mov(edi, 0x1234_0000u32 | (DST & 0xFFFF)).unwrap();
        a.mov(ecx, 0x5555_0003u32).unwrap();
        // Make DS/ES bases point where the 16-bit offsets land.
        a.db(&[0x67, 0xF3, 0xA4]).unwrap(); // a16 rep movsb
    });
    // Flat segments have base 0, so the copy reads SRC & 0xFFFF.
    m.mmu.phys.write_bytes(SRC & 0xFFFF, b"xyz");
    assert_eq!(m.run(), Stop::Halted);
    let mut buf = [0u8; 3];
    m.mmu.phys.read_bytes(DST & 0xFFFF, &mut buf);
    assert_eq!(&buf, b"xyz");
    assert_eq!(m.s.regs[ECX], 0x5555_0000);
    assert_eq!(m.s.regs[ESI], 0xABCD_0000 | ((SRC + 3) & 0xFFFF));
    assert_eq!(m.s.regs[EDI], 0x1234_0000 | ((DST + 3) & 0xFFFF));
}

pub fn segment_override_on_source_real_mode(e: Eng) {
    // DS = ES = 0x3000; FS = 0. MOVSB with FS: reads linear SI.
    let code = asm16(0, |a| {
        a.mov(si, 0x500).unwrap();
        a.mov(di, 0x10).unwrap();
        a.mov(cx, 2).unwrap();
        a.db(&[0x64, 0xF3, 0xA4]).unwrap(); // rep movsb fs:[si], es:[di]
        a.hlt().unwrap();
    });
    let mut m = e.real(&code);
    m.mmu.phys.write_bytes(0x500, b"OK");
    m.mmu.phys.write_bytes(0x30500, b"no");
    assert_eq!(m.run(), Stop::Halted);
    let mut buf = [0u8; 2];
    m.mmu.phys.read_bytes(0x30010, &mut buf);
    assert_eq!(&buf, b"OK");
}

pub fn long_rep_runs_in_chunks(e: Eng) {
    let n = 10_000u32;
    let mut m = machine32(e, |a| {
        a.mov(edi, DST).unwrap();
        a.mov(ecx, n).unwrap();
        a.mov(eax, 0x0102_0304u32).unwrap();
        a.rep().stosd().unwrap();
    });
    // Three setup instructions plus one chunk.
    assert_eq!(m.run_budget(4), Stop::Budget);
    assert_eq!(m.s.regs[ECX], n - MAX_ITERS);
    assert_eq!(m.s.regs[EDI], DST + 4 * MAX_ITERS);
    assert_eq!(m.s.eip, CODE_BASE + 15, "EIP stays at the REP instruction");
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[ECX], 0);
    assert_eq!(m.mmu.phys.read_u32(DST + 4 * (n - 1)), 0x0102_0304);
    assert_eq!(m.mmu.phys.read_u32(DST + 4 * n), 0);
}

pub fn outs_and_ins(e: Eng) {
    let mut m = machine32(e, |a| {
        a.mov(dx, 0x3F8).unwrap();
        a.mov(esi, SRC).unwrap();
        a.mov(ecx, 3u32).unwrap();
        a.rep().outsb().unwrap();
        a.mov(edi, DST).unwrap();
        a.mov(ecx, 2u32).unwrap();
        a.rep().insw().unwrap();
    });
    m.mmu.phys.write_bytes(SRC, b"abc");
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(
        m.bus.writes,
        vec![
            (0x3F8, 1, b'a' as u32),
            (0x3F8, 1, b'b' as u32),
            (0x3F8, 1, b'c' as u32)
        ]
    );
    assert_eq!(m.mmu.phys.read_u32(DST), 0xFFFF_FFFF);
    assert_eq!(m.s.regs[EDI], DST + 4);
}

pub fn overlapping_forward_movsb_replicates(e: Eng) {
    // Element-by-element semantics: copying to src+1 smears the first byte,
    // across a page boundary too.
    let start = DATA_BASE + 0xFF0;
    let mut m = machine32(e, |a| {
        a.mov(esi, start).unwrap();
        a.mov(edi, start + 1).unwrap();
        a.mov(ecx, 40u32).unwrap();
        a.rep().movsb().unwrap();
    });
    m.mmu.phys.write_u8(start, 0x77);
    assert_eq!(m.run(), Stop::Halted);
    for i in 0..=40 {
        assert_eq!(m.mmu.phys.read_u8(start + i), 0x77, "byte {i}");
    }
    assert_eq!(m.s.regs[ESI], start + 40);
}

pub fn rep_movsw_crosses_pages_with_paging(e: Eng) {
    let mut m = {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(esi, SRC + 0xFFE).unwrap();
            a.mov(edi, FAR + 0x7FE).unwrap();
            a.mov(ecx, 0x900u32).unwrap();
            a.rep().movsw().unwrap();
            a.hlt().unwrap();
        });
        e.flat32_paged(&code)
    };
    for i in 0..0x900u32 {
        m.mmu.phys.write_u16(SRC + 0xFFE + 2 * i, i as u16);
    }
    assert_eq!(m.run(), Stop::Halted);
    for i in 0..0x900u32 {
        assert_eq!(m.mmu.phys.read_u16(FAR + 0x7FE + 2 * i), i as u16);
    }
    assert_eq!(m.s.regs[ECX], 0);
    assert_eq!(m.s.regs[EDI], FAR + 0x7FE + 0x1200);
}

pub fn page_fault_mid_rep_leaves_resumable_state(e: Eng) {
    // IDT with a #PF gate to a handler that records the vector and halts.
    const IDT: u32 = 0x800;
    const HANDLER: u32 = CODE_BASE + 0x800;
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(esi, SRC).unwrap();
        a.mov(edi, FAR + 0xFF0).unwrap();
        a.mov(ecx, 8u32).unwrap();
        a.rep().movsd().unwrap();
        a.hlt().unwrap();
    });
    let handler = asm32(HANDLER as u64, |a| {
        a.mov(ebp, 14u32).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.flat32_paged(&code);
    m.mmu.phys.write_bytes(HANDLER, &handler);
    let gate_lo = (0x08 << 16) | (HANDLER & 0xFFFF);
    let gate_hi = (HANDLER & 0xFFFF_0000) | 0x8E00;
    m.mmu.phys.write_u32(IDT + 14 * 8, gate_lo);
    m.mmu.phys.write_u32(IDT + 14 * 8 + 4, gate_hi);
    m.s.idtr = DescTable {
        base: IDT,
        limit: 32 * 8 - 1,
    };
    // Unmap the page after FAR.
    let pte = 0x2000 + ((FAR + 0x1000) >> 12) * 4;
    m.mmu.phys.write_u32(pte, 0);
    m.mmu.flush_all();
    for i in 0..8 {
        m.mmu.phys.write_u32(SRC + 4 * i, 0x100 + i);
    }
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBP], 14);
    assert_eq!(m.s.cr2, FAR + 0x1000);
    assert_eq!(m.s.regs[ECX], 4);
    assert_eq!(m.s.regs[ESI], SRC + 16);
    assert_eq!(m.s.regs[EDI], FAR + 0x1000);
    assert_eq!(m.mmu.phys.read_u32(FAR + 0xFFC), 0x103);
    // The saved EIP is the REP MOVSD (after three 5-byte MOVs).
    let top = m.s.regs[ESP];
    assert_eq!(m.mmu.phys.read_u32(top + 4), CODE_BASE + 15);
}

pub fn rep_movsb_over_following_code_is_seen(e: Eng) {
    // The copy patches `mov eax, 1` (after it in the same block) into
    // `mov eax, 2` before it runs.
    let patch = asm32(0, |a| {
        a.mov(eax, 2u32).unwrap();
    });
    let mut m = {
        let code = asm32(CODE_BASE as u64, |a| {
            // 3 x 5-byte MOV + 2-byte REP MOVSB: the target is at +17.
            a.mov(esi, SRC).unwrap();
            a.mov(edi, CODE_BASE + 17).unwrap();
            a.mov(ecx, 5u32).unwrap();
            a.rep().movsb().unwrap();
            a.mov(eax, 1u32).unwrap();
            a.hlt().unwrap();
        });
        e.flat32_paged(&code)
    };
    m.mmu.phys.write_bytes(SRC, &patch);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EAX], 2);
}

pub fn rep_stosw_pattern_and_aliased_overlap(e: Eng) {
    let mut m = {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(edi, FAR).unwrap();
            a.mov(eax, 0x1234u32).unwrap();
            a.mov(ecx, 100u32).unwrap();
            a.rep().stosw().unwrap();
            // FAR+0x2000 aliases FAR+0x1000: copying to alias+1 must smear
            // byte 0 as an element-by-element copy does.
            a.mov(esi, FAR + 0x1000).unwrap();
            a.mov(edi, FAR + 0x2001).unwrap();
            a.mov(ecx, 16u32).unwrap();
            a.rep().movsb().unwrap();
            a.hlt().unwrap();
        });
        e.flat32_paged(&code)
    };
    let pte = |lin: u32| 0x2000 + (lin >> 12) * 4;
    m.mmu.phys.write_u32(pte(FAR + 0x2000), (FAR + 0x1000) | 7);
    m.mmu.flush_all();
    m.mmu.phys.write_bytes(FAR + 0x1000, b"Zabcdefghijklmnopq");
    assert_eq!(m.run(), Stop::Halted);
    for i in 0..100 {
        assert_eq!(m.mmu.phys.read_u16(FAR + 2 * i), 0x1234);
    }
    assert_eq!(m.mmu.phys.read_u16(FAR + 200), 0);
    let mut buf = [0u8; 18];
    m.mmu.phys.read_bytes(FAR + 0x1000, &mut buf);
    assert_eq!(&buf, b"ZZZZZZZZZZZZZZZZZq");
}
