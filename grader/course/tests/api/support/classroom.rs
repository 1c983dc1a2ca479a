//! A small grader for the course's tests, in memory: three labs (TraceQL answers graded by
//! comparing result sets over the shelf's traces, a root-cause report checked against a ground
//! truth and its evidence, and a quiz). The real grader (`dojo-grader`) plugs into the same
//! trait in `dojo up`; here the point is to drive the course's pages and forms.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dojo_course::backend::{
    Attempt, CheckKind, Exercise, ExerciseProgress, Feedback, FeedbackItem, Grading, GradingError,
    LabDetail, LabSummary, LearnerId, LearnerProgress, QuizQuestion, Submission,
};

use super::shelf::{self, Shelf};
use dojo_course::session::LearnerKey;

/// The reference answer of the TraceQL exercise: checkouts that failed in payments.
pub const REFERENCE: &str = r#"{ resource.service.name = "payments" && status = error }"#;

#[derive(Default)]
struct Book {
    learners: Vec<(LearnerId, String)>,
    /// (learner, key hash): who holds which name.
    claims: Vec<(LearnerId, String)>,
    /// (learner, lab, attempt), oldest first.
    attempts: Vec<(LearnerId, String, Attempt)>,
}

pub struct Classroom {
    shelf: Arc<Shelf>,
    book: Mutex<Book>,
}

const HINTS: &[&str] = &[
    "The failure starts in one service: which one?",
    "Status is a keyword: `status = error`, without quotes.",
];

impl Classroom {
    pub fn new(shelf: Arc<Shelf>) -> Classroom {
        Classroom {
            shelf,
            book: Mutex::new(Book::default()),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().expect("not poisoned")
    }

    /// The ids of the shelf's traces the query matches, by the TraceQL engine itself.
    fn ids(&self, query: &str) -> Result<BTreeSet<String>, dojo_traceql::Error> {
        let parsed = dojo_traceql::parse(query)?;
        let options = dojo_traceql::SearchOptions {
            limit: 1000,
            ..Default::default()
        };
        Ok(
            dojo_traceql::search(&parsed, self.shelf.traces.iter(), &options)?
                .into_iter()
                .map(|m| m.trace_id.to_string())
                .collect(),
        )
    }

    fn grade_traceql(&self, query: &str) -> Feedback {
        let expected = match self.ids(REFERENCE) {
            Ok(ids) => ids,
            Err(error) => {
                return verdict(
                    false,
                    format!("the reference query failed: {error}"),
                    Vec::new(),
                );
            }
        };
        let got = match self.ids(query) {
            Ok(ids) => ids,
            Err(error) => {
                let (line, column) = error.line_col(query);
                let item = FeedbackItem {
                    passed: false,
                    message: error.message.clone(),
                    detail: dojo_traceql::error::caret_under(query, line, column, 1),
                    trace_ids: Vec::new(),
                };
                return verdict(false, "Your query does not parse.".into(), vec![item]);
            }
        };
        let missed: Vec<String> = expected.difference(&got).cloned().collect();
        let extra: Vec<String> = got.difference(&expected).cloned().collect();
        let mut items = Vec::new();
        if !missed.is_empty() {
            items.push(FeedbackItem {
                passed: false,
                message: format!(
                    "It misses {} trace(s) that failed in payments.",
                    missed.len()
                ),
                detail: None,
                trace_ids: missed.clone(),
            });
        }
        if !extra.is_empty() {
            items.push(FeedbackItem {
                passed: false,
                message: format!(
                    "It includes {} trace(s) where payments did not fail.",
                    extra.len()
                ),
                detail: None,
                trace_ids: extra.clone(),
            });
        }
        let passed = missed.is_empty() && extra.is_empty();
        let summary = if passed {
            format!(
                "Your query returns exactly the {} failed checkout(s).",
                expected.len()
            )
        } else {
            "Your query's traces differ from the expected ones.".into()
        };
        verdict(passed, summary, items)
    }
}

fn verdict(passed: bool, summary: String, items: Vec<FeedbackItem>) -> Feedback {
    Feedback {
        passed,
        score: if passed { 100 } else { 0 },
        summary,
        items,
    }
}

fn labs() -> Vec<LabDetail> {
    let summary = |id: &str, title: &str, minutes| LabSummary {
        id: id.into(),
        title: title.into(),
        summary: format!("The {title} lab."),
        estimated_minutes: minutes,
    };
    vec![
        LabDetail {
            summary: summary("traceql-querying", "TraceQL querying", 30),
            exercises: vec![Exercise {
                id: "failed-checkouts".into(),
                title: "Failed checkouts".into(),
                prompt_markdown:
                    "Find the traces in which **payments** failed. <script>alert('x')</script>"
                        .into(),
                kind: CheckKind::TraceQl,
                hint_count: HINTS.len(),
            }],
            scenario: "payments fails now and then.".into(),
            scenario_faults: vec!["payments-errors".into()],
            scenario_secret: false,
        },
        LabDetail {
            summary: summary("intermittent-slowness", "Intermittent slowness", 45),
            exercises: vec![Exercise {
                id: "report".into(),
                title: "Root cause".into(),
                prompt_markdown: "What makes the product page slow?".into(),
                kind: CheckKind::RootCause {
                    services: vec!["frontend".into(), "api".into(), "payments".into()],
                    fault_kinds: vec!["slow query".into(), "slow dependency".into()],
                    asks_deployment: false,
                },
                hint_count: 0,
            }],
            scenario: "One fault is active somewhere in the shop.".into(),
            scenario_faults: vec!["slow-query".into()],
            scenario_secret: true,
        },
        LabDetail {
            summary: summary("quiz", "Quiz", 10),
            exercises: vec![Exercise {
                id: "quiz".into(),
                title: "Quiz".into(),
                prompt_markdown: "Two questions.".into(),
                kind: CheckKind::Quiz {
                    questions: vec![QuizQuestion {
                        id: "q1".into(),
                        prompt: "Which header carries the trace context?".into(),
                        choices: vec!["baggage".into(), "traceparent".into()],
                    }],
                },
                hint_count: 0,
            }],
            scenario: "No fault.".into(),
            scenario_faults: Vec::new(),
            scenario_secret: false,
        },
    ]
}

#[async_trait]
impl Grading for Classroom {
    fn labs(&self) -> Vec<LabSummary> {
        labs().into_iter().map(|l| l.summary).collect()
    }

    fn lab(&self, lab: &str, _learner: Option<&LearnerId>) -> Option<LabDetail> {
        labs().into_iter().find(|l| l.summary.id == lab)
    }

    async fn join(&self, name: &str, key: &LearnerKey) -> Result<Option<LearnerId>, GradingError> {
        let mut book = self.book();
        let hash = key.hash();
        let id = match book.learners.iter().find(|(_, n)| n == name) {
            Some((id, _)) => id.clone(),
            None => {
                let id = LearnerId::parse(&format!("learner-{}", book.learners.len() + 1))
                    .expect("a valid learner id");
                book.learners.push((id.clone(), name.to_string()));
                id
            }
        };
        let holder = book
            .claims
            .iter()
            .find(|(l, _)| *l == id)
            .map(|(_, h)| h.clone());
        match holder {
            Some(holder) => Ok((holder == hash).then_some(id)),
            None if book.claims.iter().any(|(_, h)| *h == hash) => Ok(None),
            None => {
                book.claims.push((id.clone(), hash));
                Ok(Some(id))
            }
        }
    }

    async fn rejoin(&self, key: &LearnerKey) -> Result<Option<(LearnerId, String)>, GradingError> {
        let book = self.book();
        let hash = key.hash();
        Ok(book
            .claims
            .iter()
            .find(|(_, h)| *h == hash)
            .and_then(|(id, _)| book.learners.iter().find(|(l, _)| l == id).cloned()))
    }

    async fn submit(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        submission: Submission,
    ) -> Result<Feedback, GradingError> {
        let detail = self
            .lab(lab, None)
            .ok_or_else(|| GradingError::UnknownLab(lab.into()))?;
        if !detail.exercises.iter().any(|e| e.id == exercise) {
            return Err(GradingError::UnknownExercise {
                lab: lab.into(),
                exercise: exercise.into(),
            });
        }
        let answer = submission.describe();
        let mut explanation = None;
        let feedback = match submission {
            Submission::TraceQl { query } => self.grade_traceql(&query),
            Submission::RootCause {
                service,
                fault_kind,
                trace_ids,
                explanation_markdown,
                ..
            } => {
                explanation = Some(explanation_markdown);
                let right = service == "api" && fault_kind == "slow query";
                let evidence = trace_ids.iter().any(|t| *t == shelf::SLOW.to_string());
                verdict(
                    right && evidence,
                    if right {
                        "Right service and fault."
                    } else {
                        "That is not where the time goes."
                    }
                    .into(),
                    vec![FeedbackItem {
                        passed: evidence,
                        message: if evidence {
                            "Your evidence shows the slow query."
                        } else {
                            "Cite a trace that shows the slow query."
                        }
                        .into(),
                        detail: None,
                        trace_ids,
                    }],
                )
            }
            Submission::Quiz { answers } => {
                let right = answers.iter().any(|(q, a)| q == "q1" && *a == 1);
                verdict(
                    right,
                    "traceparent carries the trace id and parent span id.".into(),
                    Vec::new(),
                )
            }
            Submission::Instrumentation { .. }
            | Submission::Pipeline { .. }
            | Submission::Numeric { .. }
            | Submission::Dashboard { .. } => {
                return Err(GradingError::WrongKind(
                    "this lab has no instrumentation or pipeline check".into(),
                ));
            }
        };
        self.book().attempts.push((
            learner.clone(),
            lab.to_string(),
            Attempt {
                exercise: exercise.to_string(),
                answer,
                explanation_markdown: explanation,
                feedback: feedback.clone(),
                at: "2026-11-22T10:00:00Z".into(),
            },
        ));
        Ok(feedback)
    }

    async fn hint(
        &self,
        _learner: &LearnerId,
        lab: &str,
        exercise: &str,
        index: usize,
    ) -> Result<String, GradingError> {
        if lab != "traceql-querying" || exercise != "failed-checkouts" {
            return Err(GradingError::Invalid("this exercise has no hints".into()));
        }
        HINTS
            .get(index)
            .map(|h| h.to_string())
            .ok_or_else(|| GradingError::Invalid("there are no more hints".into()))
    }

    async fn attempts(&self, learner: &LearnerId, lab: &str) -> Result<Vec<Attempt>, GradingError> {
        Ok(self
            .book()
            .attempts
            .iter()
            .rev()
            .filter(|(l, lb, _)| l == learner && lb == lab)
            .map(|(_, _, a)| a.clone())
            .collect())
    }

    async fn progress(&self, learner: &LearnerId) -> Result<Vec<ExerciseProgress>, GradingError> {
        let book = self.book();
        let mut out: Vec<ExerciseProgress> = Vec::new();
        for (l, lab, attempt) in &book.attempts {
            if l != learner {
                continue;
            }
            match out
                .iter_mut()
                .find(|p| p.lab == *lab && p.exercise == attempt.exercise)
            {
                Some(p) => {
                    p.attempts += 1;
                    p.passed |= attempt.feedback.passed;
                    p.best_score = p.best_score.max(attempt.feedback.score);
                }
                None => out.push(ExerciseProgress {
                    lab: lab.clone(),
                    exercise: attempt.exercise.clone(),
                    passed: attempt.feedback.passed,
                    best_score: attempt.feedback.score,
                    attempts: 1,
                }),
            }
        }
        Ok(out)
    }

    async fn class_progress(&self) -> Result<Vec<LearnerProgress>, GradingError> {
        let learners = self.book().learners.clone();
        let mut out = Vec::new();
        for (id, name) in learners {
            out.push(LearnerProgress {
                exercises: self.progress(&id).await?,
                learner: id,
                name,
            });
        }
        Ok(out)
    }

    async fn reset_learner(&self, learner: &LearnerId) -> Result<(), GradingError> {
        let mut book = self.book();
        if !book.learners.iter().any(|(id, _)| id == learner) {
            return Err(GradingError::Invalid(format!(
                "there is no learner {:?}",
                learner.as_str()
            )));
        }
        book.attempts.retain(|(l, _, _)| l != learner);
        book.claims.retain(|(l, _)| l != learner);
        // As the progress store does: the learner leaves the class list.
        book.learners.retain(|(id, _)| id != learner);
        Ok(())
    }
}
