//! Where every learner's alert rules stand, in memory: the [`AlertBoard`] the continuous
//! evaluation (`alert_evaluation`) writes and the Alerts page reads, one [`RuleStatus`] per
//! rule: its [`Evaluation`] (state, since when, history), why it is paused, and the values each
//! evaluation decided on, for the chart. A learner only ever reads or resumes their own.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use dojo_grader::alerting::{Evaluation, Reading};
use tokio::sync::Semaphore;

use dojo_grader::backend::{MetricsAnswer, MetricsSeries};

use crate::backend::LearnerId;

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
    /// The values each evaluation decided on, oldest first: (unix ms, one reading per series).
    pub values: VecDeque<(i64, Vec<Reading>)>,
    /// How long the last evaluation took.
    pub took: Option<Duration>,
}

impl RuleStatus {
    pub(crate) fn new(learner: LearnerId, now_ms: i64) -> RuleStatus {
        RuleStatus {
            learner,
            evaluation: Evaluation::new(now_ms),
            paused: None,
            error: None,
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
#[derive(Debug)]
pub struct AlertBoard {
    rules: Mutex<HashMap<i64, RuleStatus>>,
    /// One permit per rule evaluated at a time, whoever starts it (the loop, or a rule just
    /// added), so evaluations never take more than [`CONCURRENCY`] cores from the lab.
    pub(crate) permits: Semaphore,
}

/// Rules evaluated at once (the lab runs on a laptop's couple of cores).
pub const CONCURRENCY: usize = 2;

impl Default for AlertBoard {
    fn default() -> Self {
        AlertBoard {
            rules: Mutex::default(),
            permits: Semaphore::new(CONCURRENCY),
        }
    }
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
    pub(crate) fn keep_only(&self, ids: &[i64]) {
        self.lock().retain(|id, _| ids.contains(id));
    }

    pub(crate) fn is_paused(&self, id: i64) -> bool {
        self.lock().get(&id).is_some_and(|s| s.paused.is_some())
    }

    pub(crate) fn update(
        &self,
        learner: &LearnerId,
        id: i64,
        now_ms: i64,
        f: impl FnOnce(&mut RuleStatus),
    ) {
        let mut rules = self.lock();
        let status = rules
            .entry(id)
            .or_insert_with(|| RuleStatus::new(learner.clone(), now_ms));
        f(status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_resumes_a_paused_rule() {
        let board = AlertBoard::default();
        let (ada, bob) = (LearnerId::for_name("ada"), LearnerId::for_name("bob"));
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
        let mut status = RuleStatus::new(LearnerId::for_name("ada"), 0);
        let reading = |labels: &str, value| Reading {
            labels: vec![(labels.to_string(), None)],
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
