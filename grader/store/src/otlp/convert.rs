//! OTLP protobuf messages → the TraceQL trace model.
//!
//! Runs on every ingested span, so it moves strings out of the decoded request instead of
//! copying them twice, shares one `Arc` resource and scope among the spans of a batch (as
//! OTLP does), and interns attribute keys within a batch. Spans with ids OTLP forbids or with
//! impossible timestamps are rejected here; spans carrying more than the [`SpanLimits`] allow
//! are cut down to them. Both are counted and explained in the partial-success message.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dojo_traceql::model::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId, Value,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::trace::v1 as pt;

use crate::bounds::SpanLimits;
use crate::storage::size;

/// One span ready for the pipeline, with its trace id and its estimated stored size.
#[derive(Debug, Clone)]
pub struct IncomingSpan {
    pub trace_id: TraceId,
    pub span: Span,
    /// Estimated bytes this span keeps alive once stored (its share of resource and scope included).
    pub bytes: u64,
}

/// The spans of one request, and what was wrong with the ones that were left out or cut.
#[derive(Debug, Default)]
pub struct ConvertedBatch {
    pub spans: Vec<IncomingSpan>,
    /// Spans refused because OTLP forbids them (bad ids) or their timestamps are impossible.
    pub rejected: usize,
    /// The first reason a span was refused, for the partial-success message.
    pub first_rejection: Option<String>,
    /// Spans kept but cut down to the span limits (attributes, values, events or links).
    pub truncated: usize,
    /// The first thing that was cut, for the partial-success message.
    pub first_truncation: Option<String>,
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

/// The state of one conversion: the interner, the limits, the clock, and what the span being
/// converted lost to the limits.
struct Converter<'a> {
    interner: Interner,
    limits: &'a SpanLimits,
    now_nanos: u64,
    /// What was cut from the current span (or its resource or scope), first thing only.
    cut: Option<String>,
}

/// Converts a whole export request, consuming it, with the default span limits and the
/// system clock.
pub fn convert_request(request: ExportTraceServiceRequest) -> ConvertedBatch {
    convert_request_with(request, &SpanLimits::default(), now_unix_nanos())
}

pub use dojo_traceql::model::now_unix_nanos;

/// Converts a whole export request, consuming it: spans are cut down to `limits`, and spans
/// ending more than `limits.max_future_skew` after `now_nanos` are refused.
pub fn convert_request_with(
    request: ExportTraceServiceRequest,
    limits: &SpanLimits,
    now_nanos: u64,
) -> ConvertedBatch {
    let mut batch = ConvertedBatch::default();
    let mut converter = Converter {
        interner: Interner::default(),
        limits,
        now_nanos,
        cut: None,
    };
    for resource_spans in request.resource_spans {
        let resource = Arc::new(Resource {
            attributes: converter.attributes(
                resource_spans
                    .resource
                    .map(|r| r.attributes)
                    .unwrap_or_default(),
                "a resource",
            ),
        });
        let resource_cut = converter.cut.take();
        let resource_bytes = size::attributes(&resource.attributes);
        for scope_spans in resource_spans.scope_spans {
            let scope = Arc::new(match scope_spans.scope {
                Some(s) => Scope {
                    name: Arc::from(
                        converter.bounded_text(s.name, "an instrumentation scope's name"),
                    ),
                    version: Arc::from(
                        converter.bounded_text(s.version, "an instrumentation scope's version"),
                    ),
                    attributes: converter.attributes(s.attributes, "an instrumentation scope"),
                },
                None => Scope::default(),
            });
            let shared_cut = resource_cut.clone().or_else(|| converter.cut.take());
            let count = scope_spans.spans.len().max(1) as u64;
            let shared_bytes = (resource_bytes
                + size::attributes(&scope.attributes)
                + scope.name.len() as u64
                + 64)
                / count;
            for span in scope_spans.spans {
                converter.cut = None;
                match converter.span(span, &resource, &scope) {
                    Ok((trace_id, span)) => {
                        if let Some(cut) = converter.cut.take().or_else(|| shared_cut.clone()) {
                            batch.truncated += 1;
                            batch.first_truncation.get_or_insert(cut);
                        }
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

impl Converter<'_> {
    fn span(
        &mut self,
        span: pt::Span,
        resource: &Arc<Resource>,
        scope: &Arc<Scope>,
    ) -> Result<(TraceId, Span), String> {
        let trace_id = trace_id_from(&span.trace_id, "a span's traceId")?;
        let span_id = span_id_from(&span.span_id, "a span's spanId")?;
        let parent_span_id = match span.parent_span_id.as_slice() {
            [] => None,
            bytes if bytes.iter().all(|b| *b == 0) => None,
            bytes => Some(span_id_from(bytes, "a span's parentSpanId")?),
        };
        check_times(
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            self.now_nanos,
            self.limits.max_future_skew,
        )?;
        let (status, status_message) = match span.status {
            Some(s) => (
                status_from(s.code),
                Arc::from(self.bounded_text(s.message, "a span's status message")),
            ),
            None => (StatusCode::Unset, Arc::from("")),
        };
        let events_sent = span.events.len();
        let mut events = Vec::with_capacity(events_sent.min(self.limits.max_events_per_span));
        for e in span
            .events
            .into_iter()
            .take(self.limits.max_events_per_span)
        {
            events.push(Event {
                name: Arc::from(self.bounded_text(e.name, "an event's name")),
                time_unix_nanos: e.time_unix_nano,
                attributes: self.attributes(e.attributes, "an event"),
            });
        }
        if events_sent > events.len() {
            self.note(format!(
                "a span had {events_sent} events; the first {} were kept",
                events.len()
            ));
        }
        let links_sent = span.links.len();
        let mut links = Vec::with_capacity(links_sent.min(self.limits.max_links_per_span));
        for link in span.links.into_iter().take(self.limits.max_links_per_span) {
            links.push(Link {
                trace_id: trace_id_from(&link.trace_id, "a link's traceId")?,
                span_id: span_id_from(&link.span_id, "a link's spanId")?,
                attributes: self.attributes(link.attributes, "a link"),
            });
        }
        if links_sent > links.len() {
            self.note(format!(
                "a span had {links_sent} links; the first {} were kept",
                links.len()
            ));
        }
        let name = self.bounded_text(span.name, "a span's name");
        Ok((
            trace_id,
            Span {
                span_id,
                parent_span_id,
                name: self.interner.value(name),
                kind: kind_from(span.kind),
                status,
                status_message,
                start_unix_nanos: span.start_time_unix_nano,
                end_unix_nanos: span.end_time_unix_nano,
                attributes: self.attributes(span.attributes, "a span"),
                resource: resource.clone(),
                scope: scope.clone(),
                events,
                links,
            },
        ))
    }

    /// Remembers the first thing cut from the current span.
    fn note(&mut self, what: String) {
        self.cut.get_or_insert(what);
    }

    /// A name or message, cut to the attribute value limit.
    fn bounded_text(&mut self, mut text: String, what: &str) -> String {
        let max = self.limits.max_attribute_value_bytes;
        if text.len() > max {
            let sent = text.len();
            text.truncate(floor_char_boundary(&text, max));
            self.note(format!(
                "{what} was {sent} bytes long; it was cut to {} bytes",
                text.len()
            ));
        }
        text
    }

    /// Attributes, at most `max_attributes_per_span` of them, each value bounded.
    fn attributes(&mut self, attributes: Vec<pc::KeyValue>, owner: &str) -> Vec<KeyValue> {
        let max = self.limits.max_attributes_per_span;
        let sent = attributes.len();
        let mut out = Vec::with_capacity(sent.min(max));
        for attribute in attributes.into_iter().take(max) {
            let Some(value) = attribute.value else {
                continue;
            };
            let key = self.bounded_text(attribute.key, "an attribute's key");
            let mut budget = self.limits.max_attribute_value_bytes;
            let mut cut = false;
            if let Some(value) = bounded_value(value, &mut budget, &mut cut, &mut self.interner) {
                if cut {
                    self.note(format!(
                        "the value of the attribute {key:?} was longer than {} bytes; it was cut",
                        self.limits.max_attribute_value_bytes
                    ));
                }
                out.push(KeyValue {
                    key: self.interner.key(key),
                    value,
                });
            }
        }
        if sent > max {
            self.note(format!(
                "{owner} had {sent} attributes; the first {max} were kept"
            ));
        }
        out
    }
}

/// Refuses timestamps no real span has: an unset start, an end before the start, or an end
/// further in the future than the allowed clock skew.
fn check_times(start: u64, end: u64, now: u64, skew: Duration) -> Result<(), String> {
    if start == 0 {
        return Err("a span's startTimeUnixNano is 0: its start time was not set".into());
    }
    if end < start {
        return Err(format!(
            "a span's endTimeUnixNano ({end}) is before its startTimeUnixNano ({start})"
        ));
    }
    let latest = now.saturating_add(skew.as_nanos().min(u128::from(u64::MAX)) as u64);
    if end > latest {
        return Err(format!(
            "a span ends at {end} ns, more than {} after the trace store's clock ({now} ns): check the clock of the machine that sent it",
            crate::duration::format_go_duration(skew)
        ));
    }
    Ok(())
}

/// The largest index at most `max` that starts a character.
fn floor_char_boundary(text: &str, max: usize) -> usize {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Converts a value spending at most `budget` bytes on it (strings are cut, arrays lose their
/// last items); sets `cut` when anything was left out.
fn bounded_value(
    value: pc::AnyValue,
    budget: &mut usize,
    cut: &mut bool,
    interner: &mut Interner,
) -> Option<Value> {
    use pc::any_value::Value as V;
    fn text(mut s: String, budget: &mut usize, cut: &mut bool) -> String {
        if s.len() > *budget {
            s.truncate(floor_char_boundary(&s, *budget));
            *cut = true;
        }
        *budget -= s.len();
        s
    }
    Some(match value.value? {
        V::StringValue(s) => Value::Str(interner.value(text(s, budget, cut))),
        V::ArrayValue(array) => {
            let mut items = Vec::new();
            for item in array.values {
                // Each item costs at least its slot, so a huge array of tiny items stops too.
                let slot = std::mem::size_of::<Value>();
                if *budget < slot {
                    *cut = true;
                    break;
                }
                *budget -= slot;
                if let Some(v) = bounded_value(item, budget, cut, interner) {
                    items.push(v);
                }
            }
            Value::Array(items.into())
        }
        other @ (V::KvlistValue(_) | V::BytesValue(_)) => {
            match convert_value(pc::AnyValue { value: Some(other) })? {
                Value::Str(s) => Value::Str(Arc::from(text(s.to_string(), budget, cut))),
                v => v,
            }
        }
        other => convert_value(pc::AnyValue { value: Some(other) })?,
    })
}

/// OTLP's span kind number → the model's kind (unknown numbers read as unspecified).
pub fn kind_from(kind: i32) -> SpanKind {
    SpanKind::from_otlp_number(kind.into())
}

/// OTLP's status code number → the model's status (unknown numbers read as unset).
pub fn status_from(code: i32) -> StatusCode {
    match pt::status::StatusCode::try_from(code) {
        Ok(pt::status::StatusCode::Ok) => StatusCode::Ok,
        Ok(pt::status::StatusCode::Error) => StatusCode::Error,
        _ => StatusCode::Unset,
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

    /// A minute before the store's clock in these tests.
    const NOW: u64 = 1_800_000_000_000_000_000;

    fn span(trace_id: Vec<u8>, span_id: Vec<u8>) -> pt::Span {
        pt::Span {
            trace_id,
            span_id,
            name: "GET /".into(),
            kind: pt::span::SpanKind::Server as i32,
            start_time_unix_nano: NOW - 60_000_000_000,
            end_time_unix_nano: NOW - 59_000_000_000,
            ..Default::default()
        }
    }

    fn convert(request: ExportTraceServiceRequest, limits: &SpanLimits) -> ConvertedBatch {
        convert_request_with(request, limits, NOW)
    }

    fn string(key: &str, value: &str) -> pc::KeyValue {
        pc::KeyValue {
            key: key.into(),
            value: Some(any(pc::any_value::Value::StringValue(value.into()))),
            ..Default::default()
        }
    }

    #[test]
    fn spans_with_impossible_timestamps_are_rejected_with_a_reason() {
        let cases: [(&str, u64, u64, &str); 4] = [
            ("no start", 0, NOW, "startTimeUnixNano is 0"),
            (
                "end before start",
                NOW - 10,
                NOW - 20,
                "is before its startTimeUnixNano",
            ),
            ("far future", NOW, u64::MAX, "after the trace store's clock"),
            (
                "two hours ahead",
                NOW,
                NOW + 7_200_000_000_000,
                "more than 1h0m0s after",
            ),
        ];
        for (case, start, end, expected) in cases {
            let mut bad = span(vec![1; 16], vec![1; 8]);
            bad.start_time_unix_nano = start;
            bad.end_time_unix_nano = end;
            let batch = convert(
                request(vec![bad, span(vec![1; 16], vec![2; 8])]),
                &SpanLimits::default(),
            );
            assert_eq!(batch.spans.len(), 1, "{case}: the good span is kept");
            assert_eq!(batch.rejected, 1, "{case}");
            let reason = batch.first_rejection.unwrap_or_default();
            assert!(reason.contains(expected), "{case}: {reason}");
        }
        let mut instant = span(vec![1; 16], vec![1; 8]);
        instant.end_time_unix_nano = instant.start_time_unix_nano;
        let batch = convert(request(vec![instant]), &SpanLimits::default());
        assert_eq!(
            (batch.spans.len(), batch.rejected),
            (1, 0),
            "a zero-length span is fine"
        );
    }

    #[test]
    fn spans_over_the_limits_are_cut_and_counted() {
        let limits = SpanLimits {
            max_attributes_per_span: 3,
            max_attribute_value_bytes: 16,
            max_events_per_span: 2,
            max_links_per_span: 1,
            ..SpanLimits::default()
        };
        let mut big = span(vec![1; 16], vec![1; 8]);
        big.attributes = (0..1000).map(|i| string(&format!("k{i}"), "v")).collect();
        big.events = (0..50)
            .map(|i| pt::span::Event {
                name: format!("event {i}"),
                time_unix_nano: NOW - 60_000_000_000,
                ..Default::default()
            })
            .collect();
        big.links = (0..5)
            .map(|i| pt::span::Link {
                trace_id: vec![2; 16],
                span_id: vec![i + 1; 8],
                ..Default::default()
            })
            .collect();
        let mut long = span(vec![1; 16], vec![2; 8]);
        long.attributes = vec![
            string("sql", "é".repeat(100).as_str()),
            pc::KeyValue {
                key: "numbers".into(),
                value: Some(any(pc::any_value::Value::ArrayValue(pc::ArrayValue {
                    values: (0..100_000)
                        .map(|i| any(pc::any_value::Value::IntValue(i)))
                        .collect(),
                }))),
                ..Default::default()
            },
        ];
        let fine = span(vec![1; 16], vec![3; 8]);
        let batch = convert(request(vec![big, long, fine]), &limits);
        assert_eq!(
            (batch.spans.len(), batch.rejected, batch.truncated),
            (3, 0, 2)
        );
        let big = &batch.spans[0].span;
        assert_eq!(
            (big.attributes.len(), big.events.len(), big.links.len()),
            (3, 2, 1)
        );
        let long = &batch.spans[1].span;
        match &long.attributes[0].value {
            Value::Str(s) => assert_eq!(&**s, "éééééééé", "cut at a character boundary"),
            other => panic!("{other:?}"),
        }
        match &long.attributes[1].value {
            Value::Array(items) => assert!(items.len() < 10, "{} items kept", items.len()),
            other => panic!("{other:?}"),
        }
        assert!(
            batch
                .first_truncation
                .as_deref()
                .is_some_and(|m| m.contains("a span had 50 events; the first 2 were kept")),
            "{:?}",
            batch.first_truncation
        );
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
        let batch = convert(
            request(vec![
                span(vec![1; 16], vec![1; 8]),
                span(vec![1; 16], vec![2; 8]),
            ]),
            &SpanLimits::default(),
        );
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
        let batch = convert(
            request(vec![
                span(vec![1; 16], vec![1; 8]),
                span(vec![], vec![1; 8]),
                span(vec![0; 16], vec![1; 8]),
                span(vec![1; 16], vec![9; 3]),
            ]),
            &SpanLimits::default(),
        );
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
        let batch = convert(request(vec![root]), &SpanLimits::default());
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
