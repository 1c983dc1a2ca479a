//! A learner's alert rules in the progress database: each a name, a TraceQL metrics query, a
//! condition against a threshold, a "for" and a severity (see [`crate::alerting`] for what
//! they mean). Every statement but the evaluator's [`Progress::all_alert_rules`] names the
//! learner, so one learner can neither read nor delete another's rule, and the cap is counted
//! in the same transaction as the insert. Where each rule stands is kept beside it
//! ([`Progress::save_alert_state`]), so a restart of the course picks up from there.

use serde::Serialize;

use super::learner::LearnerId;
use super::store::{Db, Progress, ProgressError, now_ms, on_db};
use super::write_transaction::BeginWrite;

/// One stored rule, as written (the names of its condition and severity as text: a newer
/// version may know more of them, and the reader decides what an unknown one means).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlertRule {
    pub id: i64,
    pub learner: LearnerId,
    pub name: String,
    pub query: String,
    /// `above` or `below`.
    pub condition: String,
    pub threshold: f64,
    pub for_seconds: i64,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub created_at_ms: i64,
}

/// What a learner saves; the caller has checked it (the query parses, the threshold is a
/// number, the "for" is at least the evaluation interval).
#[derive(Debug, Clone, Copy)]
pub struct NewAlertRule<'a> {
    pub name: &'a str,
    pub query: &'a str,
    pub condition: &'a str,
    pub threshold: f64,
    pub for_seconds: i64,
    pub severity: &'a str,
}

const SQL_RULES: &str = "SELECT id, learner_id, name, query, condition, threshold, \
     for_seconds, severity, created_at FROM alert_rules WHERE learner_id = $1 ORDER BY id";
const SQL_ALL_RULES: &str = "SELECT id, learner_id, name, query, condition, threshold, \
     for_seconds, severity, created_at FROM alert_rules ORDER BY learner_id, id";

type RuleRow = (i64, String, String, String, String, f64, i64, String, i64);

fn rule_from(
    (id, learner, name, query, condition, threshold, for_seconds, severity, created_at_ms): RuleRow,
) -> Result<StoredAlertRule, ProgressError> {
    Ok(StoredAlertRule {
        id,
        learner: LearnerId::parse(&learner)
            .map_err(|_| ProgressError::UnknownLearner(learner.clone()))?,
        name,
        query,
        condition,
        threshold,
        for_seconds,
        severity,
        created_at_ms,
    })
}

impl Progress {
    /// The learner's rules, oldest first.
    pub async fn alert_rules(
        &self,
        learner: &LearnerId,
    ) -> Result<Vec<StoredAlertRule>, ProgressError> {
        let rows: Vec<RuleRow> = on_db!(self, pool => {
            sqlx::query_as(SQL_RULES).bind(learner.as_str()).fetch_all(pool).await?
        });
        rows.into_iter().map(rule_from).collect()
    }

    /// Every learner's rules, for the course's continuous evaluation, by learner then age.
    pub async fn all_alert_rules(&self) -> Result<Vec<StoredAlertRule>, ProgressError> {
        let rows: Vec<RuleRow> = on_db!(self, pool => {
            sqlx::query_as(SQL_ALL_RULES).fetch_all(pool).await?
        });
        rows.into_iter().map(rule_from).collect()
    }

    /// Adds a rule; `None` when the learner already has `cap` rules. The learner must have
    /// joined.
    pub async fn add_alert_rule(
        &self,
        learner: &LearnerId,
        rule: NewAlertRule<'_>,
        cap: usize,
    ) -> Result<Option<StoredAlertRule>, ProgressError> {
        if self.learner(learner).await?.is_none() {
            return Err(ProgressError::UnknownLearner(learner.to_string()));
        }
        let now = now_ms();
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let id: Option<i64> = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alert_rules WHERE learner_id = $1")
                .bind(learner.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if count >= cap {
                None
            } else {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO alert_rules \
                     (learner_id, name, query, condition, threshold, for_seconds, severity, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(learner.as_str())
                .bind(rule.name)
                .bind(rule.query)
                .bind(rule.condition)
                .bind(rule.threshold)
                .bind(rule.for_seconds)
                .bind(rule.severity)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Some(id)
            }
        });
        Ok(id.map(|id| StoredAlertRule {
            id,
            learner: learner.clone(),
            name: rule.name.to_string(),
            query: rule.query.to_string(),
            condition: rule.condition.to_string(),
            threshold: rule.threshold,
            for_seconds: rule.for_seconds,
            severity: rule.severity.to_string(),
            created_at_ms: now,
        }))
    }

    /// Deletes one of the learner's rules; false when they have no rule with that id.
    pub async fn delete_alert_rule(
        &self,
        learner: &LearnerId,
        id: i64,
    ) -> Result<bool, ProgressError> {
        let deleted = on_db!(self, pool => {
            sqlx::query("DELETE FROM alert_rules WHERE learner_id = $1 AND id = $2")
                .bind(learner.as_str())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Records where a rule stands (replacing what was recorded): its state's name, since
    /// when, when it was last evaluated and its latest transitions as JSON. A rule deleted
    /// meanwhile records nothing.
    pub async fn save_alert_state(&self, state: &StoredAlertState) -> Result<(), ProgressError> {
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO alert_rule_states (rule_id, state, since_ms, evaluated_at_ms, transitions) \
                 SELECT id, $2, $3, $4, $5 FROM alert_rules WHERE id = $1 \
                 ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, \
                 since_ms = excluded.since_ms, evaluated_at_ms = excluded.evaluated_at_ms, \
                 transitions = excluded.transitions",
            )
            .bind(state.rule_id)
            .bind(&state.state)
            .bind(state.since_ms)
            .bind(state.evaluated_at_ms)
            .bind(&state.transitions)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Where every rule stood when last recorded, with its learner, for the course to start
    /// from after a restart.
    pub async fn alert_states(&self) -> Result<Vec<(LearnerId, StoredAlertState)>, ProgressError> {
        let rows: Vec<(i64, String, String, i64, i64, String)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT s.rule_id, r.learner_id, s.state, s.since_ms, s.evaluated_at_ms, s.transitions \
                 FROM alert_rule_states s JOIN alert_rules r ON r.id = s.rule_id ORDER BY s.rule_id",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(rule_id, learner, state, since_ms, evaluated_at_ms, transitions)| {
                    let learner = LearnerId::parse(&learner)
                        .map_err(|_| ProgressError::UnknownLearner(learner.clone()))?;
                    Ok((
                        learner,
                        StoredAlertState {
                            rule_id,
                            state,
                            since_ms,
                            evaluated_at_ms,
                            transitions,
                        },
                    ))
                },
            )
            .collect()
    }
}

/// Where one rule stood when last recorded (the names and the JSON are the reader's to
/// interpret, as for [`StoredAlertRule`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlertState {
    pub rule_id: i64,
    /// `normal`, `pending` or `firing`.
    pub state: String,
    pub since_ms: i64,
    pub evaluated_at_ms: i64,
    /// The latest transitions, a JSON list, oldest first.
    pub transitions: String,
}
