//! A dashboard, checked by what its panels draw: every panel the exercise asks for ("p95
//! latency of checkout per service") is run as its reference metrics query, and each of the
//! learner's panels as written, over the same pinned window at the same step; an asked panel
//! is answered by a learner's panel with the same series (labels) whose values are within the
//! stated tolerance at every point. The learner does not say which panel answers which: any
//! of theirs may, as on a real dashboard.
//!
//! Feedback names each asked panel that is missing and, from the learner's closest panel,
//! why it is not it — other labels (grouping), other series (a filter), values off by how
//! much, a count where a rate was asked — without ever showing the reference query. Before
//! judging, each near miss the spec lists is run too: while one draws the same series as the
//! reference, the traffic cannot tell them apart and the learner is asked to wait.

use serde::{Deserialize, Serialize};

use super::feedback::{Feedback, Item, Verdict};
use super::instrumentation::{SHOP_SERVICES, own_run, valid_service_name};
use super::{GradeError, Settings};
use crate::backend::MetricsRequest;
use crate::backend::metrics::{SeriesPoints as MetricsSeries, series_points};
use crate::backend::{BackendError, TraceBackend};
use crate::query::{Vars, render};
use crate::spec::types::{AskedPanel, DashboardCheck};

/// A dashboard as submitted: the panels, and the learner's service for an exercise about it
/// (empty: the exercise's default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardAnswer {
    #[serde(default)]
    pub service: String,
    pub panels: Vec<SubmittedPanel>,
}

/// One of the learner's saved panels, as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedPanel {
    pub title: String,
    pub query: String,
}

/// Everything the check needs besides the spec.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub backend: &'a dyn TraceBackend,
    pub tenant: Option<&'a str>,
    /// `vars.service` is the learner's service when the exercise is about it.
    pub vars: Vars<'a>,
    /// Narrow every query to the learner's own run of `vars.service`.
    pub own_run: bool,
    pub settings: &'a Settings,
}

/// How a learner's panel compares with an asked one.
#[derive(Debug, Clone, PartialEq)]
enum Comparison {
    Same,
    /// Grouped by other labels.
    Labels {
        theirs: Vec<String>,
        asked: Vec<String>,
    },
    /// The same labels, other series: a filter that keeps too much or too little.
    Series {
        missing: Vec<String>,
        extra: Vec<String>,
    },
    /// The same series, other values: their median over ours.
    Values {
        ratio: f64,
    },
    /// The panel draws nothing in the window.
    Empty,
    /// The panel's query cannot run.
    Broken(String),
}

impl Comparison {
    /// Lower is closer to the asked panel: values off by a factor count as far as the factor
    /// is large (a rate panel is no near answer to a latency one), unless the factor is the
    /// step (a count for a rate, a mistake worth naming).
    fn distance(&self, step_s: f64) -> f64 {
        match self {
            Comparison::Same => 0.0,
            Comparison::Values { ratio } if is_step_factor(*ratio, step_s) => 1.5,
            Comparison::Values { ratio } if ratio.is_finite() && *ratio > 0.0 => {
                1.0 + ratio.ln().abs()
            }
            Comparison::Values { .. } => 6.0,
            Comparison::Series { .. } => 2.5,
            Comparison::Labels { .. } => 3.0,
            Comparison::Empty => 7.0,
            Comparison::Broken(_) => 8.0,
        }
    }
}

/// True when `ratio` is the step or its inverse: a count per interval against a rate.
fn is_step_factor(ratio: f64, step_s: f64) -> bool {
    let near = |target: f64| (ratio / target - 1.0).abs() < 0.1;
    step_s > 1.0 && (near(step_s) || near(1.0 / step_s))
}

/// How far apart two metrics functions are, added to a panel's distance: nothing for the same
/// function, a little within a family (counting spans: `rate`, `count_over_time`; reading
/// an attribute such as the duration: the quantiles, averages, minima…), a lot across (a
/// rate panel is no near answer to a latency one, however its numbers happen to compare).
fn kinship(asked: Option<&str>, theirs: Option<&str>) -> f64 {
    let family = |name: &str| matches!(name, "rate" | "count_over_time");
    match (asked, theirs) {
        (Some(a), Some(b)) if a == b => 0.0,
        (Some(a), Some(b)) if family(a) == family(b) => 0.5,
        _ => 3.0,
    }
}

/// The metrics function a query ends with (`rate`, `quantile_over_time`), to prefer a
/// learner's panel built with a function like the asked one as the closest.
fn function_of(query: &str) -> Option<&str> {
    let tail = query.rsplit('|').next()?.trim_start();
    let name = tail.split('(').next()?.trim();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// The label `quantile_over_time` adds to say which quantile a series is: not a grouping,
/// so a p50 panel compares with a p95 one by its values.
const QUANTILE_LABEL: &str = "p";

/// The labels that name a series, without the quantile's.
fn grouping(labels: &[(String, String)]) -> impl Iterator<Item = &(String, String)> {
    labels.iter().filter(|(k, _)| k != QUANTILE_LABEL)
}

/// A label key without its scope, so `by (resource.service.name)` and `by (.service.name)`
/// group alike.
fn bare_key(key: &str) -> &str {
    key.trim_start_matches("resource.")
        .trim_start_matches("span.")
        .trim_start_matches('.')
}

fn key_set(series: &[MetricsSeries]) -> Vec<String> {
    let mut keys: Vec<String> = series
        .iter()
        .flat_map(|s| grouping(&s.labels).map(|(k, _)| bare_key(k).to_string()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A series' name as the learner reads it: `service.name=api`, or `(one series)`.
fn series_name(labels: &[(String, String)]) -> String {
    let named: Vec<&(String, String)> = grouping(labels).collect();
    if named.is_empty() {
        return "(one series, no labels)".to_string();
    }
    named
        .into_iter()
        .map(|(k, v)| format!("{}={v}", bare_key(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn by_name(series: &[MetricsSeries]) -> std::collections::BTreeMap<String, &MetricsSeries> {
    series
        .iter()
        .filter(|s| !s.points.is_empty())
        .map(|s| (series_name(&s.labels), s))
        .collect()
}

/// Compares an answer's series with the asked panel's, point by point.
fn compare(
    asked: &[MetricsSeries],
    theirs: &[MetricsSeries],
    tolerance_percent: f64,
) -> Comparison {
    let (asked_named, their_named) = (by_name(asked), by_name(theirs));
    if their_named.is_empty() {
        return Comparison::Empty;
    }
    let (asked_keys, their_keys) = (key_set(asked), key_set(theirs));
    if asked_keys != their_keys {
        return Comparison::Labels {
            theirs: their_keys,
            asked: asked_keys,
        };
    }
    let missing: Vec<String> = asked_named
        .keys()
        .filter(|k| !their_named.contains_key(*k))
        .cloned()
        .collect();
    let extra: Vec<String> = their_named
        .keys()
        .filter(|k| !asked_named.contains_key(*k))
        .cloned()
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Comparison::Series { missing, extra };
    }
    let mut ratios = Vec::new();
    let mut all_close = true;
    for (name, asked_series) in &asked_named {
        let their_series = their_named[name];
        let mut times: Vec<u64> = asked_series
            .points
            .iter()
            .chain(&their_series.points)
            .map(|(t, _)| *t)
            .collect();
        times.sort_unstable();
        times.dedup();
        let value = |s: &MetricsSeries, t: u64| {
            s.points
                .iter()
                .find(|(at, _)| *at == t)
                .map_or(0.0, |(_, v)| *v)
        };
        for t in times {
            let (a, b) = (value(asked_series, t), value(their_series, t));
            if (a - b).abs() > tolerance_percent / 100.0 * a.abs().max(b.abs()) + 1e-9 {
                all_close = false;
            }
            if a.abs() > 1e-12 {
                ratios.push(b / a);
            }
        }
    }
    if all_close {
        return Comparison::Same;
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios
        .get(ratios.len() / 2)
        .copied()
        .unwrap_or(f64::INFINITY);
    Comparison::Values { ratio }
}

/// Why a learner's panel is not the asked one, in words that teach.
fn explain(comparison: &Comparison, step_s: f64) -> String {
    match comparison {
        Comparison::Same => "it draws the asked series.".to_string(),
        Comparison::Labels { theirs, asked } => {
            let grouped = |keys: &[String]| {
                if keys.is_empty() {
                    "one series for everything (no `by (…)`)".to_string()
                } else {
                    format!("one series per {}", keys.join(" and "))
                }
            };
            format!(
                "its grouping differs: it draws {}, and the asked panel {}.",
                grouped(theirs),
                grouped(asked),
            )
        }
        Comparison::Series { missing, extra } => {
            let mut parts = Vec::new();
            if !extra.is_empty() {
                parts.push(format!(
                    "series the asked panel does not have ({})",
                    extra.join("; ")
                ));
            }
            if !missing.is_empty() {
                parts.push(format!("no series for {}", missing.join("; ")));
            }
            format!(
                "it is grouped right but selects other spans: it has {}. Check its filter \
                 (the service, the span name).",
                parts.join(", and ")
            )
        }
        Comparison::Values { ratio } => {
            if is_step_factor(*ratio, step_s) && *ratio > 1.0 {
                format!(
                    "its values are {step_s:.0} times the asked ones: a count per {step_s:.0} s \
                     interval where a rate (per second) was asked."
                )
            } else if is_step_factor(*ratio, step_s) {
                format!(
                    "its values are {step_s:.0} times smaller: a rate (per second) where a count \
                     per interval was asked."
                )
            } else if ratio.is_finite() && *ratio > 1.0 {
                format!(
                    "it has the right series, but its values are about {:.0} % higher than the \
                     asked panel's (the median over the window): does it count other spans, or \
                     use another function (an average, another quantile)?",
                    (ratio - 1.0) * 100.0
                )
            } else if ratio.is_finite() {
                format!(
                    "it has the right series, but its values are about {:.0} % lower than the \
                     asked panel's (the median over the window): does it count other spans, or \
                     use another function (an average, another quantile)?",
                    (1.0 - ratio) * 100.0
                )
            } else {
                "it has the right series, but its values are not the asked ones.".to_string()
            }
        }
        Comparison::Empty => "it draws nothing in the window.".to_string(),
        Comparison::Broken(message) => format!("its query does not run: {message}"),
    }
}

/// The pinned window: it ends `settle` before now, on a step boundary.
fn pinned(check: &DashboardCheck, settle: std::time::Duration) -> (u64, u64, u64) {
    let step = check.step.0.as_secs().max(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let end = now.saturating_sub(settle.as_secs()) / step * step;
    let start = end.saturating_sub(check.window.0.as_secs().max(step) / step * step);
    (start, end, step)
}

async fn run(
    ctx: &Context<'_>,
    query: &str,
    (start_s, end_s, step_s): (u64, u64, u64),
) -> Result<Vec<MetricsSeries>, BackendError> {
    let query = if ctx.own_run {
        // Printed canonically first, so the service condition reads as the engine prints it
        // however the learner spaced it.
        let canonical =
            dojo_traceql::parse(query).map_or_else(|_| query.to_string(), |q| q.to_string());
        own_run(&canonical, &ctx.vars, None)
    } else {
        render(query, &ctx.vars)
    };
    let answer = ctx
        .backend
        .metrics(MetricsRequest {
            tenant: ctx.tenant,
            query: &query,
            parsed: None,
            start_nanos: start_s.saturating_mul(1_000_000_000),
            end_nanos: end_s.saturating_mul(1_000_000_000),
            step_nanos: step_s.max(1).saturating_mul(1_000_000_000),
        })
        .await?;
    Ok(series_points(&answer))
}

/// Grades the learner's panels against the asked ones.
pub async fn grade(
    ctx: &Context<'_>,
    check: &DashboardCheck,
    panels: &[SubmittedPanel],
) -> Result<Feedback, GradeError> {
    let window = pinned(check, ctx.settings.settle);
    let step_s = window.2 as f64;
    if ctx.own_run && !valid_service_name(ctx.vars.service) {
        return Err(GradeError::Input(format!(
            "`{}` is not a service name: use letters, digits, `.`, `_`, `-` or `/`, as in \
             OTEL_SERVICE_NAME",
            ctx.vars.service
        )));
    }
    if ctx.own_run && SHOP_SERVICES.contains(&ctx.vars.service) {
        return Ok(Feedback {
            verdict: Verdict::Fail,
            score: 0.0,
            headline: format!(
                "`{}` is one of the shop's own services: this dashboard is about the service you \
                 instrumented (`{}` unless you changed it).",
                ctx.vars.service,
                check.default_service.as_deref().unwrap_or("")
            ),
            items: Vec::new(),
            syntax_error: None,
        });
    }
    if panels.is_empty() {
        return Ok(Feedback {
            verdict: Verdict::Fail,
            score: 0.0,
            headline: "Your dashboard has no panels yet: add them on the Dashboards page, then \
                       submit again."
                .to_string(),
            items: check
                .panels
                .iter()
                .map(|asked| Item::fail(&asked.describe, "No panel yet."))
                .collect(),
            syntax_error: None,
        });
    }
    // Each of the learner's panels, run once.
    let mut theirs: Vec<(&SubmittedPanel, Result<Vec<MetricsSeries>, String>)> = Vec::new();
    for panel in panels {
        let result = match run(ctx, &panel.query, window).await {
            Ok(series) => Ok(series),
            Err(BackendError::InvalidQuery { message, .. }) => Err(message),
            Err(other) => return Err(GradeError::Backend(other)),
        };
        theirs.push((panel, result));
    }
    let mut items = Vec::new();
    let mut answered = 0;
    for asked in &check.panels {
        let reference = reference_series(ctx, asked, window).await?;
        if by_name(&reference).is_empty() {
            return Ok(Feedback::not_ready(
                format!(
                    "The lab has no traffic for “{}” in the last {} yet: keep the shop busy \
                     (is `dojo up` running with its load generator?) and submit again in a minute.",
                    asked.describe, check.window
                ),
                Vec::new(),
            ));
        }
        for near_miss in &asked.must_refuse {
            let series = run(ctx, near_miss, window).await.map_err(|e| {
                GradeError::Spec(format!(
                    "panel `{}`: a near miss does not run: {e}",
                    asked.id
                ))
            })?;
            if compare(&reference, &series, asked.tolerance_percent) == Comparison::Same {
                return Ok(Feedback::not_ready(
                    format!(
                        "Not enough traffic yet to tell “{}” from panels that only look like it: \
                         wait about a minute and submit again.",
                        asked.describe
                    ),
                    Vec::new(),
                ));
            }
        }
        let compared: Vec<(&SubmittedPanel, Comparison)> = theirs
            .iter()
            .map(|(panel, result)| {
                let comparison = match result {
                    Ok(series) => compare(&reference, series, asked.tolerance_percent),
                    Err(message) => Comparison::Broken(message.clone()),
                };
                (*panel, comparison)
            })
            .collect();
        if let Some((panel, _)) = compared.iter().find(|(_, c)| *c == Comparison::Same) {
            answered += 1;
            items.push(Item::pass(
                &asked.describe,
                format!(
                    "Your panel “{}” draws it: the same series, values within {} % at every \
                     point of the window.",
                    panel.title, asked.tolerance_percent
                ),
            ));
            continue;
        }
        let asked_function = function_of(&asked.reference);
        let distance = |(panel, comparison): &(&SubmittedPanel, Comparison)| {
            comparison.distance(step_s) + kinship(asked_function, function_of(&panel.query))
        };
        let (closest, why) = compared
            .iter()
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))
            .expect("at least one panel");
        items.push(Item::fail(
            &asked.describe,
            format!(
                "Missing: none of your panels draws it. The closest is “{}”: {}",
                closest.title,
                explain(why, step_s)
            ),
        ));
    }
    let asked = check.panels.len();
    let passed = answered == asked;
    Ok(Feedback {
        verdict: if passed { Verdict::Pass } else { Verdict::Fail },
        score: answered as f64 / asked.max(1) as f64,
        headline: if passed {
            format!("Your dashboard has every panel asked for ({asked} of {asked}).")
        } else {
            format!(
                "{} of {asked} asked panels are on your dashboard; the others are named below \
                 with your closest panel and what differs.",
                answered
            )
        },
        items,
        syntax_error: None,
    })
}

async fn reference_series(
    ctx: &Context<'_>,
    asked: &AskedPanel,
    window: (u64, u64, u64),
) -> Result<Vec<MetricsSeries>, GradeError> {
    run(ctx, &asked.reference, window)
        .await
        .map_err(|e| match e {
            BackendError::InvalidQuery { message, .. } => GradeError::Spec(format!(
                "panel `{}`: the reference does not run: {message}",
                asked.id
            )),
            other => GradeError::Backend(other),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(service: Option<&str>, values: &[f64]) -> MetricsSeries {
        MetricsSeries {
            labels: service
                .map(|s| vec![("resource.service.name".to_string(), s.to_string())])
                .unwrap_or_default(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| (1000 * (i as u64 + 1), *v))
                .collect(),
        }
    }

    #[test]
    fn panels_are_compared_by_labels_series_and_values() {
        let asked = vec![
            series(Some("api"), &[1.0, 2.0]),
            series(Some("frontend"), &[3.0, 4.0]),
        ];
        assert_eq!(compare(&asked, &asked, 5.0), Comparison::Same);
        let close = vec![
            series(Some("api"), &[1.02, 2.0]),
            series(Some("frontend"), &[3.0, 4.1]),
        ];
        assert_eq!(compare(&asked, &close, 5.0), Comparison::Same);
        let lower = vec![
            series(Some("api"), &[0.5, 1.0]),
            series(Some("frontend"), &[1.5, 2.0]),
        ];
        assert_eq!(
            compare(&asked, &lower, 5.0),
            Comparison::Values { ratio: 0.5 }
        );
        assert!(explain(&compare(&asked, &lower, 5.0), 30.0).contains("50 % lower"));
        let counts: Vec<MetricsSeries> = asked
            .iter()
            .map(|s| MetricsSeries {
                labels: s.labels.clone(),
                points: s.points.iter().map(|(t, v)| (*t, v * 30.0)).collect(),
            })
            .collect();
        assert!(explain(&compare(&asked, &counts, 5.0), 30.0).contains("a count per 30 s"));
        let one = vec![series(None, &[4.0, 6.0])];
        assert!(matches!(
            compare(&asked, &one, 5.0),
            Comparison::Labels { .. }
        ));
        assert!(explain(&compare(&asked, &one, 5.0), 30.0).contains("no `by (…)`"));
        let only_api = vec![series(Some("api"), &[1.0, 2.0])];
        assert_eq!(
            compare(&asked, &only_api, 5.0),
            Comparison::Series {
                missing: vec!["service.name=frontend".into()],
                extra: vec![]
            }
        );
        assert_eq!(compare(&asked, &[], 5.0), Comparison::Empty);
    }

    #[test]
    fn a_panel_of_the_same_kind_is_closer_than_one_whose_numbers_happen_to_be_near() {
        // An average 17 times below the asked p95 is still closer than a rate 17 times above it.
        let avg = Comparison::Values { ratio: 1.0 / 17.0 }.distance(30.0)
            + kinship(Some("quantile_over_time"), Some("avg_over_time"));
        let rate = Comparison::Values { ratio: 17.0 }.distance(30.0)
            + kinship(Some("quantile_over_time"), Some("rate"));
        assert!(avg < rate, "{avg} < {rate}");
        assert_eq!(function_of("{ } | rate() by (x)"), Some("rate"));
        assert_eq!(
            function_of("{ kind = server } | quantile_over_time(duration, .95)"),
            Some("quantile_over_time")
        );
    }
}
