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

use std::future::Future;
use std::pin::Pin;

use dojo_traceql::Query;
use dojo_traceql::model::{SpanId, Trace, TraceId, Value};
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
    /// `query` already parsed, when the caller has it: the embedded backend then evaluates
    /// it without parsing the text again (a remote Tempo is sent the text).
    pub parsed: Option<&'a Query>,
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
    /// Nanoseconds; Tempo reports whole milliseconds, the embedded store the exact time.
    pub duration_nanos: u64,
    pub spansets: Vec<HitSpanset>,
}

/// The spans of one spanset that survived the query.
#[derive(Debug, Clone, PartialEq)]
pub struct HitSpanset {
    pub spans: Vec<HitSpan>,
    /// How many spans matched, before truncation to `spans_per_spanset`.
    pub matched: usize,
    /// Values computed per spanset, such as `count()` or a `by()` key, printed as text.
    pub attributes: Vec<(String, String)>,
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
    /// The query was refused as TraceQL (Tempo's 400 `invalid TraceQL query: …`, or the
    /// engine's own error, which knows where in the query it went wrong).
    #[error("invalid TraceQL query: {message}")]
    InvalidQuery {
        message: String,
        /// The 1-based line and column of the fault, when known (never from a remote Tempo).
        position: Option<(usize, usize)>,
        /// Advice for a common mistake ("use `=` for equality").
        hint: Option<String>,
    },
    #[error("the trace backend refused the credentials or tenant ({status}): {body}")]
    Unauthorized { status: u16, body: String },
    #[error("the trace backend at {url} could not be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("the trace backend answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the trace backend's answer could not be read: {0}")]
    Protocol(String),
}

impl BackendError {
    /// The engine's error about `query`, with its position and hint.
    pub fn invalid_query(query: &str, error: &dojo_traceql::Error) -> Self {
        BackendError::InvalidQuery {
            message: error.message.clone(),
            position: Some(error.line_col(query)),
            hint: error.hint.clone(),
        }
    }

    /// A refusal without a position (a remote Tempo's, or one about the whole query).
    pub fn refused(message: impl Into<String>) -> Self {
        BackendError::InvalidQuery {
            message: message.into(),
            position: None,
            hint: None,
        }
    }

    /// The query's faulty line with a caret under the column, for a `<pre>` block, when the
    /// error knows where it went wrong.
    pub fn caret(&self, query: &str) -> Option<String> {
        match self {
            BackendError::InvalidQuery {
                position: Some((line, column)),
                ..
            } => dojo_traceql::error::caret_under(query, *line, *column, 1),
            _ => None,
        }
    }
}

/// Parses a query with the limits every backend applies (Tempo's size limit), so a learner's
/// mistake gets the engine's position and hint whichever backend would run it.
pub fn parse_query(query: &str) -> Result<Query, BackendError> {
    Ok(dojo_store::queries::parse_query(query)?)
}

impl From<dojo_store::QueryError> for BackendError {
    /// The store's refusal of a query: the engine's keeps its position.
    fn from(error: dojo_store::QueryError) -> Self {
        match error {
            dojo_store::QueryError::Engine { query, error } => {
                BackendError::invalid_query(&query, &error)
            }
            other => BackendError::refused(other.to_string()),
        }
    }
}

/// A metrics query over a time range, as Tempo's `query_range` takes it.
#[derive(Debug, Clone, Copy)]
pub struct MetricsRequest<'a> {
    /// The tenant (`X-Scope-OrgID`); `None` for the backend's default.
    pub tenant: Option<&'a str>,
    pub query: &'a str,
    /// `query` already parsed, when the caller has it.
    pub parsed: Option<&'a Query>,
    /// Unix nanoseconds; the first interval starts here.
    pub start_nanos: u64,
    pub end_nanos: u64,
    /// The width of one interval, in nanoseconds.
    pub step_nanos: u64,
}

impl MetricsRequest<'_> {
    /// How many intervals the range holds.
    pub fn intervals(&self) -> usize {
        let range = self.end_nanos.saturating_sub(self.start_nanos);
        usize::try_from(range.div_ceil(self.step_nanos.max(1))).unwrap_or(usize::MAX)
    }
}

/// A metrics query's time series.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsAnswer {
    /// The start of the first interval, Unix nanoseconds: interval `i` ends at
    /// `start_nanos + (i + 1) * step_nanos`.
    pub start_nanos: u64,
    /// The width of one interval, in nanoseconds.
    pub step_nanos: u64,
    pub series: Vec<MetricsSeries>,
}

/// One time series of a metrics query.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSeries {
    /// `(key, value)` in the query's order, `None` for a group whose values were all absent
    /// (`nil`); empty for the one series of a query without `by()`. The name Tempo gives an
    /// ungrouped series (`__name__`) is not a label here.
    pub labels: Vec<(String, Option<Value>)>,
    /// One value per interval, oldest first; NaN where the interval has none.
    pub values: Vec<f64>,
}

impl MetricsSeries {
    /// The labels as TraceQL writes them: `resource.service.name="api", p=0.95`, `nil` for
    /// a group without a value; empty without `by()`.
    pub fn labels_text(&self) -> String {
        labels_text(&self.labels)
    }
}

/// Series labels as TraceQL writes them (see [`MetricsSeries::labels_text`]).
pub fn labels_text(labels: &[(String, Option<Value>)]) -> String {
    labels
        .iter()
        .map(|(key, value)| match value {
            Some(Value::Str(text)) => format!("{key}={text:?}"),
            Some(value) => format!("{key}={value}"),
            None => format!("{key}=nil"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The most traces [`TraceBackend::recent`] fetches one by one from a backend that can only
/// give whole traces by id (Tempo).
pub const MAX_RECENT_FETCHES: usize = 200;

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

    /// Runs a TraceQL metrics query, as Tempo's `query_range` does.
    fn metrics<'a>(
        &'a self,
        request: MetricsRequest<'a>,
    ) -> BoxFuture<'a, Result<MetricsAnswer, BackendError>>;

    /// Whole traces that overlap the window, newest first, at most `limit`: the input of the
    /// service graph and the RED charts. The default searches `{ }` and fetches each trace,
    /// at most [`TraceBackend::recent_cap`] of them.
    fn recent<'a>(
        &'a self,
        tenant: Option<&'a str>,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Trace>, BackendError>> {
        Box::pin(recent_by_search(self, tenant, window, limit))
    }

    /// The most traces [`TraceBackend::recent`] lists (it returns one more when asked for
    /// more, so a caller can tell a cut list from a complete one).
    fn recent_cap(&self) -> usize {
        MAX_RECENT_FETCHES
    }

    /// Whether this backend keeps each learner's traffic in a tenant of its own (the
    /// embedded store's routing in a workshop), so each learner must read only theirs.
    fn routes_by_learner(&self) -> bool {
        false
    }

    /// The tenant that holds what `learner` alone sent (their workshop traffic, their
    /// sampling exercise), when this backend has one.
    fn learner_tenant(&self, learner: &str) -> Option<String> {
        let _ = learner;
        None
    }

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

    /// The store's per-tenant pipelines, when the grader may set them (the sampling
    /// exercise); `None` for a store that has none.
    fn pipeline_lab(&self) -> Option<&dyn pipeline_lab::PipelineLab> {
        None
    }

    /// A short description for messages (`embedded store`, `Tempo at http://…`).
    fn describe(&self) -> String;
}

/// [`TraceBackend::recent`] for a backend that gives whole traces only by id: the newest
/// matches of `{ }`, fetched concurrently. A trace evicted between the two is left out.
async fn recent_by_search<B: TraceBackend + ?Sized>(
    backend: &B,
    tenant: Option<&str>,
    window: Window,
    limit: usize,
) -> Result<Vec<Trace>, BackendError> {
    let hits = backend
        .search(SearchRequest {
            tenant,
            query: "{ }",
            parsed: None,
            window,
            limit: limit.min(backend.recent_cap() + 1),
            spans_per_spanset: 1,
        })
        .await?;
    let fetches = hits
        .iter()
        .map(|hit| backend.trace_by_id(tenant, hit.trace_id));
    let mut traces = Vec::with_capacity(hits.len());
    for fetched in futures_util::future::join_all(fetches).await {
        if let Some(trace) = fetched? {
            traces.push(trace);
        }
    }
    traces.sort_by_key(|t| std::cmp::Reverse(t.start_unix_nanos()));
    Ok(traces)
}
