//! The exporter's last pass over every span before it leaves the process: whatever put a
//! secret into a span (a card number in a URL path, a token in an attribute named
//! `auth_token`), it is masked here, in the span's name, attributes, status message, events
//! and links.
//!
//! The middleware records `url.path`, `url.full` and friends as they arrived, so a request to
//! `/products/4111111111111111` would otherwise carry the number out; masking at the exporter
//! covers every attribute from every source, including ones added later.

use std::borrow::Cow;

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::redact::{REDACTED, is_card_number_int, is_sensitive_key, redact_value};

/// Wraps an exporter and masks secrets in every span it is given.
#[derive(Debug)]
pub struct Scrubbed<E> {
    inner: E,
}

impl<E> Scrubbed<E> {
    pub fn new(inner: E) -> Scrubbed<E> {
        Scrubbed { inner }
    }
}

impl<E: SpanExporter> SpanExporter for Scrubbed<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        for span in &mut batch {
            scrub_span(span);
        }
        self.inner.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Masks secrets in one span, in place.
pub fn scrub_span(span: &mut SpanData) {
    if let Cow::Owned(name) = redact_value(&span.name) {
        span.name = Cow::Owned(name);
    }
    scrub_attributes(&mut span.attributes);
    if let opentelemetry::trace::Status::Error { description } = &mut span.status
        && let Cow::Owned(masked) = redact_value(description)
    {
        *description = Cow::Owned(masked);
    }
    for event in span.events.events.iter_mut() {
        if let Cow::Owned(name) = redact_value(&event.name) {
            event.name = Cow::Owned(name);
        }
        scrub_attributes(&mut event.attributes);
    }
    for link in span.links.links.iter_mut() {
        scrub_attributes(&mut link.attributes);
    }
}

fn scrub_attributes(attributes: &mut [KeyValue]) {
    for kv in attributes {
        if is_sensitive_key(kv.key.as_str()) {
            kv.value = Value::from(REDACTED);
            continue;
        }
        if let Some(masked) = scrub_value(&kv.value) {
            kv.value = masked;
        }
    }
}

/// The masked value, or `None` when nothing needed masking.
fn scrub_value(value: &Value) -> Option<Value> {
    let mask = |s: &StringValue| match redact_value(s.as_str()) {
        Cow::Owned(masked) => Some(StringValue::from(masked)),
        Cow::Borrowed(_) => None,
    };
    match value {
        Value::String(s) => mask(s).map(Value::String),
        Value::I64(n) if is_card_number_int(*n) => Some(Value::from(REDACTED)),
        Value::Array(Array::String(items)) => {
            let masked: Vec<Option<StringValue>> = items.iter().map(mask).collect();
            masked.iter().any(Option::is_some).then(|| {
                Value::Array(Array::String(
                    masked
                        .into_iter()
                        .zip(items)
                        .map(|(m, original)| m.unwrap_or_else(|| original.clone()))
                        .collect(),
                ))
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_in_string_and_array_values_are_masked() {
        let url = Value::from("/products/4111111111111111");
        assert_eq!(scrub_value(&url), Some(Value::from("/products/[redacted]")));
        let list = Value::Array(Array::String(vec![
            StringValue::from("ok"),
            StringValue::from("5555 5555 5555 4444"),
        ]));
        assert_eq!(
            scrub_value(&list),
            Some(Value::Array(Array::String(vec![
                StringValue::from("ok"),
                StringValue::from(REDACTED),
            ])))
        );
        assert_eq!(scrub_value(&Value::from("/products/42")), None);
        assert_eq!(
            scrub_value(&Value::I64(4111111111111111)),
            Some(Value::from(REDACTED))
        );
        assert_eq!(scrub_value(&Value::I64(42)), None);
    }

    #[test]
    fn a_sensitive_attribute_name_masks_the_whole_value() {
        let mut attributes = vec![
            KeyValue::new("auth_token", "abc"),
            KeyValue::new("http.route", "/products/{id}"),
        ];
        scrub_attributes(&mut attributes);
        assert_eq!(attributes[0].value, Value::from(REDACTED));
        assert_eq!(attributes[1].value, Value::from("/products/{id}"));
    }
}
