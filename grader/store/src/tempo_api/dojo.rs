//! The store's own endpoints, beside Tempo's: `/metrics` (OpenMetrics text with exemplars),
//! `/api/dojo/status` (per-tenant stored, dropped and evicted counts), and the JSON the
//! course draws its pictures from (`/api/dojo/service-graph`, `/api/dojo/span-metrics`).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::params::Tenant;
use crate::metrics::exposition::{
    OPENMETRICS_CONTENT_TYPE, openmetrics_text, service_graph_json, span_metrics_json,
};
use crate::storage::Store;

pub fn router() -> Router<Store> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/dojo/status", get(status))
        .route("/api/dojo/service-graph", get(service_graph))
        .route("/api/dojo/span-metrics", get(span_metrics))
}

async fn metrics(State(store): State<Store>) -> Response {
    let status = store.status();
    let mut text = String::new();
    // Render under the metrics locks one tenant at a time, then print once.
    let mut collected = Vec::new();
    store.for_each_metrics(|tenant, m| collected.push((tenant.clone(), openmetrics_snapshot(m))));
    let refs: Vec<_> = collected.iter().map(|(t, m)| (t.clone(), m)).collect();
    text.push_str(&openmetrics_text(&status, &refs));
    ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
}

/// A copy of a tenant's metrics, so printing does not hold its lock.
fn openmetrics_snapshot(m: &crate::metrics::TenantMetrics) -> crate::metrics::TenantMetrics {
    m.clone()
}

async fn status(State(store): State<Store>) -> Json<Value> {
    let limits = &store.config().limits;
    Json(json!({
        "tenants": store.status(),
        "limits": {
            "maxSpansPerTenant": limits.max_spans_per_tenant,
            "maxBytesPerTenant": limits.max_bytes_per_tenant,
            "retentionSeconds": limits.retention.as_secs(),
        },
    }))
}

async fn service_graph(State(store): State<Store>, tenant: Tenant) -> Json<Value> {
    Json(
        store
            .with_metrics(&tenant.0, |m| service_graph_json(Some(m)))
            .unwrap_or_else(|| service_graph_json(None)),
    )
}

async fn span_metrics(State(store): State<Store>, tenant: Tenant) -> Json<Value> {
    Json(
        store
            .with_metrics(&tenant.0, |m| span_metrics_json(Some(m)))
            .unwrap_or_else(|| span_metrics_json(None)),
    )
}
