//! Estimates of how many bytes a stored span keeps alive.
//!
//! The per-tenant byte limit needs a number that grows with what a learner sends (long
//! attribute values, many events) without walking the allocator. These estimates count the
//! structs and the string contents; they are close to, not exactly, what the heap holds (the
//! benchmark measures the real figure per span).

use std::mem::size_of;

use dojo_traceql::model::{KeyValue, Span, Value};

/// Bytes held by one attribute value beyond its slot in the vector.
pub fn value(value: &Value) -> u64 {
    match value {
        Value::Str(s) => s.len() as u64 + 16,
        Value::Array(items) => {
            items
                .iter()
                .map(|v| size_of::<Value>() as u64 + self::value(v))
                .sum::<u64>()
                + 16
        }
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => 0,
    }
}

/// Bytes held by a list of attributes (keys are shared, so only the slot is counted).
pub fn attributes(attributes: &[KeyValue]) -> u64 {
    attributes
        .iter()
        .map(|kv| size_of::<KeyValue>() as u64 + value(&kv.value))
        .sum()
}

/// Bytes held by one span, not counting its shared resource and scope.
pub fn span(span: &Span) -> u64 {
    size_of::<Span>() as u64
        + span.name.len() as u64
        + span.status_message.len() as u64
        + attributes(&span.attributes)
        + span
            .events
            .iter()
            .map(|e| 64 + e.name.len() as u64 + attributes(&e.attributes))
            .sum::<u64>()
        + span
            .links
            .iter()
            .map(|l| 48 + attributes(&l.attributes))
            .sum::<u64>()
}
