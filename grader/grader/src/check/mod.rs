//! The checks: each takes a submission and returns [`feedback::Feedback`] that teaches.
//!
//! - [`traceql`]: a TraceQL answer, compared with a reference by result sets;
//! - [`instrumentation`]: TraceQL assertions on a learner's service's live traces;
//! - [`root_cause`]: a report checked against the learner's scenario variant ([`regression`]
//!   when the fault came with a deploy);
//! - [`quiz`]: multiple-choice answers, each explained;
//! - [`pipeline`]: sampling and scrubbing settings, by their effect on traces sent through them;
//! - [`numeric`]: a number with a unit, against the value computed from the learner's traces;
//! - [`dashboard`]: the learner's panels, against the asked ones' series over one window;
//! - [`alert`]: an alert rule, watched while the grader switches a fault off and on.
//!
//! A learner's mistake is never an error here: it is feedback with a failing verdict.
//! [`GradeError`] is for what stops grading itself (the trace store unreachable, a broken spec).

pub mod alert;
pub mod contrast;
pub mod dashboard;
pub mod describe;
pub mod diagnose;
pub mod feedback;
pub mod instrumentation;
pub mod numeric;
pub mod pipeline;
pub mod quiz;
pub mod regression;
pub mod root_cause;
pub mod search_context;
pub mod traceql;

use crate::backend::BackendError;

/// Why a submission could not be graded at all.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The trace store failed; the learner should retry later.
    #[error("the trace store could not answer: {0}")]
    Backend(#[source] BackendError),
    /// The lab spec is wrong (a reference query the engine refuses): a bug for the lab author.
    #[error("the lab spec is broken: {0}")]
    Spec(String),
    /// The submission cannot be read (not the same as a wrong answer).
    #[error("{0}")]
    Input(String),
}

/// Limits that keep grading bounded.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Most traces a search returns; result sets are compared up to this size.
    pub search_limit: usize,
    /// Most differing traces fetched to confirm a difference and explain it.
    pub verify_limit: usize,
    /// Example traces shown per item.
    pub examples: usize,
    /// How long before now the pinned window ends, so spans still in flight stay out of it.
    pub settle: std::time::Duration,
    /// Multiplies an alert exercise's window, interval, phases and deadline (1: as the spec
    /// says; tests shorten them).
    pub alert_time_scale: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            search_limit: 100_000,
            verify_limit: 40,
            examples: 5,
            settle: std::time::Duration::from_secs(10),
            alert_time_scale: 1.0,
        }
    }
}
