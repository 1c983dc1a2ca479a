//! No side doors between tenants: one `X-Scope-OrgID` parser refuses the same names on
//! OTLP/HTTP, OTLP/gRPC and the Tempo API; `/metrics` and the status page name other tenants
//! only to the operator; the number of tenants is bounded and idle ones are dropped.

use std::time::Duration;

use dojo_store::{Budget, Limits, Store, StoreConfig, TenantId};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use reqwest::header::HeaderValue;

use crate::helpers::{TestStore, checkout_trace, minutes_ago, trace_hex};

/// Header values every entry point must refuse, as raw bytes.
fn bad_tenants() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("non-ASCII (UTF-8)", "équipe".as_bytes().to_vec()),
        ("not UTF-8 at all", vec![b't', 0xff, 0xfe]),
        ("several tenants", b"a|b".to_vec()),
        ("a path", b"..".to_vec()),
        ("too long", vec![b'x'; 151]),
    ]
}

#[tokio::test]
async fn every_entry_point_refuses_the_same_bad_tenant_headers() {
    let app = TestStore::start().await;
    let (frontend, _) = checkout_trace(1, minutes_ago(5));
    let mut grpc = TraceServiceClient::connect(format!("http://{}", app.addrs.otlp_grpc))
        .await
        .expect("the gRPC receiver accepts connections");
    for (case, bytes) in bad_tenants() {
        let value = HeaderValue::from_bytes(&bytes).expect("a header value reqwest can send");

        let response = app
            .client
            .post(app.otlp_url())
            .header("content-type", "application/x-protobuf")
            .header("X-Scope-OrgID", value.clone())
            .body(prost::Message::encode_to_vec(&frontend))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "OTLP/HTTP, {case}");
        let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).to_string();
        assert!(text.contains("X-Scope-OrgID"), "OTLP/HTTP, {case}: {text}");

        let mut headers = http::HeaderMap::new();
        headers.insert("x-scope-orgid", value.clone());
        let mut request = tonic::Request::new(frontend.clone());
        *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
        let status = grpc.export(request).await.expect_err(case);
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "OTLP/gRPC, {case}"
        );

        let response = app
            .client
            .get(app.api(&format!("/api/traces/{}", trace_hex(1))))
            .header("X-Scope-OrgID", value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "Tempo API, {case}");
    }
    assert!(
        app.store.status().is_empty(),
        "nothing landed in any tenant, the default one included: {:?}",
        app.store.status()
    );
}

async fn metrics_text(app: &TestStore, tenant: Option<&str>, token: Option<&str>) -> String {
    let mut request = app.client.get(app.api("/metrics"));
    if let Some(t) = tenant {
        request = request.header("X-Scope-OrgID", t);
    }
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn status_tenants(app: &TestStore, tenant: Option<&str>, token: Option<&str>) -> Vec<String> {
    let mut request = app.client.get(app.api("/api/dojo/status"));
    if let Some(t) = tenant {
        request = request.header("X-Scope-OrgID", t);
    }
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        body["store"]["tenants"], 2,
        "the count is for everyone: {body}"
    );
    body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn metrics_and_status_name_other_tenants_only_to_the_operator() {
    let store = Store::with_operator_token(StoreConfig::default(), Some("s3cret".into())).unwrap();
    let app = TestStore::with_store(store).await;
    let (alice, _) = checkout_trace(1, minutes_ago(5));
    let (bob, _) = checkout_trace(2, minutes_ago(5));
    app.post_protobuf(&alice, Some("alice")).await;
    app.post_protobuf(&bob, Some("bob")).await;
    let bob_trace = hex::encode(crate::helpers::trace_id(2));

    for (who, tenant, token) in [
        ("alice", Some("alice"), None),
        ("no tenant header", None, None),
        ("a wrong token", Some("alice"), Some("guess")),
    ] {
        let text = metrics_text(&app, tenant, token).await;
        assert!(!text.contains("tenant=\"bob\""), "{who} sees bob's series");
        assert!(!text.contains(&bob_trace), "{who} sees bob's trace id");
        assert!(text.contains("dojo_store_tenants 2"), "{who}: {text}");
        let names = status_tenants(&app, tenant, token).await;
        assert!(!names.contains(&"bob".to_string()), "{who}: {names:?}");
    }
    let alice_text = metrics_text(&app, Some("alice"), None).await;
    assert!(alice_text.contains("dojo_store_spans_received_total{tenant=\"alice\"} 2"));

    let operator = metrics_text(&app, None, Some("s3cret")).await;
    assert!(operator.contains("tenant=\"bob\""));
    assert!(operator.contains("tenant=\"alice\""));
    assert_eq!(
        status_tenants(&app, None, Some("s3cret")).await,
        ["alice", "bob"]
    );
}

#[tokio::test]
async fn beyond_the_tenant_cap_a_new_tenant_is_refused_and_existing_ones_keep_working() {
    let app = TestStore::with_config(StoreConfig {
        budget: Budget {
            max_tenants: 3,
            ..Budget::default()
        },
        ..StoreConfig::default()
    })
    .await;
    for (n, tenant) in ["t1", "t2", "t3"].into_iter().enumerate() {
        let (spans, _) = checkout_trace(n as u8 + 1, minutes_ago(5));
        assert_eq!(app.post_protobuf(&spans, Some(tenant)).await.status(), 200);
    }
    let (spans, _) = checkout_trace(9, minutes_ago(5));
    let response = app.post_protobuf(&spans, Some("t4")).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).to_string();
    assert!(text.contains("3 tenants"), "{text}");
    assert_eq!(app.store.tenant_count(), 3);
    let (_, more) = checkout_trace(1, minutes_ago(5));
    assert_eq!(
        app.post_protobuf(&more, Some("t1")).await.status(),
        200,
        "an existing tenant still sends"
    );
    let (status, _) = app
        .get(&format!("/api/traces/{}", trace_hex(9)), Some("t4"))
        .await;
    assert_eq!(status, 404, "querying an unknown tenant does not create it");
    assert_eq!(app.store.tenant_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_tenant_idle_past_retention_is_dropped_and_its_place_freed() {
    let store = Store::new(StoreConfig {
        limits: Limits {
            retention: Duration::from_secs(60),
            ..Limits::default()
        },
        budget: Budget {
            max_tenants: 1,
            ..Budget::default()
        },
        ..StoreConfig::default()
    })
    .unwrap();
    let old = TenantId::parse("old").unwrap();
    let new = TenantId::parse("new").unwrap();
    store
        .ingest(&old, checkout_trace(1, minutes_ago(5)).0)
        .unwrap();
    assert!(
        store
            .ingest(&new, checkout_trace(2, minutes_ago(5)).0)
            .is_err()
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    store.run_maintenance();
    assert_eq!(
        store.tenant_count(),
        1,
        "not idle for the retention period yet"
    );
    tokio::time::advance(Duration::from_secs(31)).await;
    store.run_maintenance();
    assert_eq!(
        store.tenant_count(),
        0,
        "its traces expired and it sent nothing since"
    );
    store
        .ingest(&new, checkout_trace(2, minutes_ago(5)).0)
        .expect("the freed place is taken");
    assert_eq!(store.status()[0].tenant, "new");
}
