//! Translation statistics, printed by `oxpc run --dbt-stats`.

use std::fmt;
use std::time::Duration;

/// Counters of one `Dbt` since creation.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Blocks translated (including re-translations after invalidation).
    pub blocks: u64,
    /// Bytes of host code emitted.
    pub bytes: u64,
    /// Guest instructions translated natively / as callouts (static counts).
    pub native_insns: u64,
    pub callout_insns: u64,
    /// Dispatcher lookups that found a translation.
    pub hits: u64,
    /// Blocks run by the interpreter (cold, or in an interrupt shadow).
    pub interp_blocks: u64,
    /// Hot blocks left to the interpreter because x87 callouts would
    /// dominate them (see `Dbt::declines`).
    pub declined: u64,
    /// Full flushes of the translation cache.
    pub flushes: u64,
    /// Translations dropped because their code page was written.
    pub invalidations: u64,
    /// Direct jumps patched to their target.
    pub chains: u64,
    /// Callouts executed (handlers run from translated code).
    pub callouts: u64,
    /// Indirect-jump lookups from translated code, and how many hit.
    pub lookups: u64,
    pub lookup_hits: u64,
    /// Entries into generated code from the dispatcher.
    pub entries: u64,
    /// Time spent translating.
    pub translate_time: Duration,
    /// With `Dbt::timing`: TSC ticks in `Engine::run`, inside generated
    /// code (entered from the dispatcher until it returns, callouts
    /// included), and inside callouts.
    pub run_ticks: u64,
    pub exec_ticks: u64,
    pub callout_ticks: u64,
    /// With `Dbt::timing`: the mnemonics that ran most as callouts.
    pub hot_callouts: Vec<(String, u64)>,
}

impl Stats {
    /// Shares of the measured time (with `Dbt::timing`): (generated code
    /// without callouts, callouts, dispatcher + interpreter + translator).
    pub fn time_shares(&self) -> Option<(f64, f64, f64)> {
        if self.run_ticks == 0 {
            return None;
        }
        let run = self.run_ticks as f64;
        let exec = self.exec_ticks.min(self.run_ticks) as f64;
        let call = self.callout_ticks.min(self.exec_ticks) as f64;
        Some(((exec - call) / run, call / run, (run - exec) / run))
    }

    /// Mean translation time per block in microseconds.
    pub fn us_per_block(&self) -> f64 {
        if self.blocks == 0 {
            0.0
        } else {
            self.translate_time.as_secs_f64() * 1e6 / self.blocks as f64
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dbt: {} blocks, {} bytes, {} native + {} callout instructions",
            self.blocks, self.bytes, self.native_insns, self.callout_insns
        )?;
        writeln!(
            f,
            "dbt: {} entries, {} hits, {} interpreted blocks ({} declined), {} chains, {} lookups ({} hits)",
            self.entries,
            self.hits,
            self.interp_blocks,
            self.declined,
            self.chains,
            self.lookups,
            self.lookup_hits
        )?;
        write!(
            f,
            "dbt: {} callouts run, {} invalidations, {} flushes, {:.1} us/block translating",
            self.callouts,
            self.invalidations,
            self.flushes,
            self.us_per_block()
        )?;
        if let Some((code, call, disp)) = self.time_shares() {
            write!(
                f,
                "\ndbt: time: {:.1}% translated code, {:.1}% callouts, {:.1}% dispatcher/interpreter/translator",
                100.0 * code,
                100.0 * call,
                100.0 * disp
            )?;
        }
        if !self.hot_callouts.is_empty() {
            write!(f, "\ndbt: hot callouts:")?;
            for (m, c) in &self.hot_callouts {
                write!(f, " {m} {c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_translation_time() {
        let mut s = Stats::default();
        assert_eq!(s.us_per_block(), 0.0);
        s.blocks = 4;
        s.translate_time = Duration::from_micros(100);
        assert!((s.us_per_block() - 25.0).abs() < 1e-9);
        assert!(s.to_string().contains("4 blocks"));
        assert!(s.time_shares().is_none());
        (s.run_ticks, s.exec_ticks, s.callout_ticks) = (1000, 800, 200);
        let (code, call, disp) = s.time_shares().unwrap();
        assert!(
            (code - 0.6).abs() < 1e-9 && (call - 0.2).abs() < 1e-9 && (disp - 0.2).abs() < 1e-9
        );
        assert!(s.to_string().contains("20.0% callouts"));
    }
}
