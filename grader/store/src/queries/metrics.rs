//! TraceQL metrics over a tenant's stored spans: the store's in-process entry point, below the
//! HTTP layer. The Tempo API ([`crate::tempo_api`]) maps its error to a 400; the course's
//! console, dashboards and alert rules read [`QueryError::Engine`] to put a caret under the
//! fault, because it carries the engine's error with its position.

use dojo_traceql::metrics::{MetricsResult, MetricsWindow, evaluate_metrics};
use dojo_traceql::{EvalBudget, Query};

use super::error::{QueryError, parse_query};
use crate::storage::query::{TimeRange, in_range};
use crate::storage::{Store, TenantId};

/// Parses a metrics query with Tempo's size limit.
pub fn parse_metrics(query: &str) -> Result<Query, QueryError> {
    let parsed = parse_query(query)?;
    if !parsed.is_metrics() {
        return Err(QueryError::NotMetrics);
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
    ) -> Result<MetricsResult, QueryError> {
        let parsed = parse_metrics(query)?;
        self.query_metrics_parsed(tenant, query, &parsed, window, budget)
    }

    /// [`Store::query_metrics`] for a query the caller has already parsed (`query` is its
    /// text, for the error's position).
    pub fn query_metrics_parsed(
        &self,
        tenant: &TenantId,
        query: &str,
        parsed: &Query,
        window: &MetricsWindow,
        budget: &mut EvalBudget,
    ) -> Result<MetricsResult, QueryError> {
        let metrics = parsed.metrics().ok_or(QueryError::NotMetrics)?;
        let traces = in_range(
            self.snapshot(tenant),
            Some(TimeRange {
                start_nanos: window.start_nanos,
                end_nanos: window.end_nanos,
            }),
        );
        evaluate_metrics(metrics, window, &traces, budget)
            .map_err(|error| QueryError::engine(query, error))
    }
}
