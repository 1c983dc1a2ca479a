//! The embedded trace store: OTLP in, Grafana Tempo's HTTP API out, multi-tenant, bounded,
//! with metrics generated from the traces.
//!
//! On a laptop the lab needs no containers, so this store runs inside the `dojo` server.
//! Grafana's Tempo datasource talks to it as if it were Tempo; the grader and the course use it
//! in process through [`queries`], the query entry points below the HTTP layer.
//!
//! Start reading at [`storage`] (the [`Store`] handle and what a tenant keeps), then
//! [`otlp`] (how spans get in), [`pipeline`] (what happens to them on the way),
//! [`queries`] (how they are read), [`tempo_api`] (how they get out over HTTP) and
//! [`metrics`] (what is computed from them). [`serve`] ties the three listeners together;
//! [`storage::wal`] is how traces survive a restart.

pub mod bounds;
pub mod config;
pub mod duration;
pub mod metrics;
pub mod otlp;
pub mod pipeline;
pub mod queries;
pub mod serve;
pub mod storage;
pub mod tempo_api;

pub use bounds::{Budget, QueryLimits, SpanLimits};
pub use config::{ConfigError, Limits, StoreConfig};
pub use queries::QueryError;
pub use serve::{ServeError, StoreAddrs, StoreListeners, serve};
pub use storage::wal::replay::ReplayReport;
pub use storage::wal::{FsyncPolicy, WalConfig, WalError};
pub use storage::{DecodingPermit, IngestError, IngestOutcome, Store, TenantId, TenantStatus};

/// The Tempo HTTP API's router over a store, for serving it on a listener of one's own (tests
/// and benches that stand in for a remote Tempo); [`serve`] runs it on the store's port.
pub fn tempo_router(store: Store) -> axum::Router {
    tempo_api::router(store)
}
