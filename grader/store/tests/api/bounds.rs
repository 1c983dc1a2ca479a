//! Bounded work per request and per process: a span carrying too much is cut down and the
//! answer says so, a trace past its size refuses later spans, a search asks for at most the
//! configured number of traces, and the store-wide budget evicts the oldest trace whichever
//! tenant holds it.

use std::io::Write;

use dojo_store::{Budget, QueryLimits, SpanLimits, Store, StoreConfig, TenantId};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

use crate::helpers::{
    SpanSpec, TestStore, checkout_trace, int_attr, minutes_ago, request, trace_hex,
};

async fn partial_success(
    app: &TestStore,
    body: &ExportTraceServiceRequest,
) -> Option<(i64, String)> {
    let response = app.post_protobuf(body, None).await;
    assert_eq!(response.status(), 200);
    ExportTraceServiceResponse::decode(response.bytes().await.unwrap())
        .unwrap()
        .partial_success
        .map(|p| (p.rejected_spans, p.error_message))
}

#[tokio::test]
async fn a_small_gzip_upload_of_a_span_with_huge_attribute_lists_is_stored_cut_down() {
    let app = TestStore::start().await;
    let attributes = 50_000;
    let mut spec = SpanSpec::new(1, 1, None, "GET /", SpanKind::Server, minutes_ago(1), 5);
    spec.attributes = (0..attributes)
        .map(|i| int_attr(&format!("k{i}"), i))
        .collect();
    let body = request("frontend", &[spec]).encode_to_vec();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&body).unwrap();
    let gzip = gzip.finish().unwrap();
    let response = app
        .client
        .post(app.otlp_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gzip)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("the cut is said");
    assert_eq!(partial.rejected_spans, 0, "the span is kept");
    assert!(
        partial
            .error_message
            .contains(&format!("{attributes} attributes; the first 128 were kept")),
        "{}",
        partial.error_message
    );
    let trace = app
        .get_json(&format!("/api/traces/{}", trace_hex(1)), None)
        .await;
    let stored = trace["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(stored, 128);
    let status = &app.store.status()[0];
    assert_eq!((status.spans, status.truncated_spans), (1, 1));
    let metrics = app.get("/metrics", None).await.1;
    assert!(
        metrics.contains("dojo_store_spans_truncated_total{tenant=\"single-tenant\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn spans_past_a_traces_size_are_refused_counted_and_said() {
    let app = TestStore::with_config(StoreConfig {
        span_limits: SpanLimits {
            max_spans_per_trace: 3,
            ..SpanLimits::default()
        },
        ..StoreConfig::default()
    })
    .await;
    let (frontend, api) = checkout_trace(1, minutes_ago(5));
    assert_eq!(partial_success(&app, &frontend).await, None);
    let (rejected, message) = partial_success(&app, &api).await.expect("a refusal");
    assert_eq!(rejected, 1);
    assert!(message.contains("already has 3 spans"), "{message}");
    let status = &app.store.status()[0];
    assert_eq!((status.spans, status.refused_spans), (3, 1));

    let app = TestStore::with_config(StoreConfig {
        span_limits: SpanLimits {
            max_bytes_per_trace: 2_000,
            ..SpanLimits::default()
        },
        ..StoreConfig::default()
    })
    .await;
    let mut spans = Vec::new();
    for id in 1..=20 {
        spans.push(SpanSpec::new(
            2,
            id,
            Some(1),
            "SELECT",
            SpanKind::Client,
            minutes_ago(5),
            1,
        ));
    }
    let (rejected, message) = partial_success(&app, &request("api", &spans))
        .await
        .expect("a refusal");
    assert!(rejected > 0 && rejected < 20, "{rejected} of 20 refused");
    assert!(message.contains("max_bytes_per_trace"), "{message}");
    assert!(app.store.status()[0].bytes <= 2_000);
}

#[tokio::test]
async fn a_search_limit_over_the_cap_is_lowered_and_an_spss_over_it_refused() {
    let app = TestStore::with_config(StoreConfig {
        query: QueryLimits {
            max_result_limit: 3,
            max_spans_per_span_set: 5,
            ..QueryLimits::default()
        },
        ..StoreConfig::default()
    })
    .await;
    for n in 1..=6 {
        app.post_protobuf(&checkout_trace(n, minutes_ago(5)).0, None)
            .await;
    }
    let found = app
        .get_json("/api/search?q=%7B%20%7D&limit=100000", None)
        .await;
    assert_eq!(found["traces"].as_array().unwrap().len(), 3, "{found}");
    let (status, body) = app.get("/api/search?q=%7B%20%7D&spss=6", None).await;
    assert_eq!(status, 400);
    assert!(body.contains("between 1 and 5"), "{body}");
    let (status, _) = app.get("/api/search?q=%7B%20%7D&spss=5", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_store_wide_budget_evicts_the_oldest_trace_whichever_tenant_holds_it() {
    let one_trace = {
        let probe = Store::new(StoreConfig::default()).unwrap();
        probe
            .ingest(
                &TenantId::default_tenant(),
                checkout_trace(1, minutes_ago(5)).0,
            )
            .unwrap();
        probe.bytes_total()
    };
    let store = Store::new(StoreConfig {
        budget: Budget {
            max_bytes_total: one_trace * 4,
            ..Budget::default()
        },
        ..StoreConfig::default()
    })
    .unwrap();
    let a = TenantId::parse("a").unwrap();
    let b = TenantId::parse("b").unwrap();
    // a gets traces 1 and 2, then b gets 3 to 6: the budget holds four.
    for (tenant, n) in [(&a, 1), (&a, 2), (&b, 3), (&b, 4), (&b, 5), (&b, 6)] {
        store
            .ingest(tenant, checkout_trace(n, minutes_ago(5)).0)
            .unwrap();
    }
    assert!(
        store.bytes_total() <= one_trace * 4,
        "{} bytes",
        store.bytes_total()
    );
    let has = |tenant: &TenantId, n: u8| {
        let id = dojo_traceql::model::TraceId::from_hex(&trace_hex(n)).unwrap();
        store.trace_by_id(tenant, &id).is_some()
    };
    assert!(!has(&a, 1) && !has(&a, 2), "a's older traces went first");
    assert!(has(&b, 3) && has(&b, 6), "b's traces stay");
    let status = store.status();
    assert_eq!(status[0].tenant, "a");
    assert_eq!(
        status[0].evicted_traces, 2,
        "counted against the tenant that lost them"
    );
    assert_eq!(status[1].evicted_traces, 0);

    store
        .ingest(&a, checkout_trace(7, minutes_ago(5)).0)
        .unwrap();
    assert!(!has(&b, 3), "now b's oldest is the oldest in the store");
    assert!(has(&a, 7));
    assert_eq!(
        store.bytes_total(),
        store.status().iter().map(|s| s.bytes).sum::<u64>(),
        "the store-wide total matches the tenants'"
    );
}

#[tokio::test]
async fn bodies_beyond_the_decoding_budget_wait_their_turn_with_429() {
    let app = TestStore::with_config(StoreConfig {
        budget: Budget {
            max_decoding_bytes: 1_000,
            ..Budget::default()
        },
        ..StoreConfig::default()
    })
    .await;
    let (frontend, _) = checkout_trace(1, minutes_ago(5));
    let held = app
        .store
        .try_reserve_decoding(900)
        .expect("an empty budget takes anything");
    let response = app.post_protobuf(&frontend, None).await;
    assert_eq!(response.status(), 429, "OTLP/HTTP");
    assert_eq!(response.headers()["retry-after"], "1");
    let mut grpc = opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient::connect(
        format!("http://{}", app.addrs.otlp_grpc),
    )
    .await
    .unwrap();
    let status = grpc.export(frontend.clone()).await.expect_err("no room");
    assert_eq!(
        status.code(),
        tonic::Code::Unavailable,
        "OTLP/gRPC: {status:?}"
    );
    assert!(status.metadata().contains_key("retry-after"));
    drop(held);
    assert_eq!(app.post_protobuf(&frontend, None).await.status(), 200);
    grpc.export(frontend).await.expect("room again");
    let big = app
        .store
        .try_reserve_decoding(5_000)
        .expect("one body larger than the budget passes alone");
    assert!(app.store.try_reserve_decoding(1).is_err());
    drop(big);
}
