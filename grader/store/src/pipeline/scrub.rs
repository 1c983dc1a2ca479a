//! Card numbers never stored: every card-number-like digit run (13 to 19 digits, spaces or
//! dashes allowed, Luhn-valid, starting as card numbers do) in a span's name, status message,
//! attributes, events, links or resource is replaced by `[redacted]` before anything else sees
//! the span. An integer attribute that could be a card number is replaced whole.
//!
//! The sample services already mask them before export (`dojo_telemetry::scrub`); this pass
//! is the store's own promise, for every other sender: a learner's lab code, a Python or
//! Node.js SDK, a collector. The rule is `dojo_telemetry::redact`'s, so both sides agree.

use std::sync::Arc;

use dojo_telemetry::redact::{REDACTED, is_card_number_int, redact_card_numbers};
use dojo_traceql::model::{KeyValue, Resource, Value};

use crate::otlp::convert::IncomingSpan;

/// Masks card numbers in every span, in place; returns how many values were masked.
pub fn scrub_card_numbers(spans: &mut [IncomingSpan]) -> usize {
    let mut masked = 0;
    // Spans of one resource share it: look at it once, and share the masked copy if it
    // needed one (`None`: it was clean).
    let mut resources: Vec<(*const Resource, Option<Arc<Resource>>)> = Vec::new();
    for incoming in spans.iter_mut() {
        let span = &mut incoming.span;
        masked += mask_str(&mut span.name);
        masked += mask_str(&mut span.status_message);
        masked += mask_attributes(&mut span.attributes);
        for event in &mut span.events {
            masked += mask_str(&mut event.name);
            masked += mask_attributes(&mut event.attributes);
        }
        for link in &mut span.links {
            masked += mask_attributes(&mut link.attributes);
        }
        let original = Arc::as_ptr(&span.resource);
        if let Some((_, seen)) = resources.iter().find(|(ptr, _)| *ptr == original) {
            if let Some(replacement) = seen {
                span.resource = replacement.clone();
            }
            continue;
        }
        if span
            .resource
            .attributes
            .iter()
            .any(|kv| needs_mask(&kv.value))
        {
            let mut resource = Resource::clone(&span.resource);
            masked += mask_attributes(&mut resource.attributes);
            let replacement = Arc::new(resource);
            resources.push((original, Some(replacement.clone())));
            span.resource = replacement;
        } else {
            resources.push((original, None));
        }
    }
    masked
}

fn mask_str(text: &mut Arc<str>) -> usize {
    match redact_card_numbers(text) {
        std::borrow::Cow::Owned(masked) => {
            *text = Arc::from(masked);
            1
        }
        std::borrow::Cow::Borrowed(_) => 0,
    }
}

fn needs_mask(value: &Value) -> bool {
    match value {
        Value::Str(s) => matches!(redact_card_numbers(s), std::borrow::Cow::Owned(_)),
        Value::Int(n) => is_card_number_int(*n),
        Value::Array(items) => items.iter().any(needs_mask),
        Value::Float(_) | Value::Bool(_) => false,
    }
}

fn mask_value(value: &mut Value) -> usize {
    match value {
        Value::Str(s) => mask_str(s),
        Value::Int(n) if is_card_number_int(*n) => {
            *value = Value::str(REDACTED);
            1
        }
        Value::Array(items) if items.iter().any(needs_mask) => {
            let mut owned: Vec<Value> = items.to_vec();
            let masked = owned.iter_mut().map(mask_value).sum();
            *items = Arc::from(owned);
            masked
        }
        _ => 0,
    }
}

fn mask_attributes(attributes: &mut [KeyValue]) -> usize {
    attributes
        .iter_mut()
        .map(|kv| mask_value(&mut kv.value))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_traceql::model::{Event, Span, TraceId};

    fn incoming(span: Span) -> IncomingSpan {
        IncomingSpan {
            trace_id: TraceId([1; 16]),
            span,
            bytes: 0,
        }
    }

    #[test]
    fn card_numbers_are_masked_everywhere_in_a_span_and_nothing_else_changes() {
        let resource = Arc::new(Resource {
            attributes: vec![KeyValue::new(
                "host.note",
                Value::str("card 4111 1111 1111 1111"),
            )],
        });
        let span = Span {
            name: Arc::from("GET /products/4111111111111111"),
            status_message: Arc::from("declined 5555555555554444"),
            attributes: vec![
                KeyValue::new(
                    "url.full",
                    Value::str("http://x/products/4111-1111-1111-1111?a=1"),
                ),
                KeyValue::new("product.id", Value::Int(4111111111111111)),
                KeyValue::new("order.id", Value::Int(42)),
                KeyValue::new("http.route", Value::str("/products/{id}")),
                KeyValue::new(
                    "tags",
                    Value::Array(Arc::from(vec![
                        Value::str("a"),
                        Value::str("4111111111111111"),
                    ])),
                ),
            ],
            events: vec![Event {
                name: Arc::from("exception"),
                time_unix_nanos: 1,
                attributes: vec![KeyValue::new(
                    "exception.message",
                    Value::str("bad card 4111111111111111"),
                )],
            }],
            resource: resource.clone(),
            ..Span::default()
        };
        let mut spans = vec![incoming(span.clone()), incoming(span)];
        assert_eq!(scrub_card_numbers(&mut spans), 2 * 6 + 1);
        let s = &spans[0].span;
        assert_eq!(&*s.name, "GET /products/[redacted]");
        assert_eq!(&*s.status_message, "declined [redacted]");
        assert_eq!(
            s.attributes[0].value,
            Value::str("http://x/products/[redacted]?a=1")
        );
        assert_eq!(s.attributes[1].value, Value::str(REDACTED));
        assert_eq!(s.attributes[2].value, Value::Int(42));
        assert_eq!(s.attributes[3].value, Value::str("/products/{id}"));
        assert_eq!(
            s.attributes[4].value,
            Value::Array(Arc::from(vec![Value::str("a"), Value::str(REDACTED)]))
        );
        assert_eq!(
            s.events[0].attributes[0].value,
            Value::str("bad card [redacted]")
        );
        assert_eq!(
            s.resource.attributes[0].value,
            Value::str("card [redacted]")
        );
        assert!(
            Arc::ptr_eq(&spans[0].span.resource, &spans[1].span.resource),
            "the masked resource is shared like the original"
        );
    }
}
