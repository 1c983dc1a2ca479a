//! [`TraceSource`] over the embedded trace store, in-process: no HTTP hop between the course
//! and the traces. Searches run on a blocking thread (evaluation is CPU work) over a snapshot
//! of the tenant's traces, so no store lock is held while a learner's query runs.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use dojo_store::QueryError as StoreQueryError;
use dojo_store::storage::query::TimeRange;
use dojo_store::storage::routing::learner_tenant;
use dojo_store::{Store, TenantId};
use dojo_traceql::EvalBudget;
use dojo_traceql::metrics::{Label, MetricsWindow, default_step};
use dojo_traceql::model::{Trace, TraceId, Value};

use crate::backend::{
    BackendError, MetricsAnswer, MetricsSeries, NoTraces, QueryError, SearchError, TraceMatch,
    TraceSource,
};

/// The embedded store as the course's trace source, for one tenant.
#[derive(Clone)]
pub struct EmbeddedStore {
    store: Store,
    tenant: TenantId,
}

impl EmbeddedStore {
    /// Reads `tenant`'s traces from `store` (use [`TenantId::default_tenant`] on a laptop).
    /// When the store routes by learner (a workshop), each learner reads their own tenant
    /// instead ([`TraceSource::for_learner`]).
    pub fn new(store: Store, tenant: TenantId) -> EmbeddedStore {
        EmbeddedStore { store, tenant }
    }

    /// The traces that overlap the last `window`.
    fn in_window(&self, window: Duration) -> Vec<Arc<Trace>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(u64::MAX);
        let range = TimeRange {
            start_nanos: now.saturating_sub(window.as_nanos() as u64),
            end_nanos: now,
        };
        self.store
            .snapshot(&self.tenant)
            .into_iter()
            .filter(|trace| range.overlaps(trace))
            .collect()
    }
}

#[async_trait]
impl TraceSource for EmbeddedStore {
    async fn search(
        &self,
        query: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<TraceMatch>, SearchError> {
        let traces = self.in_window(window);
        let query = query.to_string();
        tokio::task::spawn_blocking(move || crate::engine::search(&traces, &query, limit))
            .await
            .map_err(|error| BackendError(format!("the search stopped unexpectedly: {error}")))?
    }

    fn for_learner(
        &self,
        learner: Option<&crate::backend::LearnerId>,
    ) -> Option<Arc<dyn TraceSource>> {
        if !self.store.routes_by_learner() {
            return None;
        }
        Some(
            learner
                .and_then(|l| self.own_tenant(l))
                .unwrap_or_else(|| Arc::new(NoTraces)),
        )
    }

    fn own_tenant(&self, learner: &crate::backend::LearnerId) -> Option<Arc<dyn TraceSource>> {
        let tenant = learner_tenant(&learner.0)?;
        Some(Arc::new(EmbeddedStore::new(self.store.clone(), tenant)))
    }

    async fn trace(&self, trace_id: TraceId) -> Result<Option<Trace>, BackendError> {
        Ok(self
            .store
            .trace_by_id(&self.tenant, &trace_id)
            .map(|trace| Trace::clone(&trace)))
    }

    async fn recent(&self, window: Duration, limit: usize) -> Result<Vec<Trace>, BackendError> {
        let mut traces = self.in_window(window);
        traces.sort_by_key(|t| std::cmp::Reverse(t.start_unix_nanos()));
        traces.truncate(limit);
        Ok(traces.iter().map(|t| Trace::clone(t)).collect())
    }

    async fn metrics(
        &self,
        query: &str,
        window: Duration,
    ) -> Result<Option<MetricsAnswer>, SearchError> {
        let end_nanos = now_nanos();
        let range = window.as_nanos() as u64;
        let window = MetricsWindow {
            start_nanos: end_nanos.saturating_sub(range),
            end_nanos,
            step_nanos: default_step(range),
            max_exemplars: 0,
            instant: false,
        };
        self.run_metrics(query, window).await.map(Some)
    }

    async fn metrics_instant(
        &self,
        query: &str,
        window: Duration,
        settle: Duration,
    ) -> Result<Option<MetricsAnswer>, SearchError> {
        let end_nanos = now_nanos().saturating_sub(settle.as_nanos() as u64);
        let range = (window.as_nanos() as u64).max(1);
        let window = MetricsWindow {
            start_nanos: end_nanos.saturating_sub(range),
            end_nanos,
            step_nanos: range,
            max_exemplars: 0,
            instant: true,
        };
        self.run_metrics(query, window).await.map(Some)
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(u64::MAX)
}

impl EmbeddedStore {
    /// Runs a metrics query over `window` on the blocking pool; an instant window's one value
    /// is its series' `last` (its end is already settled), a range's the newest settled one.
    async fn run_metrics(
        &self,
        query: &str,
        window: MetricsWindow,
    ) -> Result<MetricsAnswer, SearchError> {
        let (start_nanos, step_nanos, instant) =
            (window.start_nanos, window.step_nanos, window.instant);
        let store = self.store.clone();
        let tenant = self.tenant.clone();
        let text = query.to_string();
        let result = tokio::task::spawn_blocking(move || {
            store.query_metrics(&tenant, &text, &window, &mut EvalBudget::default())
        })
        .await
        .map_err(|error| BackendError(format!("the metrics query stopped unexpectedly: {error}")))?
        .map_err(|error| match error {
            StoreQueryError::Engine { error, .. } => crate::engine::query_error(&error, query),
            other => QueryError {
                message: other.to_string(),
                position: None,
                hint: None,
            },
        })?;
        let series = result
            .series
            .values()
            .map(|series| MetricsSeries {
                labels: series
                    .labels
                    .iter()
                    .map(label_text)
                    .collect::<Vec<_>>()
                    .join(", "),
                last: if instant {
                    series.values.last().copied().filter(|v| !v.is_nan())
                } else {
                    newest_settled(&series.values, step_nanos)
                },
                points: series.values.iter().filter(|v| !v.is_nan()).count(),
                largest: series
                    .values
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .reduce(f64::max),
                values: series.values.clone(),
            })
            .collect();
        Ok(MetricsAnswer {
            start_nanos,
            step_nanos,
            series,
        })
    }
}

/// How long after an interval ends its spans can still be arriving: services export in
/// batches every few seconds, so the newest intervals are still filling.
const SETTLE_NANOS: u64 = 10_000_000_000;

/// The value of the newest interval that ended at least [`SETTLE_NANOS`] before the query's
/// end (the series' last interval ends at the end), skipping intervals without a value. The
/// still-filling intervals after it would read 0 for every series.
fn newest_settled(values: &[f64], step_nanos: u64) -> Option<f64> {
    let unsettled = SETTLE_NANOS.div_ceil(step_nanos.max(1)) as usize;
    values
        .iter()
        .rev()
        .skip(unsettled)
        .find(|v| !v.is_nan())
        .copied()
}

/// A label as TraceQL writes it: `resource.service.name="api"`, `p=0.95`, and `nil` for a
/// group whose values were all absent, as Tempo labels it.
fn label_text(label: &Label) -> String {
    match &label.value {
        Some(Value::Str(text)) => format!("{}={text:?}", label.key),
        Some(value) => format!("{}={}", label.key, value),
        None => format!("{}=nil", label.key),
    }
}

#[cfg(test)]
mod tests {
    use super::newest_settled;

    #[test]
    fn the_newest_value_shown_is_of_an_interval_whose_spans_have_arrived() {
        // 3 s intervals: the last four (12 s) are younger than the 10 s it takes spans to
        // arrive, so the value shown is the fifth from the end.
        let values = [1.0, 2.0, 5.0, 4.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(newest_settled(&values, 3_000_000_000), Some(4.0));
        assert_eq!(newest_settled(&values, 60_000_000_000), Some(0.0));
        assert_eq!(newest_settled(&[f64::NAN, 3.0], 60_000_000_000), None);
        assert_eq!(
            newest_settled(&[2.0, f64::NAN, 3.0], 60_000_000_000),
            Some(2.0)
        );
    }
}
