//! JSON log lines on stdout, one object per line, carrying the OpenTelemetry `trace_id`
//! (32 hex) and `span_id` (16 hex) of the span they were emitted in, so a log line leads
//! straight to its trace. Every field goes through [`crate::redact`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::redact::{REDACTED, is_sensitive_key, redact_value};

/// Formats events as JSON objects with trace and span ids.
#[derive(Debug, Clone)]
pub struct JsonWithTraceIds {
    service: String,
    /// Which events are written (`RUST_LOG`); spans are not affected by it.
    level: Targets,
    /// The dispatcher the formatter runs in, set right after the subscriber is installed; it
    /// is needed to ask the OpenTelemetry layer for the span's ids without re-entering the
    /// dispatcher (which would see no subscriber at all during an event).
    dispatch: Arc<OnceLock<tracing::dispatcher::WeakDispatch>>,
}

impl JsonWithTraceIds {
    /// A formatter for `service`; call [`JsonWithTraceIds::attach`] once the subscriber is set.
    pub fn new(service: &str, level: Targets) -> JsonWithTraceIds {
        JsonWithTraceIds {
            service: service.to_owned(),
            level,
            dispatch: Arc::new(OnceLock::new()),
        }
    }

    /// Records the installed dispatcher so ids can be looked up.
    pub fn attach(&self, dispatch: &tracing::Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn trace_ids(&self, span: &tracing::span::Id) -> Option<(String, String)> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let cx = tracing_opentelemetry::get_otel_context(span, &dispatch)?;
        let span = cx.span();
        let context = span.span_context();
        context.is_valid().then(|| {
            (
                context.trace_id().to_string(),
                context.span_id().to_string(),
            )
        })
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        if !self.level.would_enable(metadata.target(), metadata.level()) {
            return Ok(());
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::String(metadata.level().to_string()));
        line.insert("service".into(), Value::String(self.service.clone()));
        line.insert("target".into(), Value::String(metadata.target().to_owned()));
        if let Some(message) = fields.message {
            line.insert("message".into(), Value::String(message));
        }
        if !fields.values.is_empty() {
            line.insert("fields".into(), Value::Object(fields.values));
        }
        let current = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = current {
            line.insert("span".into(), Value::String(span.name().to_owned()));
            let id = span.id();
            drop(span);
            if let Some((trace_id, span_id)) = self.trace_ids(&id) {
                line.insert("trace_id".into(), Value::String(trace_id));
                line.insert("span_id".into(), Value::String(span_id));
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields, masking secrets.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    values: Map<String, Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let value = if is_sensitive_key(name) {
            Value::String(REDACTED.into())
        } else {
            value
        };
        if name == "message" {
            if let Value::String(text) = value {
                self.message = Some(text);
            } else {
                self.message = Some(value.to_string());
            }
        } else {
            self.values.insert(name.to_owned(), value);
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        self.put(field, Value::String(redact_value(&text).into_owned()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(redact_value(value).into_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(
            field,
            Value::String(redact_value(&value.to_string()).into_owned()),
        );
    }
}
