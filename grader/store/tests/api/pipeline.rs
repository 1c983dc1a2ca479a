//! The ingest pipeline: default scrubbing, attribute actions from YAML, probabilistic and tail
//! sampling, each visible in what is stored and in the counters.

use std::time::Duration;

use dojo_store::{IngestError, Store, StoreConfig, TenantId};
use dojo_traceql::model::{TraceId, Value, attribute};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::helpers::{
    SpanSpec, TestStore, checkout_trace, minutes_ago, request, string_attr, trace_hex, trace_id,
};

fn store(yaml: &str) -> Store {
    Store::new(StoreConfig::from_yaml(yaml).expect("valid YAML config")).expect("a valid pipeline")
}

fn id(n: u8) -> TraceId {
    TraceId(trace_id(n).try_into().expect("16 bytes"))
}

#[tokio::test]
async fn by_default_credential_headers_are_deleted_and_statements_hashed() {
    let app = TestStore::start().await;
    let span = SpanSpec::new(
        40,
        1,
        None,
        "GET /account",
        SpanKind::Server,
        minutes_ago(5),
        10,
    )
    .attr(string_attr(
        "http.request.header.authorization",
        "Bearer s3cret",
    ))
    .attr(string_attr("http.request.header.cookie", "session=abc"))
    .attr(string_attr("db.statement", "SELECT password FROM users"));
    app.post_protobuf(&request("frontend", &[span]), None).await;
    let (_, text) = app
        .get(&format!("/api/traces/{}", trace_hex(40)), None)
        .await;
    assert!(
        !text.contains("s3cret") && !text.contains("session=abc"),
        "{text}"
    );
    assert!(!text.contains("SELECT password"), "{text}");
    assert!(
        text.contains("db.statement"),
        "the statement is kept, hashed"
    );
}

#[tokio::test]
async fn attribute_actions_from_yaml_insert_redact_and_delete() {
    let store = store(
        r#"
pipeline:
  attributes:
    - {action: insert, key: deployment.environment, value: lab}
    - {action: redact, value_pattern: '\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b'}
    - {action: delete, pattern: '^user\.'}
"#,
    );
    let span = SpanSpec::new(
        41,
        1,
        None,
        "POST /pay",
        SpanKind::Server,
        minutes_ago(5),
        10,
    )
    // Not Luhn-valid, so the built-in card scrub leaves it and the configured redact masks it.
    .attr(string_attr("note", "card 4111 1111 1111 1112 declined"))
    .attr(string_attr("user.email", "a@b.c"));
    store
        .ingest(&TenantId::default_tenant(), request("payments", &[span]))
        .unwrap();
    let trace = store
        .trace_by_id(&TenantId::default_tenant(), &id(41))
        .expect("stored");
    let attrs = &trace.spans[0].attributes;
    assert_eq!(
        attribute(attrs, "deployment.environment"),
        Some(&Value::str("lab"))
    );
    assert_eq!(
        attribute(attrs, "note"),
        Some(&Value::str("card **** declined"))
    );
    assert_eq!(attribute(attrs, "user.email"), None);
}

#[tokio::test]
async fn probabilistic_sampling_at_zero_stores_nothing_and_counts_the_drops() {
    let store = store("pipeline:\n  probabilistic_sampler: {sampling_percentage: 0}\n");
    let (frontend, api) = checkout_trace(42, minutes_ago(5));
    let tenant = TenantId::default_tenant();
    let outcome = store.ingest(&tenant, frontend).unwrap();
    assert_eq!(
        outcome.accepted, 2,
        "sampled-out spans are accepted, not rejected"
    );
    store.ingest(&tenant, api).unwrap();
    let status = &store.status()[0];
    assert_eq!(
        (status.spans, status.sampled_out_spans, status.dropped_spans),
        (0, 4, 4)
    );
}

#[tokio::test]
async fn probabilistic_sampling_keeps_or_drops_whole_traces() {
    let store = store("pipeline:\n  probabilistic_sampler: {sampling_percentage: 50}\n");
    let tenant = TenantId::default_tenant();
    for n in 0..60 {
        let (frontend, api) = checkout_trace(n, minutes_ago(5));
        store.ingest(&tenant, frontend).unwrap();
        store.ingest(&tenant, api).unwrap();
    }
    let traces = store.snapshot(&tenant);
    assert!(
        traces.iter().all(|t| t.spans.len() == 4),
        "no trace is half stored"
    );
    assert!(
        (10..=50).contains(&traces.len()),
        "about half of 60 kept: {}",
        traces.len()
    );
}

const TAIL: &str = r#"
pipeline:
  tail_sampling:
    decision_wait: 5s
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: slow, type: latency, latency: {threshold_ms: 500}}
"#;

#[tokio::test(start_paused = true)]
async fn tail_sampling_keeps_error_and_slow_traces_after_the_decision_wait() {
    let store = store(TAIL);
    let tenant = TenantId::default_tenant();
    let start = minutes_ago(5);
    let error = SpanSpec::new(50, 1, None, "GET /a", SpanKind::Server, start, 10).error();
    let slow = SpanSpec::new(51, 1, None, "GET /b", SpanKind::Server, start, 900);
    let fine = SpanSpec::new(52, 1, None, "GET /c", SpanKind::Server, start, 10);
    store
        .ingest(&tenant, request("frontend", &[error, slow, fine.clone()]))
        .unwrap();
    assert!(
        store.snapshot(&tenant).is_empty(),
        "nothing is stored before the decision"
    );
    assert_eq!(store.status()[0].pending_spans, 3);

    tokio::time::advance(Duration::from_secs(4)).await;
    store.run_maintenance();
    assert!(
        store.snapshot(&tenant).is_empty(),
        "4s is not yet the 5s wait"
    );

    tokio::time::advance(Duration::from_secs(2)).await;
    store.run_maintenance();
    let mut kept: Vec<TraceId> = store.snapshot(&tenant).iter().map(|t| t.trace_id).collect();
    kept.sort();
    assert_eq!(kept, vec![id(50), id(51)]);
    let status = &store.status()[0];
    assert_eq!((status.pending_spans, status.sampled_out_spans), (0, 1));

    // Late spans follow their trace's decision.
    let late_fine = SpanSpec::new(52, 2, Some(1), "late", SpanKind::Internal, start, 1);
    let late_error = SpanSpec::new(50, 2, Some(1), "late", SpanKind::Internal, start, 1);
    store
        .ingest(&tenant, request("frontend", &[late_fine, late_error]))
        .unwrap();
    assert_eq!(store.trace_by_id(&tenant, &id(50)).unwrap().spans.len(), 2);
    assert!(store.trace_by_id(&tenant, &id(52)).is_none());
}

#[tokio::test]
async fn a_full_tail_sampling_buffer_turns_exports_away_with_503() {
    let mut config = StoreConfig::from_yaml(TAIL).unwrap();
    config.limits.max_pending_spans = 3;
    let app = TestStore::with_config(config).await;
    let (frontend, api) = checkout_trace(53, minutes_ago(5));
    assert_eq!(app.post_protobuf(&frontend, None).await.status(), 200);
    let refused = app.post_protobuf(&api, None).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "2");
    let direct = app.store.ingest(
        &TenantId::default_tenant(),
        checkout_trace(54, minutes_ago(5)).1,
    );
    assert!(matches!(direct, Err(IngestError::Unavailable { .. })));
}

fn tenant_pipeline(yaml: &str) -> dojo_store::pipeline::PipelineConfig {
    StoreConfig::from_yaml(yaml)
        .expect("valid YAML config")
        .pipeline
}

#[tokio::test(start_paused = true)]
async fn a_tenants_own_pipeline_samples_and_scrubs_its_spans_only_from_then_on() {
    let store = store("");
    let (ada, shared) = (
        TenantId::parse("ada").expect("a tenant id"),
        TenantId::default_tenant(),
    );
    let start = minutes_ago(5);
    let spans = |trace: u8| {
        let error = SpanSpec::new(trace, 1, None, "GET /a", SpanKind::Server, start, 10)
            .error()
            .attr(string_attr(
                "http.request.header.authorization",
                "Bearer s3cret",
            ));
        let fine = SpanSpec::new(trace + 1, 1, None, "GET /b", SpanKind::Server, start, 10).attr(
            string_attr("http.request.header.authorization", "Bearer s3cret"),
        );
        request("payments", &[error, fine])
    };
    // Before: both tenants keep everything, the auth header included (the store's defaults).
    store.ingest(&ada, spans(60)).unwrap();
    assert_eq!(store.snapshot(&ada).len(), 2);

    // Ada's own pipeline: errors only, auth headers deleted.
    store
        .set_tenant_pipeline(
            &ada,
            Some(&tenant_pipeline(
                r#"
pipeline:
  attributes:
    - {action: delete, key: http.request.header.authorization}
  tail_sampling:
    decision_wait: 2s
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
"#,
            )),
        )
        .expect("the pipeline compiles");
    store.ingest(&ada, spans(70)).unwrap();
    store.ingest(&shared, spans(80)).unwrap();
    tokio::time::advance(Duration::from_secs(3)).await;
    store.run_maintenance();
    let error = store
        .trace_by_id(&ada, &id(70))
        .expect("the error trace is kept");
    assert_eq!(
        attribute(
            &error.spans[0].attributes,
            "http.request.header.authorization"
        ),
        None,
        "scrubbed in ada's tenant"
    );
    assert!(
        store.trace_by_id(&ada, &id(71)).is_none(),
        "the fine trace is sampled out"
    );
    assert!(
        store.trace_by_id(&ada, &id(60)).is_some(),
        "stored traces stay"
    );
    let other = store
        .trace_by_id(&shared, &id(81))
        .expect("the other tenant keeps all");
    assert_eq!(
        attribute(
            &other.spans[0].attributes,
            "http.request.header.authorization"
        ),
        Some(&Value::str("4111111111111111")),
        "the other tenant's pipeline is untouched"
    );

    // A pipeline that does not compile changes nothing.
    let bad: dojo_store::pipeline::PipelineConfig =
        serde_yaml::from_str("attributes:\n  - {action: delete, pattern: '('}\n")
            .expect("well-formed YAML");
    assert!(store.set_tenant_pipeline(&ada, Some(&bad)).is_err());
    store.ingest(&ada, spans(90)).unwrap();
    tokio::time::advance(Duration::from_secs(3)).await;
    store.run_maintenance();
    assert!(store.trace_by_id(&ada, &id(90)).is_some());
    assert!(
        store.trace_by_id(&ada, &id(91)).is_none(),
        "still ada's own pipeline"
    );

    // Back to the store's pipeline; a trace still waiting for a decision is kept.
    store.ingest(&ada, spans(100)).unwrap();
    store.set_tenant_pipeline(&ada, None).unwrap();
    store.ingest(&ada, spans(110)).unwrap();
    assert!(
        store.trace_by_id(&ada, &id(111)).is_some(),
        "the store's pipeline keeps all"
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    store.run_maintenance();
    assert!(
        store.trace_by_id(&ada, &id(101)).is_some(),
        "nothing is left waiting"
    );
    assert_eq!(
        store
            .status()
            .iter()
            .map(|s| s.pending_spans)
            .sum::<usize>(),
        0
    );
}

#[tokio::test]
async fn card_numbers_sent_by_any_client_are_never_stored_over_http_or_grpc() {
    let app = TestStore::start().await;
    let card_span = |trace: u8| {
        SpanSpec::new(
            trace,
            1,
            None,
            "GET /products/4111111111111111",
            SpanKind::Server,
            minutes_ago(5),
            10,
        )
        .attr(string_attr("url.path", "/products/4111111111111111"))
        .attr(string_attr(
            "url.full",
            "http://shop:8081/products/4111-1111-1111-1111?ref=5555555555554444",
        ))
        .attr(string_attr("http.route", "/products/{id}"))
        .attr(crate::helpers::int_attr("product.id", 4111111111111111))
    };
    // Over OTLP/HTTP (protobuf) …
    let response = app
        .post_protobuf(&request("learner-lab", &[card_span(61)]), None)
        .await;
    assert_eq!(response.status(), 200);
    // … and over OTLP/gRPC.
    let mut grpc = opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient::connect(
        format!("http://{}", app.addrs.otlp_grpc),
    )
    .await
    .expect("the gRPC receiver accepts connections");
    grpc.export(request("learner-lab", &[card_span(62)]))
        .await
        .expect("the gRPC export succeeds");

    for trace in [61, 62] {
        let (status, body) = app
            .get(&format!("/api/traces/{}", trace_hex(trace)), None)
            .await;
        assert_eq!(status, 200, "trace {trace} is stored");
        for number in [
            "4111111111111111",
            "4111-1111-1111-1111",
            "5555555555554444",
        ] {
            assert!(
                !body.contains(number),
                "{number} is not stored in trace {trace}: {body}"
            );
        }
        assert!(
            body.contains("/products/[redacted]") && body.contains("/products/{id}"),
            "the rest of each value is kept: {body}"
        );
    }
    // TraceQL sees the masked values too.
    let (_, found) = app
        .get(
            "/api/search?q=%7B%20span.url.path%20%3D%20%22%2Fproducts%2F%5Bredacted%5D%22%20%7D",
            None,
        )
        .await;
    assert!(
        found.contains(trace_hex(61).trim_start_matches('0')),
        "searchable as masked: {found}"
    );
}
