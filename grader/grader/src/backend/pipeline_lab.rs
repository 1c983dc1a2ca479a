//! What the sampling exercise needs from a trace store besides reading traces: setting one
//! tenant's ingest pipeline and sending it spans. Only the embedded store can (a remote Tempo
//! has no per-tenant pipeline the grader could set), so [`super::TraceBackend::pipeline_lab`]
//! answers `None` elsewhere and the exercise says where it runs.

use dojo_store::pipeline::PipelineConfig;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// A store whose tenants' pipelines can be set and fed.
pub trait PipelineLab: Send + Sync {
    /// Gives `tenant` its own pipeline (`None`: the store's again) for the spans that
    /// arrive from now on.
    fn set_pipeline(&self, tenant: &str, config: Option<&PipelineConfig>) -> Result<(), String>;

    /// Sends spans to `tenant` through its pipeline, as an OTLP export would.
    fn send(&self, tenant: &str, request: ExportTraceServiceRequest) -> Result<(), String>;

    /// Spans of `tenant` still waiting for a tail-sampling decision.
    fn pending(&self, tenant: &str) -> usize;
}
