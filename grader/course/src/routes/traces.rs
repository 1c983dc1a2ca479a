//! The trace page: the waterfall (collapsible, with the critical path and a search within the
//! trace), the selected span's attributes, events, links and log lines beside it (trace–log
//! correlation), every log line of the trace below, and the compare view of two traces side by
//! side (a slow one against a typical one of the same operation).

use std::collections::BTreeSet;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::{Extension, Router, routing::get};
use dojo_traceql::model::{Attributes, SpanId, TraceId};
use serde::Deserialize;

use super::layout::Layout;
use dojo_grader::backend::BackendError;

use crate::backend::LogEntry;
use crate::traces::Traces;

use crate::error::CourseError;
use crate::markdown::render_untrusted_inline;
use crate::pictures::{compare, format_duration, waterfall};
use crate::session::Visitor;
use crate::state::CourseState;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/traces/compare", get(compare))
        .route("/traces/{trace_id}", get(trace))
}

#[derive(Deserialize)]
struct TraceParams {
    #[serde(default)]
    span: Option<String>,
    /// Text to find within the trace.
    #[serde(default)]
    find: Option<String>,
}

/// A span link as the panel shows it: to the linked trace, with the linked span selected.
pub(crate) struct LinkView {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Vec<(String, String)>,
}

pub(crate) struct EventView {
    pub name: String,
    pub offset: String,
    pub attributes: Vec<(String, String)>,
}

pub(crate) struct SpanDetail {
    pub span_id: String,
    pub parent: String,
    pub name: String,
    pub service: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_message: String,
    pub offset: String,
    pub duration: String,
    pub attributes: Vec<(String, String)>,
    pub resource: Vec<(String, String)>,
    pub events: Vec<EventView>,
    pub links: Vec<LinkView>,
    pub logs: Vec<LogEntry>,
}

#[derive(Template, WebTemplate)]
#[template(path = "trace.html")]
struct TracePage {
    layout: Layout,
    trace_id: String,
    span_count: usize,
    services: String,
    duration: String,
    error_count: usize,
    orphan_count: usize,
    waterfall: String,
    /// The in-trace search, as typed, and how many spans it found.
    find: String,
    found: Option<usize>,
    /// A typical trace of the same root operation to compare with, and its duration.
    typical: Option<(String, String)>,
    selected: Option<SpanDetail>,
    logs: Vec<LogEntry>,
}

async fn trace(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(trace_id): Path<String>,
    Query(params): Query<TraceParams>,
) -> Result<TracePage, CourseError> {
    let id = TraceId::from_hex(&trace_id).map_err(|error| {
        CourseError::BadRequest(format!("{trace_id:?} is not a trace id: {error}."))
    })?;
    let traces = state.traces_for(&visitor);
    let trace = fetch(&state, &visitor, id, "").await?;
    let selected_id = match params.span.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(SpanId::from_hex(text).map_err(|error| {
            CourseError::BadRequest(format!("{text:?} is not a span id: {error}."))
        })?),
        None => None,
    };
    let rows = waterfall::rows(&trace);
    let find = params
        .find
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| f.chars().take(200).collect::<String>());
    let link_base = format!("/traces/{id}");
    let drawn = waterfall::html(
        &trace,
        &rows,
        &waterfall::View {
            selected: selected_id,
            link_base: &link_base,
            find: find.as_deref(),
        },
    );
    let found = find.as_deref().map(|needle| {
        trace
            .spans
            .iter()
            .filter(|s| waterfall::matches(s, needle))
            .count()
    });
    let typical = typical_of(&state, &traces, &trace).await;
    let logs = state.inner.logs.logs_for_trace(id);
    let start = trace.start_unix_nanos();
    let selected = match selected_id {
        Some(span_id) => {
            let span = trace
                .spans
                .iter()
                .find(|s| s.span_id == span_id)
                .ok_or_else(|| {
                    CourseError::NotFound(format!("Trace {id} has no span {span_id}."))
                })?;
            Some(SpanDetail {
                span_id: span.span_id.to_string(),
                parent: span
                    .parent_span_id
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "none (root span)".into()),
                name: span.name.to_string(),
                service: span.service_name().unwrap_or("unknown service").to_string(),
                kind: span.kind.traceql_name(),
                status: span.status.traceql_name(),
                status_message: span.status_message.to_string(),
                offset: format_duration(span.start_unix_nanos.saturating_sub(start)),
                duration: format_duration(span.duration_nanos()),
                attributes: pairs(&span.attributes),
                resource: pairs(&span.resource.attributes),
                events: span
                    .events
                    .iter()
                    .map(|e| EventView {
                        name: e.name.to_string(),
                        offset: format_duration(
                            e.time_unix_nanos.saturating_sub(span.start_unix_nanos),
                        ),
                        attributes: pairs(&e.attributes),
                    })
                    .collect(),
                links: span
                    .links
                    .iter()
                    .map(|l| LinkView {
                        trace_id: l.trace_id.to_string(),
                        span_id: l.span_id.to_string(),
                        attributes: pairs(&l.attributes),
                    })
                    .collect(),
                logs: logs
                    .iter()
                    .filter(|l| l.span_id == Some(span_id))
                    .cloned()
                    .collect(),
            })
        }
        None => None,
    };
    let services: BTreeSet<&str> = rows.iter().map(|r| r.service.as_str()).collect();
    Ok(TracePage {
        layout: Layout::new(&state, &visitor, format!("Trace {id}")),
        trace_id: id.to_string(),
        span_count: trace.spans.len(),
        services: services.into_iter().collect::<Vec<_>>().join(", "),
        duration: format_duration(trace.end_unix_nanos().saturating_sub(start)),
        error_count: rows.iter().filter(|r| r.error).count(),
        orphan_count: rows.iter().filter(|r| r.orphan).count(),
        waterfall: drawn,
        find: find.unwrap_or_default(),
        found,
        typical,
        selected,
        logs,
    })
}

/// One whole trace from the store, or the page that says why not; `which` says which trace
/// was asked for when a page shows more than one.
async fn fetch(
    state: &CourseState,
    visitor: &Visitor,
    id: TraceId,
    which: &str,
) -> Result<dojo_traceql::model::Trace, CourseError> {
    let unavailable = |error: BackendError| CourseError::Unavailable(error.to_string());
    if let Some(trace) = state
        .traces_for(visitor)
        .trace(id)
        .await
        .map_err(unavailable)?
    {
        return Ok(trace);
    }
    // On a laptop the learner's own tenant holds what only they sent there (the sampling
    // exercise's traffic), which their feedback links to.
    let own = visitor
        .learner
        .as_ref()
        .and_then(|(learner, _)| state.inner.traces.own_tenant(learner));
    let found = match own {
        Some(own) => own.trace(id).await.map_err(unavailable)?,
        None => None,
    };
    found.ok_or_else(|| {
            CourseError::NotFound(format!(
                "The trace store has no trace {id}{which}. It may be older than the store keeps, or its spans have not arrived yet (they are sent every few seconds)."
            ))
        })
}

/// How many traces of the same operation are looked at to find a typical one.
const TYPICAL_SAMPLE: usize = 50;

/// A trace of the same root operation with the median duration of the recent ones (not this
/// one), to compare with: (trace id, duration). `None` when there is no other.
async fn typical_of(
    state: &CourseState,
    traces: &Traces,
    trace: &dojo_traceql::model::Trace,
) -> Option<(String, String)> {
    let root = trace.spans.iter().find(|s| s.parent_span_id.is_none())?;
    let quote = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let query = format!(
        "{{ trace:rootService = \"{}\" && trace:rootName = \"{}\" }}",
        quote(root.service_name()?),
        quote(&root.name)
    );
    let mut matches = traces
        .search(&query, state.inner.settings.window, TYPICAL_SAMPLE)
        .await
        .ok()?;
    matches.retain(|m| m.trace_id != trace.trace_id);
    matches.sort_by_key(|m| m.duration_nanos);
    let typical = matches.get(matches.len() / 2)?;
    Some((
        typical.trace_id.to_string(),
        format_duration(typical.duration_nanos),
    ))
}

#[derive(Deserialize)]
struct CompareParams {
    #[serde(default)]
    a: String,
    #[serde(default)]
    b: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "compare.html")]
struct ComparePage {
    layout: Layout,
    a: String,
    b: String,
    comparison: compare::Comparison,
    /// The findings, rendered from their inline markdown.
    findings: Vec<String>,
}

/// Two traces side by side, span by span, with what differs highlighted and named.
async fn compare(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Query(params): Query<CompareParams>,
) -> Result<ComparePage, CourseError> {
    let mut traces = Vec::with_capacity(2);
    for (which, text) in [("first", params.a.trim()), ("second", params.b.trim())] {
        let id = TraceId::from_hex(text).map_err(|error| {
            CourseError::BadRequest(format!(
                "The {which} trace id {text:?} is not a trace id: {error}. Give two trace ids, as in /traces/compare?a=<slow trace>&b=<typical trace>."
            ))
        })?;
        traces.push(
            fetch(
                &state,
                &visitor,
                id,
                &format!(" (the {which} of the two to compare)"),
            )
            .await?,
        );
    }
    let comparison = compare::compare(&traces[0], &traces[1]);
    let findings = comparison
        .findings
        .iter()
        .map(|f| render_untrusted_inline(f))
        .collect();
    Ok(ComparePage {
        layout: Layout::new(&state, &visitor, "Compare traces"),
        a: traces[0].trace_id.to_string(),
        b: traces[1].trace_id.to_string(),
        comparison,
        findings,
    })
}

fn pairs(attributes: &Attributes) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}
