//! A real OTLP/HTTP receiver on port 0 that keeps every span it is sent, for tests to assert
//! on what a service actually exported (names, kinds, parents, attributes, status, events).
//!
//! It accepts `POST /v1/traces` with protobuf (`application/x-protobuf`, the default of the
//! OpenTelemetry SDKs) or JSON (`application/json`) bodies, decoded with opentelemetry-proto.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatus;
use prost::Message;

/// An attribute value, simplified for assertions.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, maps and bytes, as their debug text.
    Other(String),
}

impl AttrValue {
    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The integer, when the value is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(value) => Some(*value),
            _ => None,
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(text) => f.write_str(text),
            AttrValue::Int(value) => write!(f, "{value}"),
            AttrValue::Double(value) => write!(f, "{value}"),
            AttrValue::Bool(value) => write!(f, "{value}"),
            AttrValue::Other(text) => f.write_str(text),
        }
    }
}

/// A span event (an exception, a log on the span).
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    pub name: String,
    pub attributes: BTreeMap<String, AttrValue>,
}

/// One received span with its resource.
#[derive(Debug, Clone)]
pub struct CapturedSpan {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// `None` for a root span.
    pub parent_span_id: Option<String>,
    pub name: String,
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: &'static str,
    /// The resource's `service.name`.
    pub service: String,
    pub resource: BTreeMap<String, AttrValue>,
    pub attributes: BTreeMap<String, AttrValue>,
    /// True when the span's status is error.
    pub error: bool,
    pub status_message: String,
    pub events: Vec<CapturedEvent>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
}

impl CapturedSpan {
    /// A string attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(AttrValue::as_str)
    }

    /// An integer attribute.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        self.attributes.get(key).and_then(AttrValue::as_i64)
    }

    /// How long the span took.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nanos.saturating_sub(self.start_unix_nanos))
    }

    /// Every attribute, resource attribute, event attribute, name and status message as
    /// text, for "this secret appears nowhere" checks.
    pub fn all_text(&self) -> String {
        let mut text = format!("{} {} ", self.name, self.status_message);
        for (key, value) in self.attributes.iter().chain(self.resource.iter()) {
            text.push_str(&format!("{key}={value} "));
        }
        for event in &self.events {
            text.push_str(&event.name);
            for (key, value) in &event.attributes {
                text.push_str(&format!(" {key}={value}"));
            }
        }
        text
    }
}

#[derive(Debug, Default)]
struct Received {
    spans: Vec<CapturedSpan>,
    requests: usize,
}

/// The running receiver; stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    address: std::net::SocketAddr,
    received: Arc<Mutex<Received>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl OtlpReceiver {
    /// Starts a receiver on 127.0.0.1, port 0.
    pub async fn start() -> anyhow::Result<OtlpReceiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the OTLP receiver")?;
        let address = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Received::default()));
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(received.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(OtlpReceiver {
            address,
            received,
            stop: Some(stop),
        })
    }

    /// The base URL to give a service as `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        lock(&self.received).spans.clone()
    }

    /// Export requests received so far.
    pub fn requests(&self) -> usize {
        lock(&self.received).requests
    }

    /// Forgets everything received so far.
    pub fn clear(&self) {
        lock(&self.received).spans.clear();
    }

    /// Waits until `ready` holds for the spans received, polling; fails after `timeout` with
    /// `what` and a list of the span names received, to make the failure readable.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&[CapturedSpan]) -> bool,
    ) -> anyhow::Result<Vec<CapturedSpan>> {
        let start = Instant::now();
        loop {
            let spans = self.spans();
            if ready(&spans) {
                return Ok(spans);
            }
            if start.elapsed() > timeout {
                let names: Vec<String> = spans
                    .iter()
                    .map(|s| format!("{}:{}", s.service, s.name))
                    .collect();
                anyhow::bail!(
                    "timed out after {timeout:?} waiting for {what}; received {} spans: {names:?}",
                    spans.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn lock(received: &Mutex<Received>) -> MutexGuard<'_, Received> {
    // Every update is a whole push; a poisoned lock still holds whole spans.
    received
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn receive(
    State(received): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let request = if is_json {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body)
            .map_err(|error| error.to_string())
    } else {
        ExportTraceServiceRequest::decode(body).map_err(|error| error.to_string())
    };
    let request = match request {
        Ok(request) => request,
        Err(error) => return (StatusCode::BAD_REQUEST, error).into_response(),
    };
    let spans = flatten(request);
    {
        let mut received = lock(&received);
        received.requests += 1;
        received.spans.extend(spans);
    }
    let reply = ExportTraceServiceResponse {
        partial_success: None,
    };
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        reply.encode_to_vec(),
    )
        .into_response()
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<CapturedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = attributes(
            resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        );
        let service = resource
            .get("service.name")
            .map(ToString::to_string)
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let kind = match SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified) {
                    SpanKind::Server => "server",
                    SpanKind::Client => "client",
                    SpanKind::Internal => "internal",
                    SpanKind::Producer => "producer",
                    SpanKind::Consumer => "consumer",
                    SpanKind::Unspecified => "unspecified",
                };
                let (error, status_message) = match span.status {
                    Some(status) => (status.code == OtlpStatus::Error as i32, status.message),
                    None => (false, String::new()),
                };
                out.push(CapturedSpan {
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty())
                        .then(|| hex::encode(&span.parent_span_id)),
                    name: span.name,
                    kind,
                    service: service.clone(),
                    resource: resource.clone(),
                    attributes: attributes(span.attributes),
                    error,
                    status_message,
                    events: span
                        .events
                        .into_iter()
                        .map(|event| CapturedEvent {
                            name: event.name,
                            attributes: attributes(event.attributes),
                        })
                        .collect(),
                    start_unix_nanos: span.start_time_unix_nano,
                    end_unix_nanos: span.end_time_unix_nano,
                });
            }
        }
    }
    out
}

fn attributes(list: Vec<KeyValue>) -> BTreeMap<String, AttrValue> {
    list.into_iter()
        .map(|kv| (kv.key, value(kv.value)))
        .collect()
}

fn value(value: Option<AnyValue>) -> AttrValue {
    match value.and_then(|v| v.value) {
        Some(any_value::Value::StringValue(text)) => AttrValue::Str(text),
        Some(any_value::Value::IntValue(number)) => AttrValue::Int(number),
        Some(any_value::Value::DoubleValue(number)) => AttrValue::Double(number),
        Some(any_value::Value::BoolValue(flag)) => AttrValue::Bool(flag),
        Some(other) => AttrValue::Other(format!("{other:?}")),
        None => AttrValue::Other(String::new()),
    }
}
