//! The store's own endpoints, beside Tempo's: `/metrics` (OpenMetrics text with exemplars),
//! `/api/dojo/status` (per-tenant stored, dropped and evicted counts), and the JSON the
//! course draws its pictures from (`/api/dojo/service-graph`, `/api/dojo/span-metrics`).
//!
//! `/metrics` and the status page name only the caller's own tenant (from `X-Scope-OrgID`,
//! as for queries) plus store-wide totals without names; every tenant is shown only to the
//! operator, who presents the store's operator token as `Authorization: Bearer <token>`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::params::Tenant;
use crate::metrics::exposition::{
    OPENMETRICS_CONTENT_TYPE, openmetrics_text, service_graph_json, span_metrics_json,
    store_totals_text,
};
use crate::storage::{Store, TenantId};

pub fn router() -> Router<Store> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/dojo/status", get(status))
        .route("/api/dojo/service-graph", get(service_graph))
        .route("/api/dojo/span-metrics", get(span_metrics))
}

/// Whether the request carries the store's operator token (`Authorization: Bearer …`).
fn operator(store: &Store, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    store.is_operator(presented)
}

/// The tenants a caller may see by name: every tenant for the operator, otherwise only the
/// caller's own (named by `X-Scope-OrgID`, as for queries).
fn visible(store: &Store, headers: &HeaderMap, tenant: &Tenant) -> impl Fn(&TenantId) -> bool {
    let all = operator(store, headers);
    let own = tenant.0.clone();
    move |id: &TenantId| all || *id == own
}

async fn metrics(State(store): State<Store>, tenant: Tenant, headers: HeaderMap) -> Response {
    let shown = visible(&store, &headers, &tenant);
    let status: Vec<_> = store
        .status()
        .into_iter()
        .filter(|s| TenantId::parse(&s.tenant).is_ok_and(|id| shown(&id)))
        .collect();
    // Copy each shown tenant's metrics under its lock, one at a time, then print once.
    let mut collected = Vec::new();
    store.for_each_metrics(|id, m| {
        if shown(id) {
            collected.push((id.clone(), m.clone()));
        }
    });
    let refs: Vec<_> = collected.iter().map(|(t, m)| (t.clone(), m)).collect();
    let mut text = store_totals_text(
        store.tenant_count(),
        store.bytes_total(),
        store.config().budget.max_bytes_total,
    );
    text.push_str(&openmetrics_text(&status, &refs));
    ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
}

async fn status(State(store): State<Store>, tenant: Tenant, headers: HeaderMap) -> Json<Value> {
    let shown = visible(&store, &headers, &tenant);
    let config = store.config();
    let limits = &config.limits;
    let tenants: Vec<_> = store
        .status()
        .into_iter()
        .filter(|s| TenantId::parse(&s.tenant).is_ok_and(|id| shown(&id)))
        .collect();
    Json(json!({
        "tenants": tenants,
        "store": {
            "tenants": store.tenant_count(),
            "bytes": store.bytes_total(),
        },
        "limits": {
            "maxSpansPerTenant": limits.max_spans_per_tenant,
            "maxBytesPerTenant": limits.max_bytes_per_tenant,
            "retentionSeconds": limits.retention.as_secs(),
            "maxBytesTotal": config.budget.max_bytes_total,
            "maxTenants": config.budget.max_tenants,
            "maxBytesPerTrace": config.span_limits.max_bytes_per_trace,
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
