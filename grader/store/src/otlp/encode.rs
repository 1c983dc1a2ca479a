//! The trace model → OTLP, for answering trace-by-id: protobuf (`TracesData`, which Grafana
//! decodes) and Tempo's JSON (gogo jsonpb: base64 ids, enum names, 64-bit integers as
//! strings, zero fields left out — *not* the OTLP/JSON encoding).
//!
//! Spans are regrouped under their resource and scope: spans that arrived in one batch share
//! those by `Arc`, so pointer identity gives back the original grouping.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use dojo_traceql::model::{KeyValue, Span, SpanKind, Trace, TraceId, Value};
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use serde_json::{Map, Value as Json, json};

/// Model value → OTLP `AnyValue`.
pub fn any_value(value: &Value) -> pc::AnyValue {
    use pc::any_value::Value as V;
    pc::AnyValue {
        value: Some(match value {
            Value::Str(s) => V::StringValue(s.to_string()),
            Value::Int(i) => V::IntValue(*i),
            Value::Float(f) => V::DoubleValue(*f),
            Value::Bool(b) => V::BoolValue(*b),
            Value::Array(items) => V::ArrayValue(pc::ArrayValue {
                values: items.iter().map(any_value).collect(),
            }),
        }),
    }
}

fn key_values(attributes: &[KeyValue]) -> Vec<pc::KeyValue> {
    attributes
        .iter()
        .map(|kv| pc::KeyValue {
            key: kv.key.to_string(),
            value: Some(any_value(&kv.value)),
            ..Default::default()
        })
        .collect()
}

fn span_proto(trace_id: TraceId, span: &Span) -> pt::Span {
    pt::Span {
        trace_id: trace_id.0.to_vec(),
        span_id: span.span_id.0.to_vec(),
        parent_span_id: span
            .parent_span_id
            .map(|p| p.0.to_vec())
            .unwrap_or_default(),
        name: span.name.to_string(),
        kind: span.kind.otlp_number(),
        start_time_unix_nano: span.start_unix_nanos,
        end_time_unix_nano: span.end_unix_nanos,
        attributes: key_values(&span.attributes),
        events: span
            .events
            .iter()
            .map(|e| pt::span::Event {
                time_unix_nano: e.time_unix_nanos,
                name: e.name.to_string(),
                attributes: key_values(&e.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        links: span
            .links
            .iter()
            .map(|l| pt::span::Link {
                trace_id: l.trace_id.0.to_vec(),
                span_id: l.span_id.0.to_vec(),
                attributes: key_values(&l.attributes),
                ..Default::default()
            })
            .collect(),
        status: Some(pt::Status {
            message: span.status_message.to_string(),
            code: span.status.otlp_number(),
        }),
        ..Default::default()
    }
}

/// A trace as OTLP `ResourceSpans`, grouped by resource and scope (shared `Arc`s, or equal
/// contents, are one group).
pub fn resource_spans(trace: &Trace) -> Vec<pt::ResourceSpans> {
    resource_spans_of(trace.spans.iter().map(|span| (trace.trace_id, span)))
}

/// Spans of any traces as OTLP `ResourceSpans`, grouped by resource and scope as
/// [`resource_spans`] groups one trace's (the write-ahead log records a batch this way).
pub fn resource_spans_of<'a>(
    spans: impl IntoIterator<Item = (TraceId, &'a Span)>,
) -> Vec<pt::ResourceSpans> {
    use dojo_traceql::model::{Resource, Scope};
    use std::sync::Arc;
    let mut out: Vec<pt::ResourceSpans> = Vec::new();
    let mut groups: Vec<(&Arc<Resource>, Vec<&Arc<Scope>>)> = Vec::new();
    for (trace_id, span) in spans {
        let same = |a: &Arc<Resource>| Arc::ptr_eq(a, &span.resource) || **a == *span.resource;
        let r = match groups.iter().position(|(res, _)| same(res)) {
            Some(r) => r,
            None => {
                groups.push((&span.resource, Vec::new()));
                out.push(pt::ResourceSpans {
                    resource: Some(pr::Resource {
                        attributes: key_values(&span.resource.attributes),
                        ..Default::default()
                    }),
                    scope_spans: Vec::new(),
                    schema_url: String::new(),
                });
                out.len() - 1
            }
        };
        let scopes = &mut groups[r].1;
        let same_scope = |a: &&Arc<Scope>| Arc::ptr_eq(a, &span.scope) || ***a == *span.scope;
        let s = match scopes.iter().position(same_scope) {
            Some(s) => s,
            None => {
                scopes.push(&span.scope);
                out[r].scope_spans.push(pt::ScopeSpans {
                    scope: Some(pc::InstrumentationScope {
                        name: span.scope.name.to_string(),
                        version: span.scope.version.to_string(),
                        attributes: key_values(&span.scope.attributes),
                        dropped_attributes_count: 0,
                    }),
                    spans: Vec::new(),
                    schema_url: String::new(),
                });
                scopes.len() - 1
            }
        };
        out[r].scope_spans[s].spans.push(span_proto(trace_id, span));
    }
    out
}

/// Tempo's JSON for an `AnyValue`.
pub fn any_value_json(value: &pc::AnyValue) -> Json {
    use pc::any_value::Value as V;
    match &value.value {
        Some(V::StringValue(s)) => json!({"stringValue": s}),
        Some(V::IntValue(i)) => json!({"intValue": i.to_string()}),
        Some(V::DoubleValue(d)) => json!({"doubleValue": d}),
        Some(V::BoolValue(b)) => json!({"boolValue": b}),
        Some(V::ArrayValue(a)) => {
            json!({"arrayValue": {"values": a.values.iter().map(any_value_json).collect::<Vec<_>>()}})
        }
        Some(V::KvlistValue(l)) => json!({"kvlistValue": {"values": attributes_json(&l.values)}}),
        Some(V::BytesValue(b)) => json!({"bytesValue": BASE64.encode(b)}),
        Some(V::StringValueStrindex(_)) | None => json!({}),
    }
}

/// Tempo's JSON for a list of attributes.
pub fn attributes_json(attributes: &[pc::KeyValue]) -> Vec<Json> {
    attributes
        .iter()
        .map(|kv| {
            let value = kv
                .value
                .as_ref()
                .map(any_value_json)
                .unwrap_or_else(|| json!({}));
            json!({"key": kv.key, "value": value})
        })
        .collect()
}

fn put(map: &mut Map<String, Json>, key: &str, value: Json) {
    let empty = match &value {
        Json::Null => true,
        Json::String(s) => s.is_empty() || s == "0",
        Json::Array(a) => a.is_empty(),
        _ => false,
    };
    if !empty {
        map.insert(key.to_string(), value);
    }
}

fn status_json(status: Option<&pt::Status>) -> Json {
    let mut map = Map::new();
    if let Some(status) = status {
        put(&mut map, "message", Json::from(status.message.as_str()));
        match status.code {
            1 => put(&mut map, "code", Json::from("STATUS_CODE_OK")),
            2 => put(&mut map, "code", Json::from("STATUS_CODE_ERROR")),
            _ => {}
        }
    }
    Json::Object(map)
}

fn span_json(span: &pt::Span) -> Json {
    let mut map = Map::new();
    put(
        &mut map,
        "traceId",
        Json::from(BASE64.encode(&span.trace_id)),
    );
    put(&mut map, "spanId", Json::from(BASE64.encode(&span.span_id)));
    put(
        &mut map,
        "parentSpanId",
        Json::from(BASE64.encode(&span.parent_span_id)),
    );
    put(&mut map, "name", Json::from(span.name.as_str()));
    if span.kind != 0 {
        map.insert(
            "kind".into(),
            Json::from(SpanKind::from_otlp_number(span.kind.into()).otlp_name()),
        );
    }
    put(
        &mut map,
        "startTimeUnixNano",
        Json::from(span.start_time_unix_nano.to_string()),
    );
    put(
        &mut map,
        "endTimeUnixNano",
        Json::from(span.end_time_unix_nano.to_string()),
    );
    put(
        &mut map,
        "attributes",
        Json::Array(attributes_json(&span.attributes)),
    );
    let events: Vec<Json> = span
        .events
        .iter()
        .map(|e| {
            let mut m = Map::new();
            put(
                &mut m,
                "timeUnixNano",
                Json::from(e.time_unix_nano.to_string()),
            );
            put(&mut m, "name", Json::from(e.name.as_str()));
            put(
                &mut m,
                "attributes",
                Json::Array(attributes_json(&e.attributes)),
            );
            Json::Object(m)
        })
        .collect();
    put(&mut map, "events", Json::Array(events));
    let links: Vec<Json> = span
        .links
        .iter()
        .map(|l| {
            let mut m = Map::new();
            put(&mut m, "traceId", Json::from(BASE64.encode(&l.trace_id)));
            put(&mut m, "spanId", Json::from(BASE64.encode(&l.span_id)));
            put(
                &mut m,
                "attributes",
                Json::Array(attributes_json(&l.attributes)),
            );
            Json::Object(m)
        })
        .collect();
    put(&mut map, "links", Json::Array(links));
    map.insert("status".into(), status_json(span.status.as_ref()));
    Json::Object(map)
}

/// Tempo's JSON for the `resource` of a `ResourceSpans`.
fn resource_json(rs: &pt::ResourceSpans) -> Json {
    let mut resource = Map::new();
    if let Some(r) = &rs.resource {
        put(
            &mut resource,
            "attributes",
            Json::Array(attributes_json(&r.attributes)),
        );
    }
    Json::Object(resource)
}

/// Tempo's JSON for the `scope` of a `ScopeSpans`.
fn scope_json(ss: &pt::ScopeSpans) -> Json {
    let mut scope = Map::new();
    if let Some(s) = &ss.scope {
        put(&mut scope, "name", Json::from(s.name.as_str()));
        put(&mut scope, "version", Json::from(s.version.as_str()));
        put(
            &mut scope,
            "attributes",
            Json::Array(attributes_json(&s.attributes)),
        );
    }
    Json::Object(scope)
}

/// Tempo's JSON for a list of `ResourceSpans` (the value of `resourceSpans`), as one tree.
/// Answers use [`write_resource_spans_json`], which writes the same JSON a span at a time.
pub fn resource_spans_json(batches: &[pt::ResourceSpans]) -> Json {
    Json::Array(
        batches
            .iter()
            .map(|rs| {
                let scope_spans = rs
                    .scope_spans
                    .iter()
                    .map(|ss| {
                        json!({
                            "scope": scope_json(ss),
                            "spans": ss.spans.iter().map(span_json).collect::<Vec<_>>(),
                        })
                    })
                    .collect::<Vec<_>>();
                json!({"resource": resource_json(rs), "scopeSpans": scope_spans})
            })
            .collect(),
    )
}

/// Writes the JSON of [`resource_spans_json`] into `out`, building the JSON tree of one span
/// at a time: a trace answered as JSON costs its text and one span's tree, never a tree of
/// the whole trace (which is many times the stored size).
pub fn write_resource_spans_json(batches: &[pt::ResourceSpans], out: &mut Vec<u8>) {
    let push = |out: &mut Vec<u8>, value: &Json| {
        serde_json::to_writer(out, value).expect("a JSON value always serializes into memory");
    };
    out.push(b'[');
    for (r, rs) in batches.iter().enumerate() {
        if r > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"resource\":");
        push(out, &resource_json(rs));
        out.extend_from_slice(b",\"scopeSpans\":[");
        for (s, ss) in rs.scope_spans.iter().enumerate() {
            if s > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"scope\":");
            push(out, &scope_json(ss));
            out.extend_from_slice(b",\"spans\":[");
            for (n, span) in ss.spans.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                push(out, &span_json(span));
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"]}");
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_traceql::model::{Resource, SpanId, StatusCode, TraceId};
    use std::sync::Arc;

    fn trace() -> Trace {
        let resource = Arc::new(Resource {
            attributes: vec![KeyValue::new("service.name", Value::str("shop"))],
        });
        let other = Arc::new(Resource {
            attributes: vec![KeyValue::new("service.name", Value::str("db"))],
        });
        let span = |id: u8, resource: &Arc<Resource>| Span {
            span_id: SpanId([0, 0, 0, 0, 0, 0, 0, id]),
            name: Arc::from("GET /"),
            kind: SpanKind::Server,
            status: StatusCode::Error,
            start_unix_nanos: 1_700_000_000_000_000_000,
            end_unix_nanos: 1_700_000_000_500_000_000,
            attributes: vec![KeyValue::new("http.status_code", Value::Int(500))],
            resource: resource.clone(),
            ..Default::default()
        };
        Trace {
            trace_id: TraceId([0x2f; 16]),
            spans: vec![span(1, &resource), span(2, &other), span(3, &resource)],
        }
    }

    #[test]
    fn spans_are_regrouped_under_their_shared_resource() {
        let batches = resource_spans(&trace());
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].scope_spans[0].spans.len(), 2);
        assert_eq!(batches[1].scope_spans[0].spans.len(), 1);
    }

    #[test]
    fn json_written_a_span_at_a_time_is_the_same_json() {
        let batches = resource_spans(&trace());
        let mut out = Vec::new();
        write_resource_spans_json(&batches, &mut out);
        let written: Json = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(written, resource_spans_json(&batches));
        assert_eq!(
            written[1]["scopeSpans"][0]["spans"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let mut empty = Vec::new();
        write_resource_spans_json(&[], &mut empty);
        assert_eq!(empty, b"[]");
    }

    #[test]
    fn json_uses_tempos_conventions() {
        let json = resource_spans_json(&resource_spans(&trace()));
        let span = &json[0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "Ly8vLy8vLy8vLy8vLy8vLw==");
        assert_eq!(span["spanId"], "AAAAAAAAAAE=");
        assert_eq!(span["kind"], "SPAN_KIND_SERVER");
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["status"]["code"], "STATUS_CODE_ERROR");
        assert_eq!(span["attributes"][0]["value"]["intValue"], "500");
        assert!(
            span.get("parentSpanId").is_none(),
            "empty fields are left out"
        );
    }
}
