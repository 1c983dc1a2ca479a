//! Bounds: the oldest traces go first when a tenant is over its spans or bytes, traces past
//! retention go, and every eviction is counted where a learner can see it.

use std::time::Duration;

use dojo_store::{Limits, Store, StoreConfig, TenantId};
use dojo_traceql::model::TraceId;

use crate::helpers::{TestStore, checkout_trace, minutes_ago, trace_id};

fn limits(limits: Limits) -> StoreConfig {
    StoreConfig {
        limits,
        ..StoreConfig::default()
    }
}

#[tokio::test]
async fn over_the_span_limit_the_oldest_trace_is_evicted_and_counted() {
    let app = TestStore::with_config(limits(Limits {
        max_spans_per_tenant: 5,
        ..Limits::default()
    }))
    .await;
    for n in 1..=3 {
        app.post_protobuf(&checkout_trace(n, minutes_ago(5)).0, None)
            .await;
    }
    let status = app.get_json("/api/dojo/status", None).await;
    let tenant = &status["tenants"][0];
    assert_eq!(tenant["tenant"], "single-tenant");
    assert_eq!(tenant["spans"], 4);
    assert_eq!(tenant["traces"], 2);
    assert_eq!(tenant["evictedSpans"], 2);
    assert_eq!(tenant["evictedTraces"], 1);
    assert_eq!(tenant["receivedSpans"], 6);
    assert_eq!(status["limits"]["maxSpansPerTenant"], 5);
    let first = hex::encode(trace_id(1));
    assert_eq!(
        app.get(&format!("/api/traces/{first}"), None).await.0,
        404,
        "the first trace went first"
    );
    let metrics = app.get("/metrics", None).await.1;
    assert!(
        metrics.contains("dojo_store_spans_evicted_total{tenant=\"single-tenant\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn over_the_byte_limit_old_traces_are_evicted() {
    let store = Store::new(limits(Limits {
        max_bytes_per_tenant: 4_000,
        ..Limits::default()
    }))
    .unwrap();
    let tenant = TenantId::default_tenant();
    for n in 1..=10 {
        let (frontend, api) = checkout_trace(n, minutes_ago(5));
        store.ingest(&tenant, frontend).unwrap();
        store.ingest(&tenant, api).unwrap();
    }
    let status = &store.status()[0];
    assert!(status.bytes <= 4_000, "{} bytes kept", status.bytes);
    assert!(status.evicted_traces > 0);
    assert_eq!(
        status.spans as u64 + status.evicted_spans,
        40,
        "every span is stored or counted as evicted"
    );
}

#[tokio::test(start_paused = true)]
async fn traces_older_than_the_retention_window_are_evicted() {
    let store = Store::new(limits(Limits {
        retention: Duration::from_secs(60),
        ..Limits::default()
    }))
    .unwrap();
    let tenant = TenantId::default_tenant();
    store
        .ingest(&tenant, checkout_trace(1, minutes_ago(5)).0)
        .unwrap();
    tokio::time::advance(Duration::from_secs(30)).await;
    store
        .ingest(&tenant, checkout_trace(2, minutes_ago(5)).0)
        .unwrap();
    tokio::time::advance(Duration::from_secs(31)).await;
    store.run_maintenance();
    let left: Vec<TraceId> = store.snapshot(&tenant).iter().map(|t| t.trace_id).collect();
    assert_eq!(left, vec![TraceId(trace_id(2).try_into().unwrap())]);
    assert_eq!(store.status()[0].evicted_traces, 1);
}

#[tokio::test]
async fn eviction_in_one_tenant_leaves_the_others_alone() {
    let store = Store::new(limits(Limits {
        max_spans_per_tenant: 2,
        ..Limits::default()
    }))
    .unwrap();
    let noisy = TenantId::parse("noisy").unwrap();
    let quiet = TenantId::parse("quiet").unwrap();
    store
        .ingest(&quiet, checkout_trace(1, minutes_ago(5)).0)
        .unwrap();
    for n in 2..=5 {
        store
            .ingest(&noisy, checkout_trace(n, minutes_ago(5)).0)
            .unwrap();
    }
    assert_eq!(store.snapshot(&quiet).len(), 1);
    assert_eq!(store.snapshot(&noisy).len(), 1);
}
