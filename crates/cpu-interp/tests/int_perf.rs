//! Interpreter throughput on a mixed ALU / memory / branch loop. Not a
//! timed assertion (timing belongs to `bench/`): run it by hand with
//! `cargo test --release -p cpu-interp --test int_perf -- --ignored
//! --nocapture` to print MIPS.

use std::time::Instant;

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

fn mixed_loop(iters: u32) -> Vec<u8> {
    asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        let mut skip = a.create_label();
        a.mov(ecx, iters).unwrap();
        a.mov(esi, DATA_BASE).unwrap();
        a.xor(eax, eax).unwrap();
        a.xor(ebx, ebx).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(eax, ecx).unwrap();
        a.mov(edx, dword_ptr(esi + 4)).unwrap();
        a.xor(edx, eax).unwrap();
        a.shl(edx, 3).unwrap();
        a.mov(dword_ptr(esi + 8), edx).unwrap();
        a.test(ecx, 1).unwrap();
        a.jz(skip).unwrap();
        a.inc(ebx).unwrap();
        a.set_label(&mut skip).unwrap();
        a.lea(edi, ptr(ebx + ecx * 2 + 1)).unwrap();
        a.sub(edi, eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    })
}

#[test]
fn mixed_loop_is_correct() {
    let mut m = TestMachine::flat32(&mixed_loop(100));
    assert_eq!(m.run(), Stop::Halted);
    assert_eq!(m.s.regs[EAX], 5050);
    assert_eq!(m.s.regs[EBX], 50);
}

#[test]
#[ignore]
fn mixed_loop_mips() {
    let iters = std::env::var("INT_PERF_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000u32);
    let mut m = TestMachine::flat32(&mixed_loop(iters));
    let t = Instant::now();
    assert_eq!(m.run_budget(u64::MAX / 2), Stop::Halted);
    let dt = t.elapsed().as_secs_f64();
    let n = m.s.icount as f64;
    println!(
        "{} instructions in {dt:.3}s: {:.1} MIPS",
        m.s.icount,
        n / dt / 1e6
    );
}

#[test]
#[ignore]
fn rep_movsb_throughput() {
    let len = 1u32 << 20;
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.mov(ebx, 64u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(esi, 0x10_0000u32).unwrap();
        a.mov(edi, 0x20_0000u32).unwrap();
        a.mov(ecx, len).unwrap();
        a.rep().movsb().unwrap();
        a.dec(ebx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    });
    let mut m = TestMachine::flat32_paged(&code);
    let t = Instant::now();
    assert_eq!(m.run_budget(u64::MAX / 2), Stop::Halted);
    let dt = t.elapsed().as_secs_f64();
    println!(
        "REP MOVSB: {:.0} MB/s (paged)",
        64.0 * len as f64 / dt / 1e6
    );
}
