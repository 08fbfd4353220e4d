//! Fuzzing the interpreter with random code.
//!
//! Each episode starts from a random state in one of four modes (real
//! mode, flat protected mode at CPL 0 and CPL 3, virtual-8086 mode) with a
//! page of random bytes at CS:EIP, and runs a bounded number of
//! instructions. The IVT (real mode) and the IDT (protected and V86 mode,
//! through a TSS stack switch to ring 0) send every vector to its own HLT,
//! so an exception stops the episode and is recorded; the next episode
//! starts from fresh random code. The system tables and handlers are
//! rewritten before every episode because the random code may scribble on
//! them.
//!
//! Checks: nothing panics over at least `OXPC_FUZZ_INSNS` (default one
//! million) retired instructions, and whenever the first instruction of an
//! episode is one iced decodes as invalid or the interpreter does not
//! implement, it raises #UD and nothing else. `OXPC_FUZZ_SEED` changes the
//! seed.

use cpu_interp::dispatch;
use cpu_interp::harness::{flat_seg, TestMachine};
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::{Code, Decoder, DecoderOptions, Instruction};
use std::collections::BTreeMap;
use test_suites::rng::Rng;

const IVT_HANDLER_SEG: u16 = 0x0300;
const HANDLERS: u32 = 0x3000;
const IDT: u32 = 0x2000;
const TSS: u32 = 0x4000;
const RING0_STACK: u32 = 0x9000;
const CODE: u32 = 0x20000;
const EPISODE_BUDGET: u64 = 4000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Real,
    Pm0,
    Pm3,
    V86,
}

fn tss_descriptor() -> u64 {
    let (base, limit) = (TSS as u64, 0x67u64);
    (limit & 0xFFFF)
        | ((base & 0xFF_FFFF) << 16)
        | (0x8Bu64 << 40)
        | (((limit >> 16) & 0xF) << 48)
        | (((base >> 24) & 0xFF) << 56)
}

/// Writes the IVT, IDT, GDT TSS entry, TSS and the HLT handlers.
fn write_tables(m: &mut TestMachine) {
    for v in 0..256u32 {
        // IVT: vector v -> 0300:v
        m.mmu
            .phys
            .write_u32(4 * v, ((IVT_HANDLER_SEG as u32) << 16) | v);
        // IDT: 32-bit interrupt gate, DPL 3, to 0008:HANDLERS+v
        let off = HANDLERS + v;
        m.mmu
            .phys
            .write_u32(IDT + 8 * v, (0x08 << 16) | (off & 0xFFFF));
        m.mmu
            .phys
            .write_u32(IDT + 8 * v + 4, (off & 0xFFFF_0000) | 0xEE00);
        m.mmu.phys.write_bytes(off, &[0xF4]);
    }
    let gdt = [
        0u64,
        cpu_interp::harness::flat_descriptor(0x9B),
        cpu_interp::harness::flat_descriptor(0x93),
        cpu_interp::harness::flat_descriptor(0xFB),
        cpu_interp::harness::flat_descriptor(0xF3),
        tss_descriptor(),
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.mmu
            .phys
            .write_u64(cpu_interp::harness::GDT_BASE + 8 * i as u32, *d);
    }
    m.mmu.phys.write_bytes(TSS, &[0u8; 0x68]);
    m.mmu.phys.write_u32(TSS + 4, RING0_STACK);
    m.mmu.phys.write_u32(TSS + 8, 0x10);
}

/// Resets the CPU to a random state in `mode` with CS:EIP at `CODE + ip`.
fn reset(m: &mut TestMachine, template: &CpuState, mode: Mode, ip: u32, rng: &mut Rng) {
    m.s = template.clone();
    for r in m.s.regs.iter_mut() {
        *r = rng.u32();
    }
    let mut fl = rng.u32() & (fl::ARITH | fl::DF);
    if rng.below(4) == 0 {
        fl |= fl::IF;
    }
    match mode {
        Mode::Real => {
            m.s.cr0 &= !cr0::PE;
            m.s.idtr = DescTable {
                base: 0,
                limit: 0x3FF,
            };
            let cs = (CODE >> 4) as u16;
            m.s.seg[CS] = Segment::real(cs, 0);
            m.s.seg[CS].attr = 0x9B;
            m.s.seg[SS] = Segment::real(0x1000, 0);
            for s in [DS, ES, FS, GS] {
                m.s.seg[s] = Segment::real(0x5000 + 0x1000 * rng.below(8) as u16, 0);
            }
            m.s.eip = ip;
            m.s.regs[ESP] = 0xFF00 + rng.below(0x100);
            m.s.cpl = 0;
        }
        Mode::Pm0 | Mode::Pm3 => {
            m.s.eip = CODE + ip;
            m.s.regs[ESP] = 0x80000 - 4 * rng.below(64);
            if mode == Mode::Pm3 {
                m.s.seg[CS] = flat_seg(0x1B, 0xFB);
                let d = flat_seg(0x23, 0xF3);
                for s in [SS, DS, ES, FS, GS] {
                    m.s.seg[s] = d;
                }
                m.s.cpl = 3;
                fl |= (rng.below(4) << 12) & fl::IOPL;
            }
        }
        Mode::V86 => {
            let cs = (CODE >> 4) as u16;
            m.s.seg[CS] = Segment::real(cs, 3);
            m.s.seg[SS] = Segment::real(0x1000, 3);
            for s in [DS, ES, FS, GS] {
                m.s.seg[s] = Segment::real(0x5000 + 0x1000 * rng.below(8) as u16, 3);
            }
            m.s.eip = ip;
            m.s.regs[ESP] = 0xFF00 + rng.below(0x100);
            m.s.cpl = 3;
            fl |= fl::VM | ((rng.below(4) << 12) & fl::IOPL);
        }
    }
    m.s.set_eflags_raw(fl | 2);
}

/// The handler vector the CPU halted in, if it halted in one.
/// The vector whose handler the CPU is in: halted on its HLT, or (when the
/// budget ran out right after delivery) about to execute it.
fn handler_vector(m: &TestMachine, stop: Stop) -> Option<u8> {
    let mut lin = m.s.seg[CS].base.wrapping_add(m.s.eip);
    if stop == Stop::Halted {
        lin = lin.wrapping_sub(1);
    }
    (HANDLERS..HANDLERS + 256)
        .contains(&lin)
        .then(|| (lin - HANDLERS) as u8)
}

fn first_instruction(bytes: &[u8], bits: u32, ip: u32) -> Instruction {
    let mut d = Decoder::with_ip(bits, bytes, ip as u64, DecoderOptions::NONE);
    d.decode()
}

#[derive(Default)]
struct Stats {
    insns: u64,
    episodes: u64,
    by_mode: BTreeMap<Mode, u64>,
    vectors: BTreeMap<u8, u64>,
    shutdowns: u64,
    budget_ends: u64,
    other_halts: u64,
    ud_checked: u64,
    ud_failures: Vec<String>,
    unimplemented: BTreeMap<String, u64>,
    invariant_failures: Vec<String>,
}

/// Architectural invariants that must hold at every instruction boundary.
fn invariant_violation(m: &TestMachine) -> Option<String> {
    let s = &m.s;
    let fl = s.get_eflags();
    if fl & fl::FIXED1 == 0 || fl & !(fl::WRITABLE | fl::FIXED1) != 0 {
        return Some(format!("EFLAGS {fl:#x} has fixed bits wrong"));
    }
    if s.run_state == RunState::Shutdown {
        return None;
    }
    if s.real_mode() && s.cpl != 0 {
        return Some(format!("real mode with CPL {}", s.cpl));
    }
    if s.protected_mode() && s.v86() && s.cpl != 3 {
        return Some(format!("V86 mode with CPL {}", s.cpl));
    }
    if s.protected_mode() && !s.v86() && s.cpl != s.seg[CS].rpl() {
        return Some(format!(
            "protected mode CPL {} but CS {:#06x}",
            s.cpl, s.seg[CS].selector
        ));
    }
    None
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn fuzz_random_code() {
    let target: u64 = std::env::var("OXPC_FUZZ_INSNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = std::env::var("OXPC_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xF022_5EED);
    let mut rng = Rng::new(seed);
    let mut m = TestMachine::flat32(&[]);
    m.s.gdtr.limit = 6 * 8 - 1;
    m.s.idtr = DescTable {
        base: IDT,
        limit: 0x7FF,
    };
    m.s.tr = Segment {
        selector: 0x28,
        attr: 0x8B,
        base: TSS,
        limit: 0x67,
        access: 0,
    };
    let template = m.s.clone();
    let mut st = Stats::default();
    let mut code = vec![0u8; 0x2000];
    while st.insns < target {
        let mode = [Mode::Real, Mode::Pm0, Mode::Pm3, Mode::V86][rng.below(4) as usize];
        for b in code.iter_mut() {
            *b = rng.u32() as u8;
        }
        // Sometimes lead with an invalid/unimplemented-looking byte pair so
        // the #UD check sees plenty of cases.
        if rng.below(4) == 0 {
            let pick = [
                [0x0F, 0x0B],
                [0x0F, 0x04],
                [0x0F, 0x38],
                [0xC4, 0xC0],
                [0x0F, 0xFF],
                [0x0F, 0x3A],
            ];
            code[0x100..0x102].copy_from_slice(&pick[rng.below(pick.len() as u32) as usize]);
        }
        let ip = 0x100;
        write_tables(&mut m);
        m.mmu.phys.write_bytes(CODE, &code);
        m.interp.cache.clear();
        reset(&mut m, &template, mode, ip, &mut rng);
        let bits = if matches!(mode, Mode::Real | Mode::V86) {
            16
        } else {
            32
        };
        let first = first_instruction(&code[ip as usize..], bits, ip);
        let expect_ud = first.is_invalid() || !dispatch::implemented(first.code());
        let before = m.s.icount;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if expect_ud {
                let stop = m.run_budget(1);
                (stop, handler_vector(&m, stop))
            } else {
                let stop = m.run_budget(EPISODE_BUDGET);
                (stop, handler_vector(&m, stop))
            }
        }));
        let (stop, vector) = match run {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "fuzz: panic in episode {} (seed {seed:#x}, mode {mode:?}), code at {ip:#x}: {}",
                    st.episodes,
                    hex(&code[ip as usize..ip as usize + 16])
                );
                std::panic::resume_unwind(e);
            }
        };
        if expect_ud {
            st.ud_checked += 1;
            if !first.is_invalid() {
                *st.unimplemented
                    .entry(format!("{:?}", first.code()))
                    .or_default() += 1;
            }
            if vector != Some(6) {
                st.ud_failures.push(format!(
                    "{mode:?} {} ({:?}): expected #UD, got stop {stop:?} vector {vector:?}",
                    hex(&code[ip as usize..ip as usize + first.len().max(1)]),
                    first.code()
                ));
            }
        }
        if let Some(v) = invariant_violation(&m) {
            if st.invariant_failures.len() < 1000 {
                st.invariant_failures.push(format!(
                    "{mode:?} episode {} from {}: {v}",
                    st.episodes,
                    hex(&code[ip as usize..ip as usize + 16])
                ));
            }
        }
        st.insns += m.s.icount - before;
        st.episodes += 1;
        *st.by_mode.entry(mode).or_default() += 1;
        match (stop, vector) {
            (Stop::Halted, Some(v)) => *st.vectors.entry(v).or_default() += 1,
            (Stop::Halted, None) => st.other_halts += 1,
            (Stop::Shutdown, _) => st.shutdowns += 1,
            _ => st.budget_ends += 1,
        }
    }
    println!(
        "fuzz-interp: {} instructions, {} episodes {:?}, {} #UD checks, {} #UD failures",
        st.insns,
        st.episodes,
        st.by_mode,
        st.ud_checked,
        st.ud_failures.len()
    );
    println!(
        "  ends: vectors {:?}, {} shutdowns, {} budget, {} HLT in code",
        st.vectors, st.shutdowns, st.budget_ends, st.other_halts
    );
    let mut unimpl: Vec<_> = st.unimplemented.iter().collect();
    unimpl.sort_by(|a, b| b.1.cmp(a.1));
    println!(
        "  {} distinct decodable but unimplemented codes met, e.g. {:?}",
        unimpl.len(),
        unimpl
            .iter()
            .take(20)
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
    );
    println!(
        "  {} episodes ended with an architectural invariant broken",
        st.invariant_failures.len()
    );
    for f in st.invariant_failures.iter().take(20) {
        println!("  INVARIANT {f}");
    }
    for f in st.ud_failures.iter().take(20) {
        println!("  UD FAILURE {f}");
    }
    assert!(st.insns >= target);
    assert!(
        st.ud_failures.is_empty(),
        "{} #UD failures",
        st.ud_failures.len()
    );
    assert!(
        st.invariant_failures.is_empty(),
        "{} invariant failures",
        st.invariant_failures.len()
    );
}

/// Many short random byte strings, biased towards the two- and
/// three-byte opcode maps and VEX/EVEX-looking prefixes: every one iced
/// decodes as invalid, or that the interpreter does not implement, must
/// raise #UD in every mode.
#[test]
fn invalid_encodings_raise_ud() {
    let mut rng = Rng::new(0x0BAD_C0DE);
    let mut m = TestMachine::flat32(&[]);
    m.s.gdtr.limit = 6 * 8 - 1;
    m.s.idtr = DescTable {
        base: IDT,
        limit: 0x7FF,
    };
    m.s.tr = Segment {
        selector: 0x28,
        attr: 0x8B,
        base: TSS,
        limit: 0x67,
        access: 0,
    };
    let template = m.s.clone();
    write_tables(&mut m);
    let leads: [&[u8]; 10] = [
        &[],
        &[0x0F],
        &[0x0F, 0x38],
        &[0x0F, 0x3A],
        &[0xF0],
        &[0x66, 0x0F],
        &[0xF3, 0x0F],
        &[0xF2, 0x0F],
        &[0xC4],
        &[0x62],
    ];
    let (mut checked, mut failures) = (0u32, Vec::new());
    for i in 0..40_000u32 {
        let mode = [Mode::Real, Mode::Pm0, Mode::Pm3, Mode::V86][(i % 4) as usize];
        let bits = if matches!(mode, Mode::Real | Mode::V86) {
            16
        } else {
            32
        };
        let mut code = leads[rng.below(leads.len() as u32) as usize].to_vec();
        while code.len() < 16 {
            code.push(rng.u32() as u8);
        }
        let first = first_instruction(&code, bits, 0x100);
        if !first.is_invalid() && dispatch::implemented(first.code()) {
            continue;
        }
        m.mmu.phys.write_bytes(CODE + 0x100, &code);
        m.interp.cache.clear();
        reset(&mut m, &template, mode, 0x100, &mut rng);
        let stop = m.run_budget(1);
        checked += 1;
        if handler_vector(&m, stop) != Some(6) {
            failures.push(format!(
                "{mode:?} {} ({:?}): stop {stop:?} vector {:?}",
                hex(&code[..first.len().max(1)]),
                first.code(),
                handler_vector(&m, stop)
            ));
        }
    }
    println!(
        "fuzz-interp #UD: {checked} invalid/unimplemented encodings checked, {} failures",
        failures.len()
    );
    for f in failures.iter().take(20) {
        println!("  UD FAILURE {f}");
    }
    assert!(checked > 1000);
    assert!(
        failures.is_empty(),
        "{} encodings did not raise #UD",
        failures.len()
    );
}

#[test]
fn tss_descriptor_layout() {
    let d = tss_descriptor();
    assert_eq!(d & 0xFFFF, 0x67);
    assert_eq!((d >> 16) & 0xFF_FFFF, TSS as u64);
    assert_eq!((d >> 40) & 0xFF, 0x8B);
    let _ = Code::INVALID;
}
