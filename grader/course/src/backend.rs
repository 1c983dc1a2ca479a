//! What the course needs from the rest of the lab, as traits: the traces ([`TraceSource`]),
//! the services' log lines ([`LogSource`]), the grader ([`Grading`]) and the fault toggles
//! ([`FaultControl`]). The `dojo` command implements them over the embedded trace store (or a
//! remote Tempo), the grader and the services' admin APIs; the course only sees these shapes,
//! so it can be built and tested without the rest of the lab running.
//!
//! The types here are views: plain data shaped for pages, close to what Tempo's search API and
//! the grader's JSON API return, so that adapters are a field-by-field copy.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dojo_traceql::model::{SpanId, Trace, TraceId};

use crate::secrets::LearnerKey;

// ---------------------------------------------------------------------------------------
// Traces
// ---------------------------------------------------------------------------------------

/// One span of a search result, as Tempo returns it: the fields the query fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedSpan {
    pub span_id: SpanId,
    /// Empty when the query did not fetch the name.
    pub name: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    /// The attributes the query fetched, rendered as text (`service.name = api`).
    pub attributes: Vec<(String, String)>,
}

/// The spans one trace contributed to a result: up to a few, and how many there were.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchedSpanset {
    pub spans: Vec<MatchedSpan>,
    /// How many spans matched before the result was cut to a few.
    pub matched: usize,
    /// Per-spanset values such as `count()` or `by(resource.service.name)`.
    pub attributes: Vec<(String, String)>,
}

/// One trace of a search result.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceMatch {
    pub trace_id: TraceId,
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub spansets: Vec<MatchedSpanset>,
}

/// A TraceQL query that could not run: the message, and where in the query it went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// What is wrong, in words a learner understands.
    pub message: String,
    /// The 1-based line and column of the fault, when the engine knows it.
    pub position: Option<(usize, usize)>,
    /// Extra advice ("use `=` for equality").
    pub hint: Option<String>,
}

impl QueryError {
    /// The query's faulty line with a caret under the column, for a `<pre>` block.
    pub fn caret(&self, query: &str) -> Option<String> {
        let (line, column) = self.position?;
        dojo_traceql::error::caret_under(query, line, column, 1)
    }
}

/// A failure of the trace backend itself (not of the query).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the trace store is not answering: {0}")]
pub struct BackendError(pub String);

/// The outcome of a console query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Where the course reads traces: the embedded store in-process, or a Tempo over HTTP.
#[async_trait]
pub trait TraceSource: Send + Sync {
    /// Runs a TraceQL search over the last `window`, newest traces first, at most `limit`.
    async fn search(
        &self,
        query: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<TraceMatch>, SearchError>;

    /// One whole trace, or `None` when the store does not have it.
    async fn trace(&self, trace_id: TraceId) -> Result<Option<Trace>, BackendError>;

    /// Whole traces that started in the last `window`, newest first, at most `limit`: the
    /// input of the service graph and the RED charts.
    async fn recent(&self, window: Duration, limit: usize) -> Result<Vec<Trace>, BackendError>;

    /// The most traces this source lists as recent (one more when asked for more, so a caller
    /// can tell a cut list from a complete one); pages that say how much data they cover
    /// must take it into account.
    fn recent_cap(&self) -> usize {
        usize::MAX
    }

    /// The traces a learner may read, when this source keeps each learner's traffic apart
    /// (the embedded store's routing in a workshop): their own tenant, or nothing for a
    /// visitor who has not joined (`learner` is `None`). `None` when this source does not
    /// separate learners, so everyone reads it whole.
    fn for_learner(&self, learner: Option<&LearnerId>) -> Option<Arc<dyn TraceSource>> {
        let _ = learner;
        None
    }

    /// The learner's own tenant, whether or not their pages are scoped to it: on a laptop it
    /// holds what only they sent there (the sampling exercise's traffic), which their
    /// feedback links to. `None` when this source has no such tenant.
    fn own_tenant(&self, learner: &LearnerId) -> Option<Arc<dyn TraceSource>> {
        let _ = learner;
        None
    }

    /// Runs a TraceQL metrics query over the last `window`, as Tempo's `query_range` would;
    /// `None` when this source cannot (the console then says where such a query runs).
    async fn metrics(
        &self,
        query: &str,
        window: Duration,
    ) -> Result<Option<MetricsAnswer>, SearchError> {
        let _ = (query, window);
        Ok(None)
    }

    /// Runs a TraceQL metrics query as one interval, the `window` that ended `settle` ago, as
    /// Tempo's instant query (`/api/metrics/query`) would: one value per series, what an alert
    /// rule compares with its threshold (a p95 over the whole window, not a mean of small
    /// intervals' p95s). `None` when this source cannot.
    async fn metrics_instant(
        &self,
        query: &str,
        window: Duration,
        settle: Duration,
    ) -> Result<Option<MetricsAnswer>, SearchError> {
        let _ = (query, window, settle);
        Ok(None)
    }
}

/// A source with no traces: what a visitor who has not joined a workshop reads, since
/// every trace there belongs to some learner.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTraces;

#[async_trait]
impl TraceSource for NoTraces {
    async fn search(
        &self,
        _query: &str,
        _window: Duration,
        _limit: usize,
    ) -> Result<Vec<TraceMatch>, SearchError> {
        Ok(Vec::new())
    }

    async fn trace(&self, _trace_id: TraceId) -> Result<Option<Trace>, BackendError> {
        Ok(None)
    }

    async fn recent(&self, _window: Duration, _limit: usize) -> Result<Vec<Trace>, BackendError> {
        Ok(Vec::new())
    }
}

/// A metrics query's time series, summarised for a table.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsAnswer {
    /// The start of the first interval (exclusive), Unix nanoseconds: interval `i` ends at
    /// `start_nanos + (i + 1) * step_nanos`.
    pub start_nanos: u64,
    /// The width of one interval, in nanoseconds.
    pub step_nanos: u64,
    pub series: Vec<MetricsSeries>,
}

/// One time series of a metrics query.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSeries {
    /// `resource.service.name="api"`, empty for the one series of a query without `by()`.
    pub labels: String,
    /// The value of the newest interval whose spans have all arrived (one that ended a few
    /// seconds ago), when it has one.
    pub last: Option<f64>,
    /// How many intervals have a value.
    pub points: usize,
    /// The largest value of any interval.
    pub largest: Option<f64>,
    /// One value per interval, oldest first; NaN where the interval has none.
    pub values: Vec<f64>,
}

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

/// A learner's stable id, as the grader knows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LearnerId(pub String);

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
    },
    /// Multiple-choice questions.
    Quiz { questions: Vec<QuizQuestion> },
    /// Pipeline settings (YAML), applied to the learner's tenant and checked by their effect.
    Pipeline,
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
    },
    /// (question id, chosen choice index)
    Quiz {
        answers: Vec<(String, usize)>,
    },
    /// The `pipeline:` section, as YAML.
    Pipeline {
        settings: String,
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
                (Some(scope), Some(learner)) => scope.contains(&learner.0),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_error_puts_its_caret_under_the_column() {
        let error = QueryError {
            message: "unexpected `=`".into(),
            position: Some((1, 10)),
            hint: None,
        };
        assert_eq!(
            error.caret("{ status == error }").as_deref(),
            Some("{ status == error }\n         ^")
        );
        assert_eq!(error.caret(""), None);
    }
}
