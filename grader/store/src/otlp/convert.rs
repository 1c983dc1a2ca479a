//! OTLP protobuf messages → the TraceQL trace model.
//!
//! Runs on every ingested span, so it moves strings out of the decoded request instead of
//! copying them twice, shares one `Arc` resource and scope among the spans of a batch (as
//! OTLP does), and interns attribute keys within a batch. Spans with ids OTLP forbids are
//! rejected here, counted, and explained in the partial-success message.

use std::collections::HashSet;
use std::sync::Arc;

use dojo_traceql::model::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId, Value,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::trace::v1 as pt;

use crate::storage::size;

/// One span ready for the pipeline, with its trace id and its estimated stored size.
#[derive(Debug, Clone)]
pub struct IncomingSpan {
    pub trace_id: TraceId,
    pub span: Span,
    /// Estimated bytes this span keeps alive once stored (its share of resource and scope included).
    pub bytes: u64,
}

/// The spans of one request, and what was wrong with the ones that were left out.
#[derive(Debug, Default)]
pub struct ConvertedBatch {
    pub spans: Vec<IncomingSpan>,
    /// Spans refused because OTLP forbids them (bad ids).
    pub rejected: usize,
    /// The first reason a span was refused, for the partial-success message.
    pub first_rejection: Option<String>,
}

/// Shares one `Arc<str>` among every use of the same short string within a batch: attribute
/// keys, span names and the short values that repeat on every span (`GET`, `/cart`, `sqlite`).
/// This saves an allocation per use and a good part of the memory of a stored span.
#[derive(Default)]
struct Interner {
    strings: HashSet<Arc<str>>,
}

/// Longer strings (SQL, stack traces) are rarely repeated: they are not worth the lookup.
const INTERN_MAX_LEN: usize = 96;

impl Interner {
    fn key(&mut self, key: String) -> Arc<str> {
        if let Some(found) = self.strings.get(key.as_str()) {
            return found.clone();
        }
        let interned: Arc<str> = Arc::from(key);
        self.strings.insert(interned.clone());
        interned
    }

    fn value(&mut self, value: String) -> Arc<str> {
        if value.len() > INTERN_MAX_LEN {
            return Arc::from(value);
        }
        self.key(value)
    }
}

/// Converts a whole export request, consuming it.
pub fn convert_request(request: ExportTraceServiceRequest) -> ConvertedBatch {
    let mut batch = ConvertedBatch::default();
    let mut interner = Interner::default();
    for resource_spans in request.resource_spans {
        let resource = Arc::new(Resource {
            attributes: convert_attributes(
                resource_spans
                    .resource
                    .map(|r| r.attributes)
                    .unwrap_or_default(),
                &mut interner,
            ),
        });
        let resource_bytes = size::attributes(&resource.attributes);
        for scope_spans in resource_spans.scope_spans {
            let scope = Arc::new(match scope_spans.scope {
                Some(s) => Scope {
                    name: Arc::from(s.name),
                    version: Arc::from(s.version),
                    attributes: convert_attributes(s.attributes, &mut interner),
                },
                None => Scope::default(),
            });
            let count = scope_spans.spans.len().max(1) as u64;
            let shared_bytes = (resource_bytes
                + size::attributes(&scope.attributes)
                + scope.name.len() as u64
                + 64)
                / count;
            for span in scope_spans.spans {
                match convert_span(span, &resource, &scope, &mut interner) {
                    Ok((trace_id, span)) => {
                        let bytes = size::span(&span) + shared_bytes;
                        batch.spans.push(IncomingSpan {
                            trace_id,
                            span,
                            bytes,
                        });
                    }
                    Err(reason) => {
                        batch.rejected += 1;
                        batch.first_rejection.get_or_insert(reason);
                    }
                }
            }
        }
    }
    batch
}

fn trace_id_from(bytes: &[u8], what: &str) -> Result<TraceId, String> {
    let array: [u8; 16] = bytes
        .try_into()
        .map_err(|_| format!("{what} must be 16 bytes, found {}", bytes.len()))?;
    if array == [0; 16] {
        return Err(format!("{what} must not be all zeros"));
    }
    Ok(TraceId(array))
}

fn span_id_from(bytes: &[u8], what: &str) -> Result<SpanId, String> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| format!("{what} must be 8 bytes, found {}", bytes.len()))?;
    if array == [0; 8] {
        return Err(format!("{what} must not be all zeros"));
    }
    Ok(SpanId(array))
}

fn convert_span(
    span: pt::Span,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
    interner: &mut Interner,
) -> Result<(TraceId, Span), String> {
    let trace_id = trace_id_from(&span.trace_id, "a span's traceId")?;
    let span_id = span_id_from(&span.span_id, "a span's spanId")?;
    let parent_span_id = match span.parent_span_id.as_slice() {
        [] => None,
        bytes if bytes.iter().all(|b| *b == 0) => None,
        bytes => Some(span_id_from(bytes, "a span's parentSpanId")?),
    };
    let (status, status_message) = match span.status {
        Some(s) => (status_from(s.code), Arc::from(s.message)),
        None => (StatusCode::Unset, Arc::from("")),
    };
    let events = span
        .events
        .into_iter()
        .map(|e| Event {
            name: Arc::from(e.name),
            time_unix_nanos: e.time_unix_nano,
            attributes: convert_attributes(e.attributes, interner),
        })
        .collect();
    let mut links = Vec::with_capacity(span.links.len());
    for link in span.links {
        links.push(Link {
            trace_id: trace_id_from(&link.trace_id, "a link's traceId")?,
            span_id: span_id_from(&link.span_id, "a link's spanId")?,
            attributes: convert_attributes(link.attributes, interner),
        });
    }
    Ok((
        trace_id,
        Span {
            span_id,
            parent_span_id,
            name: interner.value(span.name),
            kind: kind_from(span.kind),
            status,
            status_message,
            start_unix_nanos: span.start_time_unix_nano,
            end_unix_nanos: span.end_time_unix_nano,
            attributes: convert_attributes(span.attributes, interner),
            resource: resource.clone(),
            scope: scope.clone(),
            events,
            links,
        },
    ))
}

/// OTLP's span kind number → the model's kind (unknown numbers read as unspecified).
pub fn kind_from(kind: i32) -> SpanKind {
    match pt::span::SpanKind::try_from(kind) {
        Ok(pt::span::SpanKind::Internal) => SpanKind::Internal,
        Ok(pt::span::SpanKind::Server) => SpanKind::Server,
        Ok(pt::span::SpanKind::Client) => SpanKind::Client,
        Ok(pt::span::SpanKind::Producer) => SpanKind::Producer,
        Ok(pt::span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

/// OTLP's status code number → the model's status (unknown numbers read as unset).
pub fn status_from(code: i32) -> StatusCode {
    match pt::status::StatusCode::try_from(code) {
        Ok(pt::status::StatusCode::Ok) => StatusCode::Ok,
        Ok(pt::status::StatusCode::Error) => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}

fn convert_attributes(attributes: Vec<pc::KeyValue>, interner: &mut Interner) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(attributes.len());
    for attribute in attributes {
        if let Some(value) = attribute
            .value
            .and_then(|v| convert_value_interned(v, interner))
        {
            out.push(KeyValue {
                key: interner.key(attribute.key),
                value,
            });
        }
    }
    out
}

fn convert_value_interned(value: pc::AnyValue, interner: &mut Interner) -> Option<Value> {
    match value.value {
        Some(pc::any_value::Value::StringValue(s)) => Some(Value::Str(interner.value(s))),
        other => convert_value(pc::AnyValue { value: other }),
    }
}

/// OTLP `AnyValue` → model value. Maps and bytes, which TraceQL cannot compare, become their
/// JSON text; an empty value is dropped.
pub fn convert_value(value: pc::AnyValue) -> Option<Value> {
    use pc::any_value::Value as V;
    Some(match value.value? {
        V::StringValue(s) => Value::Str(Arc::from(s)),
        V::BoolValue(b) => Value::Bool(b),
        V::IntValue(i) => Value::Int(i),
        V::DoubleValue(d) => Value::Float(d),
        V::ArrayValue(array) => Value::Array(
            array
                .values
                .into_iter()
                .filter_map(convert_value)
                .collect::<Vec<_>>()
                .into(),
        ),
        V::KvlistValue(list) => Value::Str(Arc::from(kvlist_json(&list).to_string())),
        V::BytesValue(bytes) => {
            use base64::Engine as _;
            Value::Str(Arc::from(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ))
        }
        V::StringValueStrindex(_) => return None,
    })
}

fn any_value_json(value: &pc::AnyValue) -> serde_json::Value {
    use pc::any_value::Value as V;
    match &value.value {
        Some(V::StringValue(s)) => serde_json::Value::from(s.as_str()),
        Some(V::BoolValue(b)) => serde_json::Value::from(*b),
        Some(V::IntValue(i)) => serde_json::Value::from(*i),
        Some(V::DoubleValue(d)) => serde_json::Value::from(*d),
        Some(V::ArrayValue(a)) => {
            serde_json::Value::Array(a.values.iter().map(any_value_json).collect())
        }
        Some(V::KvlistValue(list)) => kvlist_json(list),
        Some(V::BytesValue(bytes)) => {
            use base64::Engine as _;
            serde_json::Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Some(V::StringValueStrindex(_)) | None => serde_json::Value::Null,
    }
}

fn kvlist_json(list: &pc::KeyValueList) -> serde_json::Value {
    serde_json::Value::Object(
        list.values
            .iter()
            .map(|kv| {
                let value = kv
                    .value
                    .as_ref()
                    .map(any_value_json)
                    .unwrap_or(serde_json::Value::Null);
                (kv.key.clone(), value)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(value: pc::any_value::Value) -> pc::AnyValue {
        pc::AnyValue { value: Some(value) }
    }

    fn span(trace_id: Vec<u8>, span_id: Vec<u8>) -> pt::Span {
        pt::Span {
            trace_id,
            span_id,
            name: "GET /".into(),
            kind: pt::span::SpanKind::Server as i32,
            ..Default::default()
        }
    }

    fn request(spans: Vec<pt::Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    attributes: vec![pc::KeyValue {
                        key: "service.name".into(),
                        value: Some(any(pc::any_value::Value::StringValue("shop".into()))),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![pt::ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn spans_share_their_batch_resource() {
        let batch = convert_request(request(vec![
            span(vec![1; 16], vec![1; 8]),
            span(vec![1; 16], vec![2; 8]),
        ]));
        assert_eq!(batch.spans.len(), 2);
        assert!(Arc::ptr_eq(
            &batch.spans[0].span.resource,
            &batch.spans[1].span.resource
        ));
        assert_eq!(batch.spans[0].span.service_name(), Some("shop"));
        assert_eq!(batch.spans[0].span.kind, SpanKind::Server);
    }

    #[test]
    fn spans_with_ids_otlp_forbids_are_rejected_with_a_reason() {
        let batch = convert_request(request(vec![
            span(vec![1; 16], vec![1; 8]),
            span(vec![], vec![1; 8]),
            span(vec![0; 16], vec![1; 8]),
            span(vec![1; 16], vec![9; 3]),
        ]));
        assert_eq!(batch.spans.len(), 1);
        assert_eq!(batch.rejected, 3);
        assert_eq!(
            batch.first_rejection.as_deref(),
            Some("a span's traceId must be 16 bytes, found 0")
        );
    }

    #[test]
    fn an_all_zero_parent_means_a_root_span() {
        let mut root = span(vec![1; 16], vec![1; 8]);
        root.parent_span_id = vec![0; 8];
        let batch = convert_request(request(vec![root]));
        assert_eq!(batch.spans[0].span.parent_span_id, None);
    }

    #[test]
    fn maps_and_bytes_become_json_text() {
        let map = any(pc::any_value::Value::KvlistValue(pc::KeyValueList {
            values: vec![pc::KeyValue {
                key: "a".into(),
                value: Some(any(pc::any_value::Value::IntValue(1))),
                ..Default::default()
            }],
        }));
        assert_eq!(convert_value(map), Some(Value::str("{\"a\":1}")));
        let bytes = any(pc::any_value::Value::BytesValue(vec![1, 2, 3]));
        assert_eq!(convert_value(bytes), Some(Value::str("AQID")));
    }
}
