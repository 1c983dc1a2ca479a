//! `GET /api/search`: TraceQL search (`q`), or Tempo's legacy tag search (`tags`, with
//! `minDuration`/`maxDuration`), answered in Tempo's `SearchResponse` JSON.
//!
//! Result spans carry only the attributes the query fetched, keyed without their scope, and
//! `name` only when the query read it — what Tempo does, and what Grafana expects.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use dojo_traceql::ast::Intrinsic;
use dojo_traceql::model::{StatusCode, Trace};
use dojo_traceql::{FieldRef, SpansetMatch, field_result_value};
use serde_json::{Map, Value as Json, json};

use super::error::{ApiError, blocking};
use super::params::{Params, Tenant};
use crate::bounds::QueryLimits;
use crate::duration::parse_go_duration;
use crate::otlp::encode::{any_value, any_value_json};
pub use crate::queries::search::{
    SearchHit, SearchKind, SearchRequest, SearchResults, root_service_name,
};
use crate::storage::Store;

/// Tempo's HTTP parser's ceiling on `limit` (above the query frontend's configurable cap).
const MAX_LIMIT: u64 = 262_144;

pub fn router() -> Router<Store> {
    Router::new().route("/api/search", get(search))
}

impl SearchRequest {
    /// Reads and checks the query-string parameters, with Tempo's defaults and limits: a
    /// `limit` over `query.max_result_limit` is lowered to it and an `spss` over
    /// `query.max_spans_per_span_set` refused, as Tempo's query frontend does.
    pub fn from_params(params: &Params, caps: &QueryLimits) -> Result<Self, ApiError> {
        let limit = params
            .u64("limit")?
            .unwrap_or(caps.default_result_limit as u64);
        if limit == 0 {
            return Err(ApiError::bad_request(
                "invalid limit: must be a positive number",
            ));
        }
        if limit > MAX_LIMIT {
            return Err(ApiError::bad_request(format!(
                "invalid limit: must be at most {MAX_LIMIT}"
            )));
        }
        let limit = limit.min(caps.max_result_limit as u64);
        let spss = params.u64("spss")?.unwrap_or(3);
        let max_spss = caps.max_spans_per_span_set as u64;
        if spss == 0 || spss > max_spss {
            return Err(ApiError::bad_request(format!(
                "invalid spss: must be between 1 and {max_spss}"
            )));
        }
        let range = params.seconds_range()?;
        if let Some(r) = range
            && r.end_nanos - r.start_nanos > 168 * 3600 * 1_000_000_000
        {
            return Err(ApiError::bad_request(
                "invalid start and end: the range must be at most 168h",
            ));
        }
        let duration = |key: &str| {
            params
                .get(key)
                .map(|v| {
                    parse_go_duration(v)
                        .map_err(|e| ApiError::bad_request(format!("invalid {key}: {e}")))
                })
                .transpose()
        };
        let query = match (params.get("q"), params.get("tags")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "invalid request: give either q (TraceQL) or tags, not both",
                ));
            }
            (Some(q), None) => SearchKind::TraceQl(q.to_string()),
            (None, tags) => SearchKind::Tags {
                tags: parse_logfmt(tags.unwrap_or(""))?,
                min_duration: duration("minDuration")?,
                max_duration: duration("maxDuration")?,
            },
        };
        Ok(SearchRequest {
            query,
            limit: limit as usize,
            spans_per_spanset: spss as usize,
            range,
        })
    }
}

/// Reads logfmt `k=v k2="v 2"` pairs.
pub fn parse_logfmt(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| {
            ApiError::bad_request(format!("invalid tags: expected key=value, found {rest:?}"))
        })?;
        let key = rest[..eq].trim().to_string();
        rest = &rest[eq + 1..];
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| {
                ApiError::bad_request("invalid tags: a quoted value is not closed")
            })?;
            rest = &quoted[end + 1..];
            quoted[..end].to_string()
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let value = rest[..end].to_string();
            rest = &rest[end..];
            value
        };
        if key.is_empty() {
            return Err(ApiError::bad_request("invalid tags: a key is empty"));
        }
        pairs.push((key, value));
        rest = rest.trim_start();
    }
    Ok(pairs)
}

fn span_json(trace: &Trace, index: usize, fetched: &[FieldRef]) -> Json {
    let span = &trace.spans[index];
    let mut map = Map::new();
    map.insert("spanID".into(), json!(span.span_id.to_string()));
    if fetched.contains(&FieldRef::Intrinsic(Intrinsic::Name)) {
        map.insert("name".into(), json!(span.name.as_ref()));
    }
    map.insert(
        "startTimeUnixNano".into(),
        json!(span.start_unix_nanos.to_string()),
    );
    map.insert(
        "durationNanos".into(),
        json!(span.duration_nanos().to_string()),
    );
    let attributes: Vec<Json> = fetched
        .iter()
        .filter(|f| **f != FieldRef::Intrinsic(Intrinsic::Name))
        .filter_map(|f| {
            field_result_value(trace, index, f)
                .map(|v| json!({"key": f.result_key(), "value": any_value_json(&any_value(&v))}))
        })
        .collect();
    if !attributes.is_empty() {
        map.insert("attributes".into(), Json::Array(attributes));
    }
    Json::Object(map)
}

fn spanset_json(trace: &Trace, set: &SpansetMatch, fetched: &[FieldRef]) -> Json {
    let mut map = Map::new();
    map.insert(
        "spans".into(),
        Json::Array(
            set.spans
                .iter()
                .filter(|i| **i < trace.spans.len())
                .map(|i| span_json(trace, *i, fetched))
                .collect(),
        ),
    );
    if set.matched > 0 {
        map.insert("matched".into(), json!(set.matched));
    }
    if !set.attributes.is_empty() {
        map.insert(
            "attributes".into(),
            Json::Array(
                set.attributes
                    .iter()
                    .map(|(k, v)| json!({"key": k, "value": any_value_json(&any_value(v))}))
                    .collect(),
            ),
        );
    }
    Json::Object(map)
}

/// One trace's `TraceSearchMetadata`.
pub fn trace_json(hit: &SearchHit, fetched: &[FieldRef]) -> Json {
    let trace = &hit.trace;
    let mut map = Map::new();
    map.insert("traceID".into(), json!(trace.trace_id.to_trimmed_hex()));
    map.insert("rootServiceName".into(), json!(root_service_name(trace)));
    if let Some(root) = trace.root() {
        map.insert("rootTraceName".into(), json!(root.name.as_ref()));
    }
    let start = trace.start_unix_nanos();
    map.insert("startTimeUnixNano".into(), json!(start.to_string()));
    let duration_ms = trace.end_unix_nanos().saturating_sub(start) / 1_000_000;
    if duration_ms > 0 {
        map.insert(
            "durationMs".into(),
            json!(duration_ms.min(u64::from(u32::MAX))),
        );
    }
    let sets: Vec<Json> = hit
        .spansets
        .iter()
        .map(|s| spanset_json(trace, s, fetched))
        .collect();
    if let Some(first) = sets.first() {
        map.insert("spanSet".into(), first.clone());
        map.insert("spanSets".into(), Json::Array(sets));
    }
    let mut stats: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for span in &trace.spans {
        let entry = stats
            .entry(span.service_name().unwrap_or("").to_string())
            .or_default();
        entry.0 += 1;
        entry.1 += u64::from(span.status == StatusCode::Error);
    }
    let stats: Map<String, Json> = stats
        .into_iter()
        .map(|(service, (spans, errors))| {
            let mut s = Map::new();
            s.insert("spanCount".into(), json!(spans));
            if errors > 0 {
                s.insert("errorCount".into(), json!(errors));
            }
            (service, Json::Object(s))
        })
        .collect();
    map.insert("serviceStats".into(), Json::Object(stats));
    Json::Object(map)
}

/// The whole `SearchResponse` as JSON bytes, written one trace at a time: only one trace's
/// JSON tree exists at once, so the memory of an answer is its text, not a tree of every
/// trace (which took several times the text). The same document as [`response_json`].
pub fn response_bytes(results: &SearchResults) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + results.hits.len() * 256);
    out.push(b'{');
    if !results.hits.is_empty() {
        out.extend_from_slice(b"\"traces\":[");
        for (i, hit) in results.hits.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing a Value into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, &trace_json(hit, &results.fetched));
        }
        out.extend_from_slice(b"],");
    }
    out.extend_from_slice(b"\"metrics\":");
    let _ = serde_json::to_writer(&mut out, &metrics_json(results));
    out.push(b'}');
    out
}

fn metrics_json(results: &SearchResults) -> Json {
    json!({
        "inspectedTraces": results.inspected_traces,
        "inspectedSpans": results.inspected_spans.to_string(),
        "totalJobs": 1,
        "completedJobs": 1,
    })
}

/// The whole `SearchResponse`.
pub fn response_json(results: &SearchResults) -> Json {
    let mut body = Map::new();
    if !results.hits.is_empty() {
        body.insert(
            "traces".into(),
            Json::Array(
                results
                    .hits
                    .iter()
                    .map(|h| trace_json(h, &results.fetched))
                    .collect(),
            ),
        );
    }
    body.insert("metrics".into(), metrics_json(results));
    Json::Object(body)
}

async fn search(
    State(store): State<Store>,
    tenant: Tenant,
    params: Params,
) -> Result<axum::response::Response, ApiError> {
    let request = SearchRequest::from_params(&params, &store.config().query)?;
    blocking(move || {
        let body = response_bytes(&store.search(&tenant.0, &request)?);
        Ok(axum::response::IntoResponse::into_response((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_answer_is_the_same_document_as_the_tree() {
        use dojo_traceql::model::{Span, SpanId, TraceId};
        use std::sync::Arc;
        let trace = |n: u8| {
            Arc::new(Trace {
                trace_id: TraceId([n; 16]),
                spans: vec![Span {
                    span_id: SpanId([n; 8]),
                    start_unix_nanos: 1_000,
                    end_unix_nanos: 2_000_000,
                    ..Default::default()
                }],
            })
        };
        let hits = (1..=3)
            .map(|n| SearchHit {
                trace: trace(n),
                spansets: Vec::new(),
            })
            .collect();
        for results in [
            SearchResults {
                hits,
                fetched: Vec::new(),
                inspected_traces: 3,
                inspected_spans: 3,
            },
            SearchResults::default(),
        ] {
            let streamed: Json = serde_json::from_slice(&response_bytes(&results)).unwrap();
            assert_eq!(streamed, response_json(&results));
        }
    }

    #[test]
    fn logfmt_tags_are_read_with_quotes() {
        assert_eq!(
            parse_logfmt(r#"service.name=api http.route="/cart items""#).unwrap(),
            vec![
                ("service.name".into(), "api".into()),
                ("http.route".into(), "/cart items".into())
            ]
        );
        assert!(parse_logfmt("novalue").is_err());
        assert!(parse_logfmt(r#"a="open"#).is_err());
    }
}
