//! The chart of `bench/results/`: slowdown against native execution per
//! workload (and their geometric mean) per engine, as grouped bars on a log
//! scale, with the textbook figures drawn as lines: ~50x for interpretation
//! and ~5x for binary translation. SVG through `plotters`, so no fonts are
//! needed at build time.
//!
//! Not drawn: boot times and min/max spread (they are in RESULTS.md).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::stats::{geomean, Summary, BOOT};

/// One engine's colour, stable across charts.
fn colour(engine: &str) -> RGBColor {
    match engine {
        "oxpc-interp" => RGBColor(0xd6, 0x27, 0x28),
        "oxpc-dbt" => RGBColor(0xff, 0x7f, 0x0e),
        "qemu" => RGBColor(0x1f, 0x77, 0xb4),
        "bochs" => RGBColor(0x2c, 0xa0, 0x2c),
        "v86" => RGBColor(0x94, 0x67, 0xbd),
        _ => RGBColor(0x7f, 0x7f, 0x7f),
    }
}

/// Which slowdown a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Wall-clock time between the markers.
    Wall,
    /// CPU time of the emulator process between the markers.
    Cpu,
}

impl Metric {
    fn of(self, r: &Summary) -> Option<f64> {
        match self {
            Metric::Wall => r.slowdown_vs_native,
            Metric::Cpu => r.cpu_slowdown_vs_native,
        }
    }
}

/// The bars: `(group label, engine, slowdown)`, with a `geomean` group of
/// the workloads every engine ran.
pub fn bars(
    rows: &[Summary],
    workloads: &[String],
    engines: &[String],
    metric: Metric,
) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for w in workloads.iter().filter(|w| *w != BOOT) {
        for e in engines.iter().filter(|e| *e != "native") {
            if let Some(s) = rows
                .iter()
                .find(|r| &r.workload == w && &r.engine == e)
                .and_then(|r| metric.of(r))
            {
                out.push((w.clone(), e.clone(), s));
            }
        }
    }
    let n_workloads = workloads.iter().filter(|w| *w != BOOT).count();
    for e in engines.iter().filter(|e| *e != "native") {
        let xs: Vec<f64> = out.iter().filter(|b| &b.1 == e).map(|b| b.2).collect();
        if xs.len() == n_workloads && n_workloads > 1 {
            if let Some(g) = geomean(&xs) {
                out.push(("geomean".into(), e.clone(), g));
            }
        }
    }
    out
}

/// Draws the chart into `path` (SVG).
pub fn draw(
    path: &Path,
    rows: &[Summary],
    workloads: &[String],
    engines: &[String],
    metric: Metric,
    title: &str,
) -> Result<()> {
    let bars = bars(rows, workloads, engines, metric);
    let mut groups: Vec<String> = Vec::new();
    for b in &bars {
        if !groups.contains(&b.0) {
            groups.push(b.0.clone());
        }
    }
    let shown: Vec<&String> = engines
        .iter()
        .filter(|e| bars.iter().any(|b| &b.1 == *e))
        .collect();
    let lo = bars.iter().map(|b| b.2).fold(1.0f64, f64::min) * 0.5;
    let hi = bars.iter().map(|b| b.2).fold(100.0f64, f64::max) * 2.0;
    let n = groups.len().max(1) as f64;
    let err = |e: &dyn std::fmt::Display| anyhow!("chart: {e}");

    let root = SVGBackend::new(path, (1100, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n, (lo..hi).log_scale())
        .map_err(|e| err(&e))?;
    let names = groups.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * groups.len() + 1)
        .x_label_formatter(&|x| {
            // Labels only at the middle of each group's slot.
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(match metric {
            Metric::Wall => "slowdown vs native (median wall time / native, log scale)",
            Metric::Cpu => "slowdown vs native (median CPU time / native, log scale)",
        })
        .label_style(("sans-serif", 14))
        .y_label_formatter(&|y| format!("{y}x"))
        .draw()
        .map_err(|e| err(&e))?;

    let width = 0.8 / shown.len().max(1) as f64;
    for (k, e) in shown.iter().enumerate() {
        let c = colour(e);
        let rects = bars.iter().filter(|b| &b.1 == *e).map(|b| {
            let g = groups.iter().position(|x| x == &b.0).unwrap_or(0) as f64;
            let x0 = g + 0.1 + k as f64 * width;
            Rectangle::new([(x0, lo), (x0 + width * 0.9, b.2)], c.filled())
        });
        chart
            .draw_series(rects)
            .map_err(|e| err(&e))?
            .label(e.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    for (y, label, c) in [
        (50.0, "textbook interpretation ~50x", RGBColor(0x99, 0, 0)),
        (5.0, "textbook binary translation ~5x", RGBColor(0, 0, 0x99)),
        (1.0, "native", BLACK),
    ] {
        chart
            .draw_series(LineSeries::new([(0.0, y), (n, y)], c.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .label_font(("sans-serif", 14))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(w: &str, e: &str, s: f64) -> Summary {
        Summary {
            workload: w.into(),
            engine: e.into(),
            repetitions: 1,
            median_s: s,
            min_s: s,
            max_s: s,
            slowdown_vs_native: Some(s),
            median_cpu_s: Some(s),
            cpu_slowdown_vs_native: Some(s * 2.0),
        }
    }

    #[test]
    fn bars_skip_native_and_boot_and_add_a_geomean() {
        let rows = vec![
            row("sort", "native", 1.0),
            row("sort", "qemu", 2.0),
            row("crc32", "qemu", 8.0),
            row("sort", "bochs", 40.0),
        ];
        let w = vec!["sort".to_string(), "crc32".to_string(), BOOT.to_string()];
        let e = vec![
            "native".to_string(),
            "qemu".to_string(),
            "bochs".to_string(),
        ];
        let b = bars(&rows, &w, &e, Metric::Wall);
        assert_eq!(b.len(), 4, "{b:?}");
        let g = b.iter().find(|x| x.0 == "geomean").unwrap();
        assert_eq!(g.1, "qemu");
        assert!((g.2 - 4.0).abs() < 1e-9);
        // bochs ran only one workload: no geomean for it.
        assert!(!b.iter().any(|x| x.0 == "geomean" && x.1 == "bochs"));
        let c = bars(&rows, &w, &e, Metric::Cpu);
        assert_eq!(
            c.iter().find(|x| x.0 == "sort" && x.1 == "qemu").unwrap().2,
            4.0
        );
    }

    #[test]
    fn draws_an_svg_with_the_reference_lines() {
        let path = std::env::temp_dir().join(format!("bh-chart-{}.svg", std::process::id()));
        let rows = vec![
            row("sort", "native", 1.0),
            row("sort", "qemu", 6.0),
            row("sort", "bochs", 45.0),
        ];
        let w = vec!["sort".to_string()];
        let e = vec![
            "native".to_string(),
            "qemu".to_string(),
            "bochs".to_string(),
        ];
        draw(&path, &rows, &w, &e, Metric::Wall, "test").unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("textbook interpretation ~50x"));
        assert!(svg.contains("qemu") && svg.contains("bochs"));
        std::fs::remove_file(&path).unwrap();
    }
}
