//! The continuous evaluation of every learner's alert rules: a spawned task ([`spawn`]) that,
//! every interval (`CourseSettings::alert_interval`, 15 s by default), runs each rule's query
//! against that learner's own traces and feeds the answer to the rule's
//! [`dojo_grader::alerting::Evaluation`], the same state machine the `alert` check uses. The
//! states, their history and the values that decided them are kept in memory in an
//! [`AlertBoard`] for the Alerts page.
//!
//! Budgeted: at most [`CONCURRENCY`] rules run at once, each on the blocking pool through the
//! trace source, and a rule whose query runs past `CourseSettings::alert_budget` (2 s by
//! default) or past the engine's step
//! budget is paused with a message saying why, until the learner resumes it. The loop never
//! holds a lock across a query, so pages are served while it runs.
//!
//! Every read of metrics goes through [`read_metrics`], the one place that knows where a
//! learner's traces come from.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dojo_grader::alerting::{Evaluation, Reading, settled_mean};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use crate::alerts::SavedRule;
use crate::backend::{LearnerId, MetricsAnswer, MetricsSeries, SearchError};
use crate::state::CourseState;

/// How far back each evaluation's query reads: the rule's value is the mean of the settled
/// intervals in it (Grafana's *Reduce → Mean* over the same range in the export).
pub const LOOKBACK: Duration = Duration::from_secs(60);
/// How long after an interval ends its spans can still be arriving (services export in
/// batches every few seconds).
pub const SETTLE: Duration = Duration::from_secs(10);
/// Rules evaluated at once (the lab runs on a laptop's couple of cores).
pub const CONCURRENCY: usize = 2;
/// Evaluations whose values the page's chart shows, per rule (10 minutes at 15 s).
pub const CHART_POINTS: usize = 40;

/// Where one rule stands, as the page shows it.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    pub learner: LearnerId,
    pub evaluation: Evaluation,
    /// Why the rule is not evaluated any more, until the learner resumes it.
    pub paused: Option<String>,
    /// The last evaluation could not run (the store did not answer); it is tried again.
    pub error: Option<String>,
    /// Why this lab cannot evaluate the rule here (a remote Tempo without metrics queries).
    pub elsewhere: bool,
    /// The values each evaluation decided on, oldest first: (unix ms, one reading per series).
    pub values: VecDeque<(i64, Vec<Reading>)>,
    /// How long the last evaluation took.
    pub took: Option<Duration>,
}

impl RuleStatus {
    fn new(learner: LearnerId, now_ms: i64) -> RuleStatus {
        RuleStatus {
            learner,
            evaluation: Evaluation::new(now_ms),
            paused: None,
            error: None,
            elsewhere: false,
            values: VecDeque::new(),
            took: None,
        }
    }

    /// The decided values as a time series the chart draws: one point per evaluation.
    pub fn chart_answer(&self, interval: Duration) -> Option<MetricsAnswer> {
        let (first_ms, _) = self.values.front()?;
        let step_ms = i64::try_from(interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let points = self
            .values
            .back()
            .map_or(0, |(last, _)| ((last - first_ms) / step_ms) as usize + 1);
        let mut series: Vec<MetricsSeries> = Vec::new();
        for (at_ms, readings) in &self.values {
            let index = ((at_ms - first_ms) / step_ms) as usize;
            for reading in readings {
                let position = match series.iter().position(|s| s.labels == reading.labels) {
                    Some(position) => position,
                    None => {
                        series.push(MetricsSeries {
                            labels: reading.labels.clone(),
                            last: None,
                            points: 0,
                            largest: None,
                            values: vec![f64::NAN; points],
                        });
                        series.len() - 1
                    }
                };
                if let Some(slot) = series[position].values.get_mut(index) {
                    *slot = reading.value;
                }
            }
        }
        let step_nanos = interval.as_nanos() as u64;
        Some(MetricsAnswer {
            start_nanos: (u64::try_from(*first_ms).unwrap_or(0) * 1_000_000)
                .saturating_sub(step_nanos),
            step_nanos,
            series,
        })
    }
}

/// Every rule's status, by rule id (ids are unique across learners).
#[derive(Debug, Default)]
pub struct AlertBoard {
    rules: Mutex<HashMap<i64, RuleStatus>>,
}

impl AlertBoard {
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, RuleStatus>> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status of `learner`'s rule `id`; `None` when it has not been evaluated yet or is
    /// not theirs.
    pub fn status(&self, learner: &LearnerId, id: i64) -> Option<RuleStatus> {
        self.lock()
            .get(&id)
            .filter(|s| &s.learner == learner)
            .cloned()
    }

    /// Lets a paused rule of `learner` run again; false when it was not paused.
    pub fn resume(&self, learner: &LearnerId, id: i64) -> bool {
        match self.lock().get_mut(&id) {
            Some(status) if &status.learner == learner && status.paused.is_some() => {
                status.paused = None;
                true
            }
            _ => false,
        }
    }

    /// Forgets rules that are no longer stored.
    fn keep_only(&self, ids: &[i64]) {
        self.lock().retain(|id, _| ids.contains(id));
    }

    fn is_paused(&self, id: i64) -> bool {
        self.lock().get(&id).is_some_and(|s| s.paused.is_some())
    }

    fn update(&self, learner: &LearnerId, id: i64, now_ms: i64, f: impl FnOnce(&mut RuleStatus)) {
        let mut rules = self.lock();
        let status = rules
            .entry(id)
            .or_insert_with(|| RuleStatus::new(learner.clone(), now_ms));
        f(status);
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs a metrics query over `window` against `learner`'s own traces: their tenant when the
/// store keeps learners apart (a workshop), the lab's traces otherwise. `None` when the
/// source cannot run metrics queries. The one place the alerts read metrics.
pub async fn read_metrics(
    state: &CourseState,
    learner: &LearnerId,
    query: &str,
    window: Duration,
) -> Result<Option<MetricsAnswer>, SearchError> {
    let traces = state
        .inner
        .traces
        .for_learner(Some(learner))
        .unwrap_or_else(|| state.inner.traces.clone());
    traces.metrics(query, window).await
}

/// A query's answer reduced to one reading per series.
pub fn readings(answer: &MetricsAnswer) -> Vec<Reading> {
    answer
        .series
        .iter()
        .map(|s| Reading {
            labels: s.labels.clone(),
            value: settled_mean(&s.values, answer.step_nanos, SETTLE.as_nanos() as u64),
        })
        .collect()
}

/// Evaluates one rule now and records the outcome on the board.
pub async fn evaluate_rule(state: &CourseState, learner: &LearnerId, saved: &SavedRule) {
    let budget = state.inner.settings.alert_budget;
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        budget,
        read_metrics(state, learner, &saved.rule.query, LOOKBACK),
    )
    .await;
    let took = started.elapsed();
    let at_ms = now_ms();
    state.inner.alert_board.update(learner, saved.id, at_ms, |status| {
        status.took = Some(took);
        status.error = None;
        status.elsewhere = false;
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
            Ok(Err(SearchError::Query(error))) => {
                status.paused = Some(format!(
                    "Paused: the query could not be evaluated — {}. Fix it (delete the rule and add it again), or resume it if the cause has gone.",
                    error.message
                ));
            }
            Ok(Err(SearchError::Backend(error))) => status.error = Some(error.to_string()),
            Ok(Ok(None)) => status.elsewhere = true,
            Ok(Ok(Some(answer))) => {
                let readings = readings(&answer);
                status.evaluation.observe(&saved.rule, at_ms, &readings);
                if status.values.len() == CHART_POINTS {
                    status.values.pop_front();
                }
                status.values.push_back((at_ms, readings));
            }
        }
    });
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
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    let mut evaluated = 0;
    for (learner, rule) in rules {
        if state.inner.alert_board.is_paused(rule.id) {
            continue;
        }
        evaluated += 1;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let state = state.clone();
        tasks.spawn(async move {
            evaluate_rule(&state, &learner, &rule).await;
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    evaluated
}

/// Starts the continuous evaluation: every `CourseSettings::alert_interval`, until the
/// returned task is aborted. An evaluation pass that runs long delays the next one rather
/// than overlapping it.
pub fn spawn(state: CourseState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(state.inner.settings.alert_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            evaluate_all(&state).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_resumes_a_paused_rule() {
        let board = AlertBoard::default();
        let (ada, bob) = (LearnerId("ada".into()), LearnerId("bob".into()));
        board.update(&ada, 7, 0, |s| s.paused = Some("too slow".into()));
        assert!(board.is_paused(7));
        assert!(!board.resume(&bob, 7), "bob cannot resume ada's rule");
        assert!(board.status(&bob, 7).is_none(), "nor read it");
        assert!(board.is_paused(7));
        assert!(board.resume(&ada, 7));
        assert!(!board.is_paused(7));
        assert!(
            !board.resume(&ada, 7),
            "a running rule is not resumed again"
        );
        board.keep_only(&[]);
        assert!(
            board.status(&ada, 7).is_none(),
            "a deleted rule is forgotten"
        );
    }

    #[test]
    fn the_chart_places_each_evaluation_at_its_interval() {
        let mut status = RuleStatus::new(LearnerId("ada".into()), 0);
        let reading = |labels: &str, value| Reading {
            labels: labels.into(),
            value,
        };
        status.values.push_back((15_000, vec![reading("a", 1.0)]));
        status
            .values
            .push_back((30_000, vec![reading("a", 2.0), reading("b", 5.0)]));
        status.values.push_back((60_000, vec![reading("b", 3.0)]));
        let answer = status
            .chart_answer(Duration::from_secs(15))
            .expect("values to draw");
        assert_eq!(answer.step_nanos, 15_000_000_000);
        assert_eq!(
            answer.start_nanos, 0,
            "the first point ends the first interval"
        );
        assert_eq!(answer.series.len(), 2);
        let a = &answer.series[0].values;
        assert_eq!((a.len(), a[0], a[1]), (4, 1.0, 2.0));
        assert!(a[2].is_nan() && a[3].is_nan());
        let b = &answer.series[1].values;
        assert!(b[0].is_nan());
        assert_eq!(
            (b[1], b[3]),
            (5.0, 3.0),
            "a skipped evaluation leaves a gap"
        );
    }
}
