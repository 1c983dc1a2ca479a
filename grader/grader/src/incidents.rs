//! Another incident: after solving a root-cause lab, a learner may ask for another incident of
//! its fault scenario and practise again, graded the same way. A learner's incidents are
//! numbered rounds (kept in the progress store); round `n` is the scenario's variant
//! [`variant_in_round`], so each new incident is a different variant from the one just solved.
//! The grader grades a root-cause report against the learner's current incident, and `dojo`
//! keeps the faults of each learner's current incident switched on.

use crate::progress::{Incident, LearnerId, ProgressError};
use crate::scenario::variant_in_round;
use crate::service::Grader;
use crate::spec::types::{Check, Lab, Variant};

/// Why a learner cannot have another incident now.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("there is no lab `{0}`")]
    UnknownLab(String),
    #[error(
        "{0} has only one incident to practise on (or no root-cause exercise), so there is no other to give you"
    )]
    OnlyOne(String),
    #[error(
        "solve this incident first: another one starts once a root-cause report on this one passes"
    )]
    NotSolved,
    #[error("another incident needs the progress database, and this grader keeps none")]
    NoProgress,
    #[error(transparent)]
    Progress(#[from] ProgressError),
}

impl Grader {
    /// Whether learners can ask for another incident of this lab: it has a root-cause
    /// exercise and a scenario with more than one variant.
    pub fn offers_incidents(&self, lab_id: &str) -> bool {
        self.labs().get(lab_id).is_some_and(|lab| offers(lab))
    }

    /// The incident the learner is on (round 0 without a progress store).
    pub async fn incident(
        &self,
        learner: &LearnerId,
        lab_id: &str,
    ) -> Result<Incident, ProgressError> {
        match self.progress() {
            Some(progress) => progress.incident(learner, lab_id).await,
            None => Ok(Incident::default()),
        }
    }

    /// The variant of the learner's current incident of `lab`, whose ground truth their
    /// root-cause report is graded against.
    pub async fn current_variant<'a>(
        &self,
        lab: &'a Lab,
        learner: &LearnerId,
    ) -> Result<Option<&'a Variant>, ProgressError> {
        let incident = self.incident(learner, &lab.id).await?;
        Ok(variant_in_round(lab, learner, incident.round))
    }

    /// Starts the learner's next incident of the lab, once a root-cause report on the current
    /// one has passed; returns it.
    pub async fn another_incident(
        &self,
        learner: &LearnerId,
        lab_id: &str,
    ) -> Result<Incident, IncidentError> {
        let lab = self
            .labs()
            .get(lab_id)
            .ok_or_else(|| IncidentError::UnknownLab(lab_id.to_string()))?;
        if !offers(lab) {
            return Err(IncidentError::OnlyOne(lab.title.clone()));
        }
        let progress = self.progress().ok_or(IncidentError::NoProgress)?;
        let current = progress.incident(learner, lab_id).await?;
        let since = current.started_at_ms.unwrap_or(i64::MIN);
        let mut solved = false;
        for exercise in &lab.exercises {
            if !matches!(exercise.check, Check::RootCause(_)) {
                continue;
            }
            let attempts = progress
                .attempts(learner, lab_id, &exercise.id, 1_000)
                .await?;
            solved |= attempts
                .iter()
                .any(|a| a.passed && a.created_at_ms >= since);
        }
        if !solved {
            return Err(IncidentError::NotSolved);
        }
        Ok(progress.next_incident(learner, lab_id).await?)
    }
}

/// Whether a lab has other incidents to give: more than one variant, a root-cause exercise,
/// and no variant that comes with a release of its own. A bad-deploy variant's release is
/// rolled out when `dojo up` starts, so a next incident's fault, bound to a release nobody
/// deploys, would never fire.
fn offers(lab: &Lab) -> bool {
    let Some(scenario) = &lab.scenario else {
        return false;
    };
    scenario.variants.len() > 1
        && scenario.variants.iter().all(|v| v.deploy.is_none())
        && lab
            .exercises
            .iter()
            .any(|e| matches!(e.check, Check::RootCause(_)))
}
