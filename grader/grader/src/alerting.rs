//! Trace-based alert rules and how they are evaluated: the one state machine behind both the
//! course's continuous evaluation (the Alerts page) and the `alert` check kind, so the page
//! and the grade can never disagree.
//!
//! A rule is a TraceQL metrics query, a condition (above or below a threshold), a "for"
//! duration and a severity. At each evaluation the query's answer is reduced to one value per
//! series (an instant query's one value; [`settled_mean`] for a range answer: the mean of the
//! intervals whose spans have all arrived), [`decide`] picks the series that decides, and
//! [`Evaluation::observe`] moves the rule along normal → pending → firing → normal, keeping a
//! history of each transition with the series and value that caused it. [`judge_phases`] reads
//! such a history against a fault switched off then on, for the check's verdict.
//!
//! Nothing here does I/O or reads a clock: times are passed in, in unix milliseconds.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use dojo_traceql::model::Value;
use serde::{Deserialize, Serialize};

use crate::backend::labels_text;

/// Which side of the threshold breaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Breaches when a series' value is greater than the threshold.
    Above,
    /// Breaches when a series' value is less than the threshold.
    Below,
}

impl Condition {
    pub const ALL: [Condition; 2] = [Condition::Above, Condition::Below];

    /// The name stored and sent in forms.
    pub fn name(self) -> &'static str {
        match self {
            Condition::Above => "above",
            Condition::Below => "below",
        }
    }

    pub fn parse(name: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.name() == name)
    }

    /// True when `value` is on the breaching side of `threshold` (a NaN never breaches).
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Condition::Above => value > threshold,
            Condition::Below => value < threshold,
        }
    }
}

/// How urgent a firing rule is; carried into the exported rule's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// The name stored, sent in forms and used as the `severity` label.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One alert rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// A TraceQL metrics query (`{ … } | rate()`, `| quantile_over_time(duration, .95)`).
    pub query: String,
    pub condition: Condition,
    pub threshold: f64,
    /// How long the condition must hold before the rule fires; zero fires at once.
    pub for_duration: Duration,
    pub severity: Severity,
}

/// Where a rule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition does not hold.
    Normal,
    /// The condition holds, for less than the rule's "for" so far.
    Pending,
    /// The condition has held for at least the rule's "for".
    Firing,
}

impl AlertState {
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Normal => "normal",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One series of a query's answer reduced to one value at an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The series' labels, empty for the one series of a query without `by()`.
    pub labels: Vec<(String, Option<Value>)>,
    /// NaN when the series has no settled value.
    pub value: f64,
}

/// What one evaluation found: whether the condition holds, and the series that decided it
/// (the one furthest past the threshold, or closest to it when none is past).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub breaching: bool,
    /// `None` when no series had a value ("no data", which never breaches).
    pub series: Option<String>,
    pub value: Option<f64>,
}

/// Decides one evaluation: the condition holds when any series breaches. The deciding series
/// is the highest for `above` and the lowest for `below`, so it is the breaching one when
/// there is one, and otherwise the one nearest to breaching.
pub fn decide(rule: &AlertRule, readings: &[Reading]) -> Decision {
    let mut best: Option<&Reading> = None;
    for reading in readings.iter().filter(|r| r.value.is_finite()) {
        let better = match best {
            None => true,
            Some(current) => match rule.condition {
                Condition::Above => reading.value > current.value,
                Condition::Below => reading.value < current.value,
            },
        };
        if better {
            best = Some(reading);
        }
    }
    match best {
        Some(reading) => Decision {
            breaching: rule.condition.breaches(reading.value, rule.threshold),
            series: Some(labels_text(&reading.labels)),
            value: Some(reading.value),
        },
        None => Decision {
            breaching: false,
            series: None,
            value: None,
        },
    }
}

/// One change of state, with what caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub at_ms: i64,
    pub from: AlertState,
    pub to: AlertState,
    /// The deciding series and its value at that evaluation.
    pub series: Option<String>,
    pub value: Option<f64>,
}

/// Most transitions an [`Evaluation`] remembers (the oldest are forgotten first).
pub const HISTORY_CAP: usize = 50;

/// A rule's evaluation so far: its state, since when, and its recent transitions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub state: AlertState,
    /// When the rule entered its current state.
    pub since_ms: i64,
    /// The last evaluation's decision, when there has been one.
    pub last: Option<Decision>,
    /// When the last evaluation ran.
    pub evaluated_at_ms: Option<i64>,
    /// Transitions, oldest first, at most [`HISTORY_CAP`].
    pub history: VecDeque<Transition>,
}

impl Evaluation {
    /// A rule that has not been evaluated yet: normal since `now_ms`.
    pub fn new(now_ms: i64) -> Evaluation {
        Evaluation {
            state: AlertState::Normal,
            since_ms: now_ms,
            last: None,
            evaluated_at_ms: None,
            history: VecDeque::new(),
        }
    }

    /// Takes one evaluation at `at_ms` into account; returns the transition it caused, if any.
    pub fn observe(
        &mut self,
        rule: &AlertRule,
        at_ms: i64,
        readings: &[Reading],
    ) -> Option<Transition> {
        let decision = decide(rule, readings);
        let held_ms = at_ms.saturating_sub(self.since_ms);
        let for_ms = i64::try_from(rule.for_duration.as_millis()).unwrap_or(i64::MAX);
        let next = match (self.state, decision.breaching) {
            (AlertState::Normal, true) if for_ms == 0 => AlertState::Firing,
            (AlertState::Normal, true) => AlertState::Pending,
            (AlertState::Pending, true) if held_ms >= for_ms => AlertState::Firing,
            (AlertState::Firing, true) | (AlertState::Pending, true) => self.state,
            (_, false) => AlertState::Normal,
        };
        let transition = (next != self.state).then(|| Transition {
            at_ms,
            from: self.state,
            to: next,
            series: decision.series.clone(),
            value: decision.value,
        });
        if let Some(transition) = &transition {
            self.state = next;
            self.since_ms = at_ms;
            if self.history.len() == HISTORY_CAP {
                self.history.pop_front();
            }
            self.history.push_back(transition.clone());
        }
        self.last = Some(decision);
        self.evaluated_at_ms = Some(at_ms);
        transition
    }
}

/// A series' values (oldest first, one per interval of `step_nanos`, the last interval ending
/// at the query's end) reduced to one: the mean of the values of the intervals that ended at
/// least `settle_nanos` before the end, skipping intervals without a value. NaN when none has
/// one. The intervals still filling would read low for every rule (spans arrive in batches).
pub fn settled_mean(values: &[f64], step_nanos: u64, settle_nanos: u64) -> f64 {
    let unsettled = usize::try_from(settle_nanos.div_ceil(step_nanos.max(1))).unwrap_or(usize::MAX);
    let settled = values.len().saturating_sub(unsettled);
    let (sum, count) = values[..settled]
        .iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0u32), |(sum, count), v| (sum + v, count + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / f64::from(count)
    }
}

/// Whether the fault was on while an evaluation ran (the `alert` check switches it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The fault is off: the rule must stay normal.
    FaultOff,
    /// The fault is on: the rule must fire, within the deadline.
    FaultOn,
}

impl Phase {
    pub fn describe(self) -> &'static str {
        match self {
            Phase::FaultOff => "while the fault was off",
            Phase::FaultOn => "while the fault was on",
        }
    }
}

/// One evaluation of a graded run: when, in which phase, and the state it left the rule in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSample {
    pub at_ms: i64,
    pub phase: Phase,
    pub state: AlertState,
    pub decision: Decision,
}

/// How a rule did across the phases of an `alert` check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PhaseVerdict {
    /// Stayed normal with the fault off, fired with it on in time, and kept firing.
    Passed { fired_after_ms: i64 },
    /// Fired (at `at_ms`) although the fault was off.
    FiredWithoutFault { at_ms: i64 },
    /// Never fired while the fault was on.
    NeverFired,
    /// Fired, but `fired_after_ms` after the fault went on, past the deadline.
    FiredTooLate {
        fired_after_ms: i64,
        deadline_ms: i64,
    },
    /// Fired with the fault on, then went back to normal (at `at_ms`) while it was still on.
    Flapped { at_ms: i64 },
}

impl PhaseVerdict {
    /// The phase the rule failed in, for feedback.
    pub fn failed_phase(&self) -> Option<Phase> {
        match self {
            PhaseVerdict::Passed { .. } => None,
            PhaseVerdict::FiredWithoutFault { .. } => Some(Phase::FaultOff),
            PhaseVerdict::NeverFired
            | PhaseVerdict::FiredTooLate { .. }
            | PhaseVerdict::Flapped { .. } => Some(Phase::FaultOn),
        }
    }
}

/// Judges a graded run: evaluations while the fault was off (first), then while it was on
/// from `fault_on_at_ms`. The rule must never fire with the fault off (pending is fine), must
/// fire within `deadline` of the fault going on, and must not go back to normal after that
/// while the fault is still on.
pub fn judge_phases(
    samples: &[PhaseSample],
    fault_on_at_ms: i64,
    deadline: Duration,
) -> PhaseVerdict {
    if let Some(sample) = samples
        .iter()
        .find(|s| s.phase == Phase::FaultOff && s.state == AlertState::Firing)
    {
        return PhaseVerdict::FiredWithoutFault {
            at_ms: sample.at_ms,
        };
    }
    let on: Vec<&PhaseSample> = samples
        .iter()
        .filter(|s| s.phase == Phase::FaultOn)
        .collect();
    let Some(first_fire) = on.iter().position(|s| s.state == AlertState::Firing) else {
        return PhaseVerdict::NeverFired;
    };
    let fired_after_ms = on[first_fire].at_ms.saturating_sub(fault_on_at_ms);
    let deadline_ms = i64::try_from(deadline.as_millis()).unwrap_or(i64::MAX);
    if fired_after_ms > deadline_ms {
        return PhaseVerdict::FiredTooLate {
            fired_after_ms,
            deadline_ms,
        };
    }
    if let Some(dropped) = on[first_fire..]
        .iter()
        .find(|s| s.state != AlertState::Firing)
    {
        return PhaseVerdict::Flapped {
            at_ms: dropped.at_ms,
        };
    }
    PhaseVerdict::Passed { fired_after_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(condition: Condition, threshold: f64, for_secs: u64) -> AlertRule {
        AlertRule {
            query: "{ status = error } | rate()".into(),
            condition,
            threshold,
            for_duration: Duration::from_secs(for_secs),
            severity: Severity::Warning,
        }
    }

    fn one(value: f64) -> Vec<Reading> {
        vec![Reading {
            labels: Vec::new(),
            value,
        }]
    }

    #[test]
    fn the_deciding_series_is_the_one_furthest_past_the_threshold() {
        let readings = vec![
            Reading {
                labels: vec![("svc".into(), Some(Value::str("api")))],
                value: 0.2,
            },
            Reading {
                labels: vec![("svc".into(), Some(Value::str("payments")))],
                value: 0.9,
            },
            Reading {
                labels: vec![("svc".into(), Some(Value::str("frontend")))],
                value: f64::NAN,
            },
        ];
        let above = decide(&rule(Condition::Above, 0.5, 0), &readings);
        assert!(above.breaching);
        assert_eq!(above.series.as_deref(), Some("svc=\"payments\""));
        assert_eq!(above.value, Some(0.9));

        let below = decide(&rule(Condition::Below, 0.1, 0), &readings);
        assert!(!below.breaching, "0.2 is not below 0.1");
        assert_eq!(
            below.series.as_deref(),
            Some("svc=\"api\""),
            "the nearest to breaching"
        );

        let at_threshold = decide(&rule(Condition::Above, 0.9, 0), &readings);
        assert!(
            !at_threshold.breaching,
            "equal to the threshold is not above it"
        );
    }

    #[test]
    fn no_data_never_breaches() {
        for condition in Condition::ALL {
            let decision = decide(&rule(condition, 1.0, 0), &one(f64::NAN));
            assert!(!decision.breaching, "{condition:?}");
            assert_eq!(decision.series, None);
            assert!(!decide(&rule(condition, 1.0, 0), &[]).breaching);
        }
    }

    #[test]
    fn a_rule_goes_pending_then_firing_after_its_for_then_back_to_normal() {
        let rule = rule(Condition::Above, 1.0, 30);
        let mut eval = Evaluation::new(0);
        assert_eq!(
            eval.observe(&rule, 0, &one(0.5)),
            None,
            "normal stays normal"
        );

        let pending = eval
            .observe(&rule, 15_000, &one(2.0))
            .expect("goes pending");
        assert_eq!(
            (pending.from, pending.to),
            (AlertState::Normal, AlertState::Pending)
        );
        assert_eq!(pending.value, Some(2.0));

        assert_eq!(
            eval.observe(&rule, 30_000, &one(3.0)),
            None,
            "15 s held: still pending"
        );
        let firing = eval
            .observe(&rule, 45_000, &one(2.5))
            .expect("30 s held: fires");
        assert_eq!(
            (firing.from, firing.to),
            (AlertState::Pending, AlertState::Firing)
        );
        assert_eq!(firing.value, Some(2.5));
        assert_eq!(eval.observe(&rule, 60_000, &one(4.0)), None, "keeps firing");

        let resolved = eval.observe(&rule, 75_000, &one(0.1)).expect("resolves");
        assert_eq!(
            (resolved.from, resolved.to),
            (AlertState::Firing, AlertState::Normal)
        );
        assert_eq!(eval.state, AlertState::Normal);
        assert_eq!(eval.since_ms, 75_000);
        let states: Vec<AlertState> = eval.history.iter().map(|t| t.to).collect();
        assert_eq!(
            states,
            vec![AlertState::Pending, AlertState::Firing, AlertState::Normal]
        );
    }

    #[test]
    fn a_breach_shorter_than_the_for_never_fires() {
        let rule = rule(Condition::Below, 10.0, 60);
        let mut eval = Evaluation::new(0);
        eval.observe(&rule, 0, &one(5.0));
        eval.observe(&rule, 30_000, &one(5.0));
        let back = eval
            .observe(&rule, 45_000, &one(20.0))
            .expect("back to normal");
        assert_eq!(
            (back.from, back.to),
            (AlertState::Pending, AlertState::Normal)
        );
        eval.observe(&rule, 60_000, &one(5.0));
        assert_eq!(eval.state, AlertState::Pending, "the for starts again");
        assert!(eval.history.iter().all(|t| t.to != AlertState::Firing));
    }

    #[test]
    fn a_rule_without_for_fires_at_the_first_breach() {
        let rule = rule(Condition::Above, 1.0, 0);
        let mut eval = Evaluation::new(0);
        let t = eval.observe(&rule, 5_000, &one(1.5)).expect("fires");
        assert_eq!((t.from, t.to), (AlertState::Normal, AlertState::Firing));
    }

    #[test]
    fn history_keeps_the_newest_transitions() {
        let rule = rule(Condition::Above, 1.0, 0);
        let mut eval = Evaluation::new(0);
        for i in 0..(HISTORY_CAP as i64 + 10) {
            eval.observe(&rule, i * 1000, &one(if i % 2 == 0 { 2.0 } else { 0.0 }));
        }
        assert_eq!(eval.history.len(), HISTORY_CAP);
        assert_eq!(
            eval.history.back().map(|t| t.at_ms),
            Some((HISTORY_CAP as i64 + 9) * 1000)
        );
    }

    #[test]
    fn the_settled_mean_leaves_out_the_intervals_still_filling_and_the_empty_ones() {
        // 5 s intervals, 10 s to settle: the last two are left out.
        let values = [1.0, f64::NAN, 3.0, 100.0, 100.0];
        assert_eq!(settled_mean(&values, 5_000_000_000, 10_000_000_000), 2.0);
        assert!(settled_mean(&[f64::NAN, 1.0], 5_000_000_000, 5_000_000_000).is_nan());
        assert!(settled_mean(&[], 1, 0).is_nan());
        assert_eq!(
            settled_mean(&[4.0, 2.0], 0, 0),
            3.0,
            "a zero step does not divide by zero"
        );
    }

    fn run(states: &[(i64, Phase, AlertState)]) -> Vec<PhaseSample> {
        states
            .iter()
            .map(|&(at_ms, phase, state)| PhaseSample {
                at_ms,
                phase,
                state,
                decision: Decision {
                    breaching: state != AlertState::Normal,
                    series: None,
                    value: None,
                },
            })
            .collect()
    }

    #[test]
    fn judging_phases_names_each_way_a_rule_can_fail() {
        use AlertState::{Firing, Normal, Pending};
        use Phase::{FaultOff, FaultOn};
        let deadline = Duration::from_secs(30);
        type Run = Vec<(i64, Phase, AlertState)>;
        let cases: Vec<(&str, Run, PhaseVerdict)> = vec![
            (
                "the reference",
                vec![
                    (0, FaultOff, Normal),
                    (10_000, FaultOff, Pending),
                    (30_000, FaultOn, Pending),
                    (40_000, FaultOn, Firing),
                    (50_000, FaultOn, Firing),
                ],
                PhaseVerdict::Passed {
                    fired_after_ms: 20_000,
                },
            ),
            (
                "fires with the fault off",
                vec![(0, FaultOff, Firing), (30_000, FaultOn, Firing)],
                PhaseVerdict::FiredWithoutFault { at_ms: 0 },
            ),
            (
                "never fires",
                vec![
                    (0, FaultOff, Normal),
                    (30_000, FaultOn, Pending),
                    (60_000, FaultOn, Normal),
                ],
                PhaseVerdict::NeverFired,
            ),
            (
                "fires too late",
                vec![
                    (0, FaultOff, Normal),
                    (30_000, FaultOn, Pending),
                    (70_000, FaultOn, Firing),
                ],
                PhaseVerdict::FiredTooLate {
                    fired_after_ms: 50_000,
                    deadline_ms: 30_000,
                },
            ),
            (
                "flaps",
                vec![
                    (0, FaultOff, Normal),
                    (30_000, FaultOn, Firing),
                    (40_000, FaultOn, Normal),
                    (50_000, FaultOn, Firing),
                ],
                PhaseVerdict::Flapped { at_ms: 40_000 },
            ),
        ];
        for (name, states, expected) in cases {
            let verdict = judge_phases(&run(&states), 20_000, deadline);
            assert_eq!(verdict, expected, "{name}");
        }
        assert_eq!(
            PhaseVerdict::FiredWithoutFault { at_ms: 0 }.failed_phase(),
            Some(FaultOff)
        );
        assert_eq!(PhaseVerdict::NeverFired.failed_phase(), Some(FaultOn));
    }
}
