//! The differential fuzzer (test-suites/src/dbt_diff) run from the dbt
//! crate. `OXPC_DBT_DIFF_SECS` / `OXPC_DBT_DIFF_PROGRAMS` run it longer.

#[path = "../../../test-suites/src/dbt_diff/mod.rs"]
mod dbt_diff;

use std::time::Duration;

#[test]
fn dbt_diff() {
    let secs = std::env::var("OXPC_DBT_DIFF_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let programs = std::env::var("OXPC_DBT_DIFF_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let seed = std::env::var("OXPC_DBT_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let r = dbt_diff::run(
        seed,
        programs,
        Duration::from_secs(secs),
        20_000,
        &mut |s| Box::new(dbt::Dbt::with_threshold((s % 3) as u32)),
    );
    println!(
        "dbt-diff: {} programs, {} instructions, {} differences",
        r.programs, r.instructions, r.differences
    );
    if let Some(f) = &r.first {
        println!("first difference: {f}");
    }
    assert_eq!(r.differences, 0, "{}", r.first.unwrap_or_default());
}

/// Replays one fuzzer seed (`OXPC_DBT_DIFF_SEED`) under the lockstep
/// engine and prints the first mismatching block.
#[test]
#[ignore]
fn dbt_diff_lockstep_seed() {
    let seed: u64 = std::env::var("OXPC_DBT_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for threshold in 0..3 {
        let p = dbt_diff::generate(seed);
        let mut m = if seed % 4 == 3 {
            dbt_diff::machine_real(&p)
        } else {
            dbt_diff::machine(&p)
        };
        let mut l = dbt::Lockstep::new(dbt::Dbt::with_threshold(threshold));
        use cpu_interp::Engine;
        let stop = l.run(&mut m.s, &mut m.mmu, &mut m.bus, 20_000);
        println!("threshold {threshold}: {stop:?} after {} steps", l.steps);
        if let Some(mm) = &l.mismatch {
            println!("{mm}");
            break;
        }
    }
}

/// Reruns one fuzzer seed (`OXPC_DBT_DIFF_SEED`) directly on the
/// translator with each threshold.
#[test]
#[ignore]
fn dbt_diff_one_seed() {
    let seed: u64 = std::env::var("OXPC_DBT_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for threshold in 0..3 {
        let mut d = dbt::Dbt::with_threshold(threshold);
        let (n, diff) = dbt_diff::check_one(seed, 20_000, &mut d);
        println!(
            "threshold {threshold}: {n} instructions, {diff:?}\n{}",
            d.stats()
        );
    }
}
