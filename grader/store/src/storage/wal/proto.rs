//! Stored spans straight to OTLP protobuf bytes, for the write-ahead log.
//!
//! The same bytes as building an `ExportTraceServiceRequest` with
//! [`crate::otlp::encode::resource_spans_of`] and encoding it with prost (a test checks
//! that), without the intermediate messages: no string is copied into a message first, so
//! logging a batch costs a fraction of what building the messages did.

use std::sync::Arc;

use dojo_traceql::model::{KeyValue, Resource, Scope, Span, TraceId, Value};
use prost::encoding::{encode_varint, encoded_len_varint};

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const DELIMITED: u64 = 2;

fn key_len(tag: u64) -> usize {
    encoded_len_varint(tag << 3)
}

fn put_key(out: &mut Vec<u8>, tag: u64, wire: u64) {
    encode_varint((tag << 3) | wire, out);
}

/// The length of a length-delimited field holding `len` bytes.
fn delimited_len(tag: u64, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn put_delimited_head(out: &mut Vec<u8>, tag: u64, len: usize) {
    put_key(out, tag, DELIMITED);
    encode_varint(len as u64, out);
}

/// A string or bytes field, left out when empty (proto3), unless `always` (oneof members).
fn bytes_len(tag: u64, bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        0
    } else {
        delimited_len(tag, bytes.len())
    }
}

fn put_bytes(out: &mut Vec<u8>, tag: u64, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_delimited_head(out, tag, bytes.len());
        out.extend_from_slice(bytes);
    }
}

fn fixed64_len(tag: u64, value: u64) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 8 }
}

fn put_fixed64(out: &mut Vec<u8>, tag: u64, value: u64) {
    if value != 0 {
        put_key(out, tag, FIXED64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn varint_len(tag: u64, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(value)
    }
}

fn put_varint(out: &mut Vec<u8>, tag: u64, value: u64) {
    if value != 0 {
        put_key(out, tag, VARINT);
        encode_varint(value, out);
    }
}

/// `AnyValue` body length.
fn any_value_len(value: &Value) -> usize {
    match value {
        // Oneof members are written even when they hold the default.
        Value::Str(s) => delimited_len(1, s.len()),
        Value::Bool(_) => key_len(2) + 1,
        Value::Int(i) => key_len(3) + encoded_len_varint(*i as u64),
        Value::Float(_) => key_len(4) + 8,
        Value::Array(items) => delimited_len(5, array_len(items)),
    }
}

fn array_len(items: &[Value]) -> usize {
    items
        .iter()
        .map(|item| delimited_len(1, any_value_len(item)))
        .sum()
}

fn put_any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(s) => {
            put_delimited_head(out, 1, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bool(b) => {
            put_key(out, 2, VARINT);
            out.push(u8::from(*b));
        }
        Value::Int(i) => {
            put_key(out, 3, VARINT);
            encode_varint(*i as u64, out);
        }
        Value::Float(f) => {
            put_key(out, 4, FIXED64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Array(items) => {
            put_delimited_head(out, 5, array_len(items));
            for item in items.iter() {
                put_delimited_head(out, 1, any_value_len(item));
                put_any_value(out, item);
            }
        }
    }
}

/// `KeyValue` body length.
fn key_value_len(kv: &KeyValue) -> usize {
    bytes_len(1, kv.key.as_bytes()) + delimited_len(2, any_value_len(&kv.value))
}

/// Repeated `KeyValue` fields under `tag`: their whole length.
fn attributes_len(tag: u64, attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| delimited_len(tag, key_value_len(kv)))
        .sum()
}

fn put_attributes(out: &mut Vec<u8>, tag: u64, attributes: &[KeyValue]) {
    for kv in attributes {
        put_delimited_head(out, tag, key_value_len(kv));
        put_bytes(out, 1, kv.key.as_bytes());
        put_delimited_head(out, 2, any_value_len(&kv.value));
        put_any_value(out, &kv.value);
    }
}

fn status_len(span: &Span) -> usize {
    bytes_len(2, span.status_message.as_bytes()) + varint_len(3, span.status.otlp_number() as u64)
}

/// `Span` body length.
fn span_len(trace_id: &TraceId, span: &Span) -> usize {
    delimited_len(1, trace_id.0.len())
        + delimited_len(2, span.span_id.0.len())
        + span
            .parent_span_id
            .map_or(0, |p| delimited_len(4, p.0.len()))
        + bytes_len(5, span.name.as_bytes())
        + varint_len(6, span.kind.otlp_number() as u64)
        + fixed64_len(7, span.start_unix_nanos)
        + fixed64_len(8, span.end_unix_nanos)
        + attributes_len(9, &span.attributes)
        + span
            .events
            .iter()
            .map(|e| {
                let body = fixed64_len(1, e.time_unix_nanos)
                    + bytes_len(2, e.name.as_bytes())
                    + attributes_len(3, &e.attributes);
                delimited_len(11, body)
            })
            .sum::<usize>()
        + span
            .links
            .iter()
            .map(|l| delimited_len(13, link_len(l)))
            .sum::<usize>()
        + delimited_len(15, status_len(span))
}

fn link_len(link: &dojo_traceql::model::Link) -> usize {
    delimited_len(1, link.trace_id.0.len())
        + delimited_len(2, link.span_id.0.len())
        + attributes_len(4, &link.attributes)
}

fn put_span(out: &mut Vec<u8>, trace_id: &TraceId, span: &Span) {
    put_bytes(out, 1, &trace_id.0);
    put_bytes(out, 2, &span.span_id.0);
    if let Some(parent) = span.parent_span_id {
        put_bytes(out, 4, &parent.0);
    }
    put_bytes(out, 5, span.name.as_bytes());
    put_varint(out, 6, span.kind.otlp_number() as u64);
    put_fixed64(out, 7, span.start_unix_nanos);
    put_fixed64(out, 8, span.end_unix_nanos);
    put_attributes(out, 9, &span.attributes);
    for e in &span.events {
        let body = fixed64_len(1, e.time_unix_nanos)
            + bytes_len(2, e.name.as_bytes())
            + attributes_len(3, &e.attributes);
        put_delimited_head(out, 11, body);
        put_fixed64(out, 1, e.time_unix_nanos);
        put_bytes(out, 2, e.name.as_bytes());
        put_attributes(out, 3, &e.attributes);
    }
    for l in &span.links {
        put_delimited_head(out, 13, link_len(l));
        put_bytes(out, 1, &l.trace_id.0);
        put_bytes(out, 2, &l.span_id.0);
        put_attributes(out, 4, &l.attributes);
    }
    put_delimited_head(out, 15, status_len(span));
    put_bytes(out, 2, span.status_message.as_bytes());
    put_varint(out, 3, span.status.otlp_number() as u64);
}

fn scope_len(scope: &Scope) -> usize {
    bytes_len(1, scope.name.as_bytes())
        + bytes_len(2, scope.version.as_bytes())
        + attributes_len(3, &scope.attributes)
}

/// Spans grouped under their resource, then their scope, in first-seen order (as
/// `resource_spans_of` groups them: shared `Arc`s or equal contents are one group).
type Groups<'a> = Vec<(
    &'a Arc<Resource>,
    Vec<(&'a Arc<Scope>, Vec<(TraceId, &'a Span)>)>,
)>;

fn group<'a>(spans: impl IntoIterator<Item = (TraceId, &'a Span)>) -> Groups<'a> {
    let mut groups: Groups<'a> = Vec::new();
    for (trace_id, span) in spans {
        let same = |a: &Arc<Resource>| Arc::ptr_eq(a, &span.resource) || **a == *span.resource;
        let r = match groups.iter().position(|(res, _)| same(res)) {
            Some(r) => r,
            None => {
                groups.push((&span.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[r].1;
        let same_scope = |a: &Arc<Scope>| Arc::ptr_eq(a, &span.scope) || **a == *span.scope;
        let s = match scopes.iter().position(|(scope, _)| same_scope(scope)) {
            Some(s) => s,
            None => {
                scopes.push((&span.scope, Vec::new()));
                scopes.len() - 1
            }
        };
        scopes[s].1.push((trace_id, span));
    }
    groups
}

/// Appends the `ExportTraceServiceRequest` of `spans` to `out`.
pub fn write_request<'a>(spans: impl IntoIterator<Item = (TraceId, &'a Span)>, out: &mut Vec<u8>) {
    for (resource, scopes) in group(spans) {
        // Span lengths are needed twice (for their scope's length and their own head).
        let span_lens: Vec<Vec<usize>> = scopes
            .iter()
            .map(|(_, spans)| spans.iter().map(|(t, s)| span_len(t, s)).collect())
            .collect();
        let scope_spans_len = |i: usize| -> usize {
            let (scope, _) = &scopes[i];
            delimited_len(1, scope_len(scope))
                + span_lens[i]
                    .iter()
                    .map(|len| delimited_len(2, *len))
                    .sum::<usize>()
        };
        let resource_len = attributes_len(1, &resource.attributes);
        let body = delimited_len(1, resource_len)
            + (0..scopes.len())
                .map(|i| delimited_len(2, scope_spans_len(i)))
                .sum::<usize>();
        put_delimited_head(out, 1, body);
        put_delimited_head(out, 1, resource_len);
        put_attributes(out, 1, &resource.attributes);
        for (i, (scope, spans)) in scopes.iter().enumerate() {
            put_delimited_head(out, 2, scope_spans_len(i));
            put_delimited_head(out, 1, scope_len(scope));
            put_bytes(out, 1, scope.name.as_bytes());
            put_bytes(out, 2, scope.version.as_bytes());
            put_attributes(out, 3, &scope.attributes);
            for ((trace_id, span), len) in spans.iter().zip(&span_lens[i]) {
                put_delimited_head(out, 2, *len);
                put_span(out, trace_id, span);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::convert::{IncomingSpan, convert_request};
    use crate::otlp::encode::resource_spans_of;
    use dojo_traceql::model::{Event, Link, SpanId};
    use dojo_traceql::model::{SpanKind, StatusCode};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: Arc::from(key),
            value,
        }
    }

    /// Spans with every kind of field, empty ones included, under two resources and scopes.
    fn spans() -> Vec<IncomingSpan> {
        let shop = Arc::new(Resource {
            attributes: vec![kv("service.name", Value::Str(Arc::from("shop")))],
        });
        let empty = Arc::new(Resource::default());
        let scope = Arc::new(Scope {
            name: Arc::from("lib"),
            version: Arc::from("1.0"),
            attributes: vec![kv("scope.flag", Value::Bool(true))],
        });
        let full = Span {
            span_id: SpanId([1; 8]),
            parent_span_id: Some(SpanId([2; 8])),
            name: Arc::from("GET /cart"),
            kind: SpanKind::Server,
            status: StatusCode::Error,
            status_message: Arc::from("boom"),
            start_unix_nanos: 1_700_000_000_000_000_000,
            end_unix_nanos: 1_700_000_000_500_000_000,
            attributes: vec![
                kv("s", Value::Str(Arc::from("text"))),
                kv("empty", Value::Str(Arc::from(""))),
                kv("n", Value::Int(-42)),
                kv("zero", Value::Int(0)),
                kv("f", Value::Float(2.5)),
                kv("no", Value::Bool(false)),
                kv(
                    "list",
                    Value::Array(Arc::from(vec![Value::Int(1), Value::Str(Arc::from("two"))])),
                ),
                kv("", Value::Array(Arc::from(Vec::new()))),
            ],
            resource: shop.clone(),
            scope: scope.clone(),
            events: vec![
                Event {
                    name: Arc::from("exception"),
                    time_unix_nanos: 1_700_000_000_100_000_000,
                    attributes: vec![kv("exception.type", Value::Str(Arc::from("E")))],
                },
                Event::default(),
            ],
            links: vec![Link {
                trace_id: TraceId([9; 16]),
                span_id: SpanId([8; 8]),
                attributes: vec![kv("link.kind", Value::Str(Arc::from("follows")))],
            }],
        };
        let bare = Span {
            span_id: SpanId([3; 8]),
            resource: empty,
            scope: Arc::new(Scope::default()),
            ..Span::default()
        };
        let shared = Span {
            span_id: SpanId([4; 8]),
            resource: shop,
            scope,
            ..Span::default()
        };
        [full, bare, shared]
            .into_iter()
            .enumerate()
            .map(|(i, span)| IncomingSpan {
                trace_id: TraceId([i as u8 + 1; 16]),
                span,
                bytes: 0,
            })
            .collect()
    }

    #[test]
    fn the_bytes_are_those_prost_writes_for_the_same_request() {
        let spans = spans();
        let pairs = || spans.iter().map(|s| (s.trace_id, &s.span));
        let expected = ExportTraceServiceRequest {
            resource_spans: resource_spans_of(pairs()),
        }
        .encode_to_vec();
        let mut written = Vec::new();
        write_request(pairs(), &mut written);
        assert_eq!(written, expected);
        // And the span with every field reads back the same (the others have no times, which
        // the receiver refuses).
        let back = convert_request(ExportTraceServiceRequest::decode(written.as_slice()).unwrap());
        let full = back
            .spans
            .iter()
            .find(|s| s.span.span_id == SpanId([1; 8]))
            .expect("the full span reads back");
        assert_eq!(
            (full.trace_id, &full.span),
            (spans[0].trace_id, &spans[0].span)
        );
    }
}
