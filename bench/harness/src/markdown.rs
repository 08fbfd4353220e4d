//! `bench/RESULTS.md`: the machine and versions, a table of median times and
//! slowdowns per workload and engine, boot times, every number with min/max,
//! the textbook claims and the project's targets checked against the numbers,
//! and the engines that were skipped or failed, with the reason.
//!
//! Not written here: the analysis of why a target is missed (profiles); the
//! report leaves a place for it.

use std::fmt::Write as _;

use crate::stats::{geomean, Sample, Summary, BOOT, NONE};
use crate::sysinfo::Machine;

/// Everything the report shows.
pub struct Report<'a> {
    /// One line per measuring run that made these numbers (date, size,
    /// host load average, command), oldest first.
    pub runs: Vec<String>,
    pub machine: &'a Machine,
    /// `(engine, version)` for each engine in the report.
    pub versions: Vec<(String, String)>,
    pub size: String,
    pub reps: u32,
    pub cmdline: &'a str,
    pub megs: u32,
    pub workloads: &'a [String],
    pub engines: &'a [String],
    pub rows: &'a [Summary],
    pub samples: &'a [Sample],
    /// Hand-written analysis kept across runs (`results/notes.md`).
    pub notes: Option<String>,
}

fn find<'a>(rows: &'a [Summary], w: &str, e: &str) -> Option<&'a Summary> {
    rows.iter().find(|r| r.workload == w && r.engine == e)
}

/// Geometric mean slowdown of `engine` over the CPU-bound workloads, when
/// it has a number for every one of them.
pub fn engine_geomean(r: &Report, engine: &str) -> Option<f64> {
    let xs: Option<Vec<f64>> = r
        .workloads
        .iter()
        .filter(|w| *w != BOOT)
        .map(|w| find(r.rows, w, engine)?.slowdown_vs_native)
        .collect();
    geomean(&xs?)
}

/// A cell of the median table: wall (`cpu == false`) or CPU seconds with
/// the slowdown.
fn fmt_cell(s: Option<&Summary>, cpu: bool) -> String {
    let Some(s) = s else { return "—".into() };
    let (secs, slow) = if cpu {
        match s.median_cpu_s {
            Some(c) => (c, s.cpu_slowdown_vs_native),
            None => return "—".into(),
        }
    } else {
        (s.median_s, s.slowdown_vs_native)
    };
    match slow {
        Some(x) if s.engine != "native" => format!("{secs:.2} s ({x:.1}x)"),
        _ => format!("{secs:.2} s"),
    }
}

/// Geometric mean CPU-time slowdown of `engine`.
fn engine_cpu_geomean(r: &Report, engine: &str) -> Option<f64> {
    let xs: Option<Vec<f64>> = r
        .workloads
        .iter()
        .filter(|w| *w != BOOT)
        .map(|w| find(r.rows, w, engine)?.cpu_slowdown_vs_native)
        .collect();
    geomean(&xs?)
}

/// The workload x engine table of medians and slowdowns.
fn median_table(r: &Report, cpu: bool, out: &mut String) {
    let _ = write!(out, "| workload |");
    for e in r.engines {
        let _ = write!(out, " {e} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in r.engines {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for w in r.workloads.iter().filter(|w| *w != BOOT) {
        let _ = write!(out, "| {w} |");
        for e in r.engines {
            let _ = write!(out, " {} |", fmt_cell(find(r.rows, w, e), cpu));
        }
        let _ = writeln!(out);
    }
    let _ = write!(out, "| **geomean slowdown** |");
    for e in r.engines {
        let g = if cpu {
            engine_cpu_geomean(r, e)
        } else {
            engine_geomean(r, e)
        };
        let cell = match g {
            Some(g) if e != "native" => format!("**{g:.1}x**"),
            Some(_) => "1x".into(),
            None => "—".into(),
        };
        let _ = write!(out, " {cell} |");
    }
    let _ = writeln!(out);
}

/// Per-workload ratio `a / b` of medians, for every workload both ran.
fn ratios(r: &Report, a: &str, b: &str) -> Vec<(String, f64)> {
    r.workloads
        .iter()
        .filter(|w| *w != BOOT)
        .filter_map(|w| {
            Some((
                w.clone(),
                find(r.rows, w, a)?.median_s / find(r.rows, w, b)?.median_s,
            ))
        })
        .collect()
}

fn targets(r: &Report, out: &mut String) {
    let _ = writeln!(out, "## Targets (DESIGN.md, issue 8)\n");
    let n = r.workloads.iter().filter(|w| *w != BOOT).count();
    // 1. translator under 3x native on every workload.
    let dbt: Vec<(String, f64)> = r
        .workloads
        .iter()
        .filter(|w| *w != BOOT)
        .filter_map(|w| Some((w.clone(), find(r.rows, w, "oxpc-dbt")?.slowdown_vs_native?)))
        .collect();
    let line = if dbt.is_empty() {
        "not measured yet (oxpc-dbt has no numbers)".to_string()
    } else {
        let miss: Vec<String> = dbt
            .iter()
            .filter(|x| x.1 >= 3.0)
            .map(|(w, x)| format!("{w} {x:.1}x"))
            .collect();
        format!(
            "{} of {} workloads under 3x{}",
            dbt.len() - miss.len(),
            n,
            if miss.is_empty() {
                String::new()
            } else {
                format!("; missed: {}", miss.join(", "))
            }
        )
    };
    let _ = writeln!(
        out,
        "- Translator under 3x native on the CPU-bound workloads: {line}."
    );
    // 2. translator at least 2x faster than QEMU on each.
    let vs = ratios(r, "qemu", "oxpc-dbt");
    let line = if vs.is_empty() {
        "not measured yet".to_string()
    } else {
        let miss: Vec<String> = vs
            .iter()
            .filter(|x| x.1 < 2.0)
            .map(|(w, x)| format!("{w} {x:.2}x faster"))
            .collect();
        format!(
            "met on {} of {}{}",
            vs.len() - miss.len(),
            n,
            if miss.is_empty() {
                String::new()
            } else {
                format!("; missed: {}", miss.join(", "))
            }
        )
    };
    let _ = writeln!(
        out,
        "- Translator at least 2x faster than QEMU TCG on each workload: {line}."
    );
    // 3. interpreter faster than Bochs.
    let vs = ratios(r, "bochs", "oxpc-interp");
    let line = if vs.is_empty() {
        "not measured yet".to_string()
    } else {
        let miss: Vec<String> = vs
            .iter()
            .filter(|x| x.1 <= 1.0)
            .map(|(w, x)| format!("{w} (Bochs/oxpc {x:.2})"))
            .collect();
        format!(
            "faster on {} of {}{}",
            vs.len() - miss.len(),
            n,
            if miss.is_empty() {
                String::new()
            } else {
                format!("; slower on: {}", miss.join(", "))
            }
        )
    };
    let _ = writeln!(out, "- Interpreter faster than Bochs: {line}.");
    // 4. boot faster than QEMU.
    let q = find(r.rows, BOOT, "qemu").map(|s| s.median_s);
    let line = match q {
        None => "not measured yet (no QEMU boot time)".to_string(),
        Some(q) => {
            let parts: Vec<String> = ["oxpc-interp", "oxpc-dbt"]
                .iter()
                .filter_map(|e| {
                    let b = find(r.rows, BOOT, e)?.median_s;
                    Some(format!(
                        "{e} {b:.1} s vs QEMU {q:.1} s ({})",
                        if b < q { "met" } else { "missed" }
                    ))
                })
                .collect();
            if parts.is_empty() {
                "not measured yet".to_string()
            } else {
                parts.join("; ")
            }
        }
    };
    let _ = writeln!(
        out,
        "- Linux boot to the shell faster than QEMU TCG: {line}.\n"
    );
    let _ = writeln!(
        out,
        "Where oxpc misses a target, the reason belongs here, from a profile \
         (`perf record -g target/release/oxpc run ...` with Debian's `linux-perf`, \
         or `valgrind --tool=callgrind`).\n"
    );
}

/// The whole of RESULTS.md.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let m = r.machine;
    let _ = writeln!(out, "# oxpc benchmark results\n");
    let _ = writeln!(
        out,
        "Made by (date | size | host load average | command):\n\n```\n{}\n```\n\nEvery number is host wall-clock time between a workload's \
         `OXPC-BENCH-START` and `OXPC-BENCH-END` lines on the serial console (natively: on a pipe), \
         the median of {} repetitions run interleaved (each repetition boots every emulator once and \
         runs every workload in it; the engine order is rotated each repetition). Slowdown is the \
         median over the native median. Every run is in `results/samples.csv`, the summary in \
         `results/summary.csv`; logs of the serial consoles stay in `$OXPC_CACHE/bench-harness/logs/`.\n",
        r.runs.join("\n"),
        r.reps
    );
    let _ = writeln!(out, "## Machine and versions\n\n| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| CPU | {} ({} logical CPUs, shared with other jobs) |",
        m.cpu_model, m.cpus
    );
    let _ = writeln!(out, "| host kernel | {} |", m.host_kernel);
    let _ = writeln!(out, "| guest kernel | {} |", m.guest_kernel);
    let _ = writeln!(
        out,
        "| guest userland | {} + the static i386 workloads of `bench/workloads/` |",
        m.busybox
    );
    let _ = writeln!(out, "| guest | `{}`, {} MiB RAM |", r.cmdline, r.megs);
    let _ = writeln!(out, "| workload size | `{}` |", r.size);
    for (e, v) in &r.versions {
        let _ = writeln!(out, "| {e} | {v} |");
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Median wall-clock time and slowdown vs native\n");
    median_table(r, false, &mut out);
    let _ = writeln!(
        out,
        "\n![wall-clock slowdown vs native](results/slowdown.svg)\n"
    );
    let _ = writeln!(
        out,
        "## Median CPU time and slowdown vs native\n\nThe CPU time the emulator process (all its \
         threads; natively the program) used between the same two markers, from \
         `/proc/<pid>/task/*/schedstat`. On a shared, loaded machine (see the load averages \
         above) this is steadier than wall-clock time; it also counts an emulator's helper \
         threads.\n"
    );
    median_table(r, true, &mut out);
    let _ = writeln!(
        out,
        "\n![CPU-time slowdown vs native](results/slowdown-cpu.svg)\n"
    );

    let _ = writeln!(
        out,
        "## Boot to the shell prompt\n\nFrom starting the emulator to `OXPC-INIT-READY` \
         (firmware, kernel, initramfs, busybox init); CPU s is what the emulator process \
         used until then (idle guest time costs little CPU).\n"
    );
    let _ = writeln!(
        out,
        "| engine | median s | min s | max s | median CPU s | runs |\n|---|---:|---:|---:|---:|---:|"
    );
    for e in r.engines {
        if let Some(s) = find(r.rows, BOOT, e) {
            let _ = writeln!(
                out,
                "| {e} | {:.1} | {:.1} | {:.1} | {} | {} |",
                s.median_s,
                s.min_s,
                s.max_s,
                s.median_cpu_s.map_or("—".into(), |c| format!("{c:.1}")),
                s.repetitions
            );
        }
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## The textbook claims\n");
    let g = |e: &str| match (engine_geomean(r, e), engine_cpu_geomean(r, e)) {
        (Some(w), Some(c)) => format!("{w:.1}x ({c:.1}x in CPU time)"),
        (Some(w), None) => format!("{w:.1}x"),
        _ => "not measured".into(),
    };
    let _ = writeln!(
        out,
        "- Interpretation costs ~50x: Bochs {}, oxpc's interpreter {} (geometric means over the workloads).",
        g("bochs"),
        g("oxpc-interp")
    );
    let _ = writeln!(
        out,
        "- Binary translation costs ~5-10x: QEMU TCG {}, v86 (WebAssembly JIT) {}, oxpc's translator {}.\n",
        g("qemu"),
        g("v86"),
        g("oxpc-dbt")
    );
    targets(r, &mut out);
    if let Some(notes) = &r.notes {
        let _ = writeln!(
            out,
            "## Analysis\n\n(From `results/notes.md`, written by hand; it is not regenerated.)\n"
        );
        let _ = writeln!(out, "{}\n", notes.trim_end());
    }

    let _ = writeln!(out, "## Every number\n");
    let _ = writeln!(
        out,
        "| workload | engine | runs | median s | min s | max s | slowdown | median CPU s | CPU slowdown |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in r.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
            s.workload,
            s.engine,
            s.repetitions,
            s.median_s,
            s.min_s,
            s.max_s,
            s.slowdown_vs_native
                .map_or(String::new(), |x| format!("{x:.2}x")),
            s.median_cpu_s.map_or(String::new(), |x| format!("{x:.3}")),
            s.cpu_slowdown_vs_native
                .map_or(String::new(), |x| format!("{x:.2}x"))
        );
    }
    let _ = writeln!(out);

    let problems: Vec<&Sample> = r.samples.iter().filter(|s| !s.ok()).collect();
    let _ = writeln!(out, "## Skipped and failed\n");
    if problems.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for s in problems {
        let what = if s.workload == NONE {
            String::new()
        } else {
            format!(" {} (rep {})", s.workload, s.rep)
        };
        let _ = writeln!(
            out,
            "- {}{}: {}",
            s.engine,
            what,
            s.status.replace('\n', " ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::summarize;

    fn sample(e: &str, w: &str, secs: f64) -> Sample {
        Sample {
            engine: e.into(),
            workload: w.into(),
            rep: 0,
            secs: Some(secs),
            cpu_secs: Some(secs * 2.0),
            checksum: "c".into(),
            status: "ok".into(),
        }
    }

    #[test]
    fn renders_tables_claims_targets_and_problems() {
        let mut samples = vec![
            sample("native", "sort", 1.0),
            sample("qemu", "sort", 6.0),
            sample("bochs", "sort", 50.0),
            sample("qemu", BOOT, 10.0),
            sample("oxpc-dbt", "sort", 2.0),
            sample("oxpc-dbt", BOOT, 5.0),
        ];
        samples.push(Sample {
            engine: "v86".into(),
            workload: NONE.into(),
            rep: 0,
            secs: None,
            cpu_secs: None,
            checksum: String::new(),
            status: "skipped: node missing".into(),
        });
        let workloads = vec!["sort".to_string(), BOOT.to_string()];
        let engines: Vec<String> = ["native", "oxpc-dbt", "qemu", "bochs", "v86"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows = summarize(&samples, &workloads, &engines);
        let machine = Machine {
            cpu_model: "Test CPU".into(),
            cpus: 2,
            ..Default::default()
        };
        let r = Report {
            runs: vec!["today | quick | 1.0 | cargo run -p bench-harness --release".into()],
            machine: &machine,
            versions: vec![("qemu".into(), "7.2".into())],
            size: "quick".into(),
            reps: 1,
            cmdline: "console=ttyS0",
            megs: 128,
            workloads: &workloads,
            engines: &engines,
            rows: &rows,
            samples: &samples,
            notes: Some("Bochs is slow because.".into()),
        };
        let md = render(&r);
        assert!(md.contains("| Test CPU (2 logical CPUs"), "{md}");
        assert!(md.contains("```\ntoday | quick | 1.0 | cargo run"), "{md}");
        assert!(
            md.contains("| sort | 1.00 s | 2.00 s (2.0x) | 6.00 s (6.0x) | 50.00 s (50.0x) | — |"),
            "{md}"
        );
        assert!(md.contains("Bochs 50.0x (50.0x in CPU time)"), "{md}");
        assert!(md.contains("1 of 1 workloads under 3x"), "{md}");
        assert!(md.contains("met on 1 of 1"), "{md}");
        assert!(md.contains("oxpc-dbt 5.0 s vs QEMU 10.0 s (met)"), "{md}");
        assert!(md.contains("- v86: skipped: node missing"), "{md}");
        assert!(md.contains("## Analysis\n"), "{md}");
        assert!(
            md.contains("| qemu | 10.0 | 10.0 | 10.0 | 20.0 | 1 |"),
            "{md}"
        );
        assert!(md.contains("Bochs is slow because.\n"), "{md}");
    }
}
