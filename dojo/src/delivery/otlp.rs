//! A pipeline run as one OTLP trace, sent over OTLP/HTTP (protobuf) like any other trace.
//!
//! The spans follow the OpenTelemetry CI/CD and VCS semantic conventions: a SERVER span
//! `RUN deploy-<service>` for the run (`cicd.pipeline.name`, `cicd.pipeline.run.id`,
//! `cicd.pipeline.result`, `vcs.ref.head.revision`, `vcs.repository.url.full`,
//! `deployment.environment.name`, `deployment.id`), and beneath it one span per stage named
//! after it (`cicd.pipeline.task.name`, `cicd.pipeline.task.run.id`,
//! `cicd.pipeline.task.run.result`). The commit span starts at the commit time, so the
//! trace's duration is the run's lead time. Timestamps and ids are the run's own: recorded
//! history keeps its past times.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use crate::delivery::run::{Outcome, PIPELINE_SERVICE, PipelineRun, REPOSITORY_URL, Value};

/// The OTLP request carrying `runs`, one trace each; with `learner`, the runs are that
/// learner's (resource attribute `learner.id`): in a workshop the store routes them to the
/// learner's own tenant.
pub fn to_request(runs: &[PipelineRun], learner: Option<&str>) -> ExportTraceServiceRequest {
    let spans = runs.iter().flat_map(run_spans).collect();
    let mut attributes = vec![
        kv("service.name", PIPELINE_SERVICE.into()),
        kv("service.version", env!("CARGO_PKG_VERSION").into()),
    ];
    if let Some(learner) = learner {
        attributes.push(kv("learner.id", learner.into()));
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "dojo-deploy".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Sends `runs` to an OTLP/HTTP receiver (`…/v1/traces`), as `learner`'s when given.
pub async fn export(
    client: &reqwest::Client,
    endpoint: &str,
    runs: &[PipelineRun],
    learner: Option<&str>,
) -> anyhow::Result<()> {
    let body = to_request(runs, learner).encode_to_vec();
    let response = client
        .post(endpoint)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("sending the pipeline's trace to {endpoint}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!(
            "the trace receiver at {endpoint} refused the pipeline's trace ({status}): {}",
            text.trim()
        );
    }
    Ok(())
}

/// The OTLP/HTTP traces URL for a base endpoint (`http://host:4318` or a full `…/v1/traces`).
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

fn run_spans(run: &PipelineRun) -> Vec<Span> {
    let pipeline = run.pipeline_name();
    let common = [
        kv("cicd.pipeline.name", pipeline.clone().into()),
        kv("cicd.pipeline.run.id", run.run_id.clone().into()),
    ];
    let mut root_attributes = common.to_vec();
    root_attributes.extend([
        kv("cicd.pipeline.action.name", "RUN".into()),
        kv("cicd.pipeline.result", run.result().into()),
        kv("vcs.ref.head.revision", run.revision.clone().into()),
        kv("vcs.ref.head.name", "main".into()),
        kv("vcs.repository.url.full", REPOSITORY_URL.into()),
        kv("vcs.change.title", run.change.clone().into()),
        kv(
            "deployment.environment.name",
            run.environment.clone().into(),
        ),
        kv("deployment.id", run.deployment_id.clone().into()),
        kv("deployment.name", run.service.clone().into()),
        kv("deployment.version", run.version.clone().into()),
    ]);
    let failure = run.failed_stage().map(|stage| match &stage.outcome {
        Outcome::Failure { error_type, .. } => (stage.stage.name(), error_type.clone()),
        Outcome::Success => (stage.stage.name(), String::new()),
    });
    if let Some((_, error_type)) = &failure {
        root_attributes.push(kv("error.type", error_type.clone().into()));
    }
    let mut spans = vec![Span {
        trace_id: run.trace_id.to_vec(),
        span_id: run.root_span_id.to_vec(),
        name: format!("RUN {pipeline}"),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: nanos(run.start()),
        end_time_unix_nano: nanos(run.end()),
        attributes: root_attributes,
        status: Some(match &failure {
            Some((stage, _)) => error_status(format!("the {stage} stage failed")),
            None => ok_status(),
        }),
        ..Default::default()
    }];
    for (index, stage) in run.stages.iter().enumerate() {
        let mut attributes = common.to_vec();
        attributes.extend([
            kv("cicd.pipeline.task.name", stage.stage.name().into()),
            kv(
                "cicd.pipeline.task.run.id",
                format!("{}-{}", run.run_id, index + 1).into(),
            ),
            kv("cicd.pipeline.task.type", stage.stage.task_type().into()),
            kv(
                "cicd.pipeline.task.run.result",
                match stage.outcome {
                    Outcome::Success => "success",
                    Outcome::Failure { .. } => "failure",
                }
                .into(),
            ),
        ]);
        if let Outcome::Failure { error_type, .. } = &stage.outcome {
            attributes.push(kv("error.type", error_type.clone().into()));
        }
        attributes.extend(
            stage
                .attributes
                .iter()
                .map(|(key, value)| kv(key, value.clone())),
        );
        spans.push(Span {
            trace_id: run.trace_id.to_vec(),
            span_id: stage.span_id.to_vec(),
            parent_span_id: run.root_span_id.to_vec(),
            name: stage.stage.name().to_owned(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: nanos(stage.start),
            end_time_unix_nano: nanos(stage.end),
            attributes,
            status: Some(match &stage.outcome {
                Outcome::Success => ok_status(),
                Outcome::Failure { message, .. } => error_status(message.clone()),
            }),
            ..Default::default()
        });
        if let Some(rollback) = &stage.rollback {
            let mut attributes = common.to_vec();
            attributes.extend([
                kv("deployment.id", run.deployment_id.clone().into()),
                kv("deployment.name", run.service.clone().into()),
                kv("deployment.version", rollback.to_version.clone().into()),
            ]);
            spans.push(Span {
                trace_id: run.trace_id.to_vec(),
                span_id: rollback.span_id.to_vec(),
                parent_span_id: stage.span_id.to_vec(),
                name: "rollback".to_owned(),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: nanos(rollback.start),
                end_time_unix_nano: nanos(rollback.end),
                attributes,
                status: Some(ok_status()),
                ..Default::default()
            });
        }
    }
    spans
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(match value {
                Value::Str(text) => any_value::Value::StringValue(text),
                Value::Int(number) => any_value::Value::IntValue(number),
            }),
        }),
        ..Default::default()
    }
}

fn ok_status() -> Status {
    Status {
        code: StatusCode::Ok as i32,
        message: String::new(),
    }
}

fn error_status(message: String) -> Status {
    Status {
        code: StatusCode::Error as i32,
        message,
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
