//! The embedded trace store as the backend, in process: no HTTP, no JSON.
//!
//! A search is the store's own in-process search ([`Store::search`], the one the Tempo API
//! serves), run on a blocking thread so a heavy query never stalls the async workers serving
//! other learners; its hits are reshaped here as the Tempo backend reshapes Tempo's JSON.

use dojo_store::Store;
use dojo_store::queries::{
    SearchHit as StoreHit, SearchKind, SearchRequest as StoreSearch, root_service_name,
};
use dojo_store::storage::TenantId;
use dojo_store::storage::query::TimeRange;
use dojo_store::storage::routing::is_learner_tenant;
use dojo_traceql::EvalBudget;
use dojo_traceql::ast::Intrinsic;
use dojo_traceql::metrics::MetricsWindow;
use dojo_traceql::model::{Trace, TraceId};
use dojo_traceql::{FieldRef, field_result_value};

use super::{BackendError, BoxFuture, HitSpan, HitSpanset, SearchHit, SearchRequest, TraceBackend};

/// The in-process backend. Cloning is cheap: it shares the store.
#[derive(Clone)]
pub struct EmbeddedBackend {
    store: Store,
}

impl EmbeddedBackend {
    pub fn new(store: Store) -> Self {
        EmbeddedBackend { store }
    }
}

fn tenant(tenant: Option<&str>) -> Result<TenantId, BackendError> {
    TenantId::from_header(tenant).map_err(|e| BackendError::Status {
        status: 400,
        body: e.to_string(),
    })
}

/// The store's search hit in the backend's shape, with the attributes the query fetched
/// printed as text, as the Tempo backend reads them from Tempo's JSON.
fn hit(found: &StoreHit, fetched: &[FieldRef]) -> SearchHit {
    let trace = &found.trace;
    let root = trace.root();
    let start = trace.start_unix_nanos();
    SearchHit {
        trace_id: trace.trace_id,
        root_service_name: root_service_name(trace),
        root_trace_name: root.map(|r| r.name.to_string()).unwrap_or_default(),
        start_unix_nanos: start,
        duration_ms: trace.end_unix_nanos().saturating_sub(start) / 1_000_000,
        spansets: found
            .spansets
            .iter()
            .map(|set| HitSpanset {
                matched: set.matched,
                spans: set
                    .spans
                    .iter()
                    .filter_map(|&i| trace.spans.get(i).map(|span| (i, span)))
                    .map(|(i, span)| HitSpan {
                        span_id: span.span_id,
                        name: Some(span.name.to_string()),
                        start_unix_nanos: span.start_unix_nanos,
                        duration_nanos: span.duration_nanos(),
                        attributes: fetched
                            .iter()
                            .filter(|f| **f != FieldRef::Intrinsic(Intrinsic::Name))
                            .filter_map(|f| {
                                field_result_value(trace, i, f)
                                    .map(|value| (f.result_key(), value.to_string()))
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

impl TraceBackend for EmbeddedBackend {
    fn search<'a>(
        &'a self,
        request: SearchRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, BackendError>> {
        Box::pin(async move {
            let tenant = tenant(request.tenant)?;
            let store = self.store.clone();
            let search = StoreSearch {
                query: SearchKind::TraceQl(request.query.to_string()),
                limit: request.limit.max(1),
                spans_per_spanset: request.spans_per_spanset.max(1),
                range: Some(TimeRange {
                    start_nanos: request.window.start_s.saturating_mul(1_000_000_000),
                    end_nanos: request
                        .window
                        .end_s
                        .saturating_add(1)
                        .saturating_mul(1_000_000_000),
                }),
            };
            tokio::task::spawn_blocking(move || {
                let results =
                    store
                        .search(&tenant, &search)
                        .map_err(|error| BackendError::InvalidQuery {
                            message: error.to_string(),
                        })?;
                Ok(results
                    .hits
                    .iter()
                    .map(|found| hit(found, &results.fetched))
                    .collect())
            })
            .await
            .map_err(|e| BackendError::Status {
                status: 500,
                body: format!("the search task failed: {e}"),
            })?
        })
    }

    fn trace_by_id<'a>(
        &'a self,
        tenant_name: Option<&'a str>,
        trace_id: TraceId,
    ) -> BoxFuture<'a, Result<Option<Trace>, BackendError>> {
        Box::pin(async move {
            let tenant = tenant(tenant_name)?;
            Ok(self
                .store
                .trace_by_id(&tenant, &trace_id)
                .map(|t| t.as_ref().clone()))
        })
    }

    fn held_elsewhere<'a>(
        &'a self,
        tenant_name: Option<&'a str>,
        trace_id: TraceId,
    ) -> BoxFuture<'a, Option<super::Elsewhere>> {
        Box::pin(async move {
            let mine = tenant(tenant_name).ok()?;
            let others: Vec<TenantId> = self
                .store
                .tenants_holding(&trace_id)
                .into_iter()
                .filter(|other| *other != mine)
                .collect();
            if others.iter().any(is_learner_tenant) {
                Some(super::Elsewhere::AnotherLearner)
            } else if others.is_empty() {
                None
            } else {
                Some(super::Elsewhere::Shared)
            }
        })
    }

    fn pipeline_lab(&self) -> Option<&dyn super::pipeline_lab::PipelineLab> {
        Some(self)
    }

    fn metrics<'a>(
        &'a self,
        request: super::metrics::MetricsRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<super::metrics::MetricsSeries>, BackendError>> {
        Box::pin(async move {
            let tenant = tenant(request.tenant)?;
            let store = self.store.clone();
            let query = request.query.to_string();
            let window = MetricsWindow {
                start_nanos: request.start_s.saturating_mul(1_000_000_000),
                end_nanos: request
                    .end_s
                    .max(request.start_s + 1)
                    .saturating_mul(1_000_000_000),
                step_nanos: request.step_s.max(1).saturating_mul(1_000_000_000),
                max_exemplars: 0,
                instant: false,
            };
            tokio::task::spawn_blocking(move || {
                let result = store
                    .query_metrics(&tenant, &query, &window, &mut EvalBudget::default())
                    .map_err(|error| BackendError::InvalidQuery {
                        message: error.to_string(),
                    })?;
                Ok(result
                    .series
                    .values()
                    .map(|series| {
                        let mut labels: Vec<(String, String)> = series
                            .labels
                            .iter()
                            .filter(|l| l.key != "__name__")
                            .map(|l| {
                                (
                                    l.key.clone(),
                                    l.value.as_ref().map_or_else(
                                        || "nil".to_string(),
                                        |v| match v {
                                            dojo_traceql::model::Value::Str(s) => s.to_string(),
                                            other => other.to_string(),
                                        },
                                    ),
                                )
                            })
                            .collect();
                        labels.sort();
                        super::metrics::MetricsSeries {
                            labels,
                            points: series
                                .values
                                .iter()
                                .enumerate()
                                .filter(|(_, v)| !v.is_nan())
                                .map(|(i, v)| (window.timestamp_ms(i), *v))
                                .collect(),
                        }
                    })
                    .collect())
            })
            .await
            .map_err(|e| BackendError::Status {
                status: 500,
                body: format!("the metrics task failed: {e}"),
            })?
        })
    }

    fn describe(&self) -> String {
        "the embedded trace store".into()
    }
}

impl super::pipeline_lab::PipelineLab for EmbeddedBackend {
    fn set_pipeline(
        &self,
        tenant_name: &str,
        config: Option<&dojo_store::pipeline::PipelineConfig>,
    ) -> Result<(), String> {
        let tenant = tenant(Some(tenant_name)).map_err(|e| e.to_string())?;
        self.store
            .set_tenant_pipeline(&tenant, config)
            .map_err(|e| e.to_string())
    }

    fn send(
        &self,
        tenant_name: &str,
        request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    ) -> Result<(), String> {
        let tenant = tenant(Some(tenant_name)).map_err(|e| e.to_string())?;
        let outcome = self
            .store
            .ingest(&tenant, request)
            .map_err(|e| e.to_string())?;
        match outcome.message {
            Some(message) if outcome.rejected > 0 => Err(message),
            _ => Ok(()),
        }
    }

    fn pending(&self, tenant_name: &str) -> usize {
        self.store
            .status()
            .iter()
            .find(|s| s.tenant == tenant_name)
            .map_or(0, |s| s.pending_spans)
    }
}
