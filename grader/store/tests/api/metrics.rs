//! Metrics from traces: span metrics and the service graph, in OpenMetrics text with
//! exemplars and in the course's JSON.

use std::time::Duration;

use dojo_store::metrics::exposition::service_graph_json;
use dojo_store::{Store, StoreConfig, TenantId};

use crate::helpers::{TestStore, checkout_trace, minutes_ago, trace_hex};

#[tokio::test]
async fn span_metrics_and_the_service_graph_are_served_as_openmetrics_with_exemplars() {
    let app = TestStore::start().await;
    for n in 1..=3 {
        let (frontend, api) = checkout_trace(n, minutes_ago(5));
        app.post_protobuf(&frontend, None).await;
        app.post_protobuf(&api, None).await;
    }
    let response = app.client.get(app.api("/metrics")).send().await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    let calls = text
        .lines()
        .find(|l| {
            l.starts_with("traces_spanmetrics_calls_total{")
                && l.contains("service=\"api\"")
                && l.contains("span_name=\"SELECT orders\"")
        })
        .unwrap_or_else(|| panic!("no calls series for SELECT orders:\n{text}"));
    assert!(
        calls.contains("status_code=\"STATUS_CODE_ERROR\""),
        "{calls}"
    );
    assert!(
        calls.contains("} 3 # {trace_id=\""),
        "a count of 3 with an exemplar: {calls}"
    );
    assert!(
        text.contains("traces_spanmetrics_latency_bucket{"),
        "latency histogram"
    );
    let edge = text
        .lines()
        .find(|l| {
            l.starts_with("traces_service_graph_request_total{")
                && l.contains("client=\"frontend\",server=\"api\"")
        })
        .unwrap_or_else(|| panic!("no frontend → api edge:\n{text}"));
    assert!(edge.ends_with(" 3"), "{edge}");
    assert!(text.ends_with("# EOF\n"));
    let graph = app.get_json("/api/dojo/service-graph", None).await;
    let edges = graph["edges"].as_array().unwrap();
    assert!(
        edges
            .iter()
            .any(|e| e["client"] == "user" && e["server"] == "frontend" && e["requests"] == 3),
        "{graph}"
    );
    let span_metrics = app.get_json("/api/dojo/span-metrics", None).await;
    let select = span_metrics["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["spanName"] == "SELECT orders")
        .expect("SELECT orders series");
    assert_eq!(select["errors"], 3);
    let exemplar = select["exemplarTraceId"].as_str().unwrap();
    assert!((1..=3).any(|n| trace_hex(n) == exemplar), "{exemplar}");
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_database_call_becomes_an_edge_to_the_database() {
    let store = Store::new(StoreConfig::default()).unwrap();
    let tenant = TenantId::default_tenant();
    let (_, api) = checkout_trace(1, minutes_ago(5));
    store.ingest(&tenant, api).unwrap();
    tokio::time::advance(Duration::from_secs(11)).await;
    store.run_maintenance();
    let graph = store
        .with_metrics(&tenant, |m| service_graph_json(Some(m)))
        .unwrap();
    let edges = graph["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|e| e["client"] == "api"
            && e["server"] == "sqlite"
            && e["connectionType"] == "database"
            && e["failed"] == 1),
        "{graph}"
    );
}
