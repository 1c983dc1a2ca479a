//! Tempo's JSON shapes (gogo `jsonpb`: 64-bit integers as strings, ids in base64 inside
//! traces and hex in search results, enums by name, empty fields omitted) read into the
//! trace model. Older Tempo wrote `batches` and `instrumentationLibrarySpans`; both are read.

use std::sync::Arc;

use base64::Engine;
use dojo_traceql::model::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, Trace, TraceId,
    Value,
};
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{
    BackendError, HitSpan, HitSpanset, MetricsAnswer, MetricsRequest, MetricsSeries, SearchHit,
};

/// A 64-bit integer Tempo may write as a string or a number.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct U64(pub u64);

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
            F(f64),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(U64(n)),
            Raw::S(s) => s.parse().map(U64).map_err(de::Error::custom),
            Raw::F(f) if f >= 0.0 && f.fract() == 0.0 => Ok(U64(f as u64)),
            Raw::F(f) => Err(de::Error::custom(format!("{f} is not a whole number"))),
        }
    }
}

/// OTLP `AnyValue` in Tempo's JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AnyValue {
    string_value: Option<String>,
    int_value: Option<serde_json::Value>,
    double_value: Option<f64>,
    bool_value: Option<bool>,
    array_value: Option<ArrayValue>,
    kvlist_value: Option<serde_json::Value>,
    bytes_value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ArrayValue {
    #[serde(default)]
    values: Vec<AnyValue>,
}

impl AnyValue {
    /// The value, or `None` for an empty value (Tempo's label for a `nil` group).
    fn into_optional_value(self) -> Option<Value> {
        let empty = self.string_value.is_none()
            && self.int_value.is_none()
            && self.double_value.is_none()
            && self.bool_value.is_none()
            && self.array_value.is_none()
            && self.kvlist_value.is_none()
            && self.bytes_value.is_none();
        (!empty).then(|| self.into_value())
    }

    fn into_value(self) -> Value {
        if let Some(s) = self.string_value {
            Value::str(s)
        } else if let Some(i) = self.int_value {
            match i {
                serde_json::Value::Number(n) => Value::Int(n.as_i64().unwrap_or_default()),
                serde_json::Value::String(s) => {
                    s.parse().map(Value::Int).unwrap_or_else(|_| Value::str(s))
                }
                other => Value::str(other.to_string()),
            }
        } else if let Some(f) = self.double_value {
            Value::Float(f)
        } else if let Some(b) = self.bool_value {
            Value::Bool(b)
        } else if let Some(a) = self.array_value {
            Value::Array(a.values.into_iter().map(AnyValue::into_value).collect())
        } else if let Some(kv) = self.kvlist_value {
            Value::str(kv.to_string())
        } else if let Some(b) = self.bytes_value {
            Value::str(b)
        } else {
            Value::str("")
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Kv {
    key: String,
    #[serde(default)]
    value: AnyValue,
}

fn attributes(kvs: Vec<Kv>) -> Vec<KeyValue> {
    kvs.into_iter()
        .map(|kv| KeyValue::new(kv.key, kv.value.into_value()))
        .collect()
}

// ---------------------------------------------------------------- search

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchResponse {
    #[serde(default)]
    traces: Vec<TraceMeta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TraceMeta {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(default)]
    root_service_name: String,
    #[serde(default)]
    root_trace_name: String,
    #[serde(default)]
    start_time_unix_nano: U64,
    #[serde(default)]
    duration_ms: U64,
    #[serde(default)]
    span_sets: Vec<SpanSet>,
    #[serde(default)]
    span_set: Option<SpanSet>,
}

#[derive(Debug, Deserialize)]
struct SpanSet {
    #[serde(default)]
    spans: Vec<SearchSpan>,
    #[serde(default)]
    matched: U64,
    #[serde(default)]
    attributes: Vec<Kv>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchSpan {
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    start_time_unix_nano: U64,
    #[serde(default)]
    duration_nanos: U64,
    #[serde(default)]
    attributes: Vec<Kv>,
}

/// Reads a `/api/search` body.
pub(super) fn search_hits(body: &[u8]) -> Result<Vec<SearchHit>, BackendError> {
    let response: SearchResponse = serde_json::from_slice(body)
        .map_err(|e| BackendError::Protocol(format!("search response: {e}")))?;
    response
        .traces
        .into_iter()
        .map(|t| {
            let trace_id = TraceId::from_hex(&t.trace_id)
                .map_err(|e| BackendError::Protocol(format!("trace id {:?}: {e}", t.trace_id)))?;
            let mut sets = t.span_sets;
            if sets.is_empty()
                && let Some(one) = t.span_set
            {
                sets.push(one);
            }
            let spansets = sets
                .into_iter()
                .map(|set| {
                    let spans = set
                        .spans
                        .into_iter()
                        .map(|s| {
                            Ok(HitSpan {
                                span_id: SpanId::from_hex(&s.span_id).map_err(|e| {
                                    BackendError::Protocol(format!("span id {:?}: {e}", s.span_id))
                                })?,
                                name: s.name.filter(|n| !n.is_empty()),
                                start_unix_nanos: s.start_time_unix_nano.0,
                                duration_nanos: s.duration_nanos.0,
                                attributes: s
                                    .attributes
                                    .into_iter()
                                    .map(|kv| (kv.key, kv.value.into_value().to_string()))
                                    .collect(),
                            })
                        })
                        .collect::<Result<Vec<_>, BackendError>>()?;
                    Ok(HitSpanset {
                        spans,
                        matched: usize::try_from(set.matched.0).unwrap_or(usize::MAX),
                        attributes: set
                            .attributes
                            .into_iter()
                            .map(|kv| (kv.key, kv.value.into_value().to_string()))
                            .collect(),
                    })
                })
                .collect::<Result<Vec<_>, BackendError>>()?;
            Ok(SearchHit {
                trace_id,
                root_service_name: t.root_service_name,
                root_trace_name: t.root_trace_name,
                start_unix_nanos: t.start_time_unix_nano.0,
                duration_nanos: t.duration_ms.0.saturating_mul(1_000_000),
                spansets,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- metrics

#[derive(Debug, Deserialize)]
struct RangeResponse {
    #[serde(default)]
    series: Vec<RangeSeries>,
}

#[derive(Debug, Deserialize)]
struct RangeSeries {
    #[serde(default)]
    labels: Vec<Kv>,
    #[serde(default)]
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sample {
    timestamp_ms: U64,
    /// Left out when 0, as protobuf JSON leaves out defaults.
    #[serde(default)]
    value: f64,
}

/// Reads a `/api/metrics/query_range` body into one value per interval of `request`'s
/// (step-aligned) range. A sample's timestamp is the right edge of its interval.
pub(super) fn metrics_answer(
    body: &[u8],
    request: &MetricsRequest<'_>,
) -> Result<MetricsAnswer, BackendError> {
    let response: RangeResponse = serde_json::from_slice(body)
        .map_err(|e| BackendError::Protocol(format!("query_range response: {e}")))?;
    let step = request.step_nanos.max(1);
    let intervals = request.intervals();
    let series = response
        .series
        .into_iter()
        .map(|series| {
            let mut values = vec![f64::NAN; intervals];
            for sample in series.samples {
                let edge = sample.timestamp_ms.0.saturating_mul(1_000_000);
                let index = (edge.saturating_sub(request.start_nanos) / step).checked_sub(1);
                if let Some(slot) = index.and_then(|i| values.get_mut(i as usize)) {
                    *slot = sample.value;
                }
            }
            let labels = series
                .labels
                .into_iter()
                .filter(|kv| kv.key != "__name__")
                .map(|kv| (kv.key, kv.value.into_optional_value()))
                .collect();
            MetricsSeries { labels, values }
        })
        .collect();
    Ok(MetricsAnswer {
        start_nanos: request.start_nanos,
        step_nanos: step,
        series,
    })
}

// ---------------------------------------------------------------- trace by id

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TraceBody {
    #[serde(default, alias = "batches")]
    resource_spans: Vec<ResourceSpans>,
}

/// The v2 wrapper: `{"trace": {...}}`.
#[derive(Debug, Deserialize)]
struct TraceByIdV2 {
    trace: Option<TraceBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans {
    #[serde(default)]
    resource: Option<ResourceJson>,
    #[serde(default, alias = "instrumentationLibrarySpans")]
    scope_spans: Vec<ScopeSpans>,
}

#[derive(Debug, Default, Deserialize)]
struct ResourceJson {
    #[serde(default)]
    attributes: Vec<Kv>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeSpans {
    #[serde(default, alias = "instrumentationLibrary")]
    scope: Option<ScopeJson>,
    #[serde(default)]
    spans: Vec<SpanJson>,
}

#[derive(Debug, Default, Deserialize)]
struct ScopeJson {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    attributes: Vec<Kv>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpanJson {
    trace_id: String,
    span_id: String,
    #[serde(default)]
    parent_span_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: Option<serde_json::Value>,
    #[serde(default)]
    start_time_unix_nano: U64,
    #[serde(default)]
    end_time_unix_nano: U64,
    #[serde(default)]
    attributes: Vec<Kv>,
    #[serde(default)]
    status: Option<StatusJson>,
    #[serde(default)]
    events: Vec<EventJson>,
    #[serde(default)]
    links: Vec<LinkJson>,
}

#[derive(Debug, Default, Deserialize)]
struct StatusJson {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventJson {
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_unix_nano: U64,
    #[serde(default)]
    attributes: Vec<Kv>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkJson {
    trace_id: String,
    span_id: String,
    #[serde(default)]
    attributes: Vec<Kv>,
}

/// Reads an id that Tempo writes in base64 inside traces; hex is accepted too.
fn id_bytes<const N: usize>(text: &str) -> Result<[u8; N], BackendError> {
    if text.len() == N * 2 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        let bytes =
            hex::decode(text).map_err(|e| BackendError::Protocol(format!("id {text:?}: {e}")))?;
        return bytes
            .try_into()
            .map_err(|_| BackendError::Protocol(format!("id {text:?} has the wrong length")));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| BackendError::Protocol(format!("id {text:?}: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| BackendError::Protocol(format!("id {text:?} has the wrong length")))
}

fn kind(value: Option<serde_json::Value>) -> SpanKind {
    match value {
        Some(serde_json::Value::String(name)) => SpanKind::from_otlp_name(&name),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .map(SpanKind::from_otlp_number)
            .unwrap_or_default(),
        _ => SpanKind::Unspecified,
    }
}

fn status(value: Option<serde_json::Value>) -> StatusCode {
    match value {
        Some(serde_json::Value::String(s)) if s == "STATUS_CODE_ERROR" => StatusCode::Error,
        Some(serde_json::Value::String(s)) if s == "STATUS_CODE_OK" => StatusCode::Ok,
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(2) => StatusCode::Error,
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => StatusCode::Ok,
        _ => StatusCode::Unset,
    }
}

/// Reads a `/api/traces/<id>` (v1) or `/api/v2/traces/<id>` body. `None` when it holds no spans.
pub(super) fn trace(body: &[u8]) -> Result<Option<Trace>, BackendError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| BackendError::Protocol(format!("trace: {e}")))?;
    let body: TraceBody = if value.get("trace").is_some() {
        let v2: TraceByIdV2 = serde_json::from_value(value)
            .map_err(|e| BackendError::Protocol(format!("trace: {e}")))?;
        match v2.trace {
            Some(t) => t,
            None => return Ok(None),
        }
    } else {
        serde_json::from_value(value).map_err(|e| BackendError::Protocol(format!("trace: {e}")))?
    };
    let mut trace_id = None;
    let mut spans = Vec::new();
    for rs in body.resource_spans {
        let resource = Arc::new(Resource {
            attributes: attributes(rs.resource.unwrap_or_default().attributes),
        });
        for ss in rs.scope_spans {
            let scope_json = ss.scope.unwrap_or_default();
            let scope = Arc::new(Scope {
                name: scope_json.name.into(),
                version: scope_json.version.into(),
                attributes: attributes(scope_json.attributes),
            });
            for s in ss.spans {
                let id = TraceId(id_bytes::<16>(&s.trace_id)?);
                trace_id.get_or_insert(id);
                let parent = if s.parent_span_id.is_empty() {
                    None
                } else {
                    let bytes = id_bytes::<8>(&s.parent_span_id)?;
                    (bytes != [0; 8]).then_some(SpanId(bytes))
                };
                let st = s.status.unwrap_or_default();
                spans.push(Span {
                    span_id: SpanId(id_bytes::<8>(&s.span_id)?),
                    parent_span_id: parent,
                    name: s.name.into(),
                    kind: kind(s.kind),
                    status: status(st.code),
                    status_message: st.message.into(),
                    start_unix_nanos: s.start_time_unix_nano.0,
                    end_unix_nanos: s.end_time_unix_nano.0,
                    attributes: attributes(s.attributes),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    events: s
                        .events
                        .into_iter()
                        .map(|e| Event {
                            name: e.name.into(),
                            time_unix_nanos: e.time_unix_nano.0,
                            attributes: attributes(e.attributes),
                        })
                        .collect(),
                    links: s
                        .links
                        .into_iter()
                        .map(|l| {
                            Ok(Link {
                                trace_id: TraceId(id_bytes::<16>(&l.trace_id)?),
                                span_id: SpanId(id_bytes::<8>(&l.span_id)?),
                                attributes: attributes(l.attributes),
                            })
                        })
                        .collect::<Result<Vec<_>, BackendError>>()?,
                });
            }
        }
    }
    Ok(trace_id.map(|trace_id| Trace { trace_id, spans }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_response_in_tempos_shape_is_read_with_string_integers_and_trimmed_ids() {
        let body = br#"{"traces":[{"traceID":"2f3e0cee77ae5dc9c17ade3689eb2e54","rootServiceName":"frontend",
          "rootTraceName":"POST /checkout","startTimeUnixNano":"1700000000123000000","durationMs":842,
          "spanSet":{"spans":[{"spanID":"00f067aa0ba902b7","startTimeUnixNano":"1700000000200000000",
          "durationNanos":"35000000","attributes":[{"key":"status","value":{"stringValue":"error"}}]}],"matched":1},
          "spanSets":[{"spans":[{"spanID":"00f067aa0ba902b7","name":"SELECT orders","startTimeUnixNano":"1700000000200000000",
          "durationNanos":"35000000","attributes":[{"key":"http.response.status_code","value":{"intValue":"500"}}]}],"matched":4}]},
          {"traceID":"abc","spanSet":{"spans":[],"matched":2}}],"metrics":{"inspectedBytes":"1"}}"#;
        let hits = search_hits(body).unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].root_service_name, "frontend");
        assert_eq!(hits[0].duration_nanos, 842_000_000);
        assert_eq!(hits[0].spansets[0].matched, 4);
        assert_eq!(
            hits[0].spansets[0].spans[0].name.as_deref(),
            Some("SELECT orders")
        );
        assert_eq!(
            hits[0].spansets[0].spans[0].attributes,
            vec![("http.response.status_code".to_string(), "500".to_string())]
        );
        assert_eq!(hits[1].trace_id.to_trimmed_hex(), "abc");
        assert_eq!(
            hits[1].spansets[0].matched, 2,
            "the deprecated spanSet is read when spanSets is absent"
        );
    }

    #[test]
    fn an_empty_search_response_has_no_traces_key_and_means_no_hits() {
        assert!(search_hits(br#"{"metrics":{}}"#).unwrap().is_empty());
    }

    #[test]
    fn a_v1_trace_with_base64_ids_and_enum_names_becomes_the_model() {
        let body = br#"{"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
          "instrumentationLibrarySpans":[{"instrumentationLibrary":{"name":"lib"},"spans":[
            {"traceId":"Lz4M7neuXcnBet42iesuVA==","spanId":"APBnqgupArc=","parentSpanId":"AAAAAAAAAAE=","name":"GET /x",
             "kind":"SPAN_KIND_SERVER","startTimeUnixNano":"10","endTimeUnixNano":"30",
             "attributes":[{"key":"http.response.status_code","value":{"intValue":"500"}}],
             "status":{"code":"STATUS_CODE_ERROR","message":"boom"}}]}]}]}"#;
        let trace = trace(body).unwrap().unwrap();
        assert_eq!(
            trace.trace_id.to_string(),
            "2f3e0cee77ae5dc9c17ade3689eb2e54"
        );
        let span = &trace.spans[0];
        assert_eq!(span.span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(
            span.parent_span_id.map(|p| p.to_string()).as_deref(),
            Some("0000000000000001")
        );
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.status, StatusCode::Error);
        assert_eq!(span.duration_nanos(), 20);
        assert_eq!(span.service_name(), Some("api"));
        assert_eq!(span.attributes[0].value, Value::Int(500));
    }

    #[test]
    fn a_v2_trace_wrapper_and_an_empty_trace_are_read() {
        assert!(trace(br#"{"trace":{}}"#).unwrap().is_none());
        assert!(trace(br#"{}"#).unwrap().is_none());
    }
}
