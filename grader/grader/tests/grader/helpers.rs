//! Shared test set-up: databases to run the progress tests on, temporary folders.

use std::path::PathBuf;

/// A folder under the system temp dir that is removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "dojo-grader-{tag}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The databases a progress test runs on: a fresh SQLite file always, and a fresh PostgreSQL
/// database when `DOJO_TEST_POSTGRES_URL` is set (required under CI).
pub async fn databases(tag: &str) -> (TempDir, Vec<(&'static str, String)>) {
    let dir = TempDir::new(tag);
    let mut out = vec![(
        "sqlite",
        format!("sqlite:{}", dir.0.join("progress.db").display()),
    )];
    if let Some(db) = dojo_testkit::postgres::fresh_database()
        .await
        .expect("the test PostgreSQL server accepts a new database")
    {
        out.push(("postgresql", db.url));
    }
    (dir, out)
}

use std::sync::Arc;

use dojo_grader::backend::TraceBackend;
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
use dojo_store::Store;
use dojo_store::storage::TenantId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

pub use dojo_traceql::model::now_unix_nanos as now_nanos;

/// A span to put in a test trace. Ids are small numbers turned into bytes.
#[derive(Clone)]
pub struct TestSpan {
    pub trace: u32,
    pub id: u32,
    pub parent: Option<u32>,
    pub service: &'static str,
    pub name: &'static str,
    pub kind: SpanKind,
    pub error: bool,
    /// Offset from the trace's start, and duration, in milliseconds.
    pub at_ms: u64,
    pub ms: u64,
    pub attributes: Vec<(&'static str, Attr)>,
    pub exception: bool,
    /// `service.instance.id` on the resource, when set.
    pub instance: Option<&'static str>,
    /// `learner.id` on the resource: the mark of a learner's own run (Lab 1).
    pub learner: Option<&'static str>,
    /// `service.version` on the resource, when set.
    pub version: Option<&'static str>,
}

/// An attribute value in a test span.
#[derive(Clone)]
pub enum Attr {
    S(&'static str),
    I(i64),
}

impl TestSpan {
    pub fn new(
        trace: u32,
        id: u32,
        parent: Option<u32>,
        service: &'static str,
        name: &'static str,
    ) -> Self {
        TestSpan {
            trace,
            id,
            parent,
            service,
            name,
            kind: SpanKind::Internal,
            error: false,
            at_ms: 0,
            ms: 10,
            attributes: Vec::new(),
            exception: false,
            instance: None,
            learner: None,
            version: None,
        }
    }
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }
    pub fn learner(mut self, id: &'static str) -> Self {
        self.learner = Some(id);
        self
    }
    pub fn instance(mut self, id: &'static str) -> Self {
        self.instance = Some(id);
        self
    }
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }
    pub fn error(mut self) -> Self {
        self.error = true;
        self
    }
    pub fn timing(mut self, at_ms: u64, ms: u64) -> Self {
        self.at_ms = at_ms;
        self.ms = ms;
        self
    }
    pub fn attr(mut self, key: &'static str, value: Attr) -> Self {
        self.attributes.push((key, value));
        self
    }
    pub fn exception(mut self) -> Self {
        self.exception = true;
        self
    }
}

pub fn trace_id(n: u32) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[0] = 0xab;
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

pub fn trace_hex(n: u32) -> String {
    hex::encode(trace_id(n))
}

fn span_id(trace: u32, n: u32) -> [u8; 8] {
    let mut id = [0u8; 8];
    id[..4].copy_from_slice(&trace.to_be_bytes());
    id[4..].copy_from_slice(&n.to_be_bytes());
    id
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Stores the spans in the store's default tenant; each trace starts `ago_ms` before now.
pub fn ingest(store: &Store, spans: &[TestSpan], ago_ms: u64) {
    ingest_for(store, &TenantId::default_tenant(), spans, ago_ms);
}

/// As [`ingest`], for one tenant.
pub fn ingest_for(store: &Store, tenant: &TenantId, spans: &[TestSpan], ago_ms: u64) {
    let base = now_nanos() - ago_ms * 1_000_000;
    let mut resource_spans = Vec::new();
    for span in spans {
        let start = base + span.at_ms * 1_000_000 + u64::from(span.trace) * 1_000;
        let mut attributes: Vec<KeyValue> = span
            .attributes
            .iter()
            .map(|(k, v)| {
                kv(
                    k,
                    match v {
                        Attr::S(s) => any_value::Value::StringValue(s.to_string()),
                        Attr::I(i) => any_value::Value::IntValue(*i),
                    },
                )
            })
            .collect();
        attributes.sort_by(|a, b| a.key.cmp(&b.key));
        let proto = Span {
            trace_id: trace_id(span.trace).to_vec(),
            span_id: span_id(span.trace, span.id).to_vec(),
            parent_span_id: span
                .parent
                .map(|p| span_id(span.trace, p).to_vec())
                .unwrap_or_default(),
            name: span.name.to_string(),
            kind: span.kind as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + span.ms * 1_000_000,
            attributes,
            events: if span.exception {
                vec![Event {
                    name: "exception".into(),
                    time_unix_nano: start,
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            status: Some(Status {
                code: if span.error {
                    StatusCode::Error as i32
                } else {
                    StatusCode::Unset as i32
                },
                message: String::new(),
            }),
            ..Default::default()
        };
        resource_spans.push(ResourceSpans {
            resource: Some(Resource {
                attributes: std::iter::once(kv(
                    "service.name",
                    any_value::Value::StringValue(span.service.to_string()),
                ))
                .chain(span.instance.map(|id| {
                    kv(
                        "service.instance.id",
                        any_value::Value::StringValue(id.to_string()),
                    )
                }))
                .chain(
                    span.learner
                        .map(|id| kv("learner.id", any_value::Value::StringValue(id.to_string()))),
                )
                .chain(span.version.map(|version| {
                    kv(
                        "service.version",
                        any_value::Value::StringValue(version.to_string()),
                    )
                }))
                .collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![proto],
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    store
        .ingest(tenant, ExportTraceServiceRequest { resource_spans })
        .expect("the store accepts the test spans");
}

/// An empty embedded store.
pub fn store() -> Store {
    Store::new(dojo_store::StoreConfig::default()).expect("the default store config is valid")
}

/// Serves the store's Tempo API on port 0 and returns its base URL; the server stops when
/// the runtime does.
pub async fn serve_tempo_api(store: Store) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port 0 is free");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, dojo_store::tempo_router(store)).await;
    });
    format!("http://{addr}")
}

/// Both backends over the same store: in process, and over the store's own Tempo HTTP API.
pub async fn backends(store: &Store) -> Vec<(&'static str, Arc<dyn TraceBackend>)> {
    let url = serve_tempo_api(store.clone()).await;
    vec![
        (
            "embedded",
            Arc::new(EmbeddedBackend::new(store.clone())) as Arc<dyn TraceBackend>,
        ),
        (
            "tempo-http",
            Arc::new(TempoBackend::new(TempoConfig::new(url)).expect("a client builds"))
                as Arc<dyn TraceBackend>,
        ),
    ]
}
