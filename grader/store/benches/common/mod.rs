//! What the store's bench binaries share: lab-like spans and requests, the clock, the
//! resident set, and a store configuration big enough to keep a million spans.

use std::time::Duration;

use dojo_store::{Limits, StoreConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

pub const SPANS_PER_TRACE: usize = 10;
pub const SPANS_PER_REQUEST: usize = 500;
const SERVICES: [&str; 4] = ["frontend", "api", "payments", "loadgen"];
const ROUTES: [&str; 5] = ["/checkout", "/cart", "/api/orders", "/api/products", "/pay"];

pub fn s(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

pub fn i(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A realistic span: a few HTTP or DB attributes, like the lab's services emit.
pub fn span(trace: u64, index: usize, start: u64) -> Span {
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&trace.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    trace_id[8..].copy_from_slice(&trace.to_be_bytes());
    let span_id = |n: usize| ((trace << 8) | n as u64 | 1 << 63).to_be_bytes().to_vec();
    let route = ROUTES[(trace as usize + index) % ROUTES.len()];
    let error = trace.is_multiple_of(17) && index == SPANS_PER_TRACE - 1;
    let mut attributes = vec![
        s(
            "http.request.method",
            if index.is_multiple_of(3) {
                "GET"
            } else {
                "POST"
            },
        ),
        s("http.route", route),
        i("http.response.status_code", if error { 500 } else { 200 }),
        s("server.address", "api.shop.local"),
        i("server.port", 8082),
        s("user_agent.original", "dojo-loadgen/1.0"),
    ];
    if index % 4 == 3 {
        attributes.push(s("db.system", "sqlite"));
        attributes.push(s(
            "db.statement",
            "SELECT id, total FROM orders WHERE customer_id = ?",
        ));
    }
    let offset = index as u64 * 2_000_000;
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id(index),
        parent_span_id: if index == 0 {
            Vec::new()
        } else {
            span_id(index - 1)
        },
        name: format!(
            "{} {route}",
            if index.is_multiple_of(3) {
                "GET"
            } else {
                "POST"
            }
        ),
        kind: if index.is_multiple_of(2) { 2 } else { 3 },
        start_time_unix_nano: start + offset,
        end_time_unix_nano: start + offset + 1_000_000 + (trace % 50) * 100_000,
        attributes,
        status: Some(Status {
            code: if error { 2 } else { 0 },
            message: if error {
                "upstream failed".into()
            } else {
                String::new()
            },
        }),
        ..Default::default()
    }
}

/// Export requests of `SPANS_PER_REQUEST` spans, one service per request, traces numbered from `first`.
pub fn requests(first: u64, spans: usize, start: u64) -> Vec<ExportTraceServiceRequest> {
    let traces = spans / SPANS_PER_TRACE;
    let per_request = SPANS_PER_REQUEST / SPANS_PER_TRACE;
    (0..traces.div_ceil(per_request))
        .map(|r| {
            let service = SERVICES[r % SERVICES.len()];
            let spans = (0..per_request)
                .map(|t| first + (r * per_request + t) as u64)
                .flat_map(|trace| {
                    (0..SPANS_PER_TRACE).map(move |n| span(trace, n, start + trace * 1_000_000))
                })
                .collect();
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            s("service.name", service),
                            s("service.version", "1.4.2"),
                            s("deployment.environment", "lab"),
                        ],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "opentelemetry-instrumentation-axum".into(),
                            version: "0.33.0".into(),
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
        })
        .collect()
}

pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

pub use dojo_traceql::model::now_unix_nanos as now_nanos;

pub fn big_config(spans: usize) -> StoreConfig {
    StoreConfig {
        limits: Limits {
            max_spans_per_tenant: spans * 2,
            max_bytes_per_tenant: u64::MAX / 2,
            ..Limits::default()
        },
        ..StoreConfig::default()
    }
}

pub fn rate(spans: usize, elapsed: Duration) -> f64 {
    spans as f64 / elapsed.as_secs_f64()
}

/// Posts every body as OTLP/HTTP protobuf to `url` from `clients` concurrent tasks (each
/// takes every `clients`-th body), asserting each is answered 200.
pub async fn post_all(url: &str, bodies: std::sync::Arc<Vec<Vec<u8>>>, clients: usize) {
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..clients)
        .map(|k| {
            let (client, url, bodies) = (client.clone(), url.to_owned(), bodies.clone());
            tokio::spawn(async move {
                for body in bodies.iter().skip(k).step_by(clients) {
                    let response = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("the receiver answers");
                    assert_eq!(response.status(), 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
}

/// Serves `store` on port 0 until the returned sender is used or dropped; its OTLP/HTTP URL.
pub async fn serve_on_port_0(
    store: &dojo_store::Store,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("a literal address");
    let listeners = dojo_store::StoreListeners::bind(any, any, any)
        .await
        .expect("bind");
    let url = format!(
        "http://{}/v1/traces",
        listeners.addrs().expect("addrs").otlp_http
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(dojo_store::serve(store.clone(), listeners, async move {
        let _ = stopped.await;
    }));
    (url, stop)
}
