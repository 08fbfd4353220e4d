//! Guest code that attacks an engine's caches: entries into the middle of
//! an instruction (and so overlapping blocks), stores into shared,
//! running or already translated code, code in ROM and on MMIO pages,
//! fetches from not-present pages and from unmapped physical memory,
//! blocks cut by a page boundary or the CS limit whose mapping changes,
//! blocks too long for the code buffer, and REP string instructions
//! interrupted by a page fault or an external interrupt and resumed.
//! Every case asserts the architectural result: the right values, or the
//! right fault with its error code, CR2 and saved EIP.
//!
//! Leaves out: random garbage (`sys_fuzz` and the translator's
//! differential fuzzer do that).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

use super::sys_harness::{gate_desc, pte_addr, seg_desc, Sys};
use super::{Eng, IrqBus};

/// Offset of the first occurrence of `pat` in `code`.
fn find(code: &[u8], pat: &[u8]) -> usize {
    code.windows(pat.len())
        .position(|w| w == pat)
        .expect("pattern in code")
}

/// Replaces the dword `from` (an assembler placeholder) with `to`.
fn patch_dword(code: &mut [u8], from: u32, to: u32) {
    let at = find(code, &from.to_le_bytes());
    code[at..at + 4].copy_from_slice(&to.to_le_bytes());
}

/// Where the doubly-decodable routine lives.
const TWICE: u32 = CODE_BASE + 0x200;
/// `mov eax, 0xC3904341; ret` read from TWICE, and `inc ecx; inc ebx;
/// nop; ret` read from TWICE + 1.
const TWICE_BYTES: [u8; 6] = [0xB8, 0x41, 0x43, 0x90, 0xC3, 0xC3];

/// Calls TWICE and TWICE + 1 alternately, several times (so both entries
/// are hot and translated: two overlapping blocks over the same bytes).
pub fn jump_into_the_middle_of_an_instruction(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        for r in [ebx, ecx, edx, edi] {
            a.xor(r, r).unwrap();
        }
        a.mov(esi, 20u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.xor(eax, eax).unwrap();
        a.call(TWICE as u64).unwrap();
        a.add(edi, eax).unwrap();
        a.call(TWICE as u64 + 1).unwrap();
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.flat32(&code);
    m.mmu.phys.write_bytes(TWICE, &TWICE_BYTES);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EAX], 0xC390_4341);
    assert_eq!(m.s.regs[EDI], 0xC390_4341u32.wrapping_mul(20));
    assert_eq!((m.s.regs[ECX], m.s.regs[EBX]), (20, 20));
    assert_eq!(m.s.regs[ESP], STACK_TOP);
}

/// After both overlapping entries are hot, a guest store changes a byte
/// they share (an immediate for one, an opcode for the other): both see
/// it at once.
pub fn overlapping_blocks_see_a_store_to_shared_bytes(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        let mut skip = a.create_label();
        for r in [ebx, ecx, edx, edi] {
            a.xor(r, r).unwrap();
        }
        a.mov(esi, 40u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.cmp(esi, 20u32).unwrap();
        a.jne(skip).unwrap();
        // inc ebx (43) becomes inc edx (42); the immediate changes too.
        a.mov(byte_ptr(TWICE + 2), 0x42u32).unwrap();
        a.set_label(&mut skip).unwrap();
        a.call(TWICE as u64).unwrap();
        a.add(edi, eax).unwrap();
        a.call(TWICE as u64 + 1).unwrap();
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.flat32(&code);
    m.mmu.phys.write_bytes(TWICE, &TWICE_BYTES);
    assert_eq!(m.run(), Stop::Halted);
    let sum = 0xC390_4341u32
        .wrapping_mul(20)
        .wrapping_add(0xC390_4241u32.wrapping_mul(20));
    assert_eq!(m.s.regs[EDI], sum);
    assert_eq!(m.s.regs[ECX], 40);
    assert_eq!((m.s.regs[EBX], m.s.regs[EDX]), (20, 20));
}

/// A loop stores into the next instruction of its own block (ahead of
/// EIP): the new immediate is used in the same iteration.
pub fn smc_rewrites_the_running_block(e: Eng) {
    const MARK: u32 = 0x7777_7777;
    const HOLE: u32 = 0x0BAD_0000;
    let mut code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 30u32).unwrap();
        a.xor(ebx, ebx).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(dword_ptr(HOLE), ecx).unwrap();
        a.mov(eax, MARK).unwrap();
        a.add(ebx, eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let imm = CODE_BASE + find(&code, &MARK.to_le_bytes()) as u32;
    patch_dword(&mut code, HOLE, imm);
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], (1..=30).sum::<u32>());
    assert_eq!(m.mem32(imm), 1);
}

/// A hot (translated, chained) function is rewritten by the guest: its
/// immediate, then its opcode; later calls run the new code.
pub fn smc_rewrites_a_later_block(e: Eng) {
    const F: u32 = CODE_BASE + 0x300;
    let code = asm32(CODE_BASE as u64, |a| {
        let mut first = a.create_label();
        let mut second = a.create_label();
        a.xor(ebx, ebx).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(ecx, 20u32).unwrap();
        a.set_label(&mut first).unwrap();
        a.call(F as u64).unwrap();
        a.add(ebx, eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(first).unwrap();
        a.mov(dword_ptr(F + 1), 100u32).unwrap();
        a.mov(ecx, 20u32).unwrap();
        a.set_label(&mut second).unwrap();
        a.call(F as u64).unwrap();
        a.add(ebx, eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(second).unwrap();
        // mov eax, imm32 (B8) becomes mov edx, imm32 (BA).
        a.mov(byte_ptr(F), 0xBAu32).unwrap();
        a.xor(eax, eax).unwrap();
        a.call(F as u64).unwrap();
        a.hlt().unwrap();
    });
    let f = asm32(F as u64, |a| {
        a.mov(eax, 1u32).unwrap();
        a.ret().unwrap();
    });
    let mut m = e.flat32(&code);
    m.mmu.phys.write_bytes(F, &f);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 20 + 20 * 100);
    assert_eq!((m.s.regs[EAX], m.s.regs[EDX]), (0, 100));
}

/// Where the test ROM sits (above the 16 MiB of RAM).
const ROM: u32 = 0xFFFF_0000;

/// Code in ROM runs (hot, so translated), and the guest's store to its
/// own ROM bytes is ignored: the code stays as it was.
pub fn code_in_rom_runs_and_ignores_writes(e: Eng) {
    let rom_code = asm32(ROM as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 10u32).unwrap();
        a.xor(eax, eax).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(eax, ecx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.mov(byte_ptr(ROM + 1), 0x99u32).unwrap(); // the immediate of `mov ecx`
        a.ret().unwrap();
    });
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.xor(ebx, ebx).unwrap();
        a.mov(esi, 30u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.call(ROM as u64).unwrap();
        a.add(ebx, eax).unwrap();
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut image = vec![0xF4u8; 4096];
    image[..rom_code.len()].copy_from_slice(&rom_code);
    let mut m = e.flat32(&code);
    m.mmu.phys.add_rom(ROM, &image).expect("ROM above RAM");
    m.mmu.flush_all();
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 30 * 55);
    assert_eq!(m.mmu.phys.read_u8(ROM + 1), 10);
}

/// An MMIO device whose bytes are code: `mov eax, imm32; ret`, where the
/// immediate is a register of the device the guest writes (at +0x800).
struct CodeDevice {
    base: u32,
    imm: Arc<AtomicU32>,
    reads: Arc<AtomicU32>,
}

impl CodeDevice {
    fn byte(&self, off: u32) -> u8 {
        let imm = self.imm.load(Ordering::Relaxed).to_le_bytes();
        match off {
            0 => 0xB8,
            1..=4 => imm[off as usize - 1],
            5 => 0xC3,
            _ => 0xF4,
        }
    }
}

impl mmu::Mmio for CodeDevice {
    fn read(&mut self, addr: u64, size: u8) -> u32 {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let off = (addr as u32).wrapping_sub(self.base);
        (0..size as u32).fold(0, |v, i| v | (self.byte(off + i) as u32) << (8 * i))
    }
    fn write(&mut self, addr: u64, _size: u8, val: u32) {
        if (addr as u32).wrapping_sub(self.base) == 0x800 {
            self.imm.store(val, Ordering::Relaxed);
        }
    }
}

/// Code fetched from an MMIO page runs what the device returns at the
/// time of the fetch: a device-side change (the guest programs the
/// device, which writes no RAM and marks no code page) is seen by the
/// next call, however hot the code is.
pub fn code_on_an_mmio_page_follows_the_device(e: Eng) {
    const DEV: u32 = 0xE000_0000;
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.xor(ebx, ebx).unwrap();
        a.mov(esi, 30u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(dword_ptr(DEV + 0x800), esi).unwrap();
        a.call(DEV as u64).unwrap();
        a.add(ebx, eax).unwrap();
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.flat32(&code);
    let imm = Arc::new(AtomicU32::new(0));
    let reads = Arc::new(AtomicU32::new(0));
    let dev = CodeDevice {
        base: DEV,
        imm: imm.clone(),
        reads: reads.clone(),
    };
    m.mmu
        .phys
        .add_mmio(DEV, 0x1000, Box::new(dev))
        .expect("MMIO above RAM");
    m.mmu.flush_all();
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], (1..=30).sum::<u32>());
    assert_eq!(imm.load(Ordering::Relaxed), 1);
    assert!(reads.load(Ordering::Relaxed) > 0);
}

/// A jump to a not-present page: #PF with error code 0 (supervisor read
/// of a not-present page: fetches set no I/D bit without NX or SMEP),
/// CR2 and the saved EIP both the target.
pub fn fetch_from_a_not_present_page_is_a_page_fault(e: Eng) {
    const TARGET: u32 = 0x0060_0000;
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, TARGET).unwrap();
        a.mov(ebx, 0x1234u32).unwrap();
        a.jmp(eax).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.enable_paging();
    s.m.mmu.phys.write_bytes(TARGET, &[0x43, 0xF4]); // inc ebx; hlt (never run)
    s.m.mmu.phys.write_u32(pte_addr(TARGET), 0);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (14, 0, TARGET, 0x08));
    assert_eq!(s.rec(32), TARGET, "CR2");
    assert_eq!(s.m.s.regs[EBX], 0x1234);
}

/// Where the page-crossing routine starts: 14 bytes of `inc ebx`, then a
/// 5-byte `mov edx, imm32` whose last 3 bytes are on the next page, then
/// `ret`. (EDX: the fault recorder uses EAX.)
const CROSS: u32 = 0x005F_FFF0;
const NEXT_PAGE: u32 = 0x0060_0000;

fn cross_page_routine(m: &mut TestMachine, imm: u32) {
    let mut bytes = vec![0x43u8; 14];
    bytes.push(0xBA);
    bytes.extend(imm.to_le_bytes());
    bytes.push(0xC3);
    m.mmu.phys.write_bytes(CROSS, &bytes);
}

/// A hot block that runs across a page boundary, then the second page is
/// unmapped by the guest (PTE cleared, INVLPG): the next call runs the
/// first page's instructions and faults on the straddling instruction
/// with CR2 = the second page and EIP = the instruction.
pub fn block_across_a_page_that_goes_away(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.xor(ebx, ebx).unwrap();
        a.mov(esi, 20u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.call(CROSS as u64).unwrap();
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.mov(dword_ptr(pte_addr(NEXT_PAGE)), 0u32).unwrap();
        a.invlpg(ptr(NEXT_PAGE)).unwrap();
        a.xor(edx, edx).unwrap();
        a.call(CROSS as u64).unwrap();
        a.hlt().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.enable_paging();
    cross_page_routine(&mut s.m, 0x1357_9BDF);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (14, 0, CROSS + 14, 0x08));
    assert_eq!(s.rec(32), NEXT_PAGE, "CR2");
    assert_eq!(s.m.s.regs[EBX], 21 * 14);
    assert_eq!(s.m.s.regs[EDX], 0, "the straddling MOV did not run");
}

/// The same hot page-crossing block, then the guest maps the second page
/// to another physical page holding different bytes: the next call runs
/// the new bytes.
pub fn block_across_a_page_that_is_remapped(e: Eng) {
    const OTHER: u32 = 0x0070_0000;
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.xor(ebx, ebx).unwrap();
        a.xor(edi, edi).unwrap();
        a.mov(esi, 20u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.call(CROSS as u64).unwrap();
        a.add(edi, edx).unwrap();
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.mov(dword_ptr(pte_addr(NEXT_PAGE)), OTHER | 7).unwrap();
        a.invlpg(ptr(NEXT_PAGE)).unwrap();
        a.call(CROSS as u64).unwrap();
        a.hlt().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.enable_paging();
    cross_page_routine(&mut s.m, 0x1111_1111);
    // The other physical page: the last 3 immediate bytes and RET.
    s.m.mmu.phys.write_bytes(OTHER, &[0x22, 0x22, 0x22, 0xC3]);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.rec(0), 0xFFFF_FFFF, "no exception");
    assert_eq!(s.m.s.regs[EDI], 0x1111_1111u32.wrapping_mul(20));
    assert_eq!(s.m.s.regs[EDX], 0x2222_2211);
    assert_eq!(s.m.s.regs[EBX], 21 * 14);
}

/// Execution from physical addresses where nothing is mapped (no paging):
/// the fetch reads all ones, and FF FF is an invalid opcode: #UD there.
pub fn execution_from_unmapped_physical_memory_is_ud(e: Eng) {
    const NOWHERE: u32 = 0x0200_0000;
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, NOWHERE).unwrap();
        a.jmp(eax).unwrap();
    });
    let mut s = Sys::new(e, &code);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (6, 0xEEEE_EEEE, NOWHERE, 0x08));
}

/// A code segment whose limit ends inside an instruction: the block runs
/// up to it, then #GP(0) at the instruction that crosses the limit; a
/// jump past the limit is #GP(0) at the jump.
pub fn code_running_into_the_cs_limit_is_gp(e: Eng) {
    const LIMITED: u16 = 0x30;
    const START: u32 = 0x0001_0FF0;
    const LIMIT: u32 = 0x0001_0FFF;
    let code = asm32(CODE_BASE as u64, |a| {
        a.xor(ebx, ebx).unwrap();
        a.jmp_far(LIMITED, START).unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.set_gdt(LIMITED, seg_desc(0, LIMIT, 0x9B, 0x4));
    // 14 x inc ebx, then mov eax, imm32 at LIMIT - 1.
    let mut tail = vec![0x43u8; 14];
    tail.extend([0xB8, 1, 2, 3, 4, 0xF4]);
    s.load(START, &tail);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.fault(), (13, 0, LIMIT - 1, LIMITED as u32));
    assert_eq!(s.m.s.regs[EBX], 14);
}

/// Blocks far larger than a small code buffer (a straight run of 1500
/// instructions) and many distinct blocks, run several times: results are
/// exact whether translations fit, are flushed mid-run or are declined.
pub fn long_and_many_blocks(e: Eng) {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(esi, 3u32).unwrap();
        a.xor(eax, eax).unwrap();
        a.xor(edx, edx).unwrap();
        a.set_label(&mut top).unwrap();
        for i in 0..1500u32 {
            a.add(eax, i).unwrap();
            if i % 7 == 0 {
                a.mov(dword_ptr(DATA_BASE + (i % 64) * 4), eax).unwrap();
            }
        }
        for i in 0..200u32 {
            let mut next = a.create_label();
            a.add(edx, i ^ 0x55).unwrap();
            a.jmp(next).unwrap();
            a.set_label(&mut next).unwrap();
        }
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    if let Some(r) = m.engine.as_ref().and_then(|x| x.report()) {
        println!("{}: {r}", e.name);
    }
    let block: u32 = (0..1500).sum();
    assert_eq!(m.s.regs[EAX], 3 * block);
    assert_eq!(
        m.s.regs[EDX],
        3 * (0..200u32).map(|i| i ^ 0x55).sum::<u32>()
    );
    let last_store = (0..1500u32).rev().find(|i| i % 7 == 0).unwrap();
    let at_last: u32 = 2 * block + (0..=last_store).sum::<u32>();
    assert_eq!(m.mem32(DATA_BASE + (last_store % 64) * 4), at_last);
}

/// REP MOVSD into a not-present page: the #PF handler maps the page and
/// returns; the REP resumes where it stopped and completes once.
pub fn rep_movs_resumes_after_a_page_fault(e: Eng) {
    const SRC: u32 = DATA_BASE;
    const GONE: u32 = 0x0060_0000;
    const DST: u32 = GONE - 0x800;
    const COUNT: u32 = 0x5400;
    let code = asm32(CODE_BASE as u64, |a| {
        a.cld().unwrap();
        a.mov(esi, SRC).unwrap();
        a.mov(edi, DST).unwrap();
        a.mov(ecx, 1024u32).unwrap();
        a.rep().movsd().unwrap();
        a.hlt().unwrap();
    });
    let handler = asm32(CODE_BASE as u64 + 0x800, |a| {
        a.inc(dword_ptr(COUNT)).unwrap();
        a.mov(dword_ptr(COUNT + 4), ecx).unwrap();
        a.mov(eax, cr2).unwrap();
        a.mov(dword_ptr(COUNT + 8), eax).unwrap();
        a.mov(dword_ptr(pte_addr(GONE)), GONE | 7).unwrap();
        a.invlpg(ptr(GONE)).unwrap();
        a.add(esp, 4).unwrap();
        a.iretd().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.enable_paging();
    s.load(CODE_BASE + 0x800, &handler);
    s.set_idt(14, gate_desc(0x08, CODE_BASE + 0x800, 0x8E, 0));
    s.m.mmu.phys.write_u32(pte_addr(GONE), 0);
    let pattern: Vec<u8> = (0..4096u32).map(|i| (i * 7 + i / 256) as u8).collect();
    s.load(SRC, &pattern);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.mem32(COUNT), 1, "one fault");
    assert_eq!(s.mem32(COUNT + 4), 512, "ECX at the fault: half done");
    assert_eq!(s.mem32(COUNT + 8), GONE);
    let r = &s.m.s.regs;
    assert_eq!((r[ECX], r[ESI], r[EDI]), (0, SRC + 4096, DST + 4096));
    let mut out = vec![0u8; 4096];
    s.m.mmu.phys.read_bytes(DST, &mut out);
    assert_eq!(out, pattern);
}

/// A long REP STOSD (many chunks) with interrupts enabled: an interrupt
/// raised mid-way is taken between iterations (the handler sees ECX in
/// progress), and the REP resumes after IRET and completes exactly.
pub fn rep_stos_resumes_after_an_interrupt(e: Eng) {
    const DST: u32 = 0x0010_0000 + 0x8000;
    const N: u32 = 100_000;
    const COUNT: u32 = 0x5400;
    let code = asm32(CODE_BASE as u64, |a| {
        a.sti().unwrap();
        a.cld().unwrap();
        a.mov(edi, DST).unwrap();
        a.mov(ecx, N).unwrap();
        a.mov(eax, 0x55AA_55AAu32).unwrap();
        a.rep().stosd().unwrap();
        a.hlt().unwrap();
    });
    let handler = asm32(CODE_BASE as u64 + 0x800, |a| {
        a.inc(dword_ptr(COUNT)).unwrap();
        a.mov(dword_ptr(COUNT + 4), ecx).unwrap();
        a.iretd().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.load(CODE_BASE + 0x800, &handler);
    s.set_idt(0x20, gate_desc(0x08, CODE_BASE + 0x800, 0x8E, 0));
    let mut bus = IrqBus::default();
    assert_eq!(super::run_on_bus(&mut s.m, &mut bus, 20), Stop::Budget);
    let left = s.m.s.regs[ECX];
    assert!(left > 0 && left < N, "REP in progress: ecx={left}");
    bus.pending = true;
    assert_eq!(
        super::run_on_bus(&mut s.m, &mut bus, 1_000_000),
        Stop::Halted
    );
    assert_eq!(s.mem32(COUNT), 1, "one interrupt");
    let at_irq = s.mem32(COUNT + 4);
    assert!(at_irq > 0 && at_irq <= left, "taken mid-REP: ecx={at_irq}");
    assert_eq!(s.m.s.regs[ECX], 0);
    assert_eq!(s.m.s.regs[EDI], DST + 4 * N);
    assert_eq!(s.mem32(DST), 0x55AA_55AA);
    assert_eq!(s.mem32(DST + 4 * (N - 1)), 0x55AA_55AA);
    assert_eq!(s.mem32(DST + 4 * N), 0);
}

/// The guest rewrites a hot function through a second linear mapping of
/// its physical page (an alias): calls through the first mapping run the
/// new code.
pub fn smc_through_an_alias_mapping(e: Eng) {
    const F: u32 = CODE_BASE + 0x300;
    const ALIAS: u32 = 0x0080_0000;
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        let mut skip = a.create_label();
        a.xor(ebx, ebx).unwrap();
        a.mov(esi, 40u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.cmp(esi, 20u32).unwrap();
        a.jne(skip).unwrap();
        a.mov(dword_ptr(ALIAS + (F & 0xFFF) + 1), 100u32).unwrap();
        a.set_label(&mut skip).unwrap();
        a.call(F as u64).unwrap();
        a.add(ebx, edx).unwrap();
        a.dec(esi).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let f = asm32(F as u64, |a| {
        a.mov(edx, 1u32).unwrap();
        a.ret().unwrap();
    });
    let mut s = Sys::new(e, &code);
    s.enable_paging();
    s.load(F, &f);
    s.m.mmu.phys.write_u32(pte_addr(ALIAS), (F & !0xFFF) | 7);
    assert_eq!(s.run(), Stop::Halted);
    assert_eq!(s.rec(0), 0xFFFF_FFFF, "no exception");
    assert_eq!(s.m.s.regs[EBX], 20 + 20 * 100);
    assert_eq!(s.mem32(F + 1), 100);
}

/// Code rewritten from outside the guest between two runs (a loader, a
/// debugger, DMA: `PhysMem::write_bytes`) is seen by the next run, even
/// where the old code was hot.
pub fn host_write_between_runs_is_seen(e: Eng) {
    const MARK: u32 = 0x6666_6666;
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.xor(ebx, ebx).unwrap();
        a.mov(ecx, 40u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(eax, MARK).unwrap();
        a.add(ebx, eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let imm = CODE_BASE + find(&code, &MARK.to_le_bytes()) as u32;
    let mut m = e.flat32(&code);
    m.mmu.phys.write_u32(imm, 1);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 40);
    m.mmu.phys.write_u32(imm, 3);
    m.s.eip = CODE_BASE;
    m.s.run_state = RunState::Running;
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EBX], 120);
}

/// An instruction that adds its own immediate to itself
/// (`add byte [here+6], imm8`): each execution uses the immediate it was
/// fetched with and the next one sees the sum, so it doubles.
pub fn instruction_rewriting_its_own_immediate(e: Eng) {
    const HOLE: u32 = 0x0BAD_0000;
    let mut code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 5u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(byte_ptr(HOLE), 1).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let at = find(&code, &HOLE.to_le_bytes());
    let insn = CODE_BASE + at as u32 - 2; // 80 05 disp32 imm8
    patch_dword(&mut code, HOLE, insn + 6);
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.mmu.phys.read_u8(insn + 6), 32, "1 doubled five times");
}

/// The same bytes run as 32-bit code, then as 16-bit code (a 16-bit CS
/// based at them), then as 32-bit code again: each mode decodes them its
/// own way (`mov eax, 0x43430001` vs `mov ax, 1; inc bx; inc bx`).
pub fn same_bytes_as_16_and_32_bit_code(e: Eng) {
    const AT: u32 = CODE_BASE + 0x400;
    let code = asm32(CODE_BASE as u64, |a| {
        a.mov(eax, AT).unwrap();
        a.jmp(eax).unwrap();
    });
    let mut m = e.flat32(&code);
    m.mmu
        .phys
        .write_bytes(AT, &[0xB8, 0x01, 0x00, 0x43, 0x43, 0xF4]);
    let flat_cs = m.s.seg[CS];
    let code16 = Segment {
        selector: 0x30,
        attr: 0x9B,
        base: AT,
        limit: 0xFFFF,
        access: SEG_READ | SEG_EXEC,
    };
    for round in 0..3 {
        m.s.regs = [0; 8];
        m.s.regs[ESP] = STACK_TOP;
        m.s.run_state = RunState::Running;
        let as16 = round == 1;
        if as16 {
            m.s.seg[CS] = code16;
            m.s.eip = 0;
        } else {
            m.s.seg[CS] = flat_cs;
            m.s.eip = CODE_BASE;
        }
        assert_eq!(m.run(), Stop::Halted);
        if as16 {
            assert_eq!((m.s.regs[EAX], m.s.regs[EBX]), (1, 2), "16-bit decode");
            assert_eq!(m.s.eip, 6);
        } else {
            assert_eq!((m.s.regs[EAX], m.s.regs[EBX]), (0x4343_0001, 0), "32-bit");
            assert_eq!(m.s.eip, AT + 6);
        }
    }
}

/// Ring-3 code jumps into a supervisor page: #PF with error code 5
/// (present, read, user), CR2 and the saved EIP the target, CS ring 3. A
/// jump into a page whose page table is not present is #PF with code 4.
pub fn user_fetch_from_a_supervisor_page_is_a_page_fault(e: Eng) {
    const USER: u32 = CODE_BASE + 0x1000;
    const KPAGE: u32 = 0x0060_0000;
    const NO_TABLE: u32 = 0x0140_0000; // above the 16 MiB the tables map
    for (target, err) in [(KPAGE, 5), (NO_TABLE, 4)] {
        let code = asm32(CODE_BASE as u64, |a| {
            super::sys_harness::enter_ring3(a, USER, 0x202)
        });
        let ucode = asm32(USER as u64, |a| {
            a.mov(eax, target).unwrap();
            a.jmp(eax).unwrap();
        });
        let mut s = Sys::new(e, &code);
        s.enable_paging();
        s.load(USER, &ucode);
        s.load(KPAGE, &[0xF4]);
        s.m.mmu.phys.write_u32(pte_addr(KPAGE), KPAGE | 3);
        assert_eq!(s.run(), Stop::Halted);
        assert_eq!(s.fault(), (14, err, target, 0x1B), "jump to {target:#x}");
        assert_eq!(s.rec(32), target, "CR2");
    }
}
