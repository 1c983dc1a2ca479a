//! How long grading takes: one TraceQL answer with 10,000 traces in the window, and the
//! latency spread when 50 learners grade at once, through both backends (in process, and
//! over the store's own Tempo HTTP API on a local port).
//!
//! Run with `cargo bench -p dojo-grader --bench grading`; it prints a markdown table.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dojo_grader::backend::TraceBackend;
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
use dojo_grader::check::feedback::Verdict;
use dojo_grader::progress::LearnerId;
use dojo_grader::service::{Grader, Submission};
use dojo_store::storage::TenantId;
use dojo_store::{Store, StoreConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

const TRACES: u32 = 10_000;
const LEARNERS: usize = 50;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.into())
}

/// 10,000 product-page traces of four or five spans over the last ten minutes: 5% with a slow
/// query, 3% failing in the api, and the traffic that tells each exercise's near misses from
/// its answer (as the lab's load generator sends it): a frontend slow after the api answered,
/// a slow hop between the tiers, a wait for a database connection, a frontend failing on its
/// own, a query that fails and is retried. Without it every grading is "not enough traffic
/// yet", as the grader refuses to pass an answer it cannot tell from a near miss.
fn fill(store: &Store) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let resource = |service: &str| Resource {
        attributes: vec![kv("service.name", s(service))],
        ..Default::default()
    };
    for batch in 0..TRACES / 500 {
        let mut frontend = Vec::new();
        let mut api = Vec::new();
        for i in 0..500 {
            let t = batch * 500 + i;
            let start = now - 600_000_000_000 + u64::from(t) * 59_000_000;
            let slow = t % 20 == 0;
            let slow_render = t % 20 == 3;
            let slow_hop = t % 20 == 5;
            let pool_wait = t % 20 == 7;
            let failed = t % 33 == 1;
            let frontend_failed = t % 33 == 2;
            let db_failed = t % 33 == 3;
            let db_ms: u64 = if slow { 800 } else { 5 + u64::from(t % 7) };
            let wait_ms: u64 = if pool_wait { 600 } else { 0 };
            let hop_ms: u64 = if slow_hop { 700 } else { 0 };
            let api_ms = db_ms + 8 + wait_ms;
            let client_ms = api_ms + 2 + hop_ms;
            let total = client_ms + 2 + if slow_render { 700 } else { 0 };
            let mut trace_id = vec![0u8; 16];
            trace_id[..4].copy_from_slice(&t.to_be_bytes());
            trace_id[15] = 1;
            let id = |n: u8| {
                let mut v = vec![0u8; 8];
                v[..4].copy_from_slice(&t.to_be_bytes());
                v[7] = n;
                v
            };
            let span = |n: u8,
                        parent: Option<u8>,
                        name: &str,
                        kind: SpanKind,
                        at: u64,
                        ms: u64,
                        error: bool,
                        attrs: Vec<KeyValue>| Span {
                trace_id: trace_id.clone(),
                span_id: id(n),
                parent_span_id: parent.map(id).unwrap_or_default(),
                name: name.into(),
                kind: kind as i32,
                start_time_unix_nano: start + at * 1_000_000,
                end_time_unix_nano: start + (at + ms) * 1_000_000,
                attributes: attrs,
                status: Some(Status {
                    code: if error { StatusCode::Error as i32 } else { 0 },
                    message: String::new(),
                }),
                ..Default::default()
            };
            frontend.push(span(
                1,
                None,
                "GET /products/{id}",
                SpanKind::Server,
                0,
                total,
                frontend_failed,
                vec![kv("http.route", s("/products/{id}"))],
            ));
            frontend.push(span(
                2,
                Some(1),
                "GET /products/{id}",
                SpanKind::Client,
                1,
                client_ms,
                false,
                vec![],
            ));
            api.push(span(
                3,
                Some(2),
                "GET /products/{id}",
                SpanKind::Server,
                2 + hop_ms / 2,
                api_ms,
                failed,
                vec![kv("http.route", s("/products/{id}"))],
            ));
            if pool_wait {
                api.push(span(
                    5,
                    Some(3),
                    "acquire connection",
                    SpanKind::Internal,
                    3 + hop_ms / 2,
                    wait_ms,
                    false,
                    vec![kv("db.system", s("sqlite"))],
                ));
            }
            api.push(span(
                4,
                Some(3),
                "SELECT products",
                SpanKind::Client,
                3 + hop_ms / 2 + wait_ms,
                db_ms,
                db_failed,
                vec![
                    kv("db.system", s("sqlite")),
                    kv("db.collection.name", s("products")),
                ],
            ));
        }
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(resource("frontend")),
                    scope_spans: vec![ScopeSpans {
                        spans: frontend,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ResourceSpans {
                    resource: Some(resource("api")),
                    scope_spans: vec![ScopeSpans {
                        spans: api,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        store
            .ingest(&TenantId::default_tenant(), request)
            .expect("the store takes the batch");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

async fn grade_once(
    grader: &Grader,
    learner: &LearnerId,
    exercise: &str,
    query: &str,
    expect: Verdict,
) -> Duration {
    let started = Instant::now();
    let feedback = grader
        .grade(
            learner,
            "traceql-querying",
            exercise,
            &Submission::Query(query.into()),
        )
        .await
        .expect("grading works");
    let took = started.elapsed();
    assert_eq!(feedback.verdict, expect, "{}", feedback.to_text());
    took
}

async fn measure(name: &str, backend: Arc<dyn TraceBackend>, labs: &dojo_grader::spec::LabSet) {
    let grader = Grader::new(labs.clone(), backend, None);
    let ada = LearnerId::parse("ada").expect("valid");
    let cases = [
        (
            "failed-api-requests",
            r#"{ kind = server && status = error && resource.service.name = "api" }"#,
            Verdict::Pass,
            "right answer, traces",
        ),
        (
            "failed-api-requests",
            "{ status = error || duration > 700ms }",
            Verdict::Fail,
            "wrong answer, 500 differing traces",
        ),
        (
            "slow-db-queries",
            r#"{ kind = client && span.db.system = "sqlite" && duration > 500ms }"#,
            Verdict::Pass,
            "right answer, spans compared",
        ),
    ];
    for (exercise, query, expect, label) in cases {
        grade_once(&grader, &ada, exercise, query, expect).await;
        let mut runs: Vec<Duration> = Vec::new();
        for _ in 0..15 {
            runs.push(grade_once(&grader, &ada, exercise, query, expect).await);
        }
        runs.sort();
        println!(
            "| {name} | one learner: {label} | {} | {} |",
            ms(percentile(&runs, 0.5)),
            ms(percentile(&runs, 0.99))
        );
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..LEARNERS {
        let grader = grader.clone();
        tasks.spawn(async move {
            let learner = LearnerId::parse(&format!("learner-{i}")).expect("valid");
            let (query, expect) = if i % 2 == 0 {
                (
                    r#"{ resource.service.name = "api" && kind = server && status = error }"#,
                    Verdict::Pass,
                )
            } else {
                // A near miss on this traffic (frontend failures count too): refused.
                ("{ status = error }", Verdict::Fail)
            };
            grade_once(&grader, &learner, "failed-api-requests", query, expect).await
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.push(done.expect("a grading task"));
    }
    let wall = started.elapsed();
    all.sort();
    println!(
        "| {name} | {LEARNERS} learners at once | {} | {} (max {}, all done in {} ms) |",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(all[all.len() - 1]),
        ms(wall)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let labs =
        dojo_grader::spec::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs"))
            .expect("labs load");
    let store = Store::new(StoreConfig::default()).expect("default config");
    let started = Instant::now();
    fill(&store);
    eprintln!("stored {TRACES} traces in {} ms", ms(started.elapsed()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port 0");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let serving = store.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, dojo_store::tempo_router(serving)).await;
    });
    println!(
        "Grading with {TRACES} traces (about 40,000 spans) in the window, {} CPU threads.\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("| backend | case | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    measure(
        "embedded",
        Arc::new(EmbeddedBackend::new(store.clone())),
        &labs,
    )
    .await;
    measure(
        "Tempo HTTP API",
        Arc::new(TempoBackend::new(TempoConfig::new(url)).expect("client")),
        &labs,
    )
    .await;
}
