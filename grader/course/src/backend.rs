//! What the course needs from the rest of the lab besides traces, as traits: the services'
//! log lines ([`LogSource`]), the grader ([`Grading`]) and the fault toggles
//! ([`FaultControl`]). The `dojo` command implements them over the grader and the services'
//! admin APIs; the course only sees these shapes, so its pages can be tested without the rest
//! of the lab running. (Traces are read through the grader's own trace backend: see
//! [`crate::traces`].)
//!
//! The types here are views: plain data shaped for pages, close to what the grader's JSON API
//! returns, so that adapters are a field-by-field copy.

use async_trait::async_trait;
use dojo_traceql::model::{SpanId, TraceId};

use crate::secrets::LearnerKey;

// ---------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------

/// A log line a service wrote inside a span.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub service: String,
    /// The span the line was written in, when the line carried one.
    pub span_id: Option<SpanId>,
    pub level: String,
    pub message: String,
    /// As the service wrote it (RFC 3339).
    pub timestamp: String,
}

/// Where the course finds the log lines of a trace (trace–log correlation). `dojo up` fills
/// one from the services' JSON log lines, keyed by `trace_id` and `span_id`.
pub trait LogSource: Send + Sync {
    /// Every kept line written inside the trace, oldest first.
    fn logs_for_trace(&self, trace_id: TraceId) -> Vec<LogEntry>;
}

/// A log source with no lines, for a course run without the lab's services.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLogs;

impl LogSource for NoLogs {
    fn logs_for_trace(&self, _trace_id: TraceId) -> Vec<LogEntry> {
        Vec::new()
    }
}

// ---------------------------------------------------------------------------------------
// Grading
// ---------------------------------------------------------------------------------------

/// A learner's stable id: the grader's own type, so the course, the grader and `dojo` derive
/// and validate it one way ([`LearnerId::for_name`]).
pub use dojo_grader::progress::LearnerId;

/// A lab in the list of labs.
#[derive(Debug, Clone, PartialEq)]
pub struct LabSummary {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub estimated_minutes: u32,
}

/// What kind of answer an exercise takes, which decides its form.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// A TraceQL query, graded by its result set.
    TraceQl,
    /// The name of the service whose live traces are checked.
    Instrumentation { services: Vec<String> },
    /// A root-cause report: service, operation, fault kind, evidence, explanation.
    RootCause {
        services: Vec<String>,
        fault_kinds: Vec<String>,
        /// Whether the report also names the deployment that brought the fault (the
        /// exercise's truth names one).
        asks_deployment: bool,
    },
    /// Multiple-choice questions.
    Quiz { questions: Vec<QuizQuestion> },
    /// Pipeline settings (YAML), applied to the learner's tenant and checked by their effect.
    Pipeline,
    /// A number with its unit, checked against the value computed from the learner's traces;
    /// the question names what to measure per learner ([`Grading::question`]).
    Numeric,
    /// The learner's saved dashboard panels, matched against the panels asked for (their
    /// descriptions here; the reference queries stay with the grader).
    /// `service`: the service suggested, for a dashboard of the learner's own service.
    Dashboard {
        panels: Vec<String>,
        service: Option<String>,
    },
    /// An alert rule, graded by switching `fault` off and on for the learner's traffic.
    Alert { fault: String },
}

/// Where an alert grading stands, for the lab page.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertProgress {
    /// What is happening, in words (`phase 2 (fault on)`).
    pub stage: String,
    /// When it ends, unix milliseconds (`None`: unknown).
    pub until_ms: Option<i64>,
    /// The rule's last evaluation, in words (`pending, 0.350`).
    pub last: Option<String>,
}

/// One multiple-choice question.
#[derive(Debug, Clone, PartialEq)]
pub struct QuizQuestion {
    pub id: String,
    pub prompt: String,
    pub choices: Vec<String>,
}

/// One exercise of a lab.
#[derive(Debug, Clone, PartialEq)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    /// The question, in markdown written by the lab's author.
    pub prompt_markdown: String,
    pub kind: CheckKind,
    /// How many hints there are to reveal.
    pub hint_count: usize,
}

/// A lab with its exercises and its fault scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct LabDetail {
    pub summary: LabSummary,
    pub exercises: Vec<Exercise>,
    /// What the scenario switches on, in words that do not give the answer away
    /// ("one fault is active somewhere in the shop").
    pub scenario: String,
    /// The catalogue ids of the faults the scenario switches on, over all its variants (empty
    /// for a lab on the healthy shop), to tell the learner whether they are on now.
    pub scenario_faults: Vec<String>,
    /// Whether finding the fault is the exercise (a root-cause lab), so pages must not name it.
    pub scenario_secret: bool,
}

/// An answer to an exercise.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    TraceQl {
        query: String,
    },
    Instrumentation {
        service: String,
    },
    RootCause {
        service: String,
        operation: String,
        fault_kind: String,
        trace_ids: Vec<String>,
        explanation_markdown: String,
        /// The deployment named (its id or version); empty when the exercise asks none.
        deployment: String,
    },
    /// (question id, chosen choice index)
    Quiz {
        answers: Vec<(String, usize)>,
    },
    /// The `pipeline:` section, as YAML.
    Pipeline {
        settings: String,
    },
    /// A number with its unit, as typed (`3h 20m`).
    Numeric {
        answer: String,
    },
    /// The learner's dashboard panels: (title, metrics query) each, top first; and their
    /// service, for a dashboard of it (empty otherwise).
    Dashboard {
        service: String,
        panels: Vec<(String, String)>,
    },
}

impl Submission {
    /// A one-line summary of the answer, for attempt lists.
    pub fn describe(&self) -> String {
        match self {
            Submission::TraceQl { query } => query.clone(),
            Submission::Instrumentation { service } => format!("service {service}"),
            Submission::RootCause {
                service,
                operation,
                fault_kind,
                ..
            } => format!("{fault_kind} in {service} ({operation})"),
            Submission::Quiz { answers } => format!("{} answers", answers.len()),
            Submission::Pipeline { settings } => {
                format!("pipeline settings ({} lines)", settings.lines().count())
            }
            Submission::Numeric { answer } => answer.clone(),
            Submission::Dashboard { panels, .. } => format!("{} dashboard panels", panels.len()),
        }
    }
}

/// One line of feedback: a check, a missed trace, a quiz answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackItem {
    pub passed: bool,
    pub message: String,
    /// Preformatted detail, such as a query with a caret under the error.
    pub detail: Option<String>,
    /// Trace ids the item is about, linked to their waterfall.
    pub trace_ids: Vec<String>,
}

/// The grader's verdict on one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub passed: bool,
    /// 0–100.
    pub score: u8,
    pub summary: String,
    pub items: Vec<FeedbackItem>,
}

/// A past submission of the current learner.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub exercise: String,
    pub answer: String,
    /// A root cause's explanation, still markdown (the course sanitizes it when shown).
    pub explanation_markdown: Option<String>,
    pub feedback: Feedback,
    /// RFC 3339.
    pub at: String,
}

/// How far a learner is in one exercise.
#[derive(Debug, Clone, PartialEq)]
pub struct ExerciseProgress {
    pub lab: String,
    pub exercise: String,
    pub passed: bool,
    pub best_score: u8,
    pub attempts: u32,
}

/// One row of the instructor's table.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnerProgress {
    pub learner: LearnerId,
    pub name: String,
    pub exercises: Vec<ExerciseProgress>,
}

/// The answers of one lab, for the instructor only: never shown on a learner's page.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerKeyLab {
    pub id: String,
    pub title: String,
    /// One entry per exercise: the reference query, the assertions, the quiz's answers.
    pub exercises: Vec<AnswerKeyEntry>,
    /// One entry per variant of the lab's fault scenario: its faults and ground truth.
    pub variants: Vec<AnswerKeyEntry>,
}

/// One exercise's (or one scenario variant's) answer: a title and labelled values, each value
/// shown preformatted (queries, fault parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerKeyEntry {
    pub title: String,
    pub lines: Vec<(String, String)>,
}

/// Why the grader could not grade or answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GradingError {
    #[error("there is no lab called {0:?}")]
    UnknownLab(String),
    #[error("lab {lab:?} has no exercise called {exercise:?}")]
    UnknownExercise { lab: String, exercise: String },
    #[error("this exercise takes a different kind of answer: {0}")]
    WrongKind(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the grader is not available: {0}")]
    Unavailable(String),
}

/// The grader as the course sees it.
#[async_trait]
pub trait Grading: Send + Sync {
    /// Every lab, in course order.
    fn labs(&self) -> Vec<LabSummary>;
    /// One lab with its exercises, as `learner` sees it (a quiz's choices come in each
    /// learner's own order; answers are positions in that order).
    fn lab(&self, lab: &str, learner: Option<&LearnerId>) -> Option<LabDetail>;
    /// Joins as the learner with this display name, holding `key`: the first key to join
    /// with a name claims it, and only that key joins with it again. `None` when another
    /// key holds the name.
    async fn join(&self, name: &str, key: &LearnerKey) -> Result<Option<LearnerId>, GradingError>;
    /// The learner (id, display name) whose name `key` holds, if any: a returning browser.
    async fn rejoin(&self, key: &LearnerKey) -> Result<Option<(LearnerId, String)>, GradingError>;
    /// Grades an answer and records the attempt.
    async fn submit(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        submission: Submission,
    ) -> Result<Feedback, GradingError>;
    /// Grades an alert rule against the exercise's fault and records the attempt; takes the
    /// exercise's phases (minutes), reporting where it stands to `progress` as it goes.
    async fn grade_alert(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        rule: dojo_grader::spec::types::RuleSpec,
        progress: std::sync::Arc<dyn Fn(AlertProgress) + Send + Sync>,
    ) -> Result<Feedback, GradingError> {
        let _ = (learner, rule, progress);
        Err(GradingError::WrongKind(format!(
            "{lab}/{exercise}: this course cannot grade alert rules"
        )))
    }
    /// Hint number `index` (0-based) of an exercise; recorded as revealed for the learner.
    async fn hint(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        index: usize,
    ) -> Result<String, GradingError>;
    /// The learner's own attempts in a lab, newest first.
    async fn attempts(&self, learner: &LearnerId, lab: &str) -> Result<Vec<Attempt>, GradingError>;
    /// The learner's progress over all labs.
    async fn progress(&self, learner: &LearnerId) -> Result<Vec<ExerciseProgress>, GradingError>;
    /// Every learner's progress, for the instructor.
    async fn class_progress(&self) -> Result<Vec<LearnerProgress>, GradingError>;
    /// Forgets a learner's attempts and hints and frees their name; an error for a learner
    /// the grader does not know.
    async fn reset_learner(&self, learner: &LearnerId) -> Result<(), GradingError>;
    /// The answer key of every lab, in course order, for the instructor's page. Empty when
    /// the grader has no answers to show.
    fn answer_key(&self) -> Vec<AnswerKeyLab> {
        Vec::new()
    }
    /// What a numeric exercise asks this learner (which of their changes), in markdown; `None`
    /// for other exercises or while there is nothing to ask about yet.
    async fn question(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
    ) -> Result<Option<String>, GradingError> {
        let _ = (learner, lab, exercise);
        Ok(None)
    }
    /// Whether a learner who solved this lab's incident can ask for another one.
    fn offers_incidents(&self, lab: &str) -> bool {
        let _ = lab;
        false
    }
    /// Starts the learner's next incident of the lab (another variant of its fault scenario)
    /// once they solved the current one; returns its number (1 for the first after the
    /// original). An error says why not, in words for the learner.
    async fn another_incident(&self, learner: &LearnerId, lab: &str) -> Result<u32, GradingError> {
        let _ = learner;
        Err(GradingError::Invalid(format!(
            "lab {lab:?} has no other incident to practise on"
        )))
    }
    /// The fault sets that make the lab's scenario "on": the one of `learner`'s current
    /// incident, or one per variant without a learner. Empty for a lab without faults.
    async fn scenario_variants(&self, lab: &str, learner: Option<&LearnerId>) -> Vec<Vec<String>> {
        let _ = learner;
        self.lab(lab, None)
            .map(|detail| detail.scenario_faults)
            .filter(|faults| !faults.is_empty())
            .into_iter()
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

/// One fault of the sample app's catalogue, and whether it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultState {
    pub id: String,
    pub service: String,
    pub description: String,
    pub enabled: bool,
    /// When the fault is on only for some learners' traffic (a workshop), their ids.
    pub learners: Option<Vec<String>>,
}

impl FaultState {
    /// Whether requests of this learner (or, with `None`, of anyone) hit the fault.
    pub fn is_on_for(&self, learner: Option<&LearnerId>) -> bool {
        self.enabled
            && match (&self.learners, learner) {
                (None, _) => true,
                (Some(scope), Some(learner)) => scope.iter().any(|id| id == learner.as_str()),
                (Some(_), None) => false,
            }
    }
}

/// Why a fault could not be listed or switched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct FaultError(pub String);

/// The sample app's fault toggles, for the instructor.
#[async_trait]
pub trait FaultControl: Send + Sync {
    async fn faults(&self) -> Result<Vec<FaultState>, FaultError>;
    async fn set(&self, id: &str, enabled: bool) -> Result<(), FaultError>;
}

/// Fault control for a course run without the sample app: no faults to toggle.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFaults;

#[async_trait]
impl FaultControl for NoFaults {
    async fn faults(&self) -> Result<Vec<FaultState>, FaultError> {
        Ok(Vec::new())
    }
    async fn set(&self, id: &str, _enabled: bool) -> Result<(), FaultError> {
        Err(FaultError(format!(
            "no sample app is attached, so fault {id:?} cannot be switched"
        )))
    }
}
