//! A numeric answer (a number with a unit), checked against the value computed from the
//! learner's own live traces with a stated tolerance. Today's one measure is the lead time of
//! a named change of Lab 5's delivery history ([`lead_time`]); the answer is read kindly
//! ([`quantity`]).
//!
//! The feedback teaches without giving the number away: whether the answer is too high or too
//! low and roughly by how much, which typical mistake it matches (the wait before the build,
//! the pipeline's own duration, another change's lead time), what lead time means, and a query
//! that finds the change's run. An answer that cannot be read as a duration is told why and is
//! not recorded as an attempt: it is a typo, not a wrong idea about lead time.

pub mod lead_time;
pub mod quantity;

use self::lead_time::{Change, asked_change, deployed_changes};
use self::quantity::parse_duration;
use super::feedback::{Feedback, Item, Verdict};
use super::{GradeError, Settings};
use crate::backend::{TraceBackend, Window};
use crate::spec::types::{Measure, NumericCheck};

/// Everything the check needs besides the spec.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub backend: &'a dyn TraceBackend,
    pub tenant: Option<&'a str>,
    /// The learner's id: which change they are asked about.
    pub learner: &'a str,
    pub window: Window,
    pub settings: &'a Settings,
}

/// The tolerance around an expected value, in the value's unit (seconds).
pub fn tolerance(check: &NumericCheck, expected: f64) -> f64 {
    (expected.abs() * check.tolerance_percent / 100.0).max(check.tolerance_at_least.0.as_secs_f64())
}

/// A duration for a learner to read, to the second: `3 h 19 min 42 s`, `12 min 5 s`.
pub fn clock_duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
        .into_iter()
        .skip_while(|(n, _)| *n == 0)
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".to_string()
    } else {
        parts.join(" ")
    }
}

/// The deployed changes the learner reads: their tenant's, or — in a workshop, where `dojo up`
/// sends the history once, unmarked — the shared ones (nobody's own traffic).
async fn changes(ctx: &Context<'_>) -> Result<Vec<Change>, GradeError> {
    let mine = deployed_changes(ctx.backend, ctx.tenant, ctx.window)
        .await
        .map_err(GradeError::Backend)?;
    if !mine.is_empty() || ctx.tenant.is_none() {
        return Ok(mine);
    }
    deployed_changes(ctx.backend, None, ctx.window)
        .await
        .map_err(GradeError::Backend)
}

/// The change this learner is asked about, or why there is none yet.
async fn asked(
    ctx: &Context<'_>,
    check: &NumericCheck,
) -> Result<Result<Change, Feedback>, GradeError> {
    let Measure::LeadTime = check.measure;
    let changes = changes(ctx).await?;
    if changes.is_empty() {
        return Ok(Err(Feedback::not_ready(
            format!(
                "No deployment of the delivery pipeline in the last {}: the change history is \
                 sent when `dojo up` starts. Is the lab running, and does the Delivery page show \
                 deployments?",
                check.window
            ),
            Vec::new(),
        )));
    }
    Ok(
        match asked_change(&changes, ctx.learner, |v| tolerance(check, v)) {
            Some(change) => Ok(change.clone()),
            None => Err(Feedback::not_ready(
                "None of the deployments in your history can be told apart from the usual \
                 mistakes yet, so there is no change to ask you about. Restart the lab to get \
                 a fresh history.",
                Vec::new(),
            )),
        },
    )
}

/// The question as the learner reads it, in markdown: which change, and the tolerance. `None`
/// when there is no change to ask about yet.
pub async fn question(
    ctx: &Context<'_>,
    check: &NumericCheck,
) -> Result<Option<String>, GradeError> {
    Ok(asked(ctx, check)
        .await?
        .ok()
        .map(|change| question_text(check, &change)))
}

fn question_text(check: &NumericCheck, change: &Change) -> String {
    format!(
        "**Your change:** “{}”, deployed to `{}` as version `{}`. Answer within {} % (or {}).",
        change.title,
        change.service,
        change.version,
        check.tolerance_percent,
        clock_duration(check.tolerance_at_least.0.as_secs_f64()),
    )
}

/// Grades a numeric answer.
pub async fn grade(
    ctx: &Context<'_>,
    check: &NumericCheck,
    answer: &str,
) -> Result<Feedback, GradeError> {
    let change = match asked(ctx, check).await? {
        Ok(change) => change,
        Err(not_ready) => return Ok(not_ready),
    };
    let the_change = Item::info("The change", question_text(check, &change));
    let given = match parse_duration(answer) {
        Ok(seconds) => seconds,
        Err(error) => {
            // Not a duration: said so, and not recorded as an attempt.
            return Ok(Feedback::not_ready(error.to_string(), vec![the_change]));
        }
    };
    let expected = change.lead_time();
    let tol = tolerance(check, expected);
    if (given - expected).abs() <= tol {
        return Ok(Feedback {
            verdict: Verdict::Pass,
            score: 1.0,
            headline: format!(
                "Right: the lead time of {} is {} in its trace, and {} is within {}.",
                change.name(),
                clock_duration(expected),
                clock_duration(given),
                clock_duration(tol),
            ),
            items: vec![the_change],
            syntax_error: None,
        });
    }
    let changes = changes(ctx).await?;
    let mut items = vec![the_change];
    if let Some(mistake) = mistake(&change, &changes, given, tol) {
        items.push(Item::fail("What you measured", mistake));
    }
    items.push(Item::info(
        "What lead time is",
        "Lead time for changes runs from the **commit** to the moment the change **runs in \
         production**: from the start of the run's `commit` span (where its trace starts) to \
         the end of its successful `rollout` span. The wait for review before `build` counts, \
         and so does every stage after it.",
    ));
    items.push(Item::info(
        "Where to look",
        format!(
            "This query finds your change's run: `{}`. Open its trace and read when the \
             `commit` span starts and when the `rollout` span ends (`vcs.change.title` and \
             `deployment.version` on the run's root span confirm it is the right run).",
            change.query()
        ),
    ));
    Ok(Feedback {
        verdict: Verdict::Fail,
        score: 0.0,
        headline: format!(
            "Not yet: {} is {} for the lead time of {}.",
            clock_duration(given),
            how_far(given, expected),
            change.name()
        ),
        items,
        syntax_error: None,
    })
}

/// Too high or too low, and roughly by how much: coarse enough that the number cannot be
/// worked out from it.
fn how_far(given: f64, expected: f64) -> String {
    let ratio = given / expected;
    if ratio >= 2.0 {
        return "more than twice too high".to_string();
    }
    if ratio <= 0.5 {
        return "less than half of what it should be: too low".to_string();
    }
    let off = (ratio - 1.0).abs() * 100.0;
    let way = if ratio > 1.0 { "too high" } else { "too low" };
    if off < 10.0 {
        format!("a little {way} (by less than 10 %)")
    } else {
        format!("about {:.0} % {way}", (off / 10.0).round() * 10.0)
    }
}

/// The typical mistake an answer matches, in words that teach.
fn mistake(change: &Change, changes: &[Change], given: f64, tol: f64) -> Option<String> {
    let near = |value: f64| (given - value).abs() <= tol;
    if near(change.wait_before_build()) {
        return Some(
            "That is the time from the commit to the start of the `build` span: how long the \
             change waited for review. Lead time goes on until the change is running: the end \
             of the `rollout` span."
                .to_string(),
        );
    }
    if near(change.pipeline_duration()) {
        return Some(
            "That is how long the pipeline ran, from `build` to the end of `rollout`. Lead time \
             starts earlier, at the commit: the `commit` span at the start of the trace, and \
             the wait after it counts too."
                .to_string(),
        );
    }
    if near(change.until_rollout_start()) {
        return Some(
            "That stops when the rollout started. Lead time ends when the rollout finished: \
             the end of the `rollout` span."
                .to_string(),
        );
    }
    let other = changes
        .iter()
        .filter(|c| c.trace_id != change.trace_id)
        .find(|c| near(c.lead_time()))?;
    Some(format!(
        "That is the lead time of another change, {}. Find the run of yours: its root span \
         has `vcs.change.title` “{}” and `deployment.version` `{}`.",
        other.name(),
        change.title,
        change.version
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_to_the_second() {
        assert_eq!(clock_duration(12_000.0), "3 h 20 min");
        assert_eq!(clock_duration(11_982.4), "3 h 19 min 42 s");
        assert_eq!(clock_duration(725.0), "12 min 5 s");
        assert_eq!(clock_duration(93_600.0), "1 d 2 h");
        assert_eq!(clock_duration(0.2), "0 s");
    }

    #[test]
    fn how_far_is_coarse() {
        assert_eq!(how_far(130.0, 100.0), "about 30 % too high");
        assert_eq!(how_far(95.0, 100.0), "a little too low (by less than 10 %)");
        assert_eq!(how_far(250.0, 100.0), "more than twice too high");
        assert!(how_far(10.0, 100.0).contains("too low"));
    }
}
