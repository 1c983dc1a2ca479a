//! The continuous evaluation of every learner's alert rules: a spawned task ([`spawn`]) that,
//! every interval (`CourseSettings::alert_interval`, 15 s by default), runs each rule's query
//! against that learner's own traces and feeds the answer to the rule's
//! [`dojo_grader::alerting::Evaluation`], the same state machine the `alert` check uses. The
//! states, their history and the values that decided them are kept in memory in the
//! [`crate::alert_board::AlertBoard`] for the Alerts page; each state change (with the latest
//! transitions) is also kept in the alert store, and [`restore`] puts the rules back where
//! they stood when the course starts again.
//!
//! Budgeted: at most [`CONCURRENCY`] rules run at once (the board's permits, shared with the
//! evaluation of a rule just added), each on the blocking pool through the trace source, and a
//! rule whose query runs past `CourseSettings::alert_budget` (2 s by default) or past the
//! engine's step budget is paused with a message saying why, until the learner resumes it.
//! The loop never holds a lock across a query, so pages are served while it runs.
//!
//! Every read of metrics goes through [`read_metrics`], the one place that knows where a
//! learner's traces come from.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dojo_grader::alerting::{Reading, settled_mean};
use tokio::task::{JoinHandle, JoinSet};

pub use crate::alert_board::CONCURRENCY;
use crate::alerts::SavedRule;
use dojo_grader::backend::{BackendError, MetricsAnswer};

use crate::backend::LearnerId;
use crate::state::CourseState;

/// How much traffic each evaluation's query reads: one instant query over this window gives
/// each series its one value (the same in the Grafana export).
pub const LOOKBACK: Duration = Duration::from_secs(60);
/// How long before now that window ends: spans are still arriving for the newest seconds
/// (services export in batches every few seconds), which would read low for every rule.
pub const SETTLE: Duration = Duration::from_secs(10);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs a metrics query as one instant over the [`LOOKBACK`] that ended [`SETTLE`] ago,
/// against `learner`'s own traces: their tenant when the store keeps learners apart (a
/// workshop), the lab's traces otherwise. The one place the alerts read metrics.
pub async fn read_metrics(
    state: &CourseState,
    learner: &LearnerId,
    query: &str,
) -> Result<MetricsAnswer, BackendError> {
    state
        .traces_of(learner)
        .metrics_instant(query, LOOKBACK, SETTLE)
        .await
}

/// A query's answer reduced to one reading per series (an instant answer has one value; the
/// window already ends settled, so nothing is left out).
pub fn readings(answer: &MetricsAnswer) -> Vec<Reading> {
    answer
        .series
        .iter()
        .map(|s| Reading {
            labels: s.labels.clone(),
            value: settled_mean(&s.values, answer.step_nanos, 0),
        })
        .collect()
}

/// Evaluates one rule now (once one of the [`CONCURRENCY`] permits is free) and records the
/// outcome on the board.
pub async fn evaluate_rule(state: &CourseState, learner: &LearnerId, saved: &SavedRule) {
    evaluate_rule_at(state, learner, saved, None).await;
}

/// Evaluates one rule and records the outcome as of `at_ms` (the pass's start, so that the
/// evaluations of a rule are one interval apart however long each waited for its turn and
/// ran: a "for" of one interval then holds at the next pass, not one later), or as of when the
/// evaluation ended.
async fn evaluate_rule_at(
    state: &CourseState,
    learner: &LearnerId,
    saved: &SavedRule,
    at_ms: Option<i64>,
) {
    let Ok(_permit) = state.inner.alert_board.permits.acquire().await else {
        return;
    };
    let budget = state.inner.settings.alert_budget;
    let started = Instant::now();
    let outcome =
        tokio::time::timeout(budget, read_metrics(state, learner, &saved.rule.query)).await;
    let took = started.elapsed();
    let at_ms = at_ms.unwrap_or_else(now_ms);
    let mut changed = None;
    state.inner.alert_board.update(learner, saved.id, at_ms, |status| {
        status.took = Some(took);
        status.error = None;
        // An answer that came back, but later than the budget, costs too much all the same.
        let outcome = match outcome {
            Ok(_) if took > budget => Err(()),
            Ok(answer) => Ok(answer),
            Err(_) => Err(()),
        };
        match outcome {
            Err(()) => {
                status.paused = Some(format!(
                    "Paused: this rule's query took longer than {} to evaluate, and the lab keeps every rule under that so it never slows down. Narrow the query (a service, a span name, fewer by() labels), then resume it.",
                    crate::pictures::format_duration(budget.as_nanos() as u64)
                ));
            }
            Ok(Err(BackendError::InvalidQuery { message, .. })) => {
                status.paused = Some(format!(
                    "Paused: the query could not be evaluated — {message}. Fix it (delete the rule and add it again), or resume it if the cause has gone.",
                ));
            }
            Ok(Err(error)) => status.error = Some(error.to_string()),
            Ok(Ok(answer)) => {
                let readings = readings(&answer);
                if status
                    .evaluation
                    .observe(&saved.rule, at_ms, &readings)
                    .is_some()
                {
                    changed = Some(status.evaluation.clone());
                }
                if status.values.len() == crate::alert_board::CHART_POINTS {
                    status.values.pop_front();
                }
                status.values.push_back((at_ms, readings));
            }
        }
    });
    // Kept where a restart finds it, when the state changed.
    if let (Some(evaluation), Some(store)) = (changed, state.inner.alerts.get())
        && let Err(error) = store.save_state(saved.id, &evaluation).await
    {
        tracing::warn!(%error, rule = saved.id, "a rule's state could not be kept");
    }
}

/// Puts every rule back where it stood when last recorded (a restart of the course), before
/// the first evaluation.
pub async fn restore(state: &CourseState) {
    let Some(store) = state.inner.alerts.get().cloned() else {
        return;
    };
    match store.states().await {
        Ok(states) => {
            for (learner, id, evaluation) in states {
                let at_ms = evaluation.since_ms;
                state
                    .inner
                    .alert_board
                    .update(&learner, id, at_ms, |status| {
                        status.evaluation = evaluation;
                    });
            }
        }
        Err(error) => {
            tracing::warn!(%error, "the rules' states could not be read; they start at normal");
        }
    }
}

/// Evaluates every learner's rules once, at most [`CONCURRENCY`] at a time; paused rules are
/// skipped. Returns how many rules were evaluated.
pub async fn evaluate_all(state: &CourseState) -> usize {
    let Some(store) = state.inner.alerts.get().cloned() else {
        return 0;
    };
    let rules = match store.all_rules().await {
        Ok(rules) => rules,
        Err(error) => {
            tracing::warn!(%error, "the alert rules could not be read; trying again next interval");
            return 0;
        }
    };
    let ids: Vec<i64> = rules.iter().map(|(_, rule)| rule.id).collect();
    state.inner.alert_board.keep_only(&ids);
    let pass_ms = now_ms();
    let mut tasks = JoinSet::new();
    let mut evaluated = 0;
    for (learner, rule) in rules {
        if state.inner.alert_board.is_paused(rule.id) {
            continue;
        }
        evaluated += 1;
        let state = state.clone();
        tasks.spawn(async move { evaluate_rule_at(&state, &learner, &rule, Some(pass_ms)).await });
    }
    while tasks.join_next().await.is_some() {}
    evaluated
}

/// Starts the continuous evaluation: every `CourseSettings::alert_interval`, until the
/// returned task is aborted. An evaluation pass that runs long delays the next one rather
/// than overlapping it.
pub fn spawn(state: CourseState) -> JoinHandle<()> {
    tokio::spawn(async move {
        restore(&state).await;
        let mut ticks = tokio::time::interval(state.inner.settings.alert_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            evaluate_all(&state).await;
        }
    })
}
