//! Shared set-up for the system-level tests: a flat 32-bit machine (from
//! `cpu_interp::harness`) with a larger GDT, an IDT whose every exception
//! vector goes to a "recorder" handler, descriptor builders and TSS
//! helpers. A recorder stores what the CPU pushed and halts:
//!
//! REC+0 vector, +4 error code (or 0xEEEE_EEEE), +8 EIP, +12 CS, +16
//! EFLAGS, +20 the handler's ESP after the pops, +24/+28 the next two
//! dwords (outer ESP and SS after a privilege change), +32 CR2.

pub use cpu_interp::harness::*;
pub use cpu_interp::state::*;
pub use cpu_interp::Stop;
pub use iced_x86::code_asm::*;

pub use super::Eng;

pub const IDT: u32 = 0x6000;
pub const REC: u32 = 0x5000;
pub const HANDLERS: u32 = 0x20000;
/// The TSS of the initial task.
pub const TSS0: u32 = 0x3000;
pub const TSS0_SEL: u16 = 0x28;
pub const RING0_STACK: u32 = 0x9_0000;
pub const RING3_STACK: u32 = 0x7_0000;
/// The page directory of [`Sys::enable_paging`]; its four page tables
/// follow it.
pub const PAGE_DIR: u32 = 0x10_0000;

/// Physical address of the page-table entry mapping linear `lin` under
/// [`Sys::enable_paging`] (the first 16 MiB).
pub fn pte_addr(lin: u32) -> u32 {
    PAGE_DIR + 0x1000 + (lin >> 12) * 4
}

/// Exceptions that push an error code.
pub fn has_error_code(v: u8) -> bool {
    matches!(v, 8 | 10 | 11 | 12 | 13 | 14 | 17)
}

/// A code/data descriptor.
pub fn seg_desc(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    (limit as u64 & 0xFFFF)
        | ((base as u64 & 0xFF_FFFF) << 16)
        | ((access as u64) << 40)
        | (((limit as u64 >> 16) & 0xF) << 48)
        | (((flags as u64) & 0xF) << 52)
        | (((base as u64) >> 24) << 56)
}

/// A gate descriptor: `attr` is the access byte (P, DPL, type).
pub fn gate_desc(sel: u16, offset: u32, attr: u8, params: u8) -> u64 {
    (offset as u64 & 0xFFFF)
        | ((sel as u64) << 16)
        | ((params as u64 & 0x1F) << 32)
        | ((attr as u64) << 40)
        | ((offset as u64 >> 16) << 48)
}

/// A 32-bit available TSS descriptor (0x89) or another system type.
pub fn tss_desc(base: u32, limit: u32, attr: u8) -> u64 {
    seg_desc(base, limit, attr, 0)
}

pub struct Sys {
    pub m: TestMachine,
}

impl Sys {
    /// Flat ring-0 machine running `code` at CODE_BASE; GDT with 16
    /// slots; IDT with recorder interrupt gates for vectors 0..32; TR =
    /// TSS0 (32-bit) with the ring-0 stack at RING0_STACK.
    pub fn new(e: Eng, code: &[u8]) -> Sys {
        let mut m = e.flat32(code);
        m.s.gdtr.limit = 16 * 8 - 1;
        let mut s = Sys { m };
        for v in 0..32u8 {
            let h = s.recorder(v);
            s.set_idt(v, gate_desc(0x08, h, 0x8E, 0));
        }
        s.m.s.idtr = DescTable {
            base: IDT,
            limit: 256 * 8 - 1,
        };
        s.set_gdt(TSS0_SEL, tss_desc(TSS0, 0x67, 0x8B));
        s.m.mmu.phys.write_u32(TSS0 + 4, RING0_STACK);
        s.m.mmu.phys.write_u32(TSS0 + 8, 0x10);
        s.m.mmu.phys.write_u16(TSS0 + 0x66, 0x68);
        s.m.s.tr = Segment {
            selector: TSS0_SEL,
            attr: 0x8B,
            base: TSS0,
            limit: 0x67,
            access: 0,
        };
        s.m.mmu.phys.write_u32(REC, 0xFFFF_FFFF);
        s
    }

    /// Assembles the recorder for vector `v` and returns its address. It
    /// addresses memory through SS, which is valid even when DS is null
    /// (interrupts from V86 mode or after an outer return).
    pub fn recorder(&mut self, v: u8) -> u32 {
        let at = HANDLERS + v as u32 * 0x80;
        let err = has_error_code(v);
        let code = asm32(at as u64, |a| {
            a.mov(dword_ptr(REC).ss(), v as u32).unwrap();
            if err {
                a.pop(dword_ptr(REC + 4).ss()).unwrap();
            } else {
                a.mov(dword_ptr(REC + 4).ss(), 0xEEEE_EEEEu32).unwrap();
            }
            a.pop(dword_ptr(REC + 8).ss()).unwrap();
            a.pop(dword_ptr(REC + 12).ss()).unwrap();
            a.pop(dword_ptr(REC + 16).ss()).unwrap();
            a.mov(dword_ptr(REC + 20).ss(), esp).unwrap();
            a.mov(eax, dword_ptr(esp)).unwrap();
            a.mov(dword_ptr(REC + 24).ss(), eax).unwrap();
            a.mov(eax, dword_ptr(esp + 4)).unwrap();
            a.mov(dword_ptr(REC + 28).ss(), eax).unwrap();
            a.mov(eax, cr2).unwrap();
            a.mov(dword_ptr(REC + 32).ss(), eax).unwrap();
            a.hlt().unwrap();
        });
        self.m.mmu.phys.write_bytes(at, &code);
        at
    }

    /// Turns paging on: the first 16 MiB identity-mapped with 4 KiB
    /// supervisor/user read-write pages, tables at [`PAGE_DIR`] (clear of
    /// the GDT, TSS, recorder and IDT).
    pub fn enable_paging(&mut self) {
        let p = &mut self.m.mmu.phys;
        for t in 0..4u32 {
            let table = PAGE_DIR + 0x1000 + t * 0x1000;
            p.write_u32(PAGE_DIR + t * 4, table | 7);
            for i in 0..1024u32 {
                p.write_u32(table + i * 4, ((t * 1024 + i) << 12) | 7);
            }
        }
        self.m.s.cr3 = PAGE_DIR;
        self.m.s.cr0 |= cr0::PG | cr0::WP;
        self.m.mmu.flush_all();
    }

    pub fn set_gdt(&mut self, sel: u16, d: u64) {
        self.m.mmu.phys.write_u64(GDT_BASE + (sel as u32 & !7), d);
    }

    pub fn set_idt(&mut self, v: u8, d: u64) {
        self.m.mmu.phys.write_u64(IDT + v as u32 * 8, d);
    }

    pub fn load(&mut self, addr: u32, code: &[u8]) {
        self.m.mmu.phys.write_bytes(addr, code);
    }

    pub fn run(&mut self) -> Stop {
        self.m.run()
    }

    pub fn rec(&mut self, off: u32) -> u32 {
        self.m.mmu.phys.read_u32(REC + off)
    }

    /// (vector, error code, EIP, CS) as recorded.
    pub fn fault(&mut self) -> (u32, u32, u32, u32) {
        (self.rec(0), self.rec(4), self.rec(8), self.rec(12) & 0xFFFF)
    }

    pub fn mem32(&mut self, a: u32) -> u32 {
        self.m.mmu.phys.read_u32(a)
    }

    /// Writes a 32-bit TSS image at `base`: EIP, EFLAGS, ESP, flat ring-0
    /// selectors (CS 0x08, others 0x10), CR3 = current.
    pub fn write_tss32(&mut self, base: u32, eip: u32, stack: u32) {
        let p = &mut self.m.mmu.phys;
        for off in (0..0x68).step_by(4) {
            p.write_u32(base + off, 0);
        }
        p.write_u32(base + 4, RING0_STACK);
        p.write_u32(base + 8, 0x10);
        p.write_u32(base + 0x1C, self.m.s.cr3);
        p.write_u32(base + 0x20, eip);
        p.write_u32(base + 0x24, 2);
        p.write_u32(base + 0x38, stack);
        let segs = [0x10u32, 0x08, 0x10, 0x10, 0x10, 0x10];
        for (i, s) in segs.iter().enumerate() {
            p.write_u32(base + 0x48 + 4 * i as u32, *s);
        }
        p.write_u16(base + 0x66, 0x68);
    }
}

/// Code that enters ring 3 at `target` with an IRETD frame (flat ring-3
/// selectors, ESP = RING3_STACK, EFLAGS = `eflags`).
pub fn enter_ring3(a: &mut CodeAssembler, target: u32, eflags: u32) {
    a.push(0x23u32).unwrap();
    a.push(RING3_STACK).unwrap();
    a.push(eflags).unwrap();
    a.push(0x1Bu32).unwrap();
    a.push(target).unwrap();
    a.iretd().unwrap();
}
