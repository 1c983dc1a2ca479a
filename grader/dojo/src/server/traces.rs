//! The course's trace source over a remote Grafana Tempo (through the grader's Tempo backend),
//! for `dojo serve --tempo-url`. With the embedded store the course reads it in-process instead.
//!
//! Queries are parsed here first, so a learner's syntax error gets the engine's position and
//! hint even though Tempo would only send back a line of text.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dojo_course::backend::{
    BackendError, MatchedSpan, MatchedSpanset, QueryError, SearchError, TraceMatch, TraceSource,
};
use dojo_grader::backend::{SearchRequest, TraceBackend, Window};
use dojo_traceql::model::{Trace, TraceId};

/// Spans shown per spanset in the console, as Tempo's default.
const SPANS_PER_SPANSET: usize = 3;

/// A Tempo (or any grader backend) as the course's trace source.
pub struct BackendTraces {
    backend: Arc<dyn TraceBackend>,
    /// The tenant to read (`TEMPO_TENANT`), or the backend's default.
    tenant: Option<String>,
}

impl BackendTraces {
    pub fn new(backend: Arc<dyn TraceBackend>, tenant: Option<String>) -> BackendTraces {
        BackendTraces { backend, tenant }
    }
}

fn backend_error(error: dojo_grader::backend::BackendError) -> BackendError {
    BackendError(error.to_string())
}

#[async_trait]
impl TraceSource for BackendTraces {
    async fn search(
        &self,
        query: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<TraceMatch>, SearchError> {
        if let Err(error) = dojo_traceql::parse(query) {
            return Err(SearchError::Query(QueryError {
                message: error.message.clone(),
                position: Some(error.line_col(query)),
                hint: error.hint.clone(),
            }));
        }
        let hits = self
            .backend
            .search(SearchRequest {
                tenant: self.tenant.as_deref(),
                query,
                window: Window::ending_now(window, Duration::ZERO),
                limit,
                spans_per_spanset: SPANS_PER_SPANSET,
            })
            .await
            .map_err(|error| match error {
                dojo_grader::backend::BackendError::InvalidQuery { message } => {
                    SearchError::Query(QueryError {
                        message,
                        position: None,
                        hint: None,
                    })
                }
                other => SearchError::Backend(backend_error(other)),
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

    async fn trace(&self, trace_id: TraceId) -> Result<Option<Trace>, BackendError> {
        self.backend
            .trace_by_id(self.tenant.as_deref(), trace_id)
            .await
            .map_err(backend_error)
    }

    async fn recent(&self, window: Duration, limit: usize) -> Result<Vec<Trace>, BackendError> {
        let hits = self
            .backend
            .search(SearchRequest {
                tenant: self.tenant.as_deref(),
                query: "{}",
                window: Window::ending_now(window, Duration::ZERO),
                limit,
                spans_per_spanset: 1,
            })
            .await
            .map_err(backend_error)?;
        let mut traces = Vec::with_capacity(hits.len());
        for hit in hits {
            if let Some(trace) = self.trace(hit.trace_id).await? {
                traces.push(trace);
            }
        }
        Ok(traces)
    }
}
