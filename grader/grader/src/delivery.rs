//! DORA metrics from the delivery pipeline's traces, computed in one place.
//!
//! Every figure comes from the result of a TraceQL query that the Delivery page shows beside
//! it, so a learner can run the same query in the console and check the arithmetic:
//!
//! - **Deployment frequency**: successful rollouts per day ([`ROLLOUTS_QUERY`]).
//! - **Lead time for changes**: from the commit (the start of the run's trace) to the end of
//!   its successful rollout, the median over the deployments ([`ROLLOUTS_QUERY`]).
//! - **Change failure rate**: failed rollouts over all rollouts ([`ROLLOUTS_QUERY`]).
//! - **Time to restore**: from the start of a failed rollout to the end of its rollback, the
//!   median ([`ROLLBACKS_QUERY`] with the rollouts).
//!
//! The input is plain data (one [`Rollout`] per rollout span, one [`Rollback`] per rollback
//! span), so any trace source can feed it.

/// The rollout spans of every pipeline run, with what they deployed and how it went.
pub const ROLLOUTS_QUERY: &str = r#"{ resource.service.name = "delivery-pipeline" && name = "rollout" } | select(span.cicd.pipeline.task.run.result, span.deployment.name, span.deployment.version)"#;
/// The rollback spans beneath failed rollouts.
pub const ROLLBACKS_QUERY: &str =
    r#"{ resource.service.name = "delivery-pipeline" && name = "rollback" }"#;
/// How far back the figures look.
pub const WINDOW_DAYS: u64 = 7;

/// One rollout span and the run it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub trace_id: String,
    /// `deployment.name`: the service rolled out.
    pub service: String,
    /// `deployment.version`.
    pub version: String,
    /// The start of the run's trace: the commit.
    pub commit_unix_nanos: u64,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    /// `cicd.pipeline.task.run.result` is `success`.
    pub succeeded: bool,
}

impl Rollout {
    /// Commit to serving, in seconds.
    pub fn lead_time_seconds(&self) -> f64 {
        self.end_unix_nanos.saturating_sub(self.commit_unix_nanos) as f64 / 1e9
    }
}

/// One rollback span.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    pub trace_id: String,
    pub end_unix_nanos: u64,
}

/// The four figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Dora {
    /// Rollouts attempted in the window.
    pub rollouts: usize,
    /// Successful ones: the deployments.
    pub deployments: usize,
    pub failed: usize,
    /// Deployments per day over the window.
    pub deployments_per_day: f64,
    /// Median lead time for changes, seconds; `None` without deployments.
    pub lead_time_seconds: Option<f64>,
    /// Failed rollouts over all rollouts, in percent; `None` without rollouts.
    pub change_failure_percent: Option<f64>,
    /// Median time to restore, seconds; `None` without a failed rollout that was rolled back.
    pub time_to_restore_seconds: Option<f64>,
}

/// Computes the figures over a window of `window_days`.
pub fn compute(rollouts: &[Rollout], rollbacks: &[Rollback], window_days: u64) -> Dora {
    let deployed: Vec<&Rollout> = rollouts.iter().filter(|r| r.succeeded).collect();
    let failed: Vec<&Rollout> = rollouts.iter().filter(|r| !r.succeeded).collect();
    let lead_times: Vec<f64> = deployed.iter().map(|r| r.lead_time_seconds()).collect();
    let restores: Vec<f64> = failed
        .iter()
        .filter_map(|rollout| {
            let rollback = rollbacks.iter().find(|b| b.trace_id == rollout.trace_id)?;
            Some(
                rollback
                    .end_unix_nanos
                    .saturating_sub(rollout.start_unix_nanos) as f64
                    / 1e9,
            )
        })
        .collect();
    Dora {
        rollouts: rollouts.len(),
        deployments: deployed.len(),
        failed: failed.len(),
        deployments_per_day: deployed.len() as f64 / window_days.max(1) as f64,
        lead_time_seconds: median(lead_times),
        change_failure_percent: (!rollouts.is_empty())
            .then(|| failed.len() as f64 * 100.0 / rollouts.len() as f64),
        time_to_restore_seconds: median(restores),
    }
}

/// The median (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(id: &str, commit_s: u64, end_s: u64, succeeded: bool) -> Rollout {
        Rollout {
            trace_id: id.to_owned(),
            service: "api".to_owned(),
            version: "1.0.0".to_owned(),
            commit_unix_nanos: commit_s * 1_000_000_000,
            start_unix_nanos: (end_s - 10) * 1_000_000_000,
            end_unix_nanos: end_s * 1_000_000_000,
            succeeded,
        }
    }

    #[test]
    fn the_four_figures_come_from_rollouts_and_rollbacks() {
        let rollouts = [
            rollout("a", 0, 100, true),
            rollout("b", 0, 300, true),
            rollout("c", 0, 200, true),
            rollout("d", 1000, 1050, false),
        ];
        let rollbacks = [Rollback {
            trace_id: "d".to_owned(),
            end_unix_nanos: 1070 * 1_000_000_000,
        }];
        let dora = compute(&rollouts, &rollbacks, 7);
        assert_eq!(dora.deployments, 3);
        assert_eq!(dora.failed, 1);
        assert!((dora.deployments_per_day - 3.0 / 7.0).abs() < 1e-9);
        assert_eq!(dora.lead_time_seconds, Some(200.0));
        assert_eq!(dora.change_failure_percent, Some(25.0));
        assert_eq!(dora.time_to_restore_seconds, Some(30.0));
        let empty = compute(&[], &[], 7);
        assert_eq!(empty.lead_time_seconds, None);
        assert_eq!(empty.change_failure_percent, None);
    }
}
