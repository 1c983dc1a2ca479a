//! Latency and error counts per journey step, and the summary printed at the end.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The steps of a journey, in order.
pub const STEPS: [&str; 6] = ["browse", "product", "cart", "add_item", "checkout", "app"];

/// Samples of one step.
#[derive(Debug, Clone, Default)]
pub struct StepStats {
    /// Latency of every request, successful or not.
    pub latencies: Vec<Duration>,
    /// Requests that failed (transport error or non-2xx answer).
    pub errors: u64,
}

impl StepStats {
    /// The `q` quantile (0..=1) of the latencies, nearest-rank; zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Per step, in [`STEPS`] order when printed.
    pub steps: BTreeMap<&'static str, StepStats>,
    /// Journeys that ran to the end without an error.
    pub journeys_ok: u64,
    /// Journeys that stopped at a failed step.
    pub journeys_failed: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl Summary {
    /// Records one request of `step`.
    pub fn record(&mut self, step: &'static str, latency: Duration, ok: bool) {
        let stats = self.steps.entry(step).or_default();
        stats.latencies.push(latency);
        if !ok {
            stats.errors += 1;
        }
    }

    /// All requests made.
    pub fn requests(&self) -> u64 {
        self.steps.values().map(|s| s.latencies.len() as u64).sum()
    }

    /// All failed requests.
    pub fn errors(&self) -> u64 {
        self.steps.values().map(|s| s.errors).sum()
    }

    /// Completed journeys per second.
    pub fn journeys_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.journeys_ok as f64 / seconds
        } else {
            0.0
        }
    }

    /// Adds another summary's samples to this one.
    pub fn merge(&mut self, other: Summary) {
        for (step, stats) in other.steps {
            let mine = self.steps.entry(step).or_default();
            mine.latencies.extend(stats.latencies);
            mine.errors += stats.errors;
        }
        self.journeys_ok += other.journeys_ok;
        self.journeys_failed += other.journeys_failed;
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} journeys ({} failed) in {:.1} s, {} requests, {} errors",
            self.journeys_ok + self.journeys_failed,
            self.journeys_failed,
            self.elapsed.as_secs_f64(),
            self.requests(),
            self.errors()
        )?;
        writeln!(
            f,
            "{:<10} {:>8} {:>7} {:>10} {:>10} {:>10}",
            "step", "requests", "errors", "p50", "p95", "p99"
        )?;
        for step in STEPS {
            if let Some(stats) = self.steps.get(step) {
                writeln!(
                    f,
                    "{:<10} {:>8} {:>7} {:>10} {:>10} {:>10}",
                    step,
                    stats.latencies.len(),
                    stats.errors,
                    ms(stats.quantile(0.50)),
                    ms(stats.quantile(0.95)),
                    ms(stats.quantile(0.99))
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let stats = StepStats {
            latencies: (1..=100).map(Duration::from_millis).collect(),
            errors: 0,
        };
        assert_eq!(stats.quantile(0.5), Duration::from_millis(50));
        assert_eq!(stats.quantile(0.99), Duration::from_millis(99));
        assert_eq!(StepStats::default().quantile(0.5), Duration::ZERO);
    }

    #[test]
    fn the_summary_counts_requests_and_errors_per_step() {
        let mut summary = Summary::default();
        summary.record("browse", Duration::from_millis(3), true);
        summary.record("checkout", Duration::from_millis(9), false);
        assert_eq!((summary.requests(), summary.errors()), (2, 1));
        let text = summary.to_string();
        assert!(
            text.contains("browse") && text.contains("checkout"),
            "{text}"
        );
    }
}
