//! Grafana Tempo's HTTP API over the store, on port 3200 by default.
//!
//! One router per family of endpoints, merged by [`router`]; one error type ([`ApiError`])
//! with one mapping to plain-text responses, as Tempo answers. JSON follows Tempo's encoding
//! (`reference/tempo-api.md`): 64-bit integers as strings, zero fields left out, base64 ids
//! inside traces, enum names. Heavy work runs under `spawn_blocking` over a snapshot of the
//! tenant's traces, so no lock is held while a query runs.

pub mod dojo;
pub mod error;
pub mod filter;
pub mod health;
pub mod params;
pub mod query_range;
pub mod search;
pub mod tags;
pub mod traces;

use axum::Router;

pub use error::ApiError;

use crate::storage::Store;

/// Every Tempo endpoint the lab serves, plus the store's own (`/metrics`, `/api/dojo/*`).
pub fn router(store: Store) -> Router {
    Router::new()
        .merge(health::router())
        .merge(traces::router())
        .merge(search::router())
        .merge(tags::router())
        .merge(query_range::router())
        .merge(dojo::router())
        .with_state(store)
}
