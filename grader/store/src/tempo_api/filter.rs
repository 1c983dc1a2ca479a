//! The TraceQL engine at the API's edge: turning its errors into Tempo's 400s, and the two
//! places a query narrows something other than a search — the `q` of tag values (lenient,
//! like Tempo: an unfinished filter is ignored) and the `q` of trace-by-id v2 (strict).

use std::cell::RefCell;
use std::collections::HashSet;

use dojo_traceql::ast::{SpansetExpr, Stage};
use dojo_traceql::model::{Trace, TraceId};
use dojo_traceql::{ErrorKind, EvalBudget, Query, evaluate_trace};

use super::error::ApiError;
use crate::traceql_metrics::{MAX_QUERY_BYTES, MetricsError};

/// The engine's error as the API reports it: `invalid TraceQL query: parse error at line 1, col 3: …`.
pub fn query_error(query: &str, error: &dojo_traceql::Error) -> ApiError {
    match error.kind {
        ErrorKind::Budget | ErrorKind::Runtime => ApiError::BadRequest(error.one_line(query)),
        _ => ApiError::InvalidQuery(error.one_line(query)),
    }
}

/// A metrics query's failure as the API reports it.
pub fn metrics_error(query: &str, error: &MetricsError) -> ApiError {
    match error {
        MetricsError::Query(e) => query_error(query, e),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// Parses a query for an endpoint, with the size limit.
pub fn parse_query(query: &str) -> Result<Query, ApiError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(format!(
            "the query is {} bytes long; the limit is {MAX_QUERY_BYTES} bytes",
            query.len()
        )));
    }
    dojo_traceql::parse(query).map_err(|e| query_error(query, &e))
}

/// Says whether span `index` of a trace counts.
pub type SpanFilter = Box<dyn Fn(&Trace, usize) -> bool>;

/// A per-span filter from an optional, possibly unfinished, TraceQL filter. Anything that does
/// not parse as a spanset query filters nothing, as Tempo's lenient tag-values path does.
pub fn span_filter(query: Option<&str>) -> SpanFilter {
    let parsed = query
        .map(str::trim)
        .filter(|q| !q.is_empty() && *q != "{}")
        .and_then(|q| dojo_traceql::parse(q).ok())
        .filter(|q| !q.is_metrics());
    let Some(query) = parsed else {
        return Box::new(|_, _| true);
    };
    // Tag-value lookups walk the spans of one trace after another: evaluate each trace once.
    let cache: RefCell<Option<(TraceId, HashSet<usize>)>> = RefCell::new(None);
    Box::new(move |trace, index| {
        let mut cache = cache.borrow_mut();
        if cache.as_ref().is_none_or(|(id, _)| *id != trace.trace_id) {
            let mut budget = EvalBudget::default();
            let spans = match evaluate_trace(&query, trace, &mut budget) {
                Ok(sets) => sets.into_iter().flat_map(|s| s.spans).collect(),
                Err(_) => HashSet::new(),
            };
            *cache = Some((trace.trace_id, spans));
        }
        cache
            .as_ref()
            .is_some_and(|(_, spans)| spans.contains(&index))
    })
}

/// Trims a trace to the spans a single spanset filter matches (trace-by-id v2's `q`).
pub fn trim_trace(query: &str, trace: &Trace) -> Result<Trace, ApiError> {
    let parsed = parse_query(query)?;
    let simple = parsed
        .pipeline()
        .is_some_and(|p| matches!(p.stages.as_slice(), [Stage::Spans(SpansetExpr::Filter(_))]));
    if !simple {
        return Err(ApiError::bad_request(format!(
            "q must be a single spanset filter such as {{ span.http.status_code >= 500 }}; {query:?} is not"
        )));
    }
    let mut budget = EvalBudget::default();
    let keep: HashSet<usize> = evaluate_trace(&parsed, trace, &mut budget)
        .map_err(|e| query_error(query, &e))?
        .into_iter()
        .flat_map(|s| s.spans)
        .collect();
    Ok(Trace {
        trace_id: trace.trace_id,
        spans: trace
            .spans
            .iter()
            .enumerate()
            .filter(|(i, _)| keep.contains(i))
            .map(|(_, s)| s.clone())
            .collect(),
    })
}
