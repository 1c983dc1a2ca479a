//! Where the course reads traces: through the grader's [`TraceBackend`], the one seam the
//! grader's checks read through too (the embedded store in process on a laptop, a Grafana
//! Tempo over HTTP in the compose and Kubernetes layouts). [`Traces`] is that backend bound to
//! one reader's tenant, so every page a learner sees reads what they may read and nothing
//! else, and the console shows exactly what the grader would see.
//!
//! Queries are parsed once per request, here or by the caller ([`Traces::search_parsed`]):
//! a mistake gets the engine's caret and hint whichever backend would have run it, and only
//! valid queries travel to a remote Tempo.

use std::sync::Arc;
use std::time::Duration;

use dojo_grader::backend::{
    BackendError, MetricsAnswer, MetricsRequest, SearchHit, SearchRequest, TraceBackend, Window,
    parse_query,
};
use dojo_traceql::Query;
use dojo_traceql::metrics::default_step;
use dojo_traceql::model::{Trace, TraceId, now_unix_nanos};

use crate::backend::LearnerId;

/// Spans listed per spanset, as Tempo's default.
const SPANS_PER_SPANSET: usize = 3;

/// The trace backend as one reader sees it: a tenant of it, or nothing at all.
#[derive(Clone)]
pub struct Traces {
    backend: Arc<dyn TraceBackend>,
    /// `None` for the backend's default tenant.
    tenant: Option<String>,
    /// False for a visitor who may read no tenant (one who has not joined a workshop whose
    /// every trace belongs to some learner): every read is empty.
    readable: bool,
}

impl Traces {
    /// Reads `tenant` of `backend` (its default tenant when `None`).
    pub fn new(backend: Arc<dyn TraceBackend>, tenant: Option<String>) -> Traces {
        Traces {
            backend,
            tenant,
            readable: true,
        }
    }

    /// The backend underneath, for the grader.
    pub fn backend(&self) -> &Arc<dyn TraceBackend> {
        &self.backend
    }

    /// The traces a learner may read, when the backend keeps each learner's traffic apart
    /// (the embedded store's routing in a workshop): their own tenant, or nothing for a
    /// visitor who has not joined (`learner` is `None`). `None` when the backend does not
    /// separate learners, so everyone reads these traces whole.
    pub fn for_learner(&self, learner: Option<&LearnerId>) -> Option<Traces> {
        if !self.backend.routes_by_learner() {
            return None;
        }
        Some(
            learner
                .and_then(|l| self.own_tenant(l))
                .unwrap_or_else(|| Traces {
                    readable: false,
                    ..self.clone()
                }),
        )
    }

    /// The learner's own tenant, whether or not their pages are scoped to it: on a laptop it
    /// holds what only they sent there (the sampling exercise's traffic), which their
    /// feedback links to. `None` when the backend has no such tenant.
    pub fn own_tenant(&self, learner: &LearnerId) -> Option<Traces> {
        let tenant = self.backend.learner_tenant(learner.as_str())?;
        Some(Traces::new(Arc::clone(&self.backend), Some(tenant)))
    }

    /// Runs a TraceQL search over the last `window`, newest traces first, at most `limit`.
    pub async fn search(
        &self,
        query: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<SearchHit>, BackendError> {
        let parsed = parse_query(query)?;
        self.search_parsed(query, &parsed, window, limit).await
    }

    /// [`Traces::search`] for a query the caller has parsed (`query` is its text).
    pub async fn search_parsed(
        &self,
        query: &str,
        parsed: &Query,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<SearchHit>, BackendError> {
        if parsed.is_metrics() {
            return Err(metrics_refusal());
        }
        if !self.readable {
            return Ok(Vec::new());
        }
        self.backend
            .search(SearchRequest {
                tenant: self.tenant.as_deref(),
                query,
                parsed: Some(parsed),
                window: Window::ending_now(window, Duration::ZERO),
                limit,
                spans_per_spanset: SPANS_PER_SPANSET,
            })
            .await
    }

    /// Runs a TraceQL metrics query over the last `window`, as Tempo's `query_range` would,
    /// at the step Tempo would pick for that range.
    pub async fn metrics(
        &self,
        query: &str,
        window: Duration,
    ) -> Result<MetricsAnswer, BackendError> {
        let parsed = parse_query(query)?;
        self.metrics_parsed(query, &parsed, window).await
    }

    /// [`Traces::metrics`] for a query the caller has parsed (`query` is its text).
    pub async fn metrics_parsed(
        &self,
        query: &str,
        parsed: &Query,
        window: Duration,
    ) -> Result<MetricsAnswer, BackendError> {
        if !parsed.is_metrics() {
            return Err(not_metrics());
        }
        let end_nanos = now_unix_nanos();
        let range = nanos(window);
        let request = MetricsRequest {
            tenant: self.tenant.as_deref(),
            query,
            parsed: Some(parsed),
            start_nanos: end_nanos.saturating_sub(range),
            end_nanos,
            step_nanos: default_step(range),
        };
        if !self.readable {
            return Ok(empty(&request));
        }
        self.backend.metrics(request).await
    }

    /// Runs a TraceQL metrics query as one interval: the `window` that ended `settle` ago, as
    /// Tempo's instant query would. One value per series: what an alert rule compares with
    /// its threshold (a p95 over the whole window, not a mean of small intervals' p95s).
    pub async fn metrics_instant(
        &self,
        query: &str,
        window: Duration,
        settle: Duration,
    ) -> Result<MetricsAnswer, BackendError> {
        let parsed = parse_query(query)?;
        if !parsed.is_metrics() {
            return Err(not_metrics());
        }
        let end_nanos = now_unix_nanos().saturating_sub(nanos(settle));
        let range = nanos(window).max(1);
        let request = MetricsRequest {
            tenant: self.tenant.as_deref(),
            query,
            parsed: Some(&parsed),
            start_nanos: end_nanos.saturating_sub(range),
            end_nanos,
            step_nanos: range,
        };
        if !self.readable {
            return Ok(empty(&request));
        }
        self.backend.metrics(request).await
    }

    /// One whole trace, or `None` when this reader's tenant does not have it.
    pub async fn trace(&self, trace_id: TraceId) -> Result<Option<Trace>, BackendError> {
        if !self.readable {
            return Ok(None);
        }
        self.backend
            .trace_by_id(self.tenant.as_deref(), trace_id)
            .await
    }

    /// Whole traces that overlap the last `window`, newest first, at most `limit`: the input
    /// of the service graph and the RED charts.
    pub async fn recent(&self, window: Duration, limit: usize) -> Result<Vec<Trace>, BackendError> {
        if !self.readable {
            return Ok(Vec::new());
        }
        self.backend
            .recent(
                self.tenant.as_deref(),
                Window::ending_now(window, Duration::ZERO),
                limit,
            )
            .await
    }

    /// The most traces [`Traces::recent`] lists (one more when asked for more, so a caller can
    /// tell a cut list from a complete one); pages that say how much data they cover must
    /// take it into account.
    pub fn recent_cap(&self) -> usize {
        self.backend.recent_cap()
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A metrics answer without series, for a reader who may read nothing.
fn empty(request: &MetricsRequest<'_>) -> MetricsAnswer {
    MetricsAnswer {
        start_nanos: request.start_nanos,
        step_nanos: request.step_nanos,
        series: Vec::new(),
    }
}

/// A search query where a metrics query belongs.
fn not_metrics() -> BackendError {
    BackendError::refused(
        "this is a search query, not a metrics query: add a metrics function such as | rate() or | count_over_time()",
    )
}

/// The console's answer to a metrics query where it lists traces.
pub fn metrics_refusal() -> BackendError {
    BackendError::InvalidQuery {
        message: "this is a metrics query: it turns spans into time series, and the console lists traces".into(),
        position: None,
        hint: Some(
            "remove the last `| rate()`-style step to see the matching traces, or run the metrics query in Grafana against Tempo"
                .into(),
        ),
    }
}
