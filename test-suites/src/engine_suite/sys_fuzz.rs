//! Robustness: random descriptor tables, TSSs and streams of system
//! instructions (far transfers, INT/IRET, task switches, segment and
//! table loads, control registers, I/O) from random CPL/IOPL/V86 states
//! must never panic the emulator (a debug build also traps arithmetic
//! overflow). The machine may halt, shut down or run out of budget.
//! Run on every engine; under lockstep, the engines must also agree.

use cpu_interp::harness::*;
use cpu_interp::state::*;

use super::Eng;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const TSS_AREA: u32 = 0x3000;

fn selector(r: &mut Rng) -> u16 {
    if r.below(8) == 0 {
        r.next() as u16
    } else {
        (r.below(32) as u16) << 3 | r.below(4) as u16 | if r.below(6) == 0 { 4 } else { 0 }
    }
}

fn descriptor(r: &mut Rng) -> u64 {
    let dpl = r.below(4);
    let present = if r.below(8) == 0 { 0 } else { 0x80 };
    match r.below(6) {
        // Code/data with random type, limit, D/B, G.
        0 | 1 => {
            let typ = 0x10 | r.below(16);
            let access = present | (dpl << 5) | typ;
            let any = r.next() & 0xFFFFF;
            let limit = r.pick(&[0xFFFFFu64, 0xFFFF, 0xFFF, any]);
            let flags = r.pick(&[0xCu64, 0x4, 0x0, 0x8]);
            (limit & 0xFFFF) | (access << 40) | ((limit >> 16) << 48) | (flags << 52)
        }
        // Gates: call, task, interrupt, trap (16/32).
        2 | 3 => {
            let typ = r.pick(&[4u64, 5, 6, 7, 12, 14, 15]);
            let off = CODE_BASE as u64 + r.below(0x10000);
            let sel = selector(r) as u64;
            (off & 0xFFFF)
                | (sel << 16)
                | (r.below(32) << 32)
                | ((present | (dpl << 5) | typ) << 40)
                | ((off >> 16) << 48)
        }
        // TSS (16/32, available/busy) or LDT in the TSS area.
        4 => {
            let typ = r.pick(&[1u64, 3, 9, 11, 2]);
            let base = TSS_AREA as u64 + r.below(8) * 0x100;
            let limit = r.pick(&[0x67u64, 0x2B, 0x20, 0x1FF]);
            limit | (base << 16) | ((present | (dpl << 5) | typ) << 40)
        }
        _ => r.next(),
    }
}

/// One random system instruction (32-bit encoding).
fn instruction(r: &mut Rng, out: &mut Vec<u8>) {
    let sel = selector(r).to_le_bytes();
    let off = (CODE_BASE + r.below(0x8000) as u32).to_le_bytes();
    let modrm_reg = 0xC0 | r.below(8) as u8;
    match r.below(24) {
        0 => out.extend([0xEA, off[0], off[1], off[2], off[3], sel[0], sel[1]]),
        1 => out.extend([0x9A, off[0], off[1], off[2], off[3], sel[0], sel[1]]),
        2 => out.push(0xCB),
        3 => out.extend([0xCA, r.below(16) as u8 * 2, 0]),
        4 => out.push(0xCF),
        5 => out.extend([0xCD, r.below(64) as u8]),
        6 => out.push(r.pick(&[0xCC, 0xCE, 0xF1])),
        7 => out.extend([0x0F, 0x00, 0xD0 | r.below(16) as u8]), // LLDT/LTR r
        8 => out.extend([0x8E, 0xC0 | (r.pick(&[0u8, 2, 3, 4, 5]) << 3)]), // MOV Sreg, ax
        9 => {
            let s = selector(r) as u32;
            out.push(0xB8);
            out.extend(s.to_le_bytes());
        }
        10 => {
            out.push(0x68);
            out.extend((r.next() as u32).to_le_bytes());
        }
        11 => out.extend([0x0F, r.pick(&[0x02u8, 0x03]), modrm_reg]), // LAR/LSL
        12 => out.extend([0x0F, 0x00, 0xE0 | r.below(16) as u8]),     // VERR/VERW
        13 => out.extend([0x0F, r.pick(&[0x20u8, 0x22]), 0xC0 | r.below(64) as u8]),
        14 => out.extend([0x0F, r.pick(&[0x21u8, 0x23]), 0xC0 | r.below(64) as u8]),
        15 => out.extend([0x0F, r.pick(&[0x06u8, 0x08, 0x09, 0x30, 0x32])]),
        16 => out.extend([r.pick(&[0xE4u8, 0xE6, 0xE5, 0xE7]), r.next() as u8]),
        17 => out.extend([0x63, modrm_reg]),
        18 => {
            // LGDT/LIDT/SGDT/SIDT [DATA_BASE]
            out.extend([0x0F, 0x01, 0x05 | (r.below(4) as u8) << 3]);
            out.extend(DATA_BASE.to_le_bytes());
        }
        19 => out.extend([r.pick(&[0x9Cu8, 0x9D, 0xFA, 0xFB, 0xF4])]),
        20 => out.extend([0x0F, 0x01, 0xF0 | r.below(16) as u8]), // LMSW/SMSW...
        21 => out.extend([0x0F, 0x01, 0x38]),                     // INVLPG [eax]
        22 => out.extend([0xFF, 0x18 | (r.below(2) as u8 * 8)]),  // CALL/JMP far [eax]
        _ => out.extend([0x8E, 0xD0]),                            // MOV SS, ax
    }
}

/// The random machine of `seed`, run by `e`.
pub fn random_machine(e: Eng, seed: u64) -> TestMachine {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut code = Vec::new();
    while code.len() < 0x8000 {
        instruction(&mut r, &mut code);
    }
    let mut m = e.flat32(&code);
    let gdt = 0x800u32;
    m.mmu.phys.write_u64(gdt + 8, flat_descriptor(0x9B));
    m.mmu.phys.write_u64(gdt + 16, flat_descriptor(0x93));
    for i in 3..32 {
        let d = descriptor(&mut r);
        m.mmu.phys.write_u64(gdt + 8 * i, d);
    }
    m.s.gdtr = DescTable {
        base: gdt,
        limit: 32 * 8 - 1,
    };
    let idt = 0x1000u32;
    for i in 0..64 {
        let d = if r.below(2) == 0 {
            // A usable gate into the random code, so delivery succeeds
            // often enough to go deeper.
            let off = CODE_BASE as u64 + r.below(0x8000);
            let typ = r.pick(&[0xEEu64, 0xEF, 0x8E, 0x8F]);
            (off & 0xFFFF) | (0x08 << 16) | (typ << 40) | ((off >> 16) << 48)
        } else {
            descriptor(&mut r)
        };
        m.mmu.phys.write_u64(idt + 8 * i, d);
    }
    m.s.idtr = DescTable {
        base: idt,
        limit: r.pick(&[64 * 8 - 1, 0x7FF, 0x40]),
    };
    for a in (TSS_AREA..TSS_AREA + 0x900).step_by(4) {
        let v = if r.below(2) == 0 {
            r.next() as u32
        } else {
            r.pick(&[0x08u32, 0x10, 0x1B, 0x23, CODE_BASE + 0x100, STACK_TOP])
        };
        m.mmu.phys.write_u32(a, v);
    }
    m.s.tr = Segment {
        selector: 0x18,
        attr: r.pick(&[0x8Bu16, 0x83]),
        base: TSS_AREA,
        limit: r.pick(&[0x67u32, 0x2B, 0x1FF]),
        access: 0,
    };
    // Usable ring-0 stack in the current TSS most of the time.
    if r.below(4) != 0 {
        m.mmu.phys.write_u32(TSS_AREA + 4, STACK_TOP - 0x1000);
        m.mmu.phys.write_u32(TSS_AREA + 8, 0x10);
    }
    m.mmu.phys.write_u32(DATA_BASE, r.next() as u32);
    m.mmu.phys.write_u32(DATA_BASE + 4, r.next() as u32);
    m.s.regs[EAX] = DATA_BASE + r.below(64) as u32;
    m.s.eflags |= (r.below(4) as u32) << 12;
    match r.below(4) {
        0 => {
            m.s.cpl = 3;
            m.s.seg[CS] = flat_seg(0x1B, 0xFB);
            for s in [SS, DS, ES, FS, GS] {
                m.s.seg[s] = flat_seg(0x23, 0xF3);
            }
        }
        1 => {
            m.s.cpl = 3;
            m.s.eflags |= fl::VM;
            m.s.eip = 0;
            m.s.seg = [Segment::real(0x1000, 3); 6];
            m.s.regs[ESP] = 0xFFF0;
        }
        _ => {}
    }
    if r.below(3) == 0 {
        // Identity-map 16 MiB with 4 KiB user pages, some read-only.
        let pd = 0x10_0000u32;
        for t in 0..4u32 {
            let table = pd + 0x1000 + t * 0x1000;
            m.mmu.phys.write_u32(pd + t * 4, table | 7);
            for i in 0..1024u32 {
                let flags = if r.below(16) == 0 { 5 } else { 7 };
                m.mmu
                    .phys
                    .write_u32(table + i * 4, ((t * 1024 + i) << 12) | flags);
            }
        }
        m.s.cr3 = pd;
        m.s.cr0 |= cr0::PG | cr0::WP;
        m.mmu.flush_all();
    }
    m
}

/// Names the seed when a run panics (replay it with `SYS_FUZZ_SEED`).
struct SeedOnPanic(u64);

impl Drop for SeedOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("sys fuzz: failed at seed {}", self.0);
        }
    }
}

/// `SYS_FUZZ_RUNS` random machines (default 400), 3000 instructions
/// each: no panic, CPL stays in range.
pub fn random_system_code_never_panics(e: Eng) {
    let runs = std::env::var("SYS_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400u64);
    let mut stops = [0usize; 4];
    let mut insns = 0;
    for seed in 0..runs {
        let _guard = SeedOnPanic(seed);
        let mut m = random_machine(e, seed);
        let stop = m.run_budget(3000);
        insns += m.s.icount;
        stops[match stop {
            cpu_interp::Stop::Budget => 0,
            cpu_interp::Stop::Halted => 1,
            cpu_interp::Stop::Shutdown => 2,
            cpu_interp::Stop::ExitRequest => 3,
        }] += 1;
        assert!(m.s.cpl <= 3, "seed {seed}");
    }
    println!(
        "sys fuzz [{}]: {runs} runs, {insns} instructions, stops (budget, halt, shutdown, exit) = {stops:?}",
        e.name
    );
    assert!(insns > runs * 10, "the random code ran");
}

/// `SYS_FUZZ_SEED=n`: replays one seed step by step on `e`, reporting
/// slow steps (`SYS_FUZZ_EIP=hex` also dumps the state at that EIP).
pub fn replay_one_seed(e: Eng, seed: u64) {
    let mut m = random_machine(e, seed);
    for _ in 0..3000 {
        let before = (m.s.seg[CS].selector, m.s.eip, m.s.cpl, m.s.eflags);
        if let Ok(at) = std::env::var("SYS_FUZZ_EIP") {
            if format!("{:x}", m.s.eip) == at {
                let mut b = [0u8; 8];
                m.mmu.phys.read_bytes(m.s.seg[CS].base + m.s.eip, &mut b);
                println!(
                    "bytes {b:02x?} regs {:x?} tr {:x?} idtr {:x?}",
                    m.s.regs, m.s.tr, m.s.idtr
                );
            }
        }
        let t0 = std::time::Instant::now();
        let stop = m.run_budget(1);
        let dt = t0.elapsed();
        if dt.as_millis() > 20 {
            println!("slow step from {before:x?}: {dt:?} -> {stop:?}");
        }
        if stop != cpu_interp::Stop::Budget {
            break;
        }
    }
}
