//! The lab's delivery pipeline as traces: what a pipeline run is (commit → build → test →
//! publish → sync → rollout) and how a run becomes one
//! OTLP trace with the OpenTelemetry CI/CD and VCS semantic conventions.
//!
//! `dojo deploy` (in `cmd/deploy.rs`) runs a pipeline for real and records it here; start
//! reading at [`run::PipelineRun`], then [`otlp::export`].

pub mod history;
pub mod otlp;
pub mod run;
