//! One pipeline run as it happened: its ids, what it deployed, and when each stage ran and how
//! it ended. Live runs (`dojo deploy`) and recorded history are both written as this and
//! become a trace the same way ([`crate::delivery::otlp`]).

use std::time::SystemTime;

/// The repository every run builds from (`vcs.repository.url.full`).
pub const REPOSITORY_URL: &str = "https://git.dojo.lab/tracing-dojo/shop";
/// `service.name` of the pipeline's spans.
pub const PIPELINE_SERVICE: &str = "delivery-pipeline";

/// The stages of the pipeline, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Commit,
    Build,
    Test,
    Publish,
    Sync,
    Rollout,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Commit,
        Stage::Build,
        Stage::Test,
        Stage::Publish,
        Stage::Sync,
        Stage::Rollout,
    ];

    /// The span name and `cicd.pipeline.task.name`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Commit => "commit",
            Stage::Build => "build",
            Stage::Test => "test",
            Stage::Publish => "publish",
            Stage::Sync => "sync",
            Stage::Rollout => "rollout",
        }
    }

    /// `cicd.pipeline.task.type` (the convention knows build, test and deploy).
    pub fn task_type(self) -> &'static str {
        match self {
            Stage::Commit | Stage::Build | Stage::Publish => "build",
            Stage::Test => "test",
            Stage::Sync | Stage::Rollout => "deploy",
        }
    }
}

/// An attribute value of a span.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Str(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Str(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Value {
        Value::Int(number)
    }
}

/// How a stage ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// `error_type` goes to `error.type`, `message` to the span status.
    Failure {
        error_type: String,
        message: String,
    },
}

/// The rollback after a failed rollout: traffic stays on (or returns to) `to_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    pub span_id: [u8; 8],
    pub start: SystemTime,
    pub end: SystemTime,
    pub to_version: String,
}

/// One stage of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRun {
    pub stage: Stage,
    pub span_id: [u8; 8],
    pub start: SystemTime,
    pub end: SystemTime,
    pub outcome: Outcome,
    /// What the stage adds to its span (artifact digest, test counts, …).
    pub attributes: Vec<(String, Value)>,
    pub rollback: Option<Rollback>,
}

/// One run of the pipeline: one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRun {
    pub trace_id: [u8; 16],
    pub root_span_id: [u8; 8],
    /// `cicd.pipeline.run.id`.
    pub run_id: String,
    /// The service deployed (`api`, `frontend`).
    pub service: String,
    /// The release version deployed.
    pub version: String,
    /// What the change is about (`vcs.change.title`).
    pub change: String,
    /// The commit (`vcs.ref.head.revision`, 40 hex digits).
    pub revision: String,
    /// `deployment.id`.
    pub deployment_id: String,
    /// `deployment.environment.name`.
    pub environment: String,
    /// The stages that ran, in order; the first failed one is the last.
    pub stages: Vec<StageRun>,
}

impl PipelineRun {
    /// `cicd.pipeline.name`.
    pub fn pipeline_name(&self) -> String {
        format!("deploy-{}", self.service)
    }

    /// `cicd.pipeline.result`: success when every stage ran and succeeded.
    pub fn result(&self) -> &'static str {
        let all_ran = self.stages.len() == Stage::ALL.len();
        let all_passed = self.stages.iter().all(|s| s.outcome == Outcome::Success);
        if all_ran && all_passed {
            "success"
        } else {
            "failure"
        }
    }

    /// The first failed stage, if any.
    pub fn failed_stage(&self) -> Option<&StageRun> {
        self.stages
            .iter()
            .find(|s| matches!(s.outcome, Outcome::Failure { .. }))
    }

    /// When the commit was made: the start of the run's trace.
    pub fn start(&self) -> SystemTime {
        self.stages
            .first()
            .map(|s| s.start)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// When the last stage (or its rollback) ended.
    pub fn end(&self) -> SystemTime {
        self.stages
            .iter()
            .map(|s| s.rollback.as_ref().map_or(s.end, |r| r.end.max(s.end)))
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The W3C `traceparent` of a span of this run.
    pub fn traceparent(&self, span_id: [u8; 8]) -> String {
        format!(
            "00-{}-{}-01",
            hex::encode(self.trace_id),
            hex::encode(span_id)
        )
    }
}
