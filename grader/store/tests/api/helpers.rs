//! Starting a store on port 0 and building OTLP requests by hand.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use dojo_store::{Store, StoreAddrs, StoreConfig, StoreListeners};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status,
};
use prost::Message;
use tokio::sync::oneshot;

/// A running store and a client for it; stops when dropped.
pub struct TestStore {
    pub store: Store,
    pub addrs: StoreAddrs,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl TestStore {
    pub async fn start() -> TestStore {
        Self::with_config(StoreConfig::default()).await
    }

    pub async fn with_config(config: StoreConfig) -> TestStore {
        Self::with_store(Store::new(config).expect("the test configuration compiles")).await
    }

    /// Serves a store built by the test (with an operator token, say).
    pub async fn with_store(store: Store) -> TestStore {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("a literal address");
        let listeners = StoreListeners::bind(any, any, any)
            .await
            .expect("port 0 binds");
        let addrs = listeners.addrs().expect("bound sockets have addresses");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(dojo_store::serve(store.clone(), listeners, async move {
            let _ = stopped.await;
        }));
        TestStore {
            store,
            addrs,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs.http)
    }

    pub fn otlp_url(&self) -> String {
        format!("http://{}/v1/traces", self.addrs.otlp_http)
    }

    /// Posts a protobuf export request for a tenant (None = no header).
    pub async fn post_protobuf(
        &self,
        request: &ExportTraceServiceRequest,
        tenant: Option<&str>,
    ) -> reqwest::Response {
        let mut builder = self
            .client
            .post(self.otlp_url())
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec());
        if let Some(t) = tenant {
            builder = builder.header("X-Scope-OrgID", t);
        }
        builder.send().await.expect("the OTLP receiver answers")
    }

    /// GETs a Tempo API path for a tenant and returns status and body text.
    pub async fn get(&self, path: &str, tenant: Option<&str>) -> (u16, String) {
        let mut builder = self.client.get(self.api(path));
        if let Some(t) = tenant {
            builder = builder.header("X-Scope-OrgID", t);
        }
        let response = builder.send().await.expect("the Tempo API answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a text body"))
    }

    /// GETs JSON, asserting a 200.
    pub async fn get_json(&self, path: &str, tenant: Option<&str>) -> serde_json::Value {
        let (status, body) = self.get(path, tenant).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {body}"))
    }
}

/// Unix nanoseconds `minutes_ago` minutes before now.
pub fn minutes_ago(minutes: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as u64;
    now - minutes * 60 * 1_000_000_000
}

pub fn trace_id(n: u8) -> Vec<u8> {
    let mut id = vec![0u8; 16];
    id[0] = 0x0a;
    id[15] = n;
    id
}

pub fn span_id(n: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 0, 0x5e, n]
}

pub fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

pub fn int_attr(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A span description, turned into OTLP by [`SpanSpec::build`].
#[derive(Clone)]
pub struct SpanSpec {
    pub trace: u8,
    pub id: u8,
    pub parent: Option<u8>,
    pub name: &'static str,
    pub kind: SpanKind,
    pub start: u64,
    pub millis: u64,
    pub error: bool,
    pub attributes: Vec<KeyValue>,
}

impl SpanSpec {
    pub fn new(
        trace: u8,
        id: u8,
        parent: Option<u8>,
        name: &'static str,
        kind: SpanKind,
        start: u64,
        millis: u64,
    ) -> Self {
        SpanSpec {
            trace,
            id,
            parent,
            name,
            kind,
            start,
            millis,
            error: false,
            attributes: Vec::new(),
        }
    }

    pub fn error(mut self) -> Self {
        self.error = true;
        self
    }

    pub fn attr(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    pub fn build(&self) -> Span {
        Span {
            trace_id: trace_id(self.trace),
            span_id: span_id(self.id),
            parent_span_id: self.parent.map(span_id).unwrap_or_default(),
            name: self.name.into(),
            kind: self.kind as i32,
            start_time_unix_nano: self.start,
            end_time_unix_nano: self.start + self.millis * 1_000_000,
            attributes: self.attributes.clone(),
            status: Some(Status {
                code: if self.error {
                    status::StatusCode::Error as i32
                } else {
                    status::StatusCode::Unset as i32
                },
                message: if self.error {
                    "boom".into()
                } else {
                    String::new()
                },
            }),
            ..Default::default()
        }
    }
}

/// One export request holding spans of one service.
pub fn request(service: &str, spans: &[SpanSpec]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_attr("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "dojo.test".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans: spans.iter().map(SpanSpec::build).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The shop's checkout trace number `n`: frontend → api → database, the query failing.
pub fn checkout_trace(n: u8, start: u64) -> (ExportTraceServiceRequest, ExportTraceServiceRequest) {
    let frontend = request(
        "frontend",
        &[
            SpanSpec::new(n, 1, None, "GET /checkout", SpanKind::Server, start, 120)
                .attr(string_attr("http.request.method", "GET"))
                .attr(int_attr("http.response.status_code", 500)),
            SpanSpec::new(
                n,
                2,
                Some(1),
                "POST /api/orders",
                SpanKind::Client,
                start + 5_000_000,
                100,
            ),
        ],
    );
    let api = request(
        "api",
        &[
            SpanSpec::new(
                n,
                3,
                Some(2),
                "POST /api/orders",
                SpanKind::Server,
                start + 6_000_000,
                90,
            )
            .attr(string_attr("http.route", "/api/orders")),
            SpanSpec::new(
                n,
                4,
                Some(3),
                "SELECT orders",
                SpanKind::Client,
                start + 10_000_000,
                40,
            )
            .error()
            .attr(string_attr("db.system", "sqlite"))
            .attr(string_attr("db.statement", "SELECT * FROM orders")),
        ],
    );
    (frontend, api)
}

/// The hex form of [`trace_id`], as the API prints full ids.
pub fn trace_hex(n: u8) -> String {
    hex::encode(trace_id(n))
}
