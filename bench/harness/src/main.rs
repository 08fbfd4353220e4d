//! `bench-harness`: measures oxpc's two engines against native execution and
//! against QEMU, Bochs and v86 on the same Linux guest and workloads
//! (issue 8), and writes `bench/results/{samples,summary}.csv`,
//! `bench/results/slowdown.svg` and `bench/RESULTS.md`.
//!
//! ```text
//! cargo run -p bench-harness --release -- [--quick] [--reps N]
//!     [--engines native,oxpc-interp,oxpc-dbt,qemu,bochs,v86] [--workloads sort,crc32,...]
//! ```
//!
//! `--quick` (for CI) runs one small workload once on native and oxpc's
//! engines only, writes into the cache instead of the repository, and exits
//! non-zero when a stage that ran produced no number; an oxpc engine that
//! cannot boot Linux (yet) is reported as skipped and does not fail it.
//!
//! Not measured here: guest MIPS on a bare-metal loop (that needs oxpc's
//! instruction counters, not a serial console).

mod chart;
mod console;
mod csvio;
mod ctx;
mod engines;
mod markdown;
mod run;
mod stats;
mod sysinfo;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;

/// The CPU-bound workloads of `bench/workloads/`, in report order.
pub const WORKLOADS: [&str; 7] = [
    "sort",
    "crc32",
    "sha256",
    "matmul",
    "bytecode",
    "strsearch",
    "fpu",
];

#[derive(Parser, Debug)]
#[command(
    name = "bench-harness",
    about = "oxpc vs native, QEMU, Bochs and v86 (issue 8)"
)]
pub struct Opts {
    /// CI mode: one small workload, one repetition, native + oxpc engines;
    /// results go to the cache, not the repository.
    #[arg(long)]
    pub quick: bool,
    /// Repetitions of every (engine, workload).
    #[arg(long, default_value_t = 3)]
    pub reps: u32,
    /// Comma-separated engines: native, oxpc-interp, oxpc-dbt, qemu, bochs, v86.
    #[arg(long, value_delimiter = ',')]
    pub engines: Vec<String>,
    /// Comma-separated workloads (default: all seven).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Workload size: quick, full or a unit count (default: quick; 10 with --quick).
    #[arg(long)]
    pub size: Option<String>,
    /// Seconds an emulator may take to reach the shell.
    #[arg(long)]
    pub boot_timeout: Option<u64>,
    /// Seconds one workload may take.
    #[arg(long, default_value_t = 900)]
    pub workload_timeout: u64,
    /// Do not apt-get / npm install missing peers (skip them instead).
    #[arg(long)]
    pub no_install: bool,
    /// The oxpc binary (default: $OXPC_BIN, else <target>/release/oxpc, built if missing).
    #[arg(long)]
    pub oxpc: Option<PathBuf>,
    /// Directory for the CSVs and the chart (default: bench/results, or the cache with --quick).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to write the markdown report (default: bench/RESULTS.md, or <out>/RESULTS.md with --quick).
    #[arg(long)]
    pub results_md: Option<PathBuf>,
    /// Keep the rows of engines not run now from <out>/samples.csv.
    #[arg(long)]
    pub merge: bool,
    /// Measure nothing: rewrite the summary, charts and RESULTS.md from
    /// <out>/samples.csv (after editing <out>/notes.md, say).
    #[arg(long)]
    pub report_only: bool,
}

fn main() -> Result<()> {
    let mut o = Opts::parse();
    if o.quick {
        if o.engines.is_empty() {
            o.engines = ["native", "oxpc-interp", "oxpc-dbt"]
                .map(String::from)
                .to_vec();
        }
        if o.workloads.is_empty() {
            o.workloads = vec!["crc32".into()];
        }
        o.reps = 1;
        o.size.get_or_insert_with(|| "10".into());
    }
    if o.engines.is_empty() {
        o.engines = engines::ALL.map(String::from).to_vec();
    }
    if o.workloads.is_empty() {
        o.workloads = WORKLOADS.map(String::from).to_vec();
    }
    for e in &o.engines {
        anyhow::ensure!(
            engines::by_name(e).is_some(),
            "unknown engine {e} (known: {})",
            engines::ALL.join(",")
        );
    }
    for w in &o.workloads {
        anyhow::ensure!(
            WORKLOADS.contains(&w.as_str()),
            "unknown workload {w} (known: {})",
            WORKLOADS.join(",")
        );
    }
    let cache = ctx::default_cache();
    let ctx = ctx::Ctx {
        root: ctx::workspace_root(),
        work: cache.join("bench-harness"),
        cache,
        size: o.size.clone().unwrap_or_else(|| "quick".into()),
        boot_timeout: Duration::from_secs(o.boot_timeout.unwrap_or(if o.quick {
            600
        } else {
            900
        })),
        workload_timeout: Duration::from_secs(o.workload_timeout),
        install: !o.no_install,
        oxpc: o.oxpc.clone(),
    };
    let code = run::run(&o, &ctx)?;
    std::process::exit(code);
}
