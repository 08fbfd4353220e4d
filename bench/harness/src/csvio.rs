//! Reading and writing the CSV files in `bench/results/`: `samples.csv`
//! (every run, failure and skip) and `summary.csv` (per workload and engine:
//! repetitions, median, min, max, slowdown vs native). Reading the samples
//! back lets a later run replace some engines and keep the others (`--merge`).
//!
//! Not done: any schema migration (a changed header makes `--merge` fail).

use std::path::Path;

use anyhow::{Context, Result};

use crate::stats::{Sample, Summary};

pub fn write_samples(path: &Path, samples: &[Sample]) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| path.display().to_string())?;
    for s in samples {
        w.serialize(s)?;
    }
    w.flush()?;
    Ok(())
}

pub fn read_samples(path: &Path) -> Result<Vec<Sample>> {
    let mut r = csv::Reader::from_path(path).with_context(|| path.display().to_string())?;
    r.deserialize()
        .map(|s| s.map_err(anyhow::Error::from))
        .collect()
}

pub fn write_summary(path: &Path, rows: &[Summary]) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| path.display().to_string())?;
    w.write_record([
        "workload",
        "engine",
        "repetitions",
        "median_s",
        "min_s",
        "max_s",
        "slowdown_vs_native",
        "median_cpu_s",
        "cpu_slowdown_vs_native",
    ])?;
    for r in rows {
        w.write_record([
            r.workload.clone(),
            r.engine.clone(),
            r.repetitions.to_string(),
            format!("{:.3}", r.median_s),
            format!("{:.3}", r.min_s),
            format!("{:.3}", r.max_s),
            r.slowdown_vs_native
                .map_or(String::new(), |x| format!("{x:.2}")),
            r.median_cpu_s.map_or(String::new(), |x| format!("{x:.3}")),
            r.cpu_slowdown_vs_native
                .map_or(String::new(), |x| format!("{x:.2}")),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_including_failures() {
        let dir = std::env::temp_dir().join(format!("bh-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("samples.csv");
        let v = vec![
            Sample {
                engine: "qemu".into(),
                workload: "sort".into(),
                rep: 2,
                secs: Some(1.25),
                cpu_secs: Some(1.5),
                checksum: "49dcce96".into(),
                status: "ok".into(),
            },
            Sample {
                engine: "bochs".into(),
                workload: "-".into(),
                rep: 0,
                secs: None,
                cpu_secs: None,
                checksum: String::new(),
                status: "skipped: not installed, with a comma".into(),
            },
        ];
        write_samples(&path, &v).unwrap();
        assert_eq!(read_samples(&path).unwrap(), v);
        let sum = vec![Summary {
            workload: "sort".into(),
            engine: "qemu".into(),
            repetitions: 1,
            median_s: 1.25,
            min_s: 1.25,
            max_s: 1.25,
            slowdown_vs_native: Some(7.5),
            median_cpu_s: None,
            cpu_slowdown_vs_native: None,
        }];
        write_summary(&dir.join("summary.csv"), &sum).unwrap();
        let text = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
        assert!(text.starts_with("workload,engine,repetitions,median_s,min_s,max_s,slowdown_vs_native,median_cpu_s,cpu_slowdown_vs_native\n"));
        assert!(
            text.contains("sort,qemu,1,1.250,1.250,1.250,7.50,,\n"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
