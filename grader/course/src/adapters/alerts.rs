//! [`AlertStore`] over the grader's progress database (SQLite or PostgreSQL), beside the
//! learner's panels and attempts: rules survive a restart and go with the instructor's reset
//! of the learner, and so does where each stands (its state, since when, its transitions).

use std::time::Duration;

use async_trait::async_trait;
use dojo_grader::alerting::{AlertRule, AlertState, Condition, Evaluation, Severity, Transition};
use dojo_grader::progress::{self, NewAlertRule, Progress, StoredAlertRule, StoredAlertState};

use crate::alerts::{AlertStore, AlertStoreError, RuleDraft, SavedRule};
use crate::backend::LearnerId;

/// The progress database as the course's alert rule store.
#[derive(Clone)]
pub struct ProgressAlerts {
    progress: Progress,
}

impl ProgressAlerts {
    pub fn new(progress: Progress) -> ProgressAlerts {
        ProgressAlerts { progress }
    }
}

fn failed(error: progress::ProgressError) -> AlertStoreError {
    AlertStoreError(error.to_string())
}

fn saved(stored: StoredAlertRule) -> SavedRule {
    SavedRule {
        id: stored.id,
        name: stored.name,
        rule: AlertRule {
            query: stored.query,
            // Names this version does not know (a newer one wrote them) read as the defaults.
            condition: Condition::parse(&stored.condition).unwrap_or(Condition::Above),
            threshold: stored.threshold,
            for_duration: Duration::from_secs(u64::try_from(stored.for_seconds).unwrap_or(0)),
            severity: Severity::parse(&stored.severity).unwrap_or(Severity::Warning),
        },
    }
}

#[async_trait]
impl AlertStore for ProgressAlerts {
    async fn rules(&self, learner: &LearnerId) -> Result<Vec<SavedRule>, AlertStoreError> {
        let stored = self.progress.alert_rules(learner).await.map_err(failed)?;
        Ok(stored.into_iter().map(saved).collect())
    }

    async fn all_rules(&self) -> Result<Vec<(LearnerId, SavedRule)>, AlertStoreError> {
        let stored = self.progress.all_alert_rules().await.map_err(failed)?;
        Ok(stored
            .into_iter()
            .map(|rule| (rule.learner.clone(), saved(rule)))
            .collect())
    }

    async fn add(
        &self,
        learner: &LearnerId,
        draft: &RuleDraft,
        cap: usize,
    ) -> Result<Option<SavedRule>, AlertStoreError> {
        let new = NewAlertRule {
            name: &draft.name,
            query: &draft.rule.query,
            condition: draft.rule.condition.name(),
            threshold: draft.rule.threshold,
            for_seconds: i64::try_from(draft.rule.for_duration.as_secs()).unwrap_or(i64::MAX),
            severity: draft.rule.severity.name(),
        };
        let added = self
            .progress
            .add_alert_rule(learner, new, cap)
            .await
            .map_err(failed)?;
        Ok(added.map(saved))
    }

    async fn delete(&self, learner: &LearnerId, id: i64) -> Result<bool, AlertStoreError> {
        self.progress
            .delete_alert_rule(learner, id)
            .await
            .map_err(failed)
    }

    async fn save_state(&self, id: i64, evaluation: &Evaluation) -> Result<(), AlertStoreError> {
        let transitions = serde_json::to_string(&evaluation.history)
            .map_err(|e| AlertStoreError(e.to_string()))?;
        self.progress
            .save_alert_state(&StoredAlertState {
                rule_id: id,
                state: evaluation.state.name().to_string(),
                since_ms: evaluation.since_ms,
                evaluated_at_ms: evaluation.evaluated_at_ms.unwrap_or(evaluation.since_ms),
                transitions,
            })
            .await
            .map_err(failed)
    }

    async fn states(&self) -> Result<Vec<(LearnerId, i64, Evaluation)>, AlertStoreError> {
        let stored = self.progress.alert_states().await.map_err(failed)?;
        Ok(stored
            .into_iter()
            .map(|(learner, stored)| {
                // A state or history this version cannot read starts the rule at normal.
                let state = match stored.state.as_str() {
                    "pending" => AlertState::Pending,
                    "firing" => AlertState::Firing,
                    _ => AlertState::Normal,
                };
                let history: std::collections::VecDeque<Transition> =
                    serde_json::from_str(&stored.transitions).unwrap_or_default();
                let mut evaluation = Evaluation::new(stored.since_ms);
                evaluation.state = state;
                evaluation.evaluated_at_ms = Some(stored.evaluated_at_ms);
                evaluation.history = history;
                (learner, stored.rule_id, evaluation)
            })
            .collect())
    }
}
