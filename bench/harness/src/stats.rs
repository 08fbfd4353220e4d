//! The numbers: one [`Sample`] per timed run (the CSV of every run), and
//! per (workload, engine) the median, min and max over repetitions and the
//! slowdown of the median against the native median.
//!
//! Not modelled: confidence intervals (with 3-5 repetitions on a noisy
//! shared machine, min/max say more).

use serde::{Deserialize, Serialize};

/// The pseudo-workload that holds boot times (start to `OXPC-INIT-READY`).
pub const BOOT: &str = "boot";
/// The pseudo-workload of a row that records a skipped engine.
pub const NONE: &str = "-";

/// One run, or one failure or skip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub engine: String,
    pub workload: String,
    pub rep: u32,
    /// Wall-clock seconds; `None` when the run failed or was skipped.
    pub secs: Option<f64>,
    /// CPU seconds of the emulator process over the same interval (all its
    /// threads); `None` when unknown (boot, failures).
    pub cpu_secs: Option<f64>,
    pub checksum: String,
    /// `ok`, `checksum-mismatch`, `failed: ...` or `skipped: ...`.
    pub status: String,
}

impl Sample {
    pub fn ok(&self) -> bool {
        self.status == "ok" && self.secs.is_some()
    }
}

/// Median, min and max of a (workload, engine) pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub workload: String,
    pub engine: String,
    pub repetitions: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// Median over the native median; empty for boot and for native itself
    /// when there is no native number.
    pub slowdown_vs_native: Option<f64>,
    /// Median CPU seconds, when every good run has them.
    pub median_cpu_s: Option<f64>,
    /// Median CPU seconds over the native median CPU seconds.
    pub cpu_slowdown_vs_native: Option<f64>,
}

/// The median of `xs` (mean of the middle two for an even count).
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Summaries of every (workload, engine) pair with at least one good run,
/// ordered by `workloads` then `engines`.
pub fn summarize(samples: &[Sample], workloads: &[String], engines: &[String]) -> Vec<Summary> {
    let good = |w: &str, e: &str| -> Vec<&Sample> {
        samples
            .iter()
            .filter(|s| s.ok() && s.workload == w && s.engine == e)
            .collect()
    };
    let times =
        |w: &str, e: &str| -> Vec<f64> { good(w, e).iter().filter_map(|s| s.secs).collect() };
    // CPU seconds only when every good run has them.
    let cpu = |w: &str, e: &str| -> Option<f64> {
        let v: Option<Vec<f64>> = good(w, e).iter().map(|s| s.cpu_secs).collect();
        median(&v?)
    };
    let ratio = |a: Option<f64>, b: Option<f64>, w: &str| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && w != BOOT => Some(a / b),
        _ => None,
    };
    let mut out = Vec::new();
    for w in workloads {
        let native = median(&times(w, "native"));
        let native_cpu = cpu(w, "native");
        for e in engines {
            let t = times(w, e);
            let Some(med) = median(&t) else { continue };
            let slowdown = ratio(Some(med), native, w);
            let median_cpu_s = cpu(w, e);
            out.push(Summary {
                workload: w.clone(),
                engine: e.clone(),
                repetitions: t.len(),
                median_s: med,
                min_s: t.iter().copied().fold(f64::INFINITY, f64::min),
                max_s: t.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                slowdown_vs_native: slowdown,
                median_cpu_s,
                cpu_slowdown_vs_native: ratio(median_cpu_s, native_cpu, w),
            });
        }
    }
    out
}

/// The geometric mean of `xs` (None when empty).
pub fn geomean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|&x| x <= 0.0) {
        return None;
    }
    Some((xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
}

/// `engines` rotated left by `rep`: the order of repetition `rep`, so that no
/// engine always runs first (or right after a noisy neighbour).
pub fn rotated<T: Clone>(engines: &[T], rep: u32) -> Vec<T> {
    let mut v = engines.to_vec();
    if !v.is_empty() {
        let k = rep as usize % v.len();
        v.rotate_left(k);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(engine: &str, workload: &str, secs: f64) -> Sample {
        Sample {
            engine: engine.into(),
            workload: workload.into(),
            rep: 0,
            secs: Some(secs),
            cpu_secs: Some(secs / 2.0),
            checksum: "x".into(),
            status: "ok".into(),
        }
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn slowdown_is_median_over_native_median_and_failures_are_ignored() {
        let mut v = vec![
            s("native", "sort", 1.0),
            s("native", "sort", 3.0),
            s("native", "sort", 2.0),
            s("qemu", "sort", 10.0),
            s("qemu", "sort", 30.0),
            s("qemu", "boot", 9.0),
        ];
        let mut bad = s("qemu", "sort", 1000.0);
        bad.status = "checksum-mismatch".into();
        v.push(bad);
        let w = vec!["sort".to_string(), "boot".to_string()];
        let e = vec![
            "native".to_string(),
            "qemu".to_string(),
            "bochs".to_string(),
        ];
        let sum = summarize(&v, &w, &e);
        assert_eq!(sum.len(), 3, "{sum:?}");
        assert_eq!(sum[0].slowdown_vs_native, Some(1.0));
        let q = &sum[1];
        assert_eq!(
            (q.repetitions, q.median_s, q.min_s, q.max_s),
            (2, 20.0, 10.0, 30.0)
        );
        assert_eq!(q.slowdown_vs_native, Some(10.0));
        assert_eq!(q.median_cpu_s, Some(10.0));
        assert_eq!(q.cpu_slowdown_vs_native, Some(10.0));
        assert_eq!(sum[2].workload, "boot");
        assert_eq!(sum[2].slowdown_vs_native, None);
    }

    #[test]
    fn rotation_moves_each_engine_to_the_front_once() {
        let e = ["a", "b", "c"];
        assert_eq!(rotated(&e, 0), vec!["a", "b", "c"]);
        assert_eq!(rotated(&e, 1), vec!["b", "c", "a"]);
        assert_eq!(rotated(&e, 5), vec!["c", "a", "b"]);
        assert!(rotated::<u8>(&[], 3).is_empty());
    }

    #[test]
    fn geometric_mean() {
        assert!((geomean(&[2.0, 8.0]).unwrap() - 4.0).abs() < 1e-9);
        assert_eq!(geomean(&[]), None);
    }
}
