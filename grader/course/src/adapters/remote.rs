//! [`TraceSource`] over any of the grader's trace backends, in particular a Grafana Tempo over
//! its HTTP API (the compose and Kubernetes layouts). Queries are parsed here first, so a
//! learner's mistake gets the same caret and hint as on the laptop, and only valid queries
//! travel to the backend. The service graph and RED charts need whole traces, which Tempo
//! only gives one by one, so they read a bounded sample of the newest traces.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dojo_grader::backend::{
    BackendError as GraderBackendError, SearchRequest, TraceBackend, Window,
};
use dojo_traceql::model::{Trace, TraceId};

use crate::backend::{
    BackendError, MatchedSpan, MatchedSpanset, QueryError, SearchError, TraceMatch, TraceSource,
};

/// Most traces fetched one by one for the service graph and RED charts.
const MAX_RECENT_FETCHES: usize = 200;
/// Spans listed per spanset, as Tempo's default.
const SPANS_PER_SPANSET: usize = 3;

/// A trace backend (Tempo, or the embedded store through the grader) as the course's source.
#[derive(Clone)]
pub struct BackendTraces {
    backend: Arc<dyn TraceBackend>,
    tenant: Option<String>,
}

impl BackendTraces {
    /// Reads `tenant` (or the backend's default tenant when `None`).
    pub fn new(backend: Arc<dyn TraceBackend>, tenant: Option<String>) -> BackendTraces {
        BackendTraces { backend, tenant }
    }

    fn window(window: Duration) -> Window {
        Window::ending_now(window, Duration::ZERO)
    }

    async fn search_hits(
        &self,
        query: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<TraceMatch>, SearchError> {
        let request = SearchRequest {
            tenant: self.tenant.as_deref(),
            query,
            window: Self::window(window),
            limit,
            spans_per_spanset: SPANS_PER_SPANSET,
        };
        let hits = self
            .backend
            .search(request)
            .await
            .map_err(|error| match error {
                GraderBackendError::InvalidQuery { message } => SearchError::Query(QueryError {
                    message,
                    position: None,
                    hint: None,
                }),
                other => SearchError::Backend(BackendError(other.to_string())),
            })?;
        Ok(hits
            .into_iter()
            .map(|hit| TraceMatch {
                trace_id: hit.trace_id,
                root_service: hit.root_service_name,
                root_name: hit.root_trace_name,
                start_unix_nanos: hit.start_unix_nanos,
                duration_nanos: hit.duration_ms.saturating_mul(1_000_000),
                spansets: hit
                    .spansets
                    .into_iter()
                    .map(|set| MatchedSpanset {
                        matched: set.matched,
                        attributes: Vec::new(),
                        spans: set
                            .spans
                            .into_iter()
                            .map(|span| MatchedSpan {
                                span_id: span.span_id,
                                name: span.name.unwrap_or_default(),
                                start_unix_nanos: span.start_unix_nanos,
                                duration_nanos: span.duration_nanos,
                                attributes: span.attributes,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect())
    }
}

#[async_trait]
impl TraceSource for BackendTraces {
    async fn search(
        &self,
        query: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<TraceMatch>, SearchError> {
        let parsed = dojo_traceql::parse(query)
            .map_err(|error| crate::engine::query_error(&error, query))?;
        if parsed.is_metrics() {
            return Err(crate::engine::metrics_refusal().into());
        }
        self.search_hits(query, window, limit).await
    }

    async fn trace(&self, trace_id: TraceId) -> Result<Option<Trace>, BackendError> {
        self.backend
            .trace_by_id(self.tenant.as_deref(), trace_id)
            .await
            .map_err(|error| BackendError(error.to_string()))
    }

    fn recent_cap(&self) -> usize {
        MAX_RECENT_FETCHES
    }

    async fn recent(&self, window: Duration, limit: usize) -> Result<Vec<Trace>, BackendError> {
        let hits = match self
            .search_hits("{ }", window, limit.min(MAX_RECENT_FETCHES + 1))
            .await
        {
            Ok(hits) => hits,
            Err(SearchError::Backend(error)) => return Err(error),
            Err(SearchError::Query(error)) => return Err(BackendError(error.message)),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for hit in hits {
            let backend = Arc::clone(&self.backend);
            let tenant = self.tenant.clone();
            tasks.spawn(async move { backend.trace_by_id(tenant.as_deref(), hit.trace_id).await });
        }
        let mut traces = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(Some(trace))) => traces.push(trace),
                // A trace evicted between the search and the fetch is simply left out.
                Ok(Ok(None)) => {}
                Ok(Err(error)) => return Err(BackendError(error.to_string())),
                Err(error) => {
                    return Err(BackendError(format!(
                        "a trace fetch stopped unexpectedly: {error}"
                    )));
                }
            }
        }
        traces.sort_by_key(|t| std::cmp::Reverse(t.start_unix_nanos()));
        Ok(traces)
    }
}
