//! An alert rule, checked against a real fault: the grader switches a fault of the catalogue
//! off, then on, for the learner's own traffic only ([`crate::fault_switch`]), evaluates the
//! rule every `interval` over the learner's own traces with the same state machine as the
//! Alerts page ([`crate::alerting`]), puts the fault back as the learner's variant had it,
//! and judges the two phases with [`judge_phases`]: the rule must stay quiet with the fault
//! off, fire within the deadline once it is on, and keep firing.
//!
//! **Why off first, then on.** Each evaluation reads the last `lookback` of traffic, ending
//! `settle` before now (60 s and 10 s, as on the Alerts page). A window that still holds
//! faulty traffic is not a healthy shop, so a phase "off" after a phase "on" would have to
//! wait a whole window first. With the phase "off" first, its windows hold only the traffic
//! from before grading — healthy, unless the learner's own variant had the fault on: then it
//! is switched off and the grading waits `lookback + settle` ("clearing") before the phase
//! "off" starts, so no evaluation of it sees a faulty request. The fault may also have hit
//! the learner a moment before without being on now (a grading just before this one, an
//! instructor's toggle): the grading then waits while the catalogue's signature query for the
//! fault still finds one of the learner's traces in the window. Phase 1 lasts `off_phase`, or
//! the rule's own "for" and two intervals when that is longer, so a rule that breaches on a
//! healthy shop is seen to fire. The phase "on" follows at once; its first windows are still
//! mostly healthy, which is why the deadline is counted from the switch and is longer than
//! the window.
//!
//! Whatever happens — an error, a timeout, the grading dropped halfway — the fault is put
//! back: normally at the end, otherwise by [`Restorer`]'s drop, which spawns the restore.
//! The feedback shows both phases, each evaluation's state, deciding series and value against
//! the threshold, and names which way the rule failed and in which phase. It never shows the
//! reference rule.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::GradeError;
use super::feedback::{Feedback, Item, Verdict};
use crate::alerting::{
    AlertRule, Condition, Evaluation, Phase, PhaseSample, PhaseVerdict, Reading, Severity,
    judge_phases, settled_mean,
};
use crate::backend::{BackendError, MetricsRequest, SearchRequest, TraceBackend, Window};
use crate::fault_switch::{self, Activation, Before, FaultSwitch, Scope, SwitchError};
use crate::query::{self, Vars, render};
use crate::spec::types::{AlertCheck, RuleSpec};

/// Everything the check needs besides the spec and the rule.
#[derive(Clone)]
pub struct Context<'a> {
    pub backend: &'a dyn TraceBackend,
    /// The learner's own traces.
    pub tenant: Option<&'a str>,
    pub vars: Vars<'a>,
    /// Switches the fault at the services.
    pub switch: Arc<dyn FaultSwitch>,
    /// Whose requests the fault is switched for.
    pub scope: Scope,
}

/// Where a graded run stands, reported as it goes (the course's job page, `dojo grade`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Progress {
    /// The learner's variant had the fault on: waiting for the window to hold none of it.
    Clearing { until_ms: i64 },
    /// Watching the rule in a phase, which ends at `until_ms`; `sample` is the evaluation
    /// just made.
    Watching {
        phase: Phase,
        until_ms: i64,
        sample: Option<PhaseSample>,
    },
    /// Putting the fault back as it was.
    Restoring,
}

/// A rule parsed from its spec or submitted form.
pub fn parse_rule(rule: &RuleSpec) -> Result<AlertRule, String> {
    let condition = Condition::parse(rule.condition.trim()).ok_or_else(|| {
        format!(
            "the condition `{}` is not `above` or `below`",
            rule.condition
        )
    })?;
    let severity = Severity::parse(rule.severity.trim()).ok_or_else(|| {
        format!(
            "the severity `{}` is not one of info, warning, critical",
            rule.severity
        )
    })?;
    if !rule.threshold.is_finite() {
        return Err("the threshold is not a number".to_string());
    }
    Ok(AlertRule {
        query: rule.query.trim().to_string(),
        condition,
        threshold: rule.threshold,
        for_duration: rule.for_duration.0,
        severity,
    })
}

/// What is wrong with an alert check's timings, for the spec's validation: `(field, problem)`.
pub fn timing_problems(check: &AlertCheck) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if check.interval.0 < Duration::from_secs(1) {
        problems.push(("interval", format!("{} is under 1s", check.interval)));
    }
    if check.lookback.0 < Duration::from_secs(5) {
        problems.push(("lookback", format!("{} is under 5s", check.lookback)));
    }
    if check.off_phase.0 < check.interval.0 {
        problems.push((
            "off_phase",
            format!("{} is shorter than the interval", check.off_phase),
        ));
    }
    if check.deadline.0 > check.on_phase.0 || check.deadline.0 < check.interval.0 {
        problems.push((
            "deadline",
            format!(
                "{} is not between the interval ({}) and on_phase ({})",
                check.deadline, check.interval, check.on_phase
            ),
        ));
    }
    problems
}

/// The check with its window, interval, phases and deadline multiplied by `scale` (a test's
/// shortening); the settle time stays, as spans take as long to arrive whatever the scale.
pub fn scaled(check: &AlertCheck, scale: f64) -> AlertCheck {
    if !(scale.is_finite() && scale > 0.0) || scale == 1.0 {
        return check.clone();
    }
    let by = |d: crate::spec::duration::SpecDuration| {
        crate::spec::duration::SpecDuration(d.0.mul_f64(scale))
    };
    AlertCheck {
        lookback: by(check.lookback),
        interval: by(check.interval),
        off_phase: by(check.off_phase),
        on_phase: by(check.on_phase),
        deadline: by(check.deadline),
        ..check.clone()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// One evaluation's readings: the query as one instant over the `lookback` that ended
/// `settle` ago, in the learner's tenant, one value per series.
async fn read(
    ctx: &Context<'_>,
    check: &AlertCheck,
    query: &str,
) -> Result<Vec<Reading>, BackendError> {
    let end = u64::try_from(now_ms())
        .unwrap_or(0)
        .saturating_mul(1_000_000)
        .saturating_sub(nanos(check.settle.0));
    let range = nanos(check.lookback.0).max(1);
    let answer = ctx
        .backend
        .metrics(MetricsRequest {
            tenant: ctx.tenant,
            query,
            parsed: None,
            start_nanos: end.saturating_sub(range),
            end_nanos: end,
            step_nanos: range,
        })
        .await?;
    Ok(answer
        .series
        .iter()
        .map(|s| Reading {
            labels: s.labels.clone(),
            value: settled_mean(&s.values, answer.step_nanos, 0),
        })
        .collect())
}

/// Whether the learner's traffic of the last window (and the moments since) holds a trace
/// showing the check's fault, by the catalogue's signature query for it.
async fn fault_in_window(ctx: &Context<'_>, check: &AlertCheck) -> Result<bool, BackendError> {
    let Some(signature) = dojo_faults::catalogue::catalogue()
        .iter()
        .find(|spec| spec.id.as_str() == check.fault.fault)
        .map(|spec| spec.signature)
    else {
        return Ok(false);
    };
    let hits = ctx
        .backend
        .search(SearchRequest {
            tenant: ctx.tenant,
            query: signature,
            parsed: None,
            window: Window::ending_now(
                check.lookback.0 + check.settle.0 + check.interval.0,
                Duration::ZERO,
            ),
            limit: 1,
            spans_per_spanset: 1,
        })
        .await?;
    Ok(!hits.is_empty())
}

/// Puts the fault back when dropped before [`Restorer::restore`] ran (an error or a
/// cancelled grading), on a spawned task since a drop cannot wait.
struct Restorer {
    switch: Arc<dyn FaultSwitch>,
    before: Option<Before>,
}

impl Restorer {
    async fn restore(mut self) -> Result<(), SwitchError> {
        match self.before.take() {
            Some(before) => fault_switch::restore(self.switch.as_ref(), &before).await,
            None => Ok(()),
        }
    }
}

impl Drop for Restorer {
    fn drop(&mut self) {
        if let Some(before) = self.before.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let switch = self.switch.clone();
            runtime.spawn(async move {
                if let Err(error) = fault_switch::restore(switch.as_ref(), &before).await {
                    tracing::error!(%error, fault = %before.fault, "a graded fault could not be put back");
                }
            });
        }
    }
}

fn switch_error(error: SwitchError) -> GradeError {
    match error {
        SwitchError::Busy { .. } => GradeError::Input(error.to_string()),
        SwitchError::Service(message) => GradeError::Input(format!(
            "the shop's faults could not be switched, so the rule could not be graded: {message}. Is the lab running?"
        )),
    }
}

/// Grades `submitted` (the learner's rule) against `check`, reporting each step to
/// `progress`. Takes the phases' whole length (about two minutes by default).
pub async fn grade(
    ctx: &Context<'_>,
    check: &AlertCheck,
    submitted: &RuleSpec,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Feedback, GradeError> {
    let rule = match parse_rule(submitted) {
        Ok(rule) => rule,
        Err(problem) => {
            return Err(GradeError::Input(format!(
                "This rule cannot be graded: {problem}."
            )));
        }
    };
    let query_text = render(&rule.query, &ctx.vars);
    match query::parse(&query_text) {
        Err(error) => {
            return Ok(Feedback {
                verdict: Verdict::Fail,
                score: 0.0,
                headline: "The rule's query does not parse.".to_string(),
                items: Vec::new(),
                syntax_error: Some(error.syntax()),
            });
        }
        Ok(parsed) if !parsed.query().is_metrics() => {
            return Ok(fail_now(
                "The rule's query is a search, not a metrics query: an alert needs a number. End it with a metrics function such as `| rate()` or `| quantile_over_time(duration, .95)`.",
            ));
        }
        Ok(_) => {}
    }
    // Without any traffic, every rule would "never fire": say so instead of judging.
    let traffic = read(ctx, check, "{ kind = server } | count_over_time()")
        .await
        .map_err(GradeError::Backend)?;
    if !traffic.iter().any(|r| r.value.is_finite() && r.value > 0.0) {
        return Ok(Feedback::not_ready(
            format!(
                "The shop has sent none of your traffic in the last {}: start the lab with its load generator (`dojo up`) and grade again in a minute.",
                check.lookback
            ),
            Vec::new(),
        ));
    }

    let fault = &check.fault.fault;
    let before = fault_switch::switch_off(ctx.switch.as_ref(), fault, &ctx.scope)
        .await
        .map_err(switch_error)?;
    let restorer = Restorer {
        switch: ctx.switch.clone(),
        before: Some(before.clone()),
    };
    let interval = check.interval.0;
    let window = check.lookback.0 + check.settle.0;
    if before.hit() {
        progress(Progress::Clearing {
            until_ms: now_ms() + ms(window),
        });
        tokio::time::sleep(window).await;
    }
    // The fault may also have hit the learner's traffic a moment ago (a grading just before
    // this one, an instructor's toggle): wait until the window holds no trace showing it.
    let give_up = tokio::time::Instant::now() + window * 3;
    while fault_in_window(ctx, check)
        .await
        .map_err(GradeError::Backend)?
        && tokio::time::Instant::now() < give_up
    {
        progress(Progress::Clearing {
            until_ms: now_ms() + ms(window),
        });
        tokio::time::sleep(interval).await;
    }

    let mut samples: Vec<PhaseSample> = Vec::new();
    let off_start = now_ms();
    let mut evaluation = Evaluation::new(off_start);
    let watch = |phase: Phase, until_ms: i64, sample: Option<PhaseSample>| {
        progress(Progress::Watching {
            phase,
            until_ms,
            sample,
        })
    };
    // Phase 1 lasts long enough for the rule's own "for" to run out, so that a rule breaching
    // on a healthy shop is seen firing, however long its "for".
    let off_length = check.off_phase.0.max(rule.for_duration + interval * 2);
    let off_until = off_start + ms(off_length);
    watch(Phase::FaultOff, off_until, None);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut fault_on_at = None;
    let on_at = loop {
        ticks.tick().await;
        let at = now_ms();
        let phase = match fault_on_at {
            None if at >= off_until => {
                let asked =
                    Activation::asked(fault, &check.fault.params, check.fault.fraction, None);
                fault_switch::switch_on(ctx.switch.as_ref(), fault, &asked, &ctx.scope)
                    .await
                    .map_err(switch_error)?;
                let on_at = now_ms();
                fault_on_at = Some(on_at);
                watch(Phase::FaultOn, on_at + ms(check.on_phase.0), None);
                // The first evaluation of the phase "on" is one interval after the switch.
                ticks.reset();
                continue;
            }
            None => Phase::FaultOff,
            Some(_) => Phase::FaultOn,
        };
        let readings = match read(ctx, check, &query_text).await {
            Ok(readings) => readings,
            Err(BackendError::InvalidQuery { message, .. }) => {
                return Ok(fail_now(&format!(
                    "The rule's query cannot be evaluated: {message}."
                )));
            }
            Err(other) => return Err(GradeError::Backend(other)),
        };
        evaluation.observe(&rule, at, &readings);
        let sample = PhaseSample {
            at_ms: at,
            phase,
            state: evaluation.state,
            decision: evaluation
                .last
                .clone()
                .unwrap_or(crate::alerting::Decision {
                    breaching: false,
                    series: None,
                    value: None,
                }),
        };
        samples.push(sample.clone());
        let until = match fault_on_at {
            Some(on_at) => on_at + ms(check.on_phase.0),
            None => off_until,
        };
        watch(phase, until, Some(sample));
        if let Some(on_at) = fault_on_at
            && now_ms() >= on_at + ms(check.on_phase.0)
        {
            break on_at;
        }
    };
    progress(Progress::Restoring);
    restorer.restore().await.map_err(switch_error)?;

    let verdict = judge_phases(&samples, on_at, check.deadline.0);
    Ok(feedback(&rule, check, &samples, off_start, on_at, &verdict))
}

fn fail_now(headline: &str) -> Feedback {
    Feedback {
        verdict: Verdict::Fail,
        score: 0.0,
        headline: headline.to_string(),
        items: Vec::new(),
        syntax_error: None,
    }
}

/// A value as the learner reads it.
fn number(value: f64) -> String {
    if value == 0.0 {
        "0".to_string()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// The threshold as a sentence: `above 0.5`.
fn threshold(rule: &AlertRule) -> String {
    format!("{} {}", rule.condition.name(), number(rule.threshold))
}

fn seconds(ms: i64) -> String {
    format!("{:.0} s", ms as f64 / 1000.0)
}

/// One phase's evaluations, a line each: when, the state, the deciding series and its value.
fn phase_lines(samples: &[&PhaseSample], started_ms: i64) -> String {
    samples
        .iter()
        .map(|s| {
            let value = match (&s.decision.series, s.decision.value) {
                (Some(series), Some(value)) => {
                    let series = if series.is_empty() {
                        "the one series".to_string()
                    } else {
                        series.clone()
                    };
                    format!("{} ({series})", number(value))
                }
                _ => "no data".to_string(),
            };
            format!(
                "+{:>3}  {:<7}  {value}",
                seconds(s.at_ms - started_ms),
                s.state.name()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a phase went wrong, or that it went right.
fn phase_item(
    rule: &AlertRule,
    phase: Phase,
    samples: &[&PhaseSample],
    started_ms: i64,
    verdict: &PhaseVerdict,
) -> Item {
    let title = match phase {
        Phase::FaultOff => "Phase 1 — fault off: the rule must stay quiet",
        Phase::FaultOn => "Phase 2 — fault on: the rule must fire, and keep firing",
    };
    let lines = phase_lines(samples, started_ms);
    let no_data = samples.iter().all(|s| s.decision.value.is_none());
    let rest = format!(
        "Threshold: {}. Each evaluation (seconds into the phase, state, deciding value and series):\n{lines}",
        threshold(rule)
    );
    if verdict.failed_phase() != Some(phase) {
        return Item::pass(title, rest);
    }
    let why = match verdict {
        PhaseVerdict::FiredWithoutFault { at_ms } => format!(
            "Your rule fired {} into this phase although the fault was off: it would page someone while the shop is healthy. Is the condition the right way round, and is the threshold beyond the values a healthy shop shows?",
            seconds(at_ms - started_ms)
        ),
        PhaseVerdict::NeverFired if no_data => "Your rule never fired: its query found no spans at all while the fault was on. Check its filter — the service, the span name, the status — against the traces the fault produces.".to_string(),
        PhaseVerdict::NeverFired => "Your rule never fired while the fault was on. Compare its values above with the threshold: is the threshold beyond what the fault produces, is the condition the right way round, and does the query look at the service and operation the fault hits?".to_string(),
        PhaseVerdict::FiredTooLate {
            fired_after_ms,
            deadline_ms,
        } => format!(
            "Your rule fired {} after the fault went on, later than the exercise's {}: its “for” (or a threshold too close to the fault's values) makes it slow to react.",
            seconds(*fired_after_ms),
            seconds(*deadline_ms)
        ),
        PhaseVerdict::Flapped { at_ms } => format!(
            "Your rule fired, then went back to normal {} into this phase while the fault was still on: an alert that flaps is ignored. Is the threshold too close to the fault's values?",
            seconds(at_ms - started_ms)
        ),
        PhaseVerdict::Passed { .. } => String::new(),
    };
    Item::fail(title, format!("{why}\n{rest}"))
}

fn feedback(
    rule: &AlertRule,
    check: &AlertCheck,
    samples: &[PhaseSample],
    off_start: i64,
    on_at: i64,
    verdict: &PhaseVerdict,
) -> Feedback {
    let of = |phase: Phase| -> Vec<&PhaseSample> {
        samples.iter().filter(|s| s.phase == phase).collect()
    };
    let items = vec![
        phase_item(
            rule,
            Phase::FaultOff,
            &of(Phase::FaultOff),
            off_start,
            verdict,
        ),
        phase_item(rule, Phase::FaultOn, &of(Phase::FaultOn), on_at, verdict),
    ];
    let fault = &check.fault.fault;
    let (verdict_kind, score, headline) = match verdict {
        PhaseVerdict::Passed { fired_after_ms } => (
            Verdict::Pass,
            1.0,
            format!(
                "Your rule stayed quiet with {fault} off and fired {} after it went on (within {}), and kept firing.",
                seconds(*fired_after_ms),
                check.deadline
            ),
        ),
        PhaseVerdict::FiredWithoutFault { .. } => (
            Verdict::Fail,
            0.0,
            format!("Fired without the fault: your rule fired in phase 1, while {fault} was off."),
        ),
        PhaseVerdict::NeverFired => (
            Verdict::Fail,
            0.5,
            format!("Never fired: your rule stayed quiet in phase 2, while {fault} was on."),
        ),
        PhaseVerdict::FiredTooLate { .. } => (
            Verdict::Fail,
            0.5,
            format!(
                "Fired too late: in phase 2, your rule fired after the deadline of {}.",
                check.deadline
            ),
        ),
        PhaseVerdict::Flapped { .. } => (
            Verdict::Fail,
            0.5,
            format!("Flapped: in phase 2, your rule stopped firing while {fault} was still on."),
        ),
    };
    Feedback {
        verdict: verdict_kind,
        score,
        headline,
        items,
        syntax_error: None,
    }
}

/// For the lab spec's validation: the rule parses and its query is a metrics query.
pub fn rule_problem(rule: &RuleSpec) -> Option<String> {
    if let Err(problem) = parse_rule(rule) {
        return Some(problem);
    }
    match query::parse(&render(&rule.query, &Vars::SAMPLE)) {
        Ok(parsed) if parsed.query().is_metrics() => None,
        Ok(_) => Some("the query is a search, not a metrics query".to_string()),
        Err(error) => Some(format!("the TraceQL does not parse: {}", error.one_line())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::AlertState;
    use crate::spec::duration::SpecDuration;

    fn spec(condition: &str, severity: &str) -> RuleSpec {
        RuleSpec {
            query: "{ status = error } | rate()".into(),
            condition: condition.into(),
            threshold: 0.5,
            for_duration: SpecDuration(Duration::from_secs(10)),
            severity: severity.into(),
        }
    }

    #[test]
    fn a_rule_is_read_from_its_spec_and_bad_fields_are_named() {
        let rule = parse_rule(&spec("above", "critical")).expect("valid");
        assert_eq!(rule.condition, Condition::Above);
        assert_eq!(rule.severity, Severity::Critical);
        assert!(
            parse_rule(&spec("over", "warning"))
                .expect_err("bad condition")
                .contains("`over`")
        );
        assert!(
            parse_rule(&spec("below", "loud"))
                .expect_err("bad severity")
                .contains("`loud`")
        );
        assert_eq!(rule_problem(&spec("below", "info")), None);
        let mut search = spec("above", "info");
        search.query = "{ status = error }".into();
        assert!(rule_problem(&search).is_some_and(|p| p.contains("search")));
    }

    fn sample(at_ms: i64, phase: Phase, state: AlertState, value: f64) -> PhaseSample {
        PhaseSample {
            at_ms,
            phase,
            state,
            decision: crate::alerting::Decision {
                breaching: state != AlertState::Normal,
                series: Some(String::new()),
                value: Some(value),
            },
        }
    }

    #[test]
    fn the_feedback_names_the_failing_phase_and_shows_values_and_threshold() {
        let rule = parse_rule(&spec("above", "warning")).expect("valid");
        let check: AlertCheck = serde_yaml::from_str(
            "fault: { fault: payments_slow }\nreference: { query: '{ } | rate()', condition: above, threshold: 1 }",
        )
        .expect("a check");
        let samples = vec![
            sample(0, Phase::FaultOff, AlertState::Firing, 0.9),
            sample(30_000, Phase::FaultOn, AlertState::Firing, 2.0),
        ];
        let verdict = judge_phases(&samples, 25_000, check.deadline.0);
        let fb = feedback(&rule, &check, &samples, 0, 25_000, &verdict);
        assert_eq!(fb.verdict, Verdict::Fail);
        assert!(fb.headline.contains("phase 1"), "{}", fb.headline);
        assert_eq!(fb.items[0].status, super::super::feedback::ItemStatus::Fail);
        assert!(
            fb.items[0].message.contains("above 0.500"),
            "{}",
            fb.items[0].message
        );
        assert!(
            fb.items[0].message.contains("0.900"),
            "{}",
            fb.items[0].message
        );
        assert!(
            fb.items[1].message.contains("firing"),
            "{}",
            fb.items[1].message
        );
    }
}
