//! Metrics from traces, like Tempo's metrics generator: span metrics (calls, errors and a
//! duration histogram per service and operation) and a service graph (client → server edges
//! with request counts, failures and latency).
//!
//! Every stored span passes through [`TenantMetrics::observe`]. The results are served as
//! OpenMetrics text on `/metrics` (with exemplars carrying trace ids, so a spike links to a
//! trace) and as JSON for the course's pictures.

mod config;
pub mod exposition;
pub mod histogram;
pub mod service_graph;
pub mod span_metrics;

use dojo_traceql::model::{Span, TraceId};

use tokio::time::Instant;

pub use config::MetricsConfig;
pub use service_graph::{Edge, ServiceGraph};
pub use span_metrics::{SpanMetrics, SpanSeries};

/// One tenant's generated metrics.
#[derive(Debug, Clone)]
pub struct TenantMetrics {
    pub span_metrics: SpanMetrics,
    pub service_graph: ServiceGraph,
}

impl TenantMetrics {
    pub fn new(config: &MetricsConfig) -> Self {
        TenantMetrics {
            span_metrics: SpanMetrics::new(config),
            service_graph: ServiceGraph::new(config),
        }
    }

    /// Counts one stored span.
    pub fn observe(&mut self, trace_id: &TraceId, span: &Span, now: Instant) {
        let service = span_metrics::service_of(span);
        self.span_metrics.observe(trace_id, span, &service);
        self.service_graph.observe(trace_id, span, &service, now);
    }

    /// Counts a batch of stored spans; spans sharing a resource look its service up once.
    pub fn observe_batch<'a>(
        &mut self,
        spans: impl Iterator<Item = (&'a TraceId, &'a Span)>,
        now: Instant,
    ) {
        let mut last: Option<(*const dojo_traceql::model::Resource, std::sync::Arc<str>)> = None;
        for (trace_id, span) in spans {
            let resource = std::sync::Arc::as_ptr(&span.resource);
            let service = match &last {
                Some((ptr, service)) if *ptr == resource => service.clone(),
                _ => {
                    let service = span_metrics::service_of(span);
                    last = Some((resource, service.clone()));
                    service
                }
            };
            self.span_metrics.observe(trace_id, span, &service);
            self.service_graph.observe(trace_id, span, &service, now);
        }
    }

    /// Closes service-graph halves that waited too long.
    pub fn expire(&mut self, now: Instant) {
        self.service_graph.expire(now);
    }
}
