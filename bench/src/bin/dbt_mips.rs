//! `dbt_mips [--quick]`: guest MIPS of the interpreter and of the
//! translator on the interpreter benchmark's CPU-bound loops
//! (`bench::interp_loops`: ALU/memory/branch, call/ret + string ops, and
//! x87 arithmetic, whose mostly-x87 block the translator leaves to the
//! interpreter; flat 32-bit mode
//! with paging on), the speed-up, translation time per
//! block, the share of time (TSC, `Dbt::timing`, from a second run: the
//! RDTSCs around callouts inflate their share where RDTSC is slow) spent
//! in translated code, in callouts and in the dispatcher (with the
//! interpreter and the translator), and the share of retired instructions
//! that ran as callouts. `OXPC_DBT_DUMP=1` prints every translation's
//! guest and host code on stderr.

use std::time::Duration;

use bench::interp_loops::{
    alu_loop, call_string_loop, fpu_loop, machine, measure, measure_with, Measurement,
};
use cpu_interp::Engine;
use dbt::{Dbt, Stats};

/// Runs `code` on the translator on the same machine as
/// `interp_loops::measure`.
fn measure_dbt(code: &[u8], timing: bool) -> (Measurement, Stats) {
    let mut d = Dbt::new();
    d.timing = timing;
    // OXPC_DBT_DUMP=1: guest and host code of every translation on stderr.
    if !timing && std::env::var_os("OXPC_DBT_DUMP").is_some() {
        d.dump = Some(Box::new(std::io::stderr()));
    }
    let meas = measure_with(&mut machine(code), |m| {
        d.run(&mut m.s, &mut m.mmu, &mut m.bus, 10_000_000)
    });
    (meas, d.stats())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 1 } else { 10 };
    let runs: [(&str, Vec<u8>); 3] = [
        ("alu-mem-branch", alu_loop(2_000_000 * scale)),
        ("call-ret-string", call_string_loop(200_000 * scale)),
        ("x87", fpu_loop(500_000 * scale)),
    ];
    let (mut ti, mut ci, mut cd) = (0u64, Duration::ZERO, Duration::ZERO);
    for (name, code) in runs.iter() {
        let i = measure(code);
        // MIPS from a run without time accounting (RDTSC is slow under
        // some hypervisors); the time shares from a second, timed run.
        let (d, mut st) = measure_dbt(code, false);
        let (_, timed) = measure_dbt(code, true);
        (st.run_ticks, st.exec_ticks, st.callout_ticks) =
            (timed.run_ticks, timed.exec_ticks, timed.callout_ticks);
        assert_eq!(
            i.instructions, d.instructions,
            "{name}: both engines retire the same"
        );
        ti += i.instructions;
        ci += i.cpu;
        cd += d.cpu;
        println!(
            "{name:16} {:>11} instructions: interpreter {:>7.1} MIPS, translator {:>7.1} MIPS, ratio {:>5.1}x (CPU time)",
            i.instructions,
            i.cpu_mips(),
            d.cpu_mips(),
            d.cpu_mips() / i.cpu_mips().max(1e-9),
        );
        let (code_t, call_t, disp_t) = st.time_shares().unwrap_or_default();
        println!(
            "{:16} {} blocks, {:.1} us/block translating; time: {:.1}% translated code, {:.1}% callouts, {:.1}% dispatcher/interpreter/translator",
            "",
            st.blocks,
            st.us_per_block(),
            100.0 * code_t,
            100.0 * call_t,
            100.0 * disp_t,
        );
        println!(
            "{:16} callouts {:.2}% of instructions, {} dispatcher entries, {} chains, {} lookups ({} hits)",
            "",
            100.0 * st.callouts as f64 / d.instructions.max(1) as f64,
            st.entries,
            st.chains,
            st.lookups,
            st.lookup_hits
        );
    }
    let mi = ti as f64 / ci.as_secs_f64().max(1e-9) / 1e6;
    let md = ti as f64 / cd.as_secs_f64().max(1e-9) / 1e6;
    println!(
        "dbt-mips: interpreter {mi:.1} MIPS, translator {md:.1} MIPS, ratio {:.1}x ({ti} instructions)",
        md / mi.max(1e-9)
    );
}
