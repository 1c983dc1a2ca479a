//! Alert exercises graded as jobs: grading a rule switches a fault off and on and watches the
//! rule for a couple of minutes, far longer than a request may wait. Submitting starts a job
//! on a spawned task; the lab page shows where it stands ("grading… phase 2 (fault on), 20 s
//! left") and reloads itself until the job is done, then shows its feedback once, as any
//! other exercise's. One job per learner at a time: submitting again (or reloading the form's
//! address) while one runs starts nothing. The attempt is recorded by the grader when the job
//! ends, in the progress database like every other.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::backend::{AlertProgress, Feedback, LearnerId};

/// Where one learner's job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    /// Started, nothing reported yet (the grader is checking the traffic).
    Starting,
    /// The grader's last report.
    Running(AlertProgress),
    /// Graded.
    Done(Feedback),
    /// Could not be graded, with why.
    Failed(String),
}

/// One learner's alert grading.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub lab: String,
    pub exercise: String,
    /// The rule's name, as the learner saved it.
    pub rule: String,
    pub state: JobState,
}

impl Job {
    pub fn finished(&self) -> bool {
        matches!(self.state, JobState::Done(_) | JobState::Failed(_))
    }
}

/// Every learner's current or last alert grading.
#[derive(Default)]
pub struct AlertGradings {
    jobs: Mutex<HashMap<LearnerId, Job>>,
}

impl AlertGradings {
    /// Records a new job for `learner` and returns true, unless one of theirs is running
    /// (then nothing changes: the caller starts nothing).
    pub fn start(&self, learner: &LearnerId, job: Job) -> bool {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if jobs.get(learner).is_some_and(|j| !j.finished()) {
            return false;
        }
        jobs.insert(learner.clone(), job);
        true
    }

    /// Moves the learner's job to `state`.
    pub fn update(&self, learner: &LearnerId, state: JobState) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(job) = jobs.get_mut(learner) {
            job.state = state;
        }
    }

    /// The learner's job on `lab`, if any; a finished one is handed over once and forgotten.
    pub fn take_for_page(&self, learner: &LearnerId, lab: &str) -> Option<Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let job = jobs.get(learner).filter(|j| j.lab == lab)?.clone();
        if job.finished() {
            jobs.remove(learner);
        }
        Some(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(exercise: &str) -> Job {
        Job {
            lab: "traceql-querying".into(),
            exercise: exercise.into(),
            rule: "Slow payments".into(),
            state: JobState::Starting,
        }
    }

    fn feedback() -> Feedback {
        Feedback {
            passed: true,
            score: 100,
            summary: "fired in time".into(),
            items: Vec::new(),
        }
    }

    #[test]
    fn one_job_per_learner_runs_and_a_finished_one_is_shown_once() {
        let gradings = AlertGradings::default();
        let ada = LearnerId::parse("ada").expect("a valid id");
        let bo = LearnerId::parse("bo").expect("a valid id");
        assert!(gradings.start(&ada, job("payments-latency-alert")));
        assert!(
            !gradings.start(&ada, job("checkout-errors-alert")),
            "a second grading waits for the first"
        );
        assert!(
            gradings.start(&bo, job("checkout-errors-alert")),
            "another learner's own"
        );

        gradings.update(
            &ada,
            JobState::Running(AlertProgress {
                stage: "phase 2 (fault on)".into(),
                until_ms: Some(1),
                last: None,
            }),
        );
        let running = gradings
            .take_for_page(&ada, "traceql-querying")
            .expect("shown while it runs");
        assert_eq!(running.exercise, "payments-latency-alert");
        assert!(gradings.take_for_page(&ada, "other-lab").is_none());
        assert!(
            gradings.take_for_page(&ada, "traceql-querying").is_some(),
            "a running job stays"
        );

        gradings.update(&ada, JobState::Done(feedback()));
        let done = gradings
            .take_for_page(&ada, "traceql-querying")
            .expect("the verdict");
        assert_eq!(done.state, JobState::Done(feedback()));
        assert!(
            gradings.take_for_page(&ada, "traceql-querying").is_none(),
            "shown once"
        );
        assert!(
            gradings.start(&ada, job("checkout-errors-alert")),
            "then free again"
        );
    }
}
