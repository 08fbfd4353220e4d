//! `interp-mips [--quick]`: guest MIPS of the interpreter on three CPU-bound
//! loops (ALU/memory/branch, call/ret + string ops, and x87 arithmetic) in flat 32-bit
//! mode with paging on, with the TLB hit rate. REP string instructions
//! count as one retired instruction each.

use bench::interp_loops::{alu_loop, call_string_loop, fpu_loop, measure};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 1 } else { 10 };
    let runs: [(&str, Vec<u8>); 3] = [
        ("alu-mem-branch", alu_loop(2_000_000 * scale)),
        ("call-ret-string", call_string_loop(200_000 * scale)),
        ("x87", fpu_loop(500_000 * scale)),
    ];
    let mut total_insns = 0u64;
    let mut total_secs = 0f64;
    let mut total_cpu = 0f64;
    for (name, code) in runs.iter() {
        let r = measure(code);
        total_insns += r.instructions;
        total_secs += r.elapsed.as_secs_f64();
        total_cpu += r.cpu.as_secs_f64();
        println!(
            "{name:16} {:>11} instructions in {:>6.3} s: {:>6.1} MIPS ({:>6.1} per CPU-second), TLB hit rate {:.4}% ({} misses), stop {:?}",
            r.instructions,
            r.elapsed.as_secs_f64(),
            r.mips(),
            r.cpu_mips(),
            100.0 * r.tlb_hit_rate(),
            r.tlb_misses,
            r.stop
        );
    }
    println!(
        "interp-mips: {:.1} MIPS overall, {:.1} per CPU-second ({} instructions in {:.3} s, {:.3} s CPU)",
        total_insns as f64 / total_secs / 1e6,
        total_insns as f64 / total_cpu.max(1e-9) / 1e6,
        total_insns,
        total_secs,
        total_cpu
    );
}
