//! One harness run: prepares the engines (skipping those that cannot run,
//! with the reason), runs the repetitions interleaved with the engine order
//! rotated each time, checks every checksum against the native one, writes
//! the CSVs, the chart and RESULTS.md, and in `--quick` mode decides the exit
//! status.
//!
//! Not done: retrying a failed boot (a guest that failed once is not booted
//! again in later repetitions, to keep a broken engine from eating the time).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::process::Command;

use anyhow::{Context, Result};

use crate::ctx::{Ctx, CMDLINE, GUEST_MEGS};
use crate::engines::{self, Engine};
use crate::stats::{self, Sample, BOOT, NONE};
use crate::{chart, csvio, markdown, sysinfo, Opts};

fn failure(engine: &str, workload: &str, rep: u32, status: String) -> Sample {
    Sample {
        engine: engine.into(),
        workload: workload.into(),
        rep,
        secs: None,
        cpu_secs: None,
        checksum: String::new(),
        status,
    }
}

/// Marks runs whose checksum differs from the native run's.
pub fn check_checksums(samples: &mut [Sample]) {
    let native: HashMap<String, String> = samples
        .iter()
        .filter(|s| s.engine == "native" && s.ok())
        .map(|s| (s.workload.clone(), s.checksum.clone()))
        .collect();
    for s in samples.iter_mut().filter(|s| s.ok() && s.workload != BOOT) {
        if let Some(want) = native.get(&s.workload) {
            if &s.checksum != want {
                s.status = format!("checksum-mismatch: got {}, native {want}", s.checksum);
            }
        }
    }
}

/// Runs every repetition; returns all samples (runs, failures, skips).
fn measure(o: &Opts, ctx: &Ctx, engines: &mut [Box<dyn Engine>]) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut ready = Vec::new();
    for (i, e) in engines.iter_mut().enumerate() {
        match e.prepare(ctx) {
            Ok(()) => ready.push(i),
            Err(why) => {
                eprintln!("bench-harness: skipping {}: {why}", e.name());
                samples.push(failure(e.name(), NONE, 0, format!("skipped: {why}")));
            }
        }
    }
    let mut dead: HashSet<usize> = HashSet::new();
    for rep in 0..o.reps {
        for i in stats::rotated(&ready, rep) {
            if dead.contains(&i) {
                continue;
            }
            let e = &engines[i];
            let name = e.name();
            eprintln!("bench-harness: rep {}/{}: {name}", rep + 1, o.reps);
            let mut session = match e.start(ctx, rep) {
                Ok(s) => s,
                Err(err) => {
                    eprintln!("bench-harness: {name} failed to start: {err:#}");
                    samples.push(failure(name, BOOT, rep, format!("failed: {err:#}")));
                    dead.insert(i);
                    continue;
                }
            };
            if let Some(b) = session.boot_secs() {
                eprintln!("bench-harness:   {name} boot {b:.2} s");
                samples.push(Sample {
                    engine: name.into(),
                    workload: BOOT.into(),
                    rep,
                    secs: Some(b),
                    cpu_secs: session.boot_cpu_secs(),
                    checksum: String::new(),
                    status: "ok".into(),
                });
            }
            for w in &o.workloads {
                match session.run(ctx, w) {
                    Ok(t) => {
                        eprintln!(
                            "bench-harness:   {name} {w} {:.3} s, cpu {} ({})",
                            t.secs,
                            t.cpu_secs.map_or("?".into(), |c| format!("{c:.3} s")),
                            t.checksum
                        );
                        samples.push(Sample {
                            engine: name.into(),
                            workload: w.clone(),
                            rep,
                            secs: Some(t.secs),
                            cpu_secs: t.cpu_secs,
                            checksum: t.checksum,
                            status: "ok".into(),
                        });
                    }
                    Err(err) => {
                        eprintln!("bench-harness:   {name} {w} failed: {err:#}");
                        samples.push(failure(name, w, rep, format!("failed: {err:#}")));
                        // The guest's state is unknown now; the next
                        // repetition boots it afresh.
                        break;
                    }
                }
            }
        }
    }
    check_checksums(&mut samples);
    samples
}

fn shell_line(prog: &str, args: &[&str]) -> String {
    Command::new(prog)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The command line as the user would type it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut s = "cargo run -p bench-harness --release --".to_string();
    for a in args {
        s.push(' ');
        s.push_str(&a);
    }
    s
}

/// The 1-minute load average.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Writes the CSVs, chart and markdown for `samples`.
/// `run_line` describes this measuring run (None with `--report-only`).
fn write_outputs(o: &Opts, ctx: &Ctx, samples: &[Sample], run_line: Option<String>) -> Result<()> {
    let out = o.out.clone().unwrap_or_else(|| {
        if o.quick {
            ctx.work.join("quick")
        } else {
            ctx.root.join("bench/results")
        }
    });
    fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
    let samples_csv = out.join("samples.csv");
    let mut all: Vec<Sample> = Vec::new();
    let keep_old = o.merge || o.report_only;
    if keep_old && samples_csv.exists() {
        all = csvio::read_samples(&samples_csv)?
            .into_iter()
            .filter(|s| o.report_only || !o.engines.contains(&s.engine))
            .collect();
    }
    // The runs that made the numbers: appended when merging.
    let runs_txt = out.join("runs.txt");
    let mut runs: Vec<String> = if keep_old {
        fs::read_to_string(&runs_txt)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    runs.extend(run_line);
    fs::write(&runs_txt, runs.join("\n") + "\n").with_context(|| runs_txt.display().to_string())?;
    all.extend_from_slice(samples);
    check_checksums(&mut all);
    let engines: Vec<String> = engines::ALL
        .iter()
        .map(|e| e.to_string())
        .filter(|e| all.iter().any(|s| &s.engine == e))
        .collect();
    let mut workloads: Vec<String> = crate::WORKLOADS
        .iter()
        .map(|w| w.to_string())
        .filter(|w| all.iter().any(|s| &s.workload == w))
        .collect();
    workloads.push(BOOT.into());
    let rows = stats::summarize(&all, &workloads, &engines);
    csvio::write_samples(&samples_csv, &all)?;
    csvio::write_summary(&out.join("summary.csv"), &rows)?;
    let title = format!(
        "oxpc bench: wall-clock slowdown vs native (size {}, medians)",
        ctx.size
    );
    chart::draw(
        &out.join("slowdown.svg"),
        &rows,
        &workloads,
        &engines,
        chart::Metric::Wall,
        &title,
    )?;
    let title = format!(
        "oxpc bench: CPU-time slowdown vs native (size {}, medians)",
        ctx.size
    );
    chart::draw(
        &out.join("slowdown-cpu.svg"),
        &rows,
        &workloads,
        &engines,
        chart::Metric::Cpu,
        &title,
    )?;

    let machine = sysinfo::probe(&ctx.cache);
    let versions = engines
        .iter()
        .filter_map(|e| Some((e.clone(), engines::by_name(e)?.version(ctx)?)))
        .collect();
    let reps = all.iter().map(|s| s.rep + 1).max().unwrap_or(1);
    let report = markdown::Report {
        runs,
        machine: &machine,
        versions,
        size: ctx.size.clone(),
        reps,
        cmdline: CMDLINE,
        megs: GUEST_MEGS,
        workloads: &workloads,
        engines: &engines,
        rows: &rows,
        samples: &all,
        notes: fs::read_to_string(out.join("notes.md")).ok(),
    };
    let md_path = o.results_md.clone().unwrap_or_else(|| {
        if o.quick {
            out.join("RESULTS.md")
        } else {
            ctx.root.join("bench/RESULTS.md")
        }
    });
    fs::write(&md_path, markdown::render(&report))
        .with_context(|| md_path.display().to_string())?;
    eprintln!(
        "bench-harness: wrote {}, {}, {} and {}",
        samples_csv.display(),
        out.join("summary.csv").display(),
        out.join("slowdown.svg").display(),
        md_path.display()
    );
    Ok(())
}

/// The `--quick` verdict: (ok, failed, skipped) counts of stages. A stage is
/// an engine's boot or one workload. An oxpc engine that could not be
/// prepared or booted is skipped (Linux may not boot under it yet); any other
/// stage without a good number is a failure.
pub fn quick_verdict(samples: &[Sample]) -> (usize, usize, usize) {
    let (mut ok, mut failed, mut skipped) = (0, 0, 0);
    for s in samples {
        let oxpc = s.engine.starts_with("oxpc-");
        if s.ok() {
            ok += 1;
        } else if oxpc && (s.workload == NONE || s.workload == BOOT) {
            skipped += 1;
        } else {
            failed += 1;
        }
    }
    (ok, failed, skipped)
}

/// Runs the harness; returns the process exit status.
pub fn run(o: &Opts, ctx: &Ctx) -> Result<i32> {
    if let Err(e) = ctx.ensure_guests(&o.workloads) {
        if o.quick {
            println!("bench-harness quick: SKIP: no guest images ({e:#})");
            return Ok(0);
        }
        return Err(e);
    }
    fs::create_dir_all(&ctx.work)?;
    if o.report_only {
        write_outputs(o, ctx, &[], None)?;
        return Ok(0);
    }
    let mut engines: Vec<Box<dyn Engine>> = o
        .engines
        .iter()
        .filter_map(|e| engines::by_name(e))
        .collect();
    let load_start = loadavg();
    let samples = measure(o, ctx, &mut engines);
    let run_line = format!(
        "{} | {} | {load_start} -> {} | {}",
        shell_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        ctx.size,
        loadavg(),
        command_line()
    );
    write_outputs(o, ctx, &samples, Some(run_line))?;
    if !o.quick {
        return Ok(0);
    }
    let (ok, failed, skipped) = quick_verdict(&samples);
    for s in samples.iter().filter(|s| !s.ok()) {
        let kind = if s.engine.starts_with("oxpc-") && (s.workload == NONE || s.workload == BOOT) {
            "SKIP (oxpc cannot boot Linux yet)"
        } else {
            "FAIL"
        };
        println!(
            "bench-harness quick: {kind}: {} {}: {}",
            s.engine, s.workload, s.status
        );
    }
    for s in samples.iter().filter(|s| s.ok()) {
        println!(
            "bench-harness quick: ok: {} {} {:.3} s",
            s.engine,
            s.workload,
            s.secs.unwrap_or(0.0)
        );
    }
    println!("bench-harness quick: stages ok={ok} failed={failed} skipped={skipped}");
    Ok(if failed == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(engine: &str, workload: &str, checksum: &str, status: &str) -> Sample {
        Sample {
            engine: engine.into(),
            workload: workload.into(),
            rep: 0,
            secs: status.eq("ok").then_some(1.0),
            cpu_secs: None,
            checksum: checksum.into(),
            status: status.into(),
        }
    }

    #[test]
    fn a_wrong_checksum_is_marked_and_no_longer_counts() {
        let mut v = vec![
            s("native", "sort", "aa", "ok"),
            s("qemu", "sort", "aa", "ok"),
            s("bochs", "sort", "bb", "ok"),
            s("v86", "crc32", "cc", "ok"),
        ];
        check_checksums(&mut v);
        assert!(v[1].ok());
        assert!(!v[2].ok());
        assert!(v[2].status.starts_with("checksum-mismatch"));
        // No native number for crc32: nothing to compare against.
        assert!(v[3].ok());
    }

    #[test]
    fn quick_mode_skips_an_oxpc_that_cannot_boot_but_fails_missing_numbers() {
        let booted_not = vec![
            s("native", "crc32", "aa", "ok"),
            s("oxpc-interp", BOOT, "", "failed: no OXPC-INIT-READY"),
            s("oxpc-dbt", NONE, "", "skipped: no binary"),
        ];
        assert_eq!(quick_verdict(&booted_not), (1, 0, 2));
        let booted_but_broken = vec![
            s("native", "crc32", "aa", "ok"),
            s("oxpc-interp", BOOT, "", "ok"),
            s("oxpc-interp", "crc32", "", "failed: timeout"),
            s(
                "oxpc-dbt",
                "crc32",
                "bb",
                "checksum-mismatch: got bb, native aa",
            ),
        ];
        assert_eq!(quick_verdict(&booted_but_broken), (2, 2, 0));
        let native_broken = vec![s("native", "crc32", "", "failed: no marker")];
        assert_eq!(quick_verdict(&native_broken), (0, 1, 0));
    }
}
