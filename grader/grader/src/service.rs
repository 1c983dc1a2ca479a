//! The grader as a service: labs, a trace backend, progress and settings behind one cheap
//! cloneable handle, with the operations the HTTP API and `dojo grade` need.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::backend::{TraceBackend, Window};
use crate::check::feedback::{Feedback, Verdict};
use crate::check::root_cause::Report;
use crate::check::{
    GradeError, Settings, alert, dashboard, instrumentation, numeric, pipeline, quiz, root_cause,
    traceql,
};
use crate::fault_switch::{FaultSwitch, Scope};
use crate::progress::{Attempt, LearnerId, NewAttempt, Progress, ProgressError};
use crate::query::Vars;
use crate::spec::LabSet;
use crate::spec::types::{Check, CheckKind, Exercise, Lab, RuleSpec};

/// What a learner submits; the variant must fit the exercise's kind of check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Submission {
    /// A TraceQL answer.
    Query(String),
    /// The name of the learner's instrumented service (`OTEL_SERVICE_NAME`).
    Service(String),
    /// A root-cause report.
    Report(Report),
    /// Quiz answers: question id → index of the chosen answer.
    Answers(BTreeMap<String, usize>),
    /// Pipeline settings: the YAML `pipeline:` section, as `--store-config` takes it.
    Settings(String),
    /// A numeric answer with its unit, as typed (`3h 20m`).
    Number(String),
    /// The learner's dashboard panels (title and metrics query each), and their service for
    /// a dashboard of it.
    Panels(dashboard::DashboardAnswer),
    /// An alert rule (query, condition, threshold, for, severity).
    Rule(RuleSpec),
}

impl Submission {
    fn kind(&self) -> CheckKind {
        match self {
            Submission::Query(_) => CheckKind::Traceql,
            Submission::Service(_) => CheckKind::Instrumentation,
            Submission::Report(_) => CheckKind::RootCause,
            Submission::Answers(_) => CheckKind::Quiz,
            Submission::Settings(_) => CheckKind::Pipeline,
            Submission::Number(_) => CheckKind::Numeric,
            Submission::Panels(_) => CheckKind::Dashboard,
            Submission::Rule(_) => CheckKind::Alert,
        }
    }
}

/// Whose traces a learner's checks read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TenantPolicy {
    /// The backend's default tenant (a laptop, or a class sharing one tenant).
    #[default]
    Shared,
    /// This fixed tenant (`TEMPO_TENANT`).
    Fixed(String),
    /// One tenant per learner, named by the learner id (the Kubernetes workshop layout).
    PerLearner,
    /// The embedded store's tenant per learner, which its workshop routing fills
    /// ([`dojo_store::storage::routing::learner_tenant`]).
    Routed,
}

/// Why a submission was not graded.
#[derive(Debug, thiserror::Error)]
pub enum GraderError {
    #[error("there is no lab `{0}`")]
    UnknownLab(String),
    #[error("lab `{lab}` has no exercise `{exercise}`")]
    UnknownExercise { lab: String, exercise: String },
    #[error("exercise `{exercise}` is graded as {expected}; submit {}", submission_hint(.expected))]
    WrongSubmission {
        exercise: String,
        expected: &'static str,
    },
    #[error("lab `{lab}` gives learner `{learner}` no scenario with a ground truth")]
    NoGroundTruth { lab: String, learner: String },
    #[error(transparent)]
    Grade(#[from] GradeError),
    #[error(transparent)]
    Progress(#[from] ProgressError),
}

fn submission_hint(expected: &&str) -> &'static str {
    let expected: &str = expected;
    match expected {
        "traceql" => "a TraceQL query",
        "instrumentation" => "your service's name",
        "root_cause" => "a report (service, operation, fault, evidence, explanation)",
        "pipeline" => "pipeline settings (YAML)",
        "numeric" => "a number with its unit (such as 3h 20m)",
        "dashboard" => "your dashboard's panels",
        "alert" => "one of your alert rules",
        _ => "one answer per question",
    }
}

/// How many earlier quiz attempts are read to decide the wait and the reveal.
const QUIZ_HISTORY: i64 = 1000;

/// What a learner's earlier quiz attempts decide about the next one.
enum QuizHistory {
    NotAQuiz,
    /// Too soon after a failed attempt: this feedback, nothing graded.
    Wait(Feedback),
    Reveal(quiz::Reveal),
}

/// A graded and recorded submission.
#[derive(Debug, Clone, Serialize)]
pub struct Graded {
    /// `None` when nothing was recorded (the lab was not ready to grade).
    pub attempt_id: Option<i64>,
    pub feedback: Feedback,
}

/// The grader. Cloning is cheap.
#[derive(Clone)]
pub struct Grader {
    labs: Arc<LabSet>,
    backend: Arc<dyn TraceBackend>,
    progress: Option<Progress>,
    settings: Arc<Settings>,
    tenants: TenantPolicy,
    /// Switches the shop's faults for the `alert` check; without it, alerts cannot be graded.
    fault_switch: Option<Arc<dyn FaultSwitch>>,
}

/// Reports an `alert` grading's progress; the other checks report nothing.
pub type AlertProgress<'a> = &'a (dyn Fn(alert::Progress) + Send + Sync);

fn no_progress(_: alert::Progress) {}

impl Grader {
    /// `progress` may be `None` for one-off grading (`dojo grade`), which records nothing.
    pub fn new(labs: LabSet, backend: Arc<dyn TraceBackend>, progress: Option<Progress>) -> Self {
        Grader {
            labs: Arc::new(labs),
            backend,
            progress,
            settings: Arc::new(Settings::default()),
            tenants: TenantPolicy::Shared,
            fault_switch: None,
        }
    }

    /// Lets the `alert` check switch the shop's faults.
    pub fn with_fault_switch(mut self, switch: Arc<dyn FaultSwitch>) -> Self {
        self.fault_switch = Some(switch);
        self
    }

    /// Whose requests a fault switched for `learner` hits: only theirs where each learner's
    /// traffic is kept apart (a workshop), every request otherwise (one learner's laptop).
    pub fn fault_scope(&self, learner: &LearnerId) -> Scope {
        match self.tenants {
            TenantPolicy::PerLearner | TenantPolicy::Routed => {
                Scope::Learner(learner.as_str().to_owned())
            }
            TenantPolicy::Shared | TenantPolicy::Fixed(_) => Scope::Everyone,
        }
    }

    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = Arc::new(settings);
        self
    }

    pub fn with_tenants(mut self, tenants: TenantPolicy) -> Self {
        self.tenants = tenants;
        self
    }

    pub fn labs(&self) -> &LabSet {
        &self.labs
    }

    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    pub fn backend(&self) -> &Arc<dyn TraceBackend> {
        &self.backend
    }

    /// The lab and exercise, or which of them is unknown.
    pub fn exercise(
        &self,
        lab: &str,
        exercise: &str,
    ) -> Result<(&Arc<Lab>, &Exercise), GraderError> {
        let found = self
            .labs
            .get(lab)
            .ok_or_else(|| GraderError::UnknownLab(lab.to_string()))?;
        let exercise = found
            .exercises
            .iter()
            .find(|e| e.id == exercise)
            .ok_or_else(|| GraderError::UnknownExercise {
                lab: lab.to_string(),
                exercise: exercise.to_string(),
            })?;
        Ok((found, exercise))
    }

    /// The tenant whose traces `learner`'s checks read (`None`: the backend's default).
    pub fn tenant(&self, learner: &LearnerId) -> Option<String> {
        match &self.tenants {
            TenantPolicy::Shared => None,
            TenantPolicy::Fixed(t) => Some(t.clone()),
            TenantPolicy::PerLearner => Some(learner.as_str().to_owned()),
            TenantPolicy::Routed => dojo_store::storage::routing::learner_tenant(learner.as_str())
                .map(|t| t.to_string()),
        }
    }

    /// Grades a submission without recording it (a quiz shows its answers only on a pass).
    pub async fn grade(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
        submission: &Submission,
    ) -> Result<Feedback, GraderError> {
        self.grade_with(
            learner,
            lab_id,
            exercise_id,
            submission,
            quiz::Reveal::ON_PASS,
            &no_progress,
        )
        .await
    }

    /// [`Grader::grade`], reporting an alert grading's phases as they pass.
    pub async fn grade_reporting(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
        submission: &Submission,
        progress: AlertProgress<'_>,
    ) -> Result<Feedback, GraderError> {
        self.grade_with(
            learner,
            lab_id,
            exercise_id,
            submission,
            quiz::Reveal::ON_PASS,
            progress,
        )
        .await
    }

    /// The order in which `learner` sees the choices of a quiz exercise's questions
    /// ([`quiz::layout`]); `None` when the exercise is not a quiz.
    pub fn quiz_layout(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
    ) -> Option<Vec<Vec<usize>>> {
        let (_, exercise) = self.exercise(lab_id, exercise_id).ok()?;
        match &exercise.check {
            Check::Quiz(check) => Some(quiz::layout(check, lab_id, exercise_id, learner)),
            _ => None,
        }
    }

    /// The question of a numeric exercise as this learner reads it (which of their changes),
    /// in markdown; `None` for other exercises, or before there is anything to ask about.
    pub async fn question(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
    ) -> Result<Option<String>, GraderError> {
        let (_, exercise) = self.exercise(lab_id, exercise_id)?;
        let Check::Numeric(check) = &exercise.check else {
            return Ok(None);
        };
        let tenant = self.tenant(learner);
        let ctx = numeric::Context {
            backend: self.backend.as_ref(),
            tenant: tenant.as_deref(),
            learner: learner.as_str(),
            window: Window::ending_now(check.window.0, std::time::Duration::ZERO),
            settings: &self.settings,
        };
        Ok(numeric::question(&ctx, check).await?)
    }

    async fn grade_with(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
        submission: &Submission,
        reveal: quiz::Reveal,
        progress: AlertProgress<'_>,
    ) -> Result<Feedback, GraderError> {
        let (lab, exercise) = self.exercise(lab_id, exercise_id)?;
        let expected = exercise.check.kind();
        if submission.kind() != expected {
            return Err(GraderError::WrongSubmission {
                exercise: exercise.id.clone(),
                expected: expected.as_str(),
            });
        }
        let tenant_name = self.tenant(learner);
        let tenant = tenant_name.as_deref();
        let settle = self.settings.settle;
        let feedback = match (&exercise.check, submission) {
            (Check::Traceql(check), Submission::Query(answer)) => {
                let ctx = traceql::Context {
                    backend: self.backend.as_ref(),
                    tenant,
                    vars: Vars {
                        learner: learner.as_str(),
                        service: "",
                    },
                    window: Window::ending_now(check.window.0, settle),
                    settings: &self.settings,
                };
                traceql::grade(&ctx, check, answer).await?
            }
            (Check::Instrumentation(check), Submission::Service(service)) => {
                let service = if service.trim().is_empty() {
                    check.default_service.as_deref().unwrap_or("")
                } else {
                    service.trim()
                };
                let ctx = instrumentation::Context {
                    backend: self.backend.as_ref(),
                    tenant,
                    vars: Vars {
                        learner: learner.as_str(),
                        service,
                    },
                    window: Window::ending_now(check.window.0, std::time::Duration::ZERO),
                    settings: &self.settings,
                };
                instrumentation::grade(&ctx, check).await?
            }
            (Check::RootCause(check), Submission::Report(report)) => {
                let truth = self
                    .current_variant(lab, learner)
                    .await?
                    .and_then(|v| v.truth.as_ref())
                    .ok_or_else(|| GraderError::NoGroundTruth {
                        lab: lab.id.clone(),
                        learner: learner.to_string(),
                    })?;
                let kinds = crate::spec::fault_ids();
                let ctx = root_cause::Context {
                    backend: self.backend.as_ref(),
                    tenant,
                    vars: Vars {
                        learner: learner.as_str(),
                        service: "",
                    },
                    window: Window::ending_now(check.window.0, std::time::Duration::ZERO),
                    fault_kinds: &kinds,
                };
                root_cause::grade(&ctx, check, truth, report).await?
            }
            (Check::Pipeline(check), Submission::Settings(text)) => {
                // Always the learner's own tenant (in a workshop, where their traffic is
                // routed; on a laptop, one beside the shared traffic).
                let tenant = dojo_store::storage::routing::learner_tenant(learner.as_str())
                    .map(|t| t.to_string())
                    .ok_or_else(|| GradeError::Input(format!("`{learner}` has no tenant")))?;
                let ctx = pipeline::Context {
                    backend: self.backend.as_ref(),
                    tenant: &tenant,
                    settings: &self.settings,
                };
                pipeline::grade(&ctx, check, text).await?
            }
            (Check::Numeric(check), Submission::Number(answer)) => {
                let ctx = numeric::Context {
                    backend: self.backend.as_ref(),
                    tenant,
                    learner: learner.as_str(),
                    window: Window::ending_now(check.window.0, std::time::Duration::ZERO),
                    settings: &self.settings,
                };
                numeric::grade(&ctx, check, answer).await?
            }
            (Check::Dashboard(check), Submission::Panels(answer)) => {
                let service = match answer.service.trim() {
                    "" => check.default_service.as_deref().unwrap_or(""),
                    named => named,
                };
                let ctx = dashboard::Context {
                    backend: self.backend.as_ref(),
                    tenant,
                    vars: Vars {
                        learner: learner.as_str(),
                        service,
                    },
                    own_run: check.default_service.is_some(),
                    settings: &self.settings,
                };
                dashboard::grade(&ctx, check, &answer.panels).await?
            }
            (Check::Alert(check), Submission::Rule(rule)) => {
                let switch = self.fault_switch.clone().ok_or_else(|| {
                    GradeError::Input(
                        "this grader cannot switch the shop's faults, so it cannot grade an \
                         alert rule"
                            .to_string(),
                    )
                })?;
                let ctx = alert::Context {
                    backend: self.backend.as_ref(),
                    tenant,
                    vars: Vars {
                        learner: learner.as_str(),
                        service: "",
                    },
                    switch,
                    scope: self.fault_scope(learner),
                };
                let check = alert::scaled(check, self.settings.alert_time_scale);
                alert::grade(&ctx, &check, rule, progress).await?
            }
            (Check::Quiz(check), Submission::Answers(answers)) => {
                let layout = quiz::layout(check, lab_id, exercise_id, learner);
                quiz::grade(check, &layout, answers, reveal)
            }
            _ => {
                return Err(GraderError::WrongSubmission {
                    exercise: exercise.id.clone(),
                    expected: expected.as_str(),
                });
            }
        };
        Ok(feedback)
    }

    /// Grades a submission and records it as an attempt (unless the lab was not ready).
    /// The attempt is committed before this returns.
    pub async fn submit(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
        submission: &Submission,
    ) -> Result<Graded, GraderError> {
        self.submit_reporting(learner, lab_id, exercise_id, submission, &no_progress)
            .await
    }

    /// [`Grader::submit`], reporting an alert grading's phases as they pass.
    pub async fn submit_reporting(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
        submission: &Submission,
        progress: AlertProgress<'_>,
    ) -> Result<Graded, GraderError> {
        if let Some(progress) = &self.progress
            && progress.learner(learner).await?.is_none()
        {
            return Err(ProgressError::UnknownLearner(learner.to_string()).into());
        }
        let reveal = match self.quiz_history(learner, lab_id, exercise_id).await? {
            QuizHistory::NotAQuiz => quiz::Reveal::ON_PASS,
            QuizHistory::Wait(feedback) => {
                return Ok(Graded {
                    attempt_id: None,
                    feedback,
                });
            }
            QuizHistory::Reveal(reveal) => reveal,
        };
        let feedback = self
            .grade_with(learner, lab_id, exercise_id, submission, reveal, progress)
            .await?;
        let attempt_id = match (&self.progress, feedback.verdict) {
            (Some(progress), Verdict::Pass | Verdict::Fail) => {
                let kind = submission.kind().as_str();
                let attempt: Attempt = progress
                    .record_attempt(NewAttempt {
                        learner,
                        lab: lab_id,
                        exercise: exercise_id,
                        kind,
                        submission: serde_json::to_value(submission)
                            .map_err(ProgressError::Json)?,
                        passed: feedback.passed(),
                        score: feedback.score,
                        feedback: serde_json::to_value(&feedback).map_err(ProgressError::Json)?,
                    })
                    .await?;
                Some(attempt.id)
            }
            _ => None,
        };
        Ok(Graded {
            attempt_id,
            feedback,
        })
    }

    /// For a quiz with progress kept: whether the learner must wait before retaking it, and
    /// whether this attempt may show the right answers (passed before, or enough failures).
    async fn quiz_history(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
    ) -> Result<QuizHistory, GraderError> {
        let (_, exercise) = self.exercise(lab_id, exercise_id)?;
        let (Check::Quiz(check), Some(progress)) = (&exercise.check, &self.progress) else {
            return Ok(QuizHistory::NotAQuiz);
        };
        let attempts = progress
            .attempts(learner, lab_id, exercise_id, QUIZ_HISTORY)
            .await?;
        let passed_before = attempts.iter().any(|a| a.passed);
        if let Some(last) = attempts.first().filter(|a| !a.passed) {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let wait_ms = i64::try_from(check.retake_wait.0.as_millis()).unwrap_or(i64::MAX);
            let left_ms = last.created_at_ms.saturating_add(wait_ms) - now_ms;
            if left_ms > 0 {
                let seconds = (left_ms + 999) / 1000;
                return Ok(QuizHistory::Wait(Feedback::not_ready(
                    format!(
                        "Take a moment before retaking the quiz: this attempt can be graded in \
                         {seconds} s. Meanwhile, reread the questions marked wrong last time."
                    ),
                    Vec::new(),
                )));
            }
        }
        let failures = attempts.iter().filter(|a| !a.passed).count();
        Ok(QuizHistory::Reveal(quiz::Reveal {
            answers: passed_before || failures + 1 >= check.reveal_after,
            after_failures: Some(check.reveal_after),
        }))
    }

    /// The first `count` hints of an exercise (recorded as seen when progress is kept).
    pub async fn hints(
        &self,
        learner: &LearnerId,
        lab_id: &str,
        exercise_id: &str,
        count: usize,
    ) -> Result<Vec<String>, GraderError> {
        let (_, exercise) = self.exercise(lab_id, exercise_id)?;
        let count = count.min(exercise.hints.len());
        let mut shown = count;
        if let Some(progress) = &self.progress {
            let seen = progress
                .reveal_hints(
                    learner,
                    lab_id,
                    exercise_id,
                    i64::try_from(count).unwrap_or(i64::MAX),
                )
                .await?;
            shown = usize::try_from(seen)
                .unwrap_or(count)
                .min(exercise.hints.len());
        }
        Ok(exercise.hints[..shown].to_vec())
    }
}
