//! What the API shows of labs and progress. Reference answers, ground truths and quiz answers
//! never leave the grader: these views are built field by field, so a new secret field in a
//! spec cannot leak by accident.

use serde::Serialize;

use crate::progress::{LearnerId, Score};
use crate::spec::LabSet;
use crate::spec::types::{Check, Lab};

#[derive(Debug, Serialize)]
pub struct ExerciseSummary {
    pub id: String,
    pub title: String,
    pub kind: &'static str,
    pub hints: usize,
}

#[derive(Debug, Serialize)]
pub struct LabSummary {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub estimated_minutes: u32,
    pub lesson: Option<String>,
    pub exercises: Vec<ExerciseSummary>,
}

impl From<&Lab> for LabSummary {
    fn from(lab: &Lab) -> Self {
        LabSummary {
            id: lab.id.clone(),
            title: lab.title.clone(),
            summary: lab.summary.clone(),
            estimated_minutes: lab.estimated_minutes,
            lesson: lab.lesson.clone(),
            exercises: lab
                .exercises
                .iter()
                .map(|e| ExerciseSummary {
                    id: e.id.clone(),
                    title: e.title.clone(),
                    kind: e.check.kind().as_str(),
                    hints: e.hints.len(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct QuestionView {
    pub id: String,
    pub question: String,
    pub choices: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct AssertionView {
    pub id: String,
    pub describe: String,
}

#[derive(Debug, Serialize)]
pub struct ExerciseDetail {
    pub id: String,
    pub title: String,
    pub prompt: String,
    pub kind: &'static str,
    pub hints: usize,
    /// TraceQL and instrumentation checks: how far back the traces are read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Instrumentation checks: the service name used when none is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_service: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assertions: Vec<AssertionView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<QuestionView>,
    /// Root-cause checks: how many evidence traces are needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_evidence: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct LabDetail {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub estimated_minutes: u32,
    pub lesson: Option<String>,
    pub has_scenario: bool,
    /// The fault kinds a root-cause report may name.
    pub fault_kinds: Vec<&'static str>,
    pub exercises: Vec<ExerciseDetail>,
}

impl From<&Lab> for LabDetail {
    fn from(lab: &Lab) -> Self {
        LabDetail {
            id: lab.id.clone(),
            title: lab.title.clone(),
            summary: lab.summary.clone(),
            estimated_minutes: lab.estimated_minutes,
            lesson: lab.lesson.clone(),
            has_scenario: lab.scenario.is_some(),
            fault_kinds: crate::spec::fault_ids(),
            exercises: lab
                .exercises
                .iter()
                .map(|e| {
                    let mut detail = ExerciseDetail {
                        id: e.id.clone(),
                        title: e.title.clone(),
                        prompt: e.prompt.clone(),
                        kind: e.check.kind().as_str(),
                        hints: e.hints.len(),
                        window: None,
                        default_service: None,
                        assertions: Vec::new(),
                        questions: Vec::new(),
                        min_evidence: None,
                    };
                    match &e.check {
                        Check::Traceql(c) => detail.window = Some(c.window.to_string()),
                        Check::Instrumentation(c) => {
                            detail.window = Some(c.window.to_string());
                            detail.default_service = c.default_service.clone();
                            detail.assertions = c
                                .assertions
                                .iter()
                                .map(|a| AssertionView {
                                    id: a.id.clone(),
                                    describe: a.describe.clone(),
                                })
                                .collect();
                        }
                        Check::RootCause(c) => detail.min_evidence = Some(c.min_evidence),
                        Check::Pipeline(_) => {}
                        Check::Numeric(c) => detail.window = Some(c.window.to_string()),
                        Check::Dashboard(c) => detail.window = Some(c.window.to_string()),
                        Check::Alert(c) => detail.window = Some(c.lookback.to_string()),
                        Check::Quiz(c) => {
                            detail.questions = c
                                .questions
                                .iter()
                                .map(|q| QuestionView {
                                    id: q.id.clone(),
                                    question: q.question.clone(),
                                    choices: q.choices.clone(),
                                })
                                .collect()
                        }
                    }
                    detail
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProgressView {
    pub learner: LearnerId,
    /// Exercises passed out of all exercises in all labs.
    pub passed: usize,
    pub total: usize,
    pub scores: Vec<Score>,
}

impl ProgressView {
    pub fn new(labs: &LabSet, learner: LearnerId, scores: Vec<Score>) -> Self {
        let total = labs.iter().map(|l| l.exercises.len()).sum();
        let passed = scores.iter().filter(|s| s.passed).count();
        ProgressView {
            learner,
            passed,
            total,
            scores,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HintsView {
    pub hints: Vec<String>,
    pub total: usize,
}
