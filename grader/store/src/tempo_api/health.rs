//! `/ready`, `/api/echo` and `/api/status/buildinfo`: what Grafana's "Test" button and
//! deployment probes call.

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::storage::Store;

pub fn router() -> Router<Store> {
    Router::new()
        .route("/ready", get(|| async { "ready" }))
        .route("/api/echo", get(|| async { "echo" }))
        .route("/api/status/buildinfo", get(buildinfo))
}

/// Prometheus-style build information; `version` is what clients look at.
async fn buildinfo() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "tracing-dojo",
        "buildDate": "",
        "goVersion": "",
    }))
}
