//! Trace by id: `/api/traces/{id}` (a bare trace) and `/api/v2/traces/{id}` (wrapped, with
//! metrics), in Tempo's JSON or, when `Accept: application/protobuf`, in protobuf (Grafana's
//! own path).
//!
//! Ids are read as Tempo reads them: any case, leading zeros optional.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dojo_traceql::model::{Trace, TraceId};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use serde_json::json;

use super::error::{ApiError, blocking};
use super::filter::trim_trace;
use super::params::{Params, Tenant};
use crate::otlp::encode::{resource_spans, write_resource_spans_json};
use crate::storage::Store;

pub fn router() -> Router<Store> {
    Router::new()
        .route("/api/traces/{id}", get(v1))
        .route("/api/v2/traces/{id}", get(v2))
}

/// Whether the client asked for protobuf.
pub fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|a| a.trim().starts_with("application/protobuf"))
        })
}

/// `tempopb.TraceByIDResponse`: field 1 is the trace (wire-compatible with `TracesData`).
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
    #[prost(message, optional, tag = "2")]
    metrics: Option<TraceByIdMetrics>,
    #[prost(int32, tag = "3")]
    status: i32,
    #[prost(string, tag = "4")]
    message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdMetrics {
    #[prost(uint64, tag = "1")]
    inspected_bytes: u64,
}

/// A JSON body already written.
fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Parses an id as Tempo does, with Tempo's kind of message.
pub fn parse_trace_id(text: &str) -> Result<TraceId, ApiError> {
    TraceId::from_hex(text)
        .map_err(|e| ApiError::bad_request(format!("invalid trace id {text:?}: {e}")))
}

/// A trace cut to at most `max_bytes` (estimated, spans in stored order), and whether
/// anything was left out: Tempo's `max_bytes_per_trace` on the query side. Ingest already
/// refuses spans past the same limit, so this only cuts a trace stored under a larger one.
pub fn bounded(trace: &Trace, max_bytes: u64) -> (Trace, bool) {
    let mut total = 0;
    let kept = trace
        .spans
        .iter()
        .take_while(|span| {
            total += crate::storage::size::span(span);
            total <= max_bytes
        })
        .count();
    let spans = trace.spans[..kept].to_vec();
    (
        Trace {
            trace_id: trace.trace_id,
            spans,
        },
        kept < trace.spans.len(),
    )
}

/// What v2 says about a trace cut by [`bounded`], in Tempo's words.
fn too_big_message(max_bytes: u64) -> String {
    format!("Trace exceeds maximum size of {max_bytes} bytes, a partial trace is returned")
}

fn find(store: &Store, tenant: &Tenant, id: &str, params: &Params) -> Result<Trace, ApiError> {
    let trace_id = parse_trace_id(id)?;
    let range = params.seconds_range()?;
    let trace = store
        .trace_by_id(&tenant.0, &trace_id)
        .ok_or(ApiError::TraceNotFound)?;
    if let Some(range) = range
        && !range.overlaps(&trace)
    {
        return Err(ApiError::TraceNotFound);
    }
    let (trace, cut) = bounded(&trace, store.config().span_limits.max_bytes_per_trace);
    if cut {
        tracing::warn!(trace_id = %trace.trace_id, "trace by id answered partially: over max_bytes_per_trace");
    }
    Ok(trace)
}

async fn v1(
    State(store): State<Store>,
    tenant: Tenant,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let protobuf = wants_protobuf(&headers);
    blocking(move || {
        let trace = find(&store, &tenant, &id, &params)?;
        let batches = resource_spans(&trace);
        Ok(if protobuf {
            let body = TracesData {
                resource_spans: batches,
            }
            .encode_to_vec();
            ([(header::CONTENT_TYPE, "application/protobuf")], body).into_response()
        } else {
            let mut body = Vec::from(&b"{\"resourceSpans\":"[..]);
            write_resource_spans_json(&batches, &mut body);
            body.push(b'}');
            json_response(body)
        })
    })
    .await
}

async fn v2(
    State(store): State<Store>,
    tenant: Tenant,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let protobuf = wants_protobuf(&headers);
    blocking(move || {
        let mut trace = find(&store, &tenant, &id, &params)?;
        let max_bytes = store.config().span_limits.max_bytes_per_trace;
        let stored_spans = store
            .trace_by_id(&tenant.0, &trace.trace_id)
            .map_or(0, |t| t.spans.len());
        let too_big = trace.spans.len() < stored_spans;
        let inspected_bytes: u64 = trace.spans.iter().map(crate::storage::size::span).sum();
        let filtered = match params.get("q") {
            Some(q) => {
                let before = trace.spans.len();
                trace = trim_trace(q, &trace)?;
                trace.spans.len() < before
            }
            None => false,
        };
        let batches = resource_spans(&trace);
        let message = if too_big {
            too_big_message(max_bytes)
        } else if filtered {
            "the trace was filtered by the query in q".to_string()
        } else {
            String::new()
        };
        let filtered = filtered || too_big;
        Ok(if protobuf {
            let body = TraceByIdResponse {
                trace: Some(TracesData {
                    resource_spans: batches,
                }),
                metrics: Some(TraceByIdMetrics { inspected_bytes }),
                // PartialStatus: COMPLETE = 0, PARTIAL = 1.
                status: i32::from(filtered),
                message,
            }
            .encode_to_vec();
            ([(header::CONTENT_TYPE, "application/protobuf")], body).into_response()
        } else {
            // The small fields first, then the trace written a span at a time.
            let mut head = json!({"metrics": {"inspectedBytes": inspected_bytes.to_string()}});
            if filtered {
                head["status"] = json!("PARTIAL");
                head["message"] = json!(message);
            }
            let mut body = serde_json::to_vec(&head).expect("a JSON value serializes");
            body.pop(); // the closing brace
            body.extend_from_slice(b",\"trace\":{\"resourceSpans\":");
            write_resource_spans_json(&batches, &mut body);
            body.extend_from_slice(b"}}");
            json_response(body)
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_traceql::model::{Span, SpanId};

    #[test]
    fn a_trace_over_the_byte_limit_is_cut_to_it_and_said_to_be_partial() {
        let trace = Trace {
            trace_id: TraceId([1; 16]),
            spans: (1..=10)
                .map(|n| Span {
                    span_id: SpanId([n; 8]),
                    ..Default::default()
                })
                .collect(),
        };
        let one = crate::storage::size::span(&trace.spans[0]);
        let (cut, partial) = bounded(&trace, one * 3 + one / 2);
        assert!(partial);
        assert_eq!(cut.spans.len(), 3);
        assert_eq!(
            cut.spans[2].span_id,
            SpanId([3; 8]),
            "the first spans are kept"
        );
        let (whole, partial) = bounded(&trace, one * 10);
        assert!(!partial);
        assert_eq!(whole.spans.len(), 10);
        assert!(too_big_message(7).contains("partial trace"));
    }
}
