//! Keeps a lab's fault scenario switched on, following each learner's current incident.
//!
//! In a workshop (a shared sample app) each learner who has joined gets their own variant,
//! scoped to their traffic by the `learner.id` baggage. On a laptop (`dojo up --lab L
//! --learner NAME`) the one learner's variant hits all traffic. Either way a learner who solved
//! their incident can ask for another (`dojo_grader::incidents`): every few seconds this reads
//! the learners and their incidents from the progress database, plans the faults, and pushes
//! any change to the services' admin APIs — switching on what the plan has and off what it no
//! longer has. Nothing is pushed while the plan is unchanged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dojo_grader::progress::{LearnerId, Progress};
use dojo_grader::scenario::{PlannedFault, fault_plan_in_rounds};
use dojo_grader::spec::types::Lab;

use super::ScenarioPusher;

/// How often the learners and their incidents are read.
const INTERVAL: Duration = Duration::from_secs(5);

/// Whose incidents the faults follow.
#[derive(Debug, Clone)]
pub enum Audience {
    /// Every learner who joined, each scoped to their own traffic (a workshop).
    Class,
    /// One learner on a laptop, unscoped; `started_with` is the plan the services were started
    /// with (their scenario file), so what leaves it is switched off.
    Solo {
        learner: LearnerId,
        started_with: Vec<PlannedFault>,
    },
}

/// Runs until the task is dropped.
pub async fn keep_scenario_on(
    lab: Arc<Lab>,
    progress: Progress,
    faults: Arc<ScenarioPusher>,
    audience: Audience,
) {
    let mut pushed: Vec<PlannedFault> = match &audience {
        Audience::Class => Vec::new(),
        Audience::Solo { started_with, .. } => started_with.clone(),
    };
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        ticker.tick().await;
        let plan = match plan(&lab, &progress, &audience).await {
            Ok(plan) => plan,
            Err(error) => {
                eprintln!(
                    "dojo: could not read the learners for the {} scenario: {error}",
                    lab.id
                );
                continue;
            }
        };
        if plan == pushed {
            continue;
        }
        let mut all_ok = true;
        for fault in &plan {
            if let Err(error) = faults.enable(fault).await {
                eprintln!("dojo: {error}");
                all_ok = false;
            }
        }
        for gone in pushed
            .iter()
            .filter(|old| !plan.iter().any(|new| new.fault == old.fault))
        {
            if let Err(error) = faults.disable(&gone.fault).await {
                eprintln!("dojo: {error}");
                all_ok = false;
            }
        }
        if all_ok {
            pushed = plan;
        }
    }
}

/// The faults every learner's current incident needs.
async fn plan(
    lab: &Lab,
    progress: &Progress,
    audience: &Audience,
) -> Result<Vec<PlannedFault>, dojo_grader::progress::ProgressError> {
    let rounds: HashMap<LearnerId, u32> = progress
        .incidents(&lab.id)
        .await?
        .into_iter()
        .map(|(learner, incident)| (learner, incident.round))
        .collect();
    let round = |learner: &LearnerId| rounds.get(learner).copied().unwrap_or(0);
    Ok(match audience {
        Audience::Class => {
            let learners: Vec<(LearnerId, u32)> = progress
                .learners()
                .await?
                .into_iter()
                .map(|l| {
                    let r = round(&l.id);
                    (l.id, r)
                })
                .collect();
            fault_plan_in_rounds(lab, &learners, true)
        }
        Audience::Solo { learner, .. } => {
            fault_plan_in_rounds(lab, &[(learner.clone(), round(learner))], false)
        }
    })
}
