//! A bare machine for tests and benchmarks: RAM, a CPU in real mode or in a
//! flat 32-bit protected mode (optionally with paging), guest code assembled
//! with iced's `CodeAssembler`, run until HLT.
//!
//! The flat protected-mode setup loads the segment caches directly (as if
//! a GDT had been loaded) and also writes a real GDT, so segment reloads
//! work: selector 0x08 = 32-bit code, 0x10 = 32-bit data, 0x1B = ring-3
//! code, 0x23 = ring-3 data.
//!
//! The engine is pluggable: by default `run`/`run_budget` use the built-in
//! [`Interpreter`] (`m.interp`, whose block cache tests and benchmarks look
//! at); [`TestMachine::with_engine`] / [`TestMachine::set_engine`] put
//! another [`Engine`] (the translator, the lockstep runner) in its place,
//! which is how the engine-generic conformance suite in `test-suites` runs
//! the same cases on every engine. Code written with `mmu.phys.write_bytes`
//! between runs is seen by every engine: physical writes are recorded by
//! mmu's code-page tracking, which engines drain at the start of `run`.

use iced_x86::code_asm::CodeAssembler;
use mmu::{Mmu, PhysMem};

use crate::bus::{Engine, NullBus, Stop};
use crate::interp::Interpreter;
use crate::state::*;

/// Where test code is loaded in flat mode.
pub const CODE_BASE: u32 = 0x10000;
/// Initial ESP in flat mode.
pub const STACK_TOP: u32 = 0x80000;
/// The GDT in flat mode.
pub const GDT_BASE: u32 = 0x500;
/// A scratch data area tests may use.
pub const DATA_BASE: u32 = 0x40000;

pub struct TestMachine {
    pub s: CpuState,
    pub mmu: Mmu,
    pub bus: NullBus,
    /// The default engine (used while `engine` is None).
    pub interp: Interpreter,
    /// An engine that replaces `interp` for `run`/`run_budget`.
    pub engine: Option<Box<dyn Engine>>,
}

/// Assembles 16-bit code at `ip`.
pub fn asm16(ip: u64, f: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
    assemble(16, ip, f)
}

/// Assembles 32-bit code at `ip`.
pub fn asm32(ip: u64, f: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
    assemble(32, ip, f)
}

fn assemble(bits: u32, ip: u64, f: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
    let mut a = CodeAssembler::new(bits).expect("bitness");
    f(&mut a);
    a.assemble(ip).expect("test code assembles")
}

/// A flat descriptor: base 0, limit 4 GiB, `access` byte, 32-bit.
pub fn flat_descriptor(access: u8) -> u64 {
    0x00CF_0000_0000_FFFF | ((access as u64) << 40)
}

impl TestMachine {
    fn with_ram(ram: usize) -> TestMachine {
        let phys = PhysMem::new(ram).expect("guest RAM");
        TestMachine {
            s: CpuState::new(),
            mmu: Mmu::new(phys),
            bus: NullBus::default(),
            interp: Interpreter::new(),
            engine: None,
        }
    }

    /// This machine, run by `engine` instead of the built-in interpreter.
    pub fn with_engine(mut self, engine: Box<dyn Engine>) -> TestMachine {
        self.engine = Some(engine);
        self
    }

    /// Runs this machine with `engine` from now on (None: the built-in
    /// interpreter). The old engine's caches are dropped with it.
    pub fn set_engine(&mut self, engine: Option<Box<dyn Engine>>) {
        self.engine = engine;
    }

    /// The name of the engine `run` uses ("interp", "dbt", ...).
    pub fn engine_name(&self) -> &'static str {
        match &self.engine {
            Some(e) => e.name(),
            None => self.interp.name(),
        }
    }

    /// Real mode, code at 0x1000:0000, stack 0x2000:FFFE, DS=ES=0x3000.
    pub fn real(code: &[u8]) -> TestMachine {
        let mut m = TestMachine::with_ram(2 << 20);
        m.mmu.phys.write_bytes(0x10000, code);
        m.s.seg[CS] = Segment::real(0x1000, 0);
        m.s.seg[CS].attr = 0x9B;
        m.s.seg[SS] = Segment::real(0x2000, 0);
        m.s.seg[DS] = Segment::real(0x3000, 0);
        m.s.seg[ES] = Segment::real(0x3000, 0);
        m.s.seg[FS] = Segment::real(0, 0);
        m.s.seg[GS] = Segment::real(0, 0);
        m.s.eip = 0;
        m.s.regs[ESP] = 0xFFFE;
        m
    }

    /// Flat 32-bit protected mode at CPL 0, code at `CODE_BASE`.
    pub fn flat32(code: &[u8]) -> TestMachine {
        let mut m = TestMachine::with_ram(16 << 20);
        m.mmu.phys.write_bytes(CODE_BASE, code);
        let gdt = [
            0u64,
            flat_descriptor(0x9B),
            flat_descriptor(0x93),
            flat_descriptor(0xFB),
            flat_descriptor(0xF3),
        ];
        for (i, d) in gdt.iter().enumerate() {
            m.mmu.phys.write_u64(GDT_BASE + 8 * i as u32, *d);
        }
        m.s.gdtr = DescTable {
            base: GDT_BASE,
            limit: (gdt.len() * 8 - 1) as u32,
        };
        m.s.cr0 |= cr0::PE;
        let code = flat_seg(0x08, 0x9B);
        let data = flat_seg(0x10, 0x93);
        m.s.seg = [data, code, data, data, data, data];
        m.s.eip = CODE_BASE;
        m.s.regs[ESP] = STACK_TOP;
        m
    }

    /// Flat 32-bit mode with paging on: the first 16 MiB identity-mapped
    /// with 4 KiB pages (page directory at 0x1000, tables from 0x2000),
    /// user-accessible and writable.
    pub fn flat32_paged(code: &[u8]) -> TestMachine {
        let mut m = TestMachine::flat32(code);
        let pd = 0x1000u32;
        for t in 0..4u32 {
            let table = 0x2000 + t * 0x1000;
            m.mmu.phys.write_u32(pd + t * 4, table | 7);
            for i in 0..1024u32 {
                let page = (t * 1024 + i) << 12;
                m.mmu.phys.write_u32(table + i * 4, page | 7);
            }
        }
        m.s.cr3 = pd;
        m.s.cr0 |= cr0::PG | cr0::WP;
        m.mmu.flush_all();
        m
    }

    /// Runs until HLT, shutdown or `budget` instructions, on the chosen
    /// engine. A lockstep engine's mismatch fails the test (panics with
    /// the difference): in a test, it is a bug in one of the engines.
    pub fn run_budget(&mut self, budget: u64) -> Stop {
        match &mut self.engine {
            None => self
                .interp
                .run(&mut self.s, &mut self.mmu, &mut self.bus, budget),
            Some(e) => {
                let stop = e.run(&mut self.s, &mut self.mmu, &mut self.bus, budget);
                if let Some(m) = e.mismatch() {
                    panic!("{} engine: {m}", e.name());
                }
                stop
            }
        }
    }

    /// Runs until HLT (panics in tests if it does not halt within 10M
    /// instructions).
    pub fn run(&mut self) -> Stop {
        self.run_budget(10_000_000)
    }

    /// Reads a dword of guest physical memory.
    pub fn mem32(&mut self, paddr: u32) -> u32 {
        self.mmu.phys.read_u32(paddr)
    }

    /// The built-in interpreter's decoded block at CS:EIP (what the
    /// translator's tests translate).
    pub fn decoded_block(&mut self) -> crate::exception::Result<std::rc::Rc<crate::decode::Block>> {
        let mut cpu = crate::cpu::Cpu {
            s: &mut self.s,
            mmu: &mut self.mmu,
            bus: &mut self.bus,
        };
        self.interp.cache.get(&mut cpu)
    }
}

/// A flat 4 GiB segment cache entry.
pub fn flat_seg(selector: u16, access_byte: u8) -> Segment {
    let d = crate::sys::segment::Descriptor {
        lo: 0x0000_FFFF,
        hi: 0x00CF_0000 | ((access_byte as u32) << 8),
    };
    d.to_segment(selector)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that only counts its calls, to see `run` go through it.
    struct Counting(u32);

    impl Engine for Counting {
        fn run(&mut self, cpu: &mut CpuState, _: &mut Mmu, _: &mut dyn crate::Bus, _: u64) -> Stop {
            self.0 += 1;
            cpu.regs[EAX] = self.0;
            Stop::Budget
        }
        fn name(&self) -> &'static str {
            "counting"
        }
    }

    #[test]
    fn default_engine_is_the_interpreter() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(iced_x86::code_asm::eax, 42u32).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        assert_eq!(m.engine_name(), "interp");
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.s.regs[EAX], 42);
        assert!(m.interp.cache.decoded_blocks > 0);
    }

    #[test]
    fn a_plugged_engine_replaces_the_interpreter() {
        let mut m = TestMachine::flat32(&[0xF4]).with_engine(Box::new(Counting(0)));
        assert_eq!(m.engine_name(), "counting");
        assert_eq!(m.run(), Stop::Budget);
        assert_eq!(m.run_budget(5), Stop::Budget);
        assert_eq!(m.s.regs[EAX], 2);
        assert_eq!(m.interp.cache.decoded_blocks, 0, "interpreter unused");
        m.set_engine(None);
        assert_eq!(m.run(), Stop::Halted);
    }
}
