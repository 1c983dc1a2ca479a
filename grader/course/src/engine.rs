//! Searching traces held in memory with the TraceQL engine, shaped into the console's view.
//! This is what a [`crate::backend::TraceSource`] over an in-process collection of traces
//! uses (the embedded store's adapter, and the tests' shelf of traces); a remote Tempo answers
//! searches itself.

use std::borrow::Borrow;
use std::collections::HashMap;

use dojo_traceql::model::{Trace, TraceId};
use dojo_traceql::{SearchOptions, field_result_value};

use crate::backend::{MatchedSpan, MatchedSpanset, QueryError, SearchError, TraceMatch};

/// The engine's error as the console shows it: the message, the position, the hint.
pub fn query_error(error: &dojo_traceql::Error, query: &str) -> QueryError {
    QueryError {
        message: error.message.clone(),
        position: Some(error.line_col(query)),
        hint: error.hint.clone(),
    }
}

/// The console's answer to a metrics query (it lists traces, not time series).
pub fn metrics_refusal() -> QueryError {
    QueryError {
        message: "this is a metrics query: it turns spans into time series, and the console lists traces".into(),
        position: None,
        hint: Some(
            "remove the last `| rate()`-style step to see the matching traces, or run the metrics query in Grafana against Tempo"
                .into(),
        ),
    }
}

/// Runs a TraceQL search over `traces`; newest first, at most `limit` traces.
pub fn search<T: Borrow<Trace>>(
    traces: &[T],
    query: &str,
    limit: usize,
) -> Result<Vec<TraceMatch>, SearchError> {
    let parsed = dojo_traceql::parse(query).map_err(|error| query_error(&error, query))?;
    if parsed.is_metrics() {
        return Err(metrics_refusal().into());
    }
    let options = SearchOptions {
        limit: limit.max(1),
        ..SearchOptions::default()
    };
    let found = dojo_traceql::search(&parsed, traces.iter().map(Borrow::borrow), &options)
        .map_err(|error| query_error(&error, query))?;
    let by_id: HashMap<TraceId, &Trace> = traces
        .iter()
        .map(|t| {
            let t: &Trace = t.borrow();
            (t.trace_id, t)
        })
        .collect();
    let fetched = parsed.fetched_attributes();
    Ok(found
        .into_iter()
        .filter_map(|m| {
            let trace = by_id.get(&m.trace_id)?;
            let root = trace.root();
            Some(TraceMatch {
                trace_id: m.trace_id,
                root_service: root
                    .and_then(|r| r.service_name())
                    .unwrap_or("<root span not yet received>")
                    .to_string(),
                root_name: root.map(|r| r.name.to_string()).unwrap_or_default(),
                start_unix_nanos: trace.start_unix_nanos(),
                duration_nanos: trace
                    .end_unix_nanos()
                    .saturating_sub(trace.start_unix_nanos()),
                spansets: m
                    .spansets
                    .iter()
                    .map(|set| MatchedSpanset {
                        matched: set.matched,
                        attributes: set
                            .attributes
                            .iter()
                            .map(|(k, v)| (k.clone(), v.to_string()))
                            .collect(),
                        spans: set
                            .spans
                            .iter()
                            .filter_map(|&index| {
                                let span = trace.spans.get(index)?;
                                Some(MatchedSpan {
                                    span_id: span.span_id,
                                    name: span.name.to_string(),
                                    start_unix_nanos: span.start_unix_nanos,
                                    duration_nanos: span.duration_nanos(),
                                    attributes: fetched
                                        .iter()
                                        .filter_map(|field| {
                                            let value = field_result_value(trace, index, field)?;
                                            Some((field.result_key(), value.to_string()))
                                        })
                                        .collect(),
                                })
                            })
                            .collect(),
                    })
                    .collect(),
            })
        })
        .collect())
}
