//! The embedded trace store: OTLP in, Grafana Tempo's HTTP API out, multi-tenant, bounded,
//! with metrics generated from the traces.
//!
//! On a laptop the lab needs no containers, so this store runs inside the `dojo` server.
//! Grafana's Tempo datasource talks to it as if it were Tempo; the grader uses it in-process
//! through the query methods on [`Store`].
//!
//! Start reading at [`storage`] (the [`Store`] handle and what a tenant keeps), then
//! [`otlp`] (how spans get in), [`pipeline`] (what happens to them on the way),
//! [`tempo_api`] (how they get out) and [`metrics`] (what is computed from them).
//! [`serve`] ties the three listeners together.

pub mod bounds;
pub mod config;
pub mod duration;
pub mod metrics;
pub mod otlp;
pub mod pipeline;
pub mod serve;
pub mod storage;
pub mod tempo_api;
pub mod traceql_metrics;

pub use bounds::{Budget, QueryLimits, SpanLimits};
pub use config::{ConfigError, Limits, StoreConfig};
pub use serve::{ServeError, StoreAddrs, StoreListeners, serve};
pub use storage::{DecodingPermit, IngestError, IngestOutcome, Store, TenantId, TenantStatus};
