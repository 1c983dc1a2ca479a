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
use dojo_store::storage::routing::{is_learner_tenant, learner_tenant};
use dojo_traceql::ast::Intrinsic;
use dojo_traceql::metrics::MetricsWindow;
use dojo_traceql::model::{Trace, TraceId};
use dojo_traceql::{EvalBudget, FieldRef, field_result_value};

use super::{
    BackendError, BoxFuture, HitSpan, HitSpanset, MetricsAnswer, MetricsRequest, MetricsSeries,
    SearchHit, SearchRequest, TraceBackend, Window,
};

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
fn hit(found: &StoreHit, fetched: &[(FieldRef, String)]) -> SearchHit {
    let trace = &found.trace;
    let root = trace.root();
    let start = trace.start_unix_nanos();
    SearchHit {
        trace_id: trace.trace_id,
        root_service_name: root_service_name(trace),
        root_trace_name: root.map(|r| r.name.to_string()).unwrap_or_default(),
        start_unix_nanos: start,
        duration_nanos: trace.end_unix_nanos().saturating_sub(start),
        spansets: found
            .spansets
            .iter()
            .map(|set| HitSpanset {
                matched: set.matched,
                attributes: set
                    .attributes
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_string()))
                    .collect(),
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
                            .filter_map(|(field, key)| {
                                field_result_value(trace, i, field)
                                    .map(|value| (key.clone(), value.to_string()))
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
            let query = match request.parsed {
                Some(parsed) => SearchKind::Parsed {
                    text: request.query.to_string(),
                    query: Box::new(parsed.clone()),
                },
                None => SearchKind::TraceQl(request.query.to_string()),
            };
            let search = StoreSearch {
                query,
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
                let results = store.search(&tenant, &search)?;
                // The name is a field of its own; the keys are made once per search.
                let fetched: Vec<(FieldRef, String)> = results
                    .fetched
                    .iter()
                    .filter(|f| **f != FieldRef::Intrinsic(Intrinsic::Name))
                    .map(|f| (f.clone(), f.result_key()))
                    .collect();
                Ok(results
                    .hits
                    .iter()
                    .map(|found| hit(found, &fetched))
                    .collect())
            })
            .await
            .map_err(|e| BackendError::Status {
                status: 500,
                body: format!("the search task failed: {e}"),
            })?
        })
    }

    fn metrics<'a>(
        &'a self,
        request: MetricsRequest<'a>,
    ) -> BoxFuture<'a, Result<MetricsAnswer, BackendError>> {
        Box::pin(async move {
            let tenant = tenant(request.tenant)?;
            let window = MetricsWindow {
                start_nanos: request.start_nanos,
                end_nanos: request.end_nanos,
                step_nanos: request.step_nanos.max(1),
                max_exemplars: 0,
                instant: false,
            };
            let parsed = match request.parsed {
                Some(parsed) => parsed.clone(),
                None => dojo_store::queries::parse_metrics(request.query)?,
            };
            let store = self.store.clone();
            let text = request.query.to_string();
            let result = tokio::task::spawn_blocking(move || {
                store.query_metrics_parsed(
                    &tenant,
                    &text,
                    &parsed,
                    &window,
                    &mut EvalBudget::default(),
                )
            })
            .await
            .map_err(|e| BackendError::Status {
                status: 500,
                body: format!("the metrics task failed: {e}"),
            })??;
            Ok(MetricsAnswer {
                start_nanos: request.start_nanos,
                step_nanos: request.step_nanos.max(1),
                series: result
                    .series
                    .values()
                    .map(|series| MetricsSeries {
                        labels: series
                            .labels
                            .iter()
                            .filter(|label| label.key != "__name__")
                            .map(|label| (label.key.clone(), label.value.clone()))
                            .collect(),
                        values: series.values.clone(),
                    })
                    .collect(),
            })
        })
    }

    fn recent<'a>(
        &'a self,
        tenant_name: Option<&'a str>,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Trace>, BackendError>> {
        Box::pin(async move {
            let tenant = tenant(tenant_name)?;
            let mut traces: Vec<_> = self
                .store
                .snapshot(&tenant)
                .into_iter()
                .filter(|trace| window.overlaps(trace.start_unix_nanos(), trace.end_unix_nanos()))
                .collect();
            traces.sort_by_key(|t| std::cmp::Reverse(t.start_unix_nanos()));
            traces.truncate(limit);
            Ok(traces.iter().map(|t| Trace::clone(t)).collect())
        })
    }

    fn recent_cap(&self) -> usize {
        usize::MAX
    }

    fn routes_by_learner(&self) -> bool {
        self.store.routes_by_learner()
    }

    fn learner_tenant(&self, learner: &str) -> Option<String> {
        learner_tenant(learner).map(|tenant| tenant.as_str().to_string())
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
