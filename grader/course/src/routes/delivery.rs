//! The Delivery page: the DORA figures of the lab's delivery pipeline, each with the TraceQL
//! that produces it, a timeline of the deployments, and the RED charts of the services they
//! changed with a marker at each deployment that falls in the charts' window.
//!
//! The figures are computed by [`dojo_grader::delivery`] from the results of its two queries,
//! run over the last week through the course's trace source (in a workshop, the learner's own
//! tenant, which holds their own seeded history and the deploys made for them).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::{Extension, Router, routing::get};
use dojo_grader::check::describe::clock_utc;
use dojo_grader::delivery::{
    self, Dora, ROLLBACKS_QUERY, ROLLOUTS_QUERY, Rollback, Rollout, WINDOW_DAYS,
};

use super::layout::Layout;
use crate::error::CourseError;
use crate::pictures::{deploys, format_duration, red, requests};
use crate::session::Visitor;
use crate::state::CourseState;
use dojo_grader::backend::SearchHit;

/// The most pipeline runs read.
const MAX_RUNS: usize = 2_000;
/// Points per RED chart.
const BUCKETS: usize = 15;

pub fn router() -> Router<CourseState> {
    Router::new().route("/delivery", get(delivery))
}

/// One figure: its name, value, what it means and the query behind it.
struct Figure {
    id: &'static str,
    name: &'static str,
    /// The value in figures, for tests and the page's data attributes.
    raw: String,
    shown: String,
    meaning: &'static str,
    query: &'static str,
}

/// One row of the deployment list.
struct Row {
    when: String,
    service: String,
    version: String,
    succeeded: bool,
    lead_time: String,
    trace_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    layout: Layout,
    days: u64,
    figures: Vec<Figure>,
    timeline_svg: String,
    rows: Vec<Row>,
    chart_window: String,
    /// (service, deploys in the chart window as "12:03:04 7.0.0", RED charts SVG)
    charts: Vec<(String, Vec<String>, String)>,
}

async fn delivery(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<DeliveryPage, CourseError> {
    let week = Duration::from_secs(WINDOW_DAYS * 24 * 3600);
    // In a workshop, the learner's own tenant: their history and their deploys.
    let traces = state.traces_for(&visitor);
    let unavailable = |error: String| CourseError::Unavailable(error);
    let rollouts: Vec<Rollout> = traces
        .search(ROLLOUTS_QUERY, week, MAX_RUNS)
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .iter()
        .filter_map(rollout_of)
        .collect();
    let rollbacks: Vec<Rollback> = traces
        .search(ROLLBACKS_QUERY, week, MAX_RUNS)
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .iter()
        .filter_map(|m| {
            let span = m.spansets.first()?.spans.first()?;
            Some(Rollback {
                trace_id: m.trace_id.to_string(),
                end_unix_nanos: span.start_unix_nanos + span.duration_nanos,
            })
        })
        .collect();
    let dora = delivery::compute(&rollouts, &rollbacks, WINDOW_DAYS);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut sorted = rollouts.clone();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.end_unix_nanos));
    let rows = sorted
        .iter()
        .map(|r| Row {
            when: format!(
                "{} {}",
                day_ago(now, r.end_unix_nanos),
                clock_utc(r.end_unix_nanos)
            ),
            service: r.service.clone(),
            version: r.version.clone(),
            succeeded: r.succeeded,
            lead_time: format_duration(r.end_unix_nanos.saturating_sub(r.commit_unix_nanos)),
            trace_id: r.trace_id.clone(),
        })
        .collect();

    // The RED charts of the deployed services over the course's window, with their deploys.
    let settings = &state.inner.settings;
    let bound = settings.recent_traces.min(traces.recent_cap());
    let recent = traces
        .recent(settings.window, bound)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let window = settings.window.as_nanos() as u64;
    let series = red::compute(&requests::collect(&recent), now, window, BUCKETS);
    let start = now.saturating_sub(window);
    let mut charts = Vec::new();
    for service in ["api", "frontend"] {
        let Some(series) = series.iter().find(|s| s.service == service) else {
            continue;
        };
        let marks: Vec<&Rollout> = sorted
            .iter()
            .filter(|r| r.service == service && r.end_unix_nanos >= start)
            .collect();
        let labels: Vec<String> = marks
            .iter()
            .map(|r| {
                let outcome = if r.succeeded {
                    ""
                } else {
                    " (failed, rolled back)"
                };
                format!("{} {}{outcome}", clock_utc(r.end_unix_nanos), r.version)
            })
            .collect();
        let at: Vec<(u64, String)> = marks
            .iter()
            .zip(&labels)
            .map(|(r, label)| (r.end_unix_nanos, format!("{service} {label}")))
            .collect();
        let svg = red::svg_marked(series, &at);
        charts.push((service.to_owned(), labels, svg));
    }
    Ok(DeliveryPage {
        layout: Layout::new(&state, &visitor, "Delivery"),
        days: WINDOW_DAYS,
        figures: figures(&dora),
        timeline_svg: deploys::timeline(&rollouts, now.saturating_sub(week.as_nanos() as u64), now),
        rows,
        chart_window: format_duration(window),
        charts,
    })
}

/// A search match of [`ROLLOUTS_QUERY`] as a rollout.
fn rollout_of(found: &SearchHit) -> Option<Rollout> {
    let span = found.spansets.first()?.spans.first()?;
    let attribute = |key: &str| {
        span.attributes
            .iter()
            .find(|(k, _)| k.ends_with(key))
            .map(|(_, v)| v.trim_matches('"').to_owned())
    };
    Some(Rollout {
        trace_id: found.trace_id.to_string(),
        service: attribute("deployment.name")?,
        version: attribute("deployment.version")?,
        commit_unix_nanos: found.start_unix_nanos,
        start_unix_nanos: span.start_unix_nanos,
        end_unix_nanos: span.start_unix_nanos + span.duration_nanos,
        succeeded: attribute("cicd.pipeline.task.run.result").as_deref() == Some("success"),
    })
}

fn figures(dora: &Dora) -> Vec<Figure> {
    let optional = |value: Option<f64>, show: &dyn Fn(f64) -> String| match value {
        Some(v) => (format!("{v:.3}"), show(v)),
        None => (String::new(), "no data yet".to_owned()),
    };
    let seconds = |s: f64| format_duration((s * 1e9) as u64);
    let (lead_raw, lead_shown) = optional(dora.lead_time_seconds, &seconds);
    let (cfr_raw, cfr_shown) = optional(dora.change_failure_percent, &|p| {
        format!("{p:.1}% ({} of {} rollouts)", dora.failed, dora.rollouts)
    });
    let (ttr_raw, ttr_shown) = optional(dora.time_to_restore_seconds, &seconds);
    vec![
        Figure {
            id: "deployment_frequency",
            name: "Deployment frequency",
            raw: format!("{:.3}", dora.deployments_per_day),
            shown: format!(
                "{:.1} a day ({} deployments)",
                dora.deployments_per_day, dora.deployments
            ),
            meaning: "Successful rollouts per day over the week: the rollout spans whose cicd.pipeline.task.run.result is success, divided by seven.",
            query: ROLLOUTS_QUERY,
        },
        Figure {
            id: "lead_time",
            name: "Lead time for changes",
            raw: lead_raw,
            shown: lead_shown,
            meaning: "From the commit (the start of the run's trace) to the end of its successful rollout; the median over the deployments.",
            query: ROLLOUTS_QUERY,
        },
        Figure {
            id: "change_failure_rate",
            name: "Change failure rate",
            raw: cfr_raw,
            shown: cfr_shown,
            meaning: "Failed rollouts over all rollouts. A run that failed its tests never reached production, so it does not count.",
            query: ROLLOUTS_QUERY,
        },
        Figure {
            id: "time_to_restore",
            name: "Time to restore",
            raw: ttr_raw,
            shown: ttr_shown,
            meaning: "From the start of a failed rollout to the end of its rollback (a span beneath it); the median.",
            query: ROLLBACKS_QUERY,
        },
    ]
}

/// "today", "1 day ago", "3 days ago".
fn day_ago(now: u64, at: u64) -> String {
    let days = now.saturating_sub(at) / (86_400 * 1_000_000_000);
    match days {
        0 => "today".to_owned(),
        1 => "1 day ago".to_owned(),
        n => format!("{n} days ago"),
    }
}
