//! The remote backend against the embedded store's own Tempo HTTP API, behind a gateway that
//! demands credentials and a tenant, as a hosted Tempo would.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::backend::tempo::{Secret, TempoAuth, TempoBackend, TempoConfig};
use dojo_grader::backend::{BackendError, MetricsRequest, SearchRequest, TraceBackend, Window};
use dojo_store::Store;
use dojo_store::storage::TenantId;
use dojo_traceql::model::TraceId;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tower::ServiceExt;

use crate::helpers::{Attr, TestSpan, ingest_for, store, trace_hex};

/// Serves the store's Tempo API behind a check of the `Authorization` header; returns the URL.
async fn gateway(store: Store, expected_authorization: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port 0");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let tempo = dojo_store::tempo_router(store);
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let tempo = tempo.clone();
        async move {
            let authorized = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == expected_authorization);
            if !authorized {
                return (StatusCode::UNAUTHORIZED, "no valid credentials").into_response();
            }
            match tempo.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// A Tempo client for the store's API behind a gateway that wants bearer token `s3cret`.
async fn behind_bearer_gateway(store: &Store) -> TempoBackend {
    let url = gateway(store.clone(), "Bearer s3cret").await;
    let mut config = TempoConfig::new(url);
    config.auth = TempoAuth::Bearer(Secret::new("s3cret"));
    TempoBackend::new(config).expect("a client")
}

fn one_trace(store: &Store, tenant: &str) {
    let spans = vec![
        TestSpan::new(7, 1, None, "frontend", "POST /checkout")
            .kind(SpanKind::Server)
            .timing(0, 900)
            .attr("http.route", Attr::S("/checkout")),
        TestSpan::new(7, 2, Some(1), "api", "POST /orders")
            .kind(SpanKind::Server)
            .timing(10, 850)
            .error()
            .exception()
            .attr("http.response.status_code", Attr::I(502)),
    ];
    ingest_for(
        store,
        &TenantId::parse(tenant).expect("a valid tenant"),
        &spans,
        30_000,
    );
}

fn request<'a>(tenant: Option<&'a str>, query: &'a str) -> SearchRequest<'a> {
    SearchRequest {
        tenant,
        query,
        parsed: None,
        window: Window::ending_now(
            std::time::Duration::from_secs(600),
            std::time::Duration::ZERO,
        ),
        limit: 20,
        spans_per_spanset: 3,
    }
}

#[tokio::test]
async fn with_a_bearer_token_and_a_tenant_the_remote_backend_reads_what_the_embedded_one_reads() {
    let store = store();
    one_trace(&store, "ada");
    let remote = behind_bearer_gateway(&store).await;
    let local = EmbeddedBackend::new(store);

    let query = r#"{ resource.service.name = "api" && status = error }"#;
    let remote_hits = remote
        .search(request(Some("ada"), query))
        .await
        .expect("the search succeeds");
    let local_hits = local
        .search(request(Some("ada"), query))
        .await
        .expect("the search succeeds");
    assert_eq!(remote_hits.len(), 1);
    assert_eq!(remote_hits[0].trace_id, local_hits[0].trace_id);
    assert_eq!(remote_hits[0].root_service_name, "frontend");
    assert_eq!(remote_hits[0].spansets[0].matched, 1);

    let id = TraceId::from_hex(&trace_hex(7)).expect("a valid id");
    let over_http = remote
        .trace_by_id(Some("ada"), id)
        .await
        .expect("fetched")
        .expect("found");
    let in_process = local
        .trace_by_id(Some("ada"), id)
        .await
        .expect("fetched")
        .expect("found");
    let mut a = over_http.spans.clone();
    let mut b = in_process.spans.clone();
    a.sort_by_key(|s| s.span_id);
    b.sort_by_key(|s| s.span_id);
    assert_eq!(a.len(), 2);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.span_id, x.parent_span_id, x.kind, x.status),
            (y.span_id, y.parent_span_id, y.kind, y.status)
        );
        assert_eq!(
            (&x.name, x.start_unix_nanos, x.end_unix_nanos),
            (&y.name, y.start_unix_nanos, y.end_unix_nanos)
        );
        assert_eq!(x.attributes, y.attributes, "{}", x.name);
        assert_eq!(x.service_name(), y.service_name());
        assert_eq!(x.events.len(), y.events.len(), "{}", x.name);
    }

    // Another tenant sees nothing; an unknown trace is None, not an error.
    assert!(
        remote
            .search(request(Some("bob"), query))
            .await
            .expect("searchable")
            .is_empty()
    );
    assert!(
        remote
            .trace_by_id(Some("ada"), TraceId::from_hex("123").expect("valid"))
            .await
            .expect("ok")
            .is_none()
    );
}

#[tokio::test]
async fn basic_auth_is_sent_and_wrong_credentials_are_reported_as_unauthorized() {
    let store = store();
    one_trace(&store, "single-tenant");
    // "grader:pw" in base64.
    let url = gateway(store, "Basic Z3JhZGVyOnB3").await;
    let with = |password: &str| {
        let mut config = TempoConfig::new(url.clone());
        config.auth = TempoAuth::Basic {
            user: "grader".into(),
            password: Secret::new(password),
        };
        TempoBackend::new(config).expect("a client")
    };
    let hits = with("pw")
        .search(request(None, "{ }"))
        .await
        .expect("authorized");
    assert_eq!(hits.len(), 1);
    let refused = with("wrong").search(request(None, "{ }")).await;
    assert!(
        matches!(refused, Err(BackendError::Unauthorized { status: 401, .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_query_tempo_refuses_comes_back_as_invalid_query_with_the_engines_message() {
    let store = store();
    let url = crate::helpers::serve_tempo_api(store).await;
    let remote: Arc<dyn TraceBackend> =
        Arc::new(TempoBackend::new(TempoConfig::new(url)).expect("a client"));
    let refused = remote.search(request(None, "{ .a = }")).await;
    match refused {
        Err(BackendError::InvalidQuery { message, .. }) => assert!(!message.is_empty()),
        other => panic!("expected an invalid query, got {other:?}"),
    }
    let unreachable = TempoBackend::new(TempoConfig::new("http://127.0.0.1:9")).expect("a client");
    assert!(matches!(
        unreachable.search(request(None, "{ }")).await,
        Err(BackendError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn a_metrics_query_gives_the_same_series_in_process_and_over_tempos_http_api() {
    let store = store();
    one_trace(&store, "ada");
    let remote = behind_bearer_gateway(&store).await;
    let local = EmbeddedBackend::new(store);

    // 10 minutes back from now in 15 s steps, aligned to the step as Tempo aligns them.
    let step = 15_000_000_000u64;
    let end = (dojo_traceql::model::now_unix_nanos() / step + 1) * step;
    let query = "{ kind = server } | count_over_time() by (resource.service.name)";
    let request = MetricsRequest {
        tenant: Some("ada"),
        query,
        parsed: None,
        start_nanos: end - 40 * step,
        end_nanos: end,
        step_nanos: step,
    };
    let over_http = remote.metrics(request).await.expect("Tempo answers");
    let in_process = local.metrics(request).await.expect("the store answers");
    let summary = |answer: &dojo_grader::backend::MetricsAnswer| {
        let mut series: Vec<(String, Vec<(usize, f64)>)> = answer
            .series
            .iter()
            .map(|s| {
                let points = s
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite() && **v != 0.0)
                    .map(|(i, v)| (i, *v))
                    .collect();
                (s.labels_text(), points)
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series
    };
    let expected = summary(&in_process);
    assert_eq!(
        expected.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        [
            r#"resource.service.name="api""#,
            r#"resource.service.name="frontend""#
        ]
    );
    // Each server span counted once, in the interval its trace started 30 s ago.
    for (labels, points) in &expected {
        assert_eq!(points.len(), 1, "{labels}: {points:?}");
        assert_eq!(points[0].1, 1.0, "{labels}");
        assert!(
            points[0].0 >= 36,
            "{labels}: about 2 intervals from the end: {points:?}"
        );
    }
    assert_eq!(summary(&over_http), expected, "the same series over HTTP");
    assert_eq!(over_http.start_nanos, in_process.start_nanos);
    assert_eq!(over_http.step_nanos, in_process.step_nanos);

    // Another tenant has no series.
    let other = MetricsRequest {
        tenant: Some("bob"),
        ..request
    };
    assert!(remote.metrics(other).await.expect("ok").series.is_empty());
}

#[tokio::test]
async fn a_query_the_embedded_store_refuses_keeps_the_engines_position() {
    let local = EmbeddedBackend::new(store());
    let query = "{ } | rate() by (resource.service.name";
    let metrics = MetricsRequest {
        tenant: None,
        query,
        parsed: None,
        start_nanos: 0,
        end_nanos: 60_000_000_000,
        step_nanos: 15_000_000_000,
    };
    let refused = local
        .metrics(metrics)
        .await
        .expect_err("a missing parenthesis");
    assert_eq!(
        refused.caret(query).as_deref(),
        Some(format!("{query}\n{}^", " ".repeat(query.len())).as_str()),
        "{refused:?}"
    );
    let search = local.search(request(None, "{ .a = }")).await;
    match search {
        Err(BackendError::InvalidQuery {
            position: Some((1, column)),
            ..
        }) => assert_eq!(column, 8, "under the `}}`"),
        other => panic!("expected an invalid query with its position, got {other:?}"),
    }
}

#[tokio::test]
async fn recent_traces_come_whole_and_newest_first_from_either_backend() {
    let store = store();
    one_trace(&store, "single-tenant");
    let remote = behind_bearer_gateway(&store).await;
    let local = EmbeddedBackend::new(store);
    let window = Window::ending_now(
        std::time::Duration::from_secs(600),
        std::time::Duration::ZERO,
    );
    for (name, backend) in [
        ("Tempo", &remote as &dyn TraceBackend),
        ("embedded", &local as &dyn TraceBackend),
    ] {
        let recent = backend
            .recent(Some("single-tenant"), window, 10)
            .await
            .expect("listed");
        assert_eq!(recent.len(), 1, "{name}");
        assert_eq!(recent[0].spans.len(), 2, "{name}: the whole trace");
    }
}
