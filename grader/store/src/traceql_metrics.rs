//! TraceQL metrics over a tenant's stored spans: the store's in-process entry point, below the
//! HTTP layer. The Tempo API ([`crate::tempo_api`]) maps its error to a 400; the course's
//! console, dashboards and alert rules read [`MetricsError::Query`] to put a caret under the
//! fault, because it carries the engine's error with its position.

use dojo_traceql::metrics::{MetricsResult, MetricsWindow, evaluate_metrics};
use dojo_traceql::{EvalBudget, Query};

use crate::storage::query::{TimeRange, in_range};
use crate::storage::{Store, TenantId};

/// Tempo refuses queries longer than this (`MaxQueryExpressionSizeBytes`).
pub const MAX_QUERY_BYTES: usize = 128 * 1024;

/// Why a metrics query gave no series.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// The query is longer than Tempo accepts.
    #[error("the query is {length} bytes long; the limit is {MAX_QUERY_BYTES} bytes")]
    TooLong { length: usize },
    /// The engine refused or stopped the query: parse, validation, unsupported feature,
    /// budget. Render it with the query text (`error.render(query)`) for the caret.
    #[error(transparent)]
    Query(dojo_traceql::Error),
    /// A valid search query, which has spans, not series.
    #[error(
        "this is a search query, not a metrics query: add a metrics function such as | rate() or | count_over_time(), or run it on /api/search"
    )]
    NotMetrics,
}

/// Parses a metrics query with Tempo's size limit.
pub fn parse_metrics(query: &str) -> Result<Query, MetricsError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(MetricsError::TooLong {
            length: query.len(),
        });
    }
    let parsed = dojo_traceql::parse(query).map_err(MetricsError::Query)?;
    if !parsed.is_metrics() {
        return Err(MetricsError::NotMetrics);
    }
    Ok(parsed)
}

impl Store {
    /// Evaluates a TraceQL metrics query over the tenant's spans in `window`, within `budget`.
    pub fn query_metrics(
        &self,
        tenant: &TenantId,
        query: &str,
        window: &MetricsWindow,
        budget: &mut EvalBudget,
    ) -> Result<MetricsResult, MetricsError> {
        let parsed = parse_metrics(query)?;
        let metrics = parsed.metrics().ok_or(MetricsError::NotMetrics)?;
        let traces = in_range(
            self.snapshot(tenant),
            Some(TimeRange {
                start_nanos: window.start_nanos,
                end_nanos: window.end_nanos,
            }),
        );
        evaluate_metrics(metrics, window, &traces, budget).map_err(MetricsError::Query)
    }
}
