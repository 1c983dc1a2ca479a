//! The TraceQL console: a query box (a plain GET form, so results can be linked and the
//! page needs no JavaScript) and the matched traces with their spansets; a query that cannot
//! run shows the engine's message with a caret under the column.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::{Extension, Router, routing::get};
use serde::Deserialize;

use super::layout::Layout;
use dojo_grader::backend::{BackendError, MetricsAnswer, SearchHit};
use dojo_traceql::model::now_unix_nanos;

use crate::error::CourseError;
use crate::markdown::highlight::form_urlencode;
use crate::pictures::format_duration;
use crate::session::Visitor;
use crate::state::CourseState;

/// Longest query the console accepts; real queries are a few hundred bytes at most.
const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Traces shown per query.
const LIMIT: usize = 50;

pub fn router() -> Router<CourseState> {
    Router::new().route("/console", get(console))
}

#[derive(Deserialize)]
struct ConsoleParams {
    #[serde(default)]
    q: Option<String>,
}

pub(crate) struct ConsoleError {
    pub message: String,
    pub caret: Option<String>,
    pub hint: Option<String>,
}

/// Something valid but probably unintended in the query (a duration without a unit …).
pub(crate) struct ConsoleWarning {
    pub message: String,
    pub hint: Option<String>,
}

pub(crate) struct SpanView {
    pub span_id: String,
    pub name: String,
    pub duration: String,
    pub attributes: String,
}

pub(crate) struct SpansetView {
    pub matched: usize,
    pub attributes: String,
    pub spans: Vec<SpanView>,
}

pub(crate) struct ConsoleRow {
    pub trace_id: String,
    pub root_service: String,
    pub root_name: String,
    pub started: String,
    pub duration: String,
    pub spansets: Vec<SpansetView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console.html")]
struct ConsolePage {
    layout: Layout,
    query: String,
    window: String,
    ran: bool,
    error: Option<ConsoleError>,
    warnings: Vec<ConsoleWarning>,
    rows: Vec<ConsoleRow>,
    /// The rows stop at `limit`: older matching traces may be left out.
    truncated: bool,
    limit: usize,
    /// For a metrics query: what it computes, in words.
    metrics_meaning: Option<String>,
    /// A metrics query's series, when the trace source can run it.
    metrics: Option<MetricsView>,
    examples: Vec<(String, String)>,
    /// In a workshop: the learner id whose traffic alone this page reads.
    own_traffic: Option<String>,
}

pub(crate) struct MetricsView {
    pub step: String,
    pub series: Vec<MetricsSeriesView>,
}

pub(crate) struct MetricsSeriesView {
    pub labels: String,
    pub last: String,
    pub largest: String,
    pub points: usize,
}

const EXAMPLES: &[&str] = &[
    "{ }",
    "{ status = error }",
    "{ kind = server && duration > 500ms }",
    "{ resource.service.name = \"api\" && span.db.system != nil }",
    "{ resource.service.name = \"frontend\" } >> { resource.service.name = \"payments\" }",
    "{ status = error } !< { status = error }",
    "{ span.db.system != nil } | count() > 10",
];

async fn console(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Query(params): Query<ConsoleParams>,
) -> Result<ConsolePage, CourseError> {
    let window = state.inner.settings.window;
    let traces = state.traces_for(&visitor);
    let query = params.q.unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return Err(CourseError::BadRequest(format!(
            "That query is {} bytes long; the console accepts up to {MAX_QUERY_BYTES}.",
            query.len()
        )));
    }
    let mut page = ConsolePage {
        layout: Layout::new(&state, &visitor, "TraceQL console"),
        query: query.clone(),
        window: format_duration(window.as_nanos() as u64),
        ran: false,
        error: None,
        warnings: Vec::new(),
        rows: Vec::new(),
        truncated: false,
        limit: LIMIT,
        metrics_meaning: None,
        metrics: None,
        own_traffic: state.own_traffic_only(&visitor),
        examples: EXAMPLES
            .iter()
            .map(|q| (q.to_string(), form_urlencode(q)))
            .collect(),
    };
    if query.trim().is_empty() {
        return Ok(page);
    }
    page.ran = true;
    // Parsed once: the search or the metrics query below runs this tree.
    let parsed = match dojo_grader::backend::parse_query(&query) {
        Ok(parsed) => parsed,
        Err(error) => {
            page.error = Some(console_error(error, &query)?);
            return Ok(page);
        }
    };
    page.warnings = parsed
        .warnings()
        .iter()
        .map(|w| ConsoleWarning {
            message: w.message.clone(),
            hint: w.hint.clone(),
        })
        .collect();
    if parsed.is_metrics() {
        page.metrics_meaning = Some(metrics_meaning(&query));
        match traces.metrics_parsed(&query, &parsed, window).await {
            Ok(answer) => page.metrics = Some(metrics_view(&answer)),
            Err(error) => page.error = Some(console_error(error, &query)?),
        }
        return Ok(page);
    }
    match traces.search_parsed(&query, &parsed, window, LIMIT).await {
        Ok(matches) => {
            page.truncated = matches.len() >= LIMIT;
            page.rows = matches.iter().map(row).collect();
        }
        Err(error) => page.error = Some(console_error(error, &query)?),
    }
    Ok(page)
}

/// A refused query as the page shows it, with the caret; a backend that is down is the
/// course's "unavailable" page instead.
fn console_error(error: BackendError, query: &str) -> Result<ConsoleError, CourseError> {
    let caret = error.caret(query);
    match error {
        BackendError::InvalidQuery { message, hint, .. } => Ok(ConsoleError {
            caret,
            message,
            hint,
        }),
        other => Err(CourseError::Unavailable(other.to_string())),
    }
}

/// What a metrics query computes, from its metrics function, in words.
fn metrics_meaning(query: &str) -> String {
    let last_stage = query.rsplit('|').next().unwrap_or(query);
    const MEANINGS: &[(&str, &str)] = &[
        ("rate", "the number of matching spans per second"),
        ("count_over_time", "the number of matching spans"),
        (
            "quantile_over_time",
            "a quantile of the attribute over the matching spans",
        ),
        (
            "histogram_over_time",
            "a histogram of the attribute over the matching spans",
        ),
        (
            "avg_over_time",
            "the average of the attribute over the matching spans",
        ),
        (
            "min_over_time",
            "the smallest value of the attribute among the matching spans",
        ),
        (
            "max_over_time",
            "the largest value of the attribute among the matching spans",
        ),
        (
            "sum_over_time",
            "the sum of the attribute over the matching spans",
        ),
    ];
    let what = MEANINGS
        .iter()
        .find(|(function, _)| last_stage.contains(&format!("{function}(")))
        .map(|(_, meaning)| *meaning)
        .unwrap_or("a value from the matching spans");
    let grouping = if last_stage.contains("by(") || last_stage.contains("by (") {
        ", one series per group of `by()`"
    } else {
        ""
    };
    format!(
        "It computes {what} in each interval of the window{grouping}: time series, not a list of traces."
    )
}

/// A number for a table: up to three decimals, without trailing zeros.
fn short_number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

fn metrics_view(answer: &MetricsAnswer) -> MetricsView {
    MetricsView {
        step: format_duration(answer.step_nanos),
        series: answer
            .series
            .iter()
            .map(|series| MetricsSeriesView {
                labels: if series.labels.is_empty() {
                    "(all matching spans)".into()
                } else {
                    series.labels_text()
                },
                last: newest_settled(answer, &series.values, now_unix_nanos())
                    .map(short_number)
                    .unwrap_or_else(|| "–".into()),
                largest: series
                    .values
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .reduce(f64::max)
                    .map(short_number)
                    .unwrap_or_else(|| "–".into()),
                points: series.values.iter().filter(|v| !v.is_nan()).count(),
            })
            .collect(),
    }
}

/// How long after an interval ends its spans can still be arriving: services export in
/// batches every few seconds, so the newest intervals are still filling.
const SETTLE_NANOS: u64 = 10_000_000_000;

/// The value of the newest interval of `answer` that ended at least [`SETTLE_NANOS`] before
/// `now`, skipping intervals without a value. The still-filling intervals after it would
/// read 0 for every series. (A backend may align the range to the step, as Tempo does, so
/// the last interval can end after `now`.)
fn newest_settled(answer: &MetricsAnswer, values: &[f64], now: u64) -> Option<f64> {
    let step = answer.step_nanos.max(1);
    let settled_before = now.saturating_sub(SETTLE_NANOS);
    values
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| answer.start_nanos + (*i as u64 + 1) * step <= settled_before)
        .map(|(_, v)| *v)
        .find(|v| !v.is_nan())
}

fn join_attributes(attributes: &[(String, String)]) -> String {
    attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn row(m: &SearchHit) -> ConsoleRow {
    ConsoleRow {
        trace_id: m.trace_id.to_string(),
        root_service: m.root_service_name.clone(),
        root_name: m.root_trace_name.clone(),
        started: clock_time(m.start_unix_nanos),
        duration: format_duration(m.duration_nanos),
        spansets: m
            .spansets
            .iter()
            .map(|set| SpansetView {
                matched: set.matched,
                attributes: join_attributes(&set.attributes),
                spans: set
                    .spans
                    .iter()
                    .map(|span| SpanView {
                        span_id: span.span_id.to_string(),
                        name: span.name.clone().unwrap_or_default(),
                        duration: format_duration(span.duration_nanos),
                        attributes: join_attributes(&span.attributes),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// `HH:MM:SS.mmm UTC` of a Unix time in nanoseconds.
pub(crate) fn clock_time(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let millis = (unix_nanos / 1_000_000) % 1000;
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{millis:03} UTC",
        day / 3600,
        (day / 60) % 60,
        day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{MetricsAnswer, clock_time, metrics_meaning, newest_settled, short_number};

    #[test]
    fn the_newest_value_shown_is_of_an_interval_whose_spans_have_arrived() {
        let answer = |step_s: u64| MetricsAnswer {
            start_nanos: 0,
            step_nanos: step_s * 1_000_000_000,
            series: Vec::new(),
        };
        let s = 1_000_000_000;
        // 3 s intervals ending at 3, 6, …, 24 s, read at 24 s: those ending after 14 s
        // (the last four) are younger than the 10 s it takes spans to arrive.
        let values = [1.0, 2.0, 5.0, 4.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(newest_settled(&answer(3), &values, 24 * s), Some(4.0));
        // Read 3 s before the range's aligned end: one interval fewer has settled.
        assert_eq!(newest_settled(&answer(3), &values, 21 * s), Some(5.0));
        // 60 s intervals read at their end: all but the last.
        assert_eq!(newest_settled(&answer(60), &values, 480 * s), Some(0.0));
        assert_eq!(newest_settled(&answer(60), &[f64::NAN, 3.0], 120 * s), None);
        assert_eq!(
            newest_settled(&answer(60), &[2.0, f64::NAN, 3.0], 180 * s),
            Some(2.0)
        );
    }

    #[test]
    fn a_metrics_query_is_told_what_it_computes() {
        assert!(
            metrics_meaning("{ status = error } | rate() by (resource.service.name)").contains(
                "matching spans per second in each interval of the window, one series per group"
            )
        );
        assert!(metrics_meaning("{ } | quantile_over_time(duration, .9)").contains("a quantile"));
    }

    #[test]
    fn series_values_are_shown_short() {
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(12.0), "12");
        assert_eq!(short_number(1.0 / 3.0), "0.333");
    }

    #[test]
    fn times_are_shown_as_utc_clock_times() {
        assert_eq!(clock_time(1_700_000_000_123_000_000), "22:13:20.123 UTC");
    }
}
