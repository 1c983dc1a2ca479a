//! Keeps a lab's per-learner fault scenario switched on in a shared sample app (workshop mode).
//!
//! Each learner who has joined gets their own variant of the lab's scenario. Every few seconds
//! this reads the learners from the progress database, plans the faults scoped to the learners
//! whose variant has them (so one running app serves the whole class, each learner with their
//! own root cause, told apart by the `learner.id` baggage on their traffic), and pushes any
//! change to the services' admin APIs. Nothing is pushed while the plan is unchanged.

use std::sync::Arc;
use std::time::Duration;

use dojo_grader::progress::Progress;
use dojo_grader::scenario::{PlannedFault, fault_plan};
use dojo_grader::spec::types::Lab;

use super::ScenarioPusher;

/// How often the learner list is read.
const INTERVAL: Duration = Duration::from_secs(5);

/// Runs until the task is dropped.
pub async fn keep_scenario_on(lab: Arc<Lab>, progress: Progress, faults: Arc<ScenarioPusher>) {
    let mut pushed: Vec<PlannedFault> = Vec::new();
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        ticker.tick().await;
        let learners = match progress.learners().await {
            Ok(learners) => learners.into_iter().map(|l| l.id).collect::<Vec<_>>(),
            Err(error) => {
                eprintln!(
                    "dojo: could not read the learners for the {} scenario: {error}",
                    lab.id
                );
                continue;
            }
        };
        let plan = fault_plan(&lab, &learners, true);
        if plan == pushed {
            continue;
        }
        let mut all_ok = true;
        // A fault no learner's variant needs any more (the last one was reset) goes off.
        for gone in pushed
            .iter()
            .filter(|old| !plan.iter().any(|new| new.fault == old.fault))
        {
            if let Err(error) = faults.disable(&gone.fault).await {
                eprintln!("dojo: {error}");
                all_ok = false;
            }
        }
        for fault in &plan {
            if let Err(error) = faults.enable(fault).await {
                eprintln!("dojo: {error}");
                all_ok = false;
            }
        }
        if all_ok {
            pushed = plan;
        }
    }
}
