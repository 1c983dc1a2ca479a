//! The embedded trace store as the backend, in process: no HTTP, no JSON.
//!
//! A search takes a snapshot of the tenant's traces (no lock held afterwards), keeps those
//! overlapping the window and runs the engine's search over them on a blocking thread, so a
//! heavy query never stalls the async workers serving other learners.

use std::collections::HashMap;
use std::sync::Arc;

use dojo_store::Store;
use dojo_store::storage::TenantId;
use dojo_store::storage::query::{TimeRange, in_range};
use dojo_store::storage::routing::is_learner_tenant;
use dojo_traceql::model::{Trace, TraceId};
use dojo_traceql::{SearchOptions, search};

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

fn hit(trace: &Trace, spansets: Vec<dojo_traceql::SpansetMatch>) -> SearchHit {
    let root = trace.root();
    let start = trace.start_unix_nanos();
    SearchHit {
        trace_id: trace.trace_id,
        root_service_name: root
            .and_then(|r| r.service_name())
            .unwrap_or("<root span not yet received>")
            .to_string(),
        root_trace_name: root.map(|r| r.name.to_string()).unwrap_or_default(),
        start_unix_nanos: start,
        duration_ms: trace.end_unix_nanos().saturating_sub(start) / 1_000_000,
        spansets: spansets
            .into_iter()
            .map(|set| HitSpanset {
                matched: set.matched,
                spans: set
                    .spans
                    .iter()
                    .filter_map(|&i| trace.spans.get(i))
                    .map(|span| HitSpan {
                        span_id: span.span_id,
                        name: Some(span.name.to_string()),
                        start_unix_nanos: span.start_unix_nanos,
                        duration_nanos: span.duration_nanos(),
                        attributes: Vec::new(),
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
            let query =
                dojo_traceql::parse(request.query).map_err(|e| BackendError::InvalidQuery {
                    message: e.one_line(request.query),
                })?;
            let store = self.store.clone();
            let range = TimeRange {
                start_nanos: request.window.start_s.saturating_mul(1_000_000_000),
                end_nanos: request
                    .window
                    .end_s
                    .saturating_add(1)
                    .saturating_mul(1_000_000_000),
            };
            let options = SearchOptions {
                limit: request.limit.max(1),
                spans_per_spanset: request.spans_per_spanset.max(1),
                ..SearchOptions::default()
            };
            tokio::task::spawn_blocking(move || {
                let traces = in_range(store.snapshot(&tenant), Some(range));
                let by_id: HashMap<TraceId, &Arc<Trace>> =
                    traces.iter().map(|t| (t.trace_id, t)).collect();
                let matches =
                    search(&query, traces.iter().map(|t| t.as_ref()), &options).map_err(|e| {
                        BackendError::InvalidQuery {
                            message: e.one_line(&query.to_string()),
                        }
                    })?;
                Ok(matches
                    .into_iter()
                    .filter_map(|m| by_id.get(&m.trace_id).map(|t| hit(t, m.spansets)))
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
