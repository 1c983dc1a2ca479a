//! Where traces come from: the [`TraceBackend`] trait and its two implementations.
//!
//! Checks are written once against this trait. [`embedded::EmbeddedBackend`] asks the
//! in-process store (the laptop default); [`tempo::TempoBackend`] asks a Grafana Tempo (or
//! anything speaking its HTTP API, including the embedded store's own) over HTTP. Both return
//! the same types, so a check cannot tell them apart.

pub mod embedded;
pub mod metrics;
pub mod pipeline_lab;
pub mod tempo;
mod tempo_json;
mod tempo_metrics_json;

use std::future::Future;
use std::pin::Pin;

use dojo_traceql::model::{SpanId, Trace, TraceId};
use serde::Serialize;

/// A boxed future, so the trait can be used as `Arc<dyn TraceBackend>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A pinned time window, in unix seconds as Tempo's search takes it. A trace is in the
/// window when it overlaps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start_s: u64,
    pub end_s: u64,
}

impl Window {
    /// The window ending `settle` before now and reaching `length` back from there.
    ///
    /// The settle time leaves spans still in flight out of the window, so two queries run a
    /// moment apart see the same traces.
    pub fn ending_now(length: std::time::Duration, settle: std::time::Duration) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let end_s = now.saturating_sub(settle.as_secs());
        let start_s = end_s.saturating_sub(length.as_secs().max(1));
        Window { start_s, end_s }
    }

    /// True when a trace spanning these nanosecond bounds overlaps the window.
    pub fn overlaps(&self, start_unix_nanos: u64, end_unix_nanos: u64) -> bool {
        let start = self.start_s.saturating_mul(1_000_000_000);
        let end = self.end_s.saturating_add(1).saturating_mul(1_000_000_000);
        end_unix_nanos >= start && start_unix_nanos < end
    }
}

/// One search.
#[derive(Debug, Clone, Copy)]
pub struct SearchRequest<'a> {
    /// The tenant (`X-Scope-OrgID`); `None` for the backend's default.
    pub tenant: Option<&'a str>,
    pub query: &'a str,
    pub window: Window,
    /// Most traces to return.
    pub limit: usize,
    /// Most spans to return per spanset (`matched` still counts them all).
    pub spans_per_spanset: usize,
}

/// One trace a search matched, as Tempo describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub trace_id: TraceId,
    pub root_service_name: String,
    pub root_trace_name: String,
    pub start_unix_nanos: u64,
    pub duration_ms: u64,
    pub spansets: Vec<HitSpanset>,
}

/// The spans of one spanset that survived the query.
#[derive(Debug, Clone, PartialEq)]
pub struct HitSpanset {
    pub spans: Vec<HitSpan>,
    /// How many spans matched, before truncation to `spans_per_spanset`.
    pub matched: usize,
}

/// One matched span, with only the attributes the query referenced.
#[derive(Debug, Clone, PartialEq)]
pub struct HitSpan {
    pub span_id: SpanId,
    pub name: Option<String>,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    /// Attribute keys without scope, values printed as text.
    pub attributes: Vec<(String, String)>,
}

/// Why a backend could not answer.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The query was refused as TraceQL (Tempo's 400 `invalid TraceQL query: …`).
    #[error("invalid TraceQL query: {message}")]
    InvalidQuery { message: String },
    #[error("the trace backend refused the credentials or tenant ({status}): {body}")]
    Unauthorized { status: u16, body: String },
    #[error("the trace backend at {url} could not be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("the trace backend answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the trace backend's answer could not be read: {0}")]
    Protocol(String),
}

/// Where a trace is, when not among the traces a learner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elsewhere {
    /// In another learner's tenant: their traffic.
    AnotherLearner,
    /// In a tenant that is no learner's (the class's shared traffic).
    Shared,
}

/// Somewhere to search traces and fetch them by id.
pub trait TraceBackend: Send + Sync + 'static {
    /// Runs a TraceQL search over a window.
    fn search<'a>(
        &'a self,
        request: SearchRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, BackendError>>;

    /// Fetches every span of one trace; `None` when the backend has no such trace.
    fn trace_by_id<'a>(
        &'a self,
        tenant: Option<&'a str>,
        trace_id: TraceId,
    ) -> BoxFuture<'a, Result<Option<Trace>, BackendError>>;

    /// Whose a trace is that `tenant` does not hold (another learner's, or the shared
    /// traffic, in a workshop), so feedback can say so without showing it. `None` when no
    /// other tenant holds it, or the backend cannot tell.
    fn held_elsewhere<'a>(
        &'a self,
        tenant: Option<&'a str>,
        trace_id: TraceId,
    ) -> BoxFuture<'a, Option<Elsewhere>> {
        let _ = (tenant, trace_id);
        Box::pin(async { None })
    }

    /// Runs a TraceQL metrics query over a pinned window (the dashboard exercises).
    fn metrics<'a>(
        &'a self,
        request: metrics::MetricsRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<metrics::MetricsSeries>, BackendError>> {
        let _ = request;
        Box::pin(async {
            Err(BackendError::Status {
                status: 501,
                body: "this trace backend does not run metrics queries".into(),
            })
        })
    }

    /// The store's per-tenant pipelines, when the grader may set them (the sampling
    /// exercise); `None` for a store that has none.
    fn pipeline_lab(&self) -> Option<&dyn pipeline_lab::PipelineLab> {
        None
    }

    /// A short description for messages (`embedded store`, `Tempo at http://…`).
    fn describe(&self) -> String;
}
