//! The trace page: the waterfall, the selected span's attributes, events and log lines beside
//! it (trace–log correlation), and every log line of the trace below.

use std::collections::BTreeSet;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::{Extension, Router, routing::get};
use dojo_traceql::model::{Attributes, SpanId, SpanKind, StatusCode, TraceId};
use serde::Deserialize;

use super::layout::Layout;
use crate::backend::LogEntry;
use crate::engine::value_text;
use crate::error::CourseError;
use crate::pictures::{format_duration, waterfall};
use crate::session::Visitor;
use crate::state::CourseState;

pub fn router() -> Router<CourseState> {
    Router::new().route("/traces/{trace_id}", get(trace))
}

#[derive(Deserialize)]
struct TraceParams {
    #[serde(default)]
    span: Option<String>,
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
    svg: String,
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
    let trace = state
        .inner
        .traces
        .trace(id)
        .await
        .map_err(|error| CourseError::Unavailable(error.to_string()))?
        .ok_or_else(|| {
            CourseError::NotFound(format!(
                "The trace store has no trace {id}. It may be older than the store keeps, or its spans have not arrived yet (they are sent every few seconds)."
            ))
        })?;
    let selected_id = match params.span.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(SpanId::from_hex(text).map_err(|error| {
            CourseError::BadRequest(format!("{text:?} is not a span id: {error}."))
        })?),
        None => None,
    };
    let rows = waterfall::rows(&trace);
    let svg = waterfall::svg(&trace, &rows, selected_id, &format!("/traces/{id}"));
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
                kind: kind_name(span.kind),
                status: status_name(span.status),
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
        svg,
        selected,
        logs,
    })
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "unspecified",
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

fn status_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::Unset => "unset",
        StatusCode::Ok => "ok",
        StatusCode::Error => "error",
    }
}

fn pairs(attributes: &Attributes) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.to_string(), value_text(&kv.value)))
        .collect()
}
