//! [`Grading`] over the lab's grader (`dojo-grader`) in-process: lab specs from `labs/`,
//! checks against live traces, and progress in SQLite or PostgreSQL. This module only
//! translates between the grader's types and the course's views.

use std::sync::Arc;

use async_trait::async_trait;
use dojo_grader::alerting::Phase;
use dojo_grader::check::alert;
use dojo_grader::check::dashboard::{DashboardAnswer, SubmittedPanel};
use dojo_grader::check::feedback::{Feedback as GraderFeedback, ItemStatus, Verdict};
use dojo_grader::check::root_cause::Report;
use dojo_grader::incidents::IncidentError;
use dojo_grader::progress::Progress;
use dojo_grader::scenario::variant_for;
use dojo_grader::service::{Grader, GraderError, Submission as GraderSubmission};
use dojo_grader::spec::types::{Check, Lab, RuleSpec, Variant};

use crate::backend::{
    AlertProgress, AnswerKeyLab, Attempt, CheckKind, Exercise, ExerciseProgress, Feedback,
    FeedbackItem, Grading, GradingError, LabDetail, LabSummary, LearnerId, LearnerProgress,
    QuizQuestion, Submission,
};
use crate::session::LearnerKey;

/// The shop's services, offered in the instrumentation and root-cause forms.
const SERVICES: &[&str] = &["frontend", "api", "payments", "database"];

/// How many attempts per exercise a learner's lab page lists.
const ATTEMPTS_SHOWN: i64 = 20;

/// The grader as the course's [`Grading`].
#[derive(Clone)]
pub struct InProcessGrader {
    grader: Grader,
}

impl InProcessGrader {
    /// Wraps a grader. Without a progress store, learners can still get feedback but nothing
    /// is remembered (joining works; progress is empty).
    pub fn new(grader: Grader) -> InProcessGrader {
        InProcessGrader { grader }
    }

    fn store(&self) -> Option<&Progress> {
        self.grader.progress()
    }
}

fn grading_error(error: GraderError) -> GradingError {
    match error {
        GraderError::UnknownLab(lab) => GradingError::UnknownLab(lab),
        GraderError::UnknownExercise { lab, exercise } => {
            GradingError::UnknownExercise { lab, exercise }
        }
        GraderError::WrongSubmission { .. } => GradingError::WrongKind(error.to_string()),
        GraderError::NoGroundTruth { .. } => GradingError::Invalid(error.to_string()),
        other => GradingError::Unavailable(other.to_string()),
    }
}

fn unavailable(error: impl std::fmt::Display) -> GradingError {
    GradingError::Unavailable(error.to_string())
}

/// Every fault any variant of the lab's scenario switches on, each once.
fn scenario_faults(lab: &Lab) -> Vec<String> {
    let mut faults: Vec<String> = Vec::new();
    for variant in lab.scenario.iter().flat_map(|s| &s.variants) {
        for toggle in &variant.faults {
            if !faults.contains(&toggle.fault) {
                faults.push(toggle.fault.clone());
            }
        }
    }
    faults
}

fn summary(lab: &Lab) -> LabSummary {
    LabSummary {
        id: lab.id.clone(),
        title: lab.title.clone(),
        summary: lab.summary.clone(),
        estimated_minutes: lab.estimated_minutes,
    }
}

/// The grader's verdict in the course's words.
pub fn feedback(from: &GraderFeedback) -> Feedback {
    let mut items = Vec::new();
    if let Some(syntax) = &from.syntax_error {
        let mut message = syntax.message.clone();
        if let Some(hint) = &syntax.hint {
            message.push_str(&format!(" Hint: {hint}"));
        }
        items.push(FeedbackItem {
            passed: false,
            message,
            detail: Some(syntax.rendered.clone()),
            trace_ids: Vec::new(),
        });
    }
    for item in &from.items {
        let detail = (!item.evidence.is_empty()).then(|| {
            item.evidence
                .iter()
                .map(|e| format!("{}  {}: {}", e.trace_id, e.trace, e.why))
                .collect::<Vec<_>>()
                .join("\n")
        });
        items.push(FeedbackItem {
            passed: item.status != ItemStatus::Fail,
            message: if item.message.is_empty() {
                item.title.clone()
            } else {
                format!("{}: {}", item.title, item.message)
            },
            detail,
            trace_ids: item.evidence.iter().map(|e| e.trace_id.clone()).collect(),
        });
    }
    Feedback {
        passed: from.verdict == Verdict::Pass,
        score: (from.score.clamp(0.0, 1.0) * 100.0).round() as u8,
        summary: from.headline.clone(),
        items,
    }
}

fn their_submission(submission: Submission) -> GraderSubmission {
    match submission {
        Submission::TraceQl { query } => GraderSubmission::Query(query),
        Submission::Instrumentation { service } => GraderSubmission::Service(service),
        Submission::RootCause {
            service,
            operation,
            fault_kind,
            trace_ids,
            explanation_markdown,
            deployment,
        } => GraderSubmission::Report(Report {
            service,
            operation,
            fault: fault_kind,
            evidence: trace_ids,
            explanation: explanation_markdown,
            deployment,
        }),
        Submission::Quiz { answers } => GraderSubmission::Answers(answers.into_iter().collect()),
        Submission::Pipeline { settings } => GraderSubmission::Settings(settings),
        Submission::Numeric { answer } => GraderSubmission::Number(answer),
        Submission::Dashboard { service, panels } => GraderSubmission::Panels(DashboardAnswer {
            service,
            panels: panels
                .into_iter()
                .map(|(title, query)| SubmittedPanel { title, query })
                .collect(),
        }),
    }
}

/// An alert grading's report, in the course's words.
fn alert_progress(step: &alert::Progress) -> AlertProgress {
    let phase = |phase: Phase| match phase {
        Phase::FaultOff => "phase 1 (fault off)",
        Phase::FaultOn => "phase 2 (fault on)",
    };
    match step {
        alert::Progress::Clearing { until_ms } => AlertProgress {
            stage:
                "your own incident had the fault on: waiting for the rule's window to clear of it"
                    .into(),
            until_ms: Some(*until_ms),
            last: None,
        },
        alert::Progress::Watching {
            phase: p,
            until_ms,
            sample,
        } => AlertProgress {
            stage: phase(*p).into(),
            until_ms: Some(*until_ms),
            last: sample.as_ref().map(|s| {
                format!(
                    "{}, {}",
                    s.state,
                    s.decision
                        .value
                        .map_or("no data".to_string(), |v| format!("{v:.3}"))
                )
            }),
        },
        alert::Progress::Restoring => AlertProgress {
            stage: "putting the fault back".into(),
            until_ms: None,
            last: None,
        },
    }
}

/// A stored submission as a one-line answer, and a report's explanation.
fn describe(stored: &serde_json::Value) -> (String, Option<String>) {
    match serde_json::from_value::<GraderSubmission>(stored.clone()) {
        Ok(GraderSubmission::Query(query)) => (query, None),
        Ok(GraderSubmission::Service(service)) => (format!("service {service}"), None),
        Ok(GraderSubmission::Report(report)) => (
            format!(
                "{} in {} ({})",
                report.fault, report.service, report.operation
            ),
            Some(report.explanation),
        ),
        Ok(GraderSubmission::Answers(answers)) => (format!("{} answers", answers.len()), None),
        Ok(GraderSubmission::Settings(settings)) => (
            format!("pipeline settings ({} lines)", settings.lines().count()),
            None,
        ),
        Ok(GraderSubmission::Number(answer)) => (answer, None),
        Ok(GraderSubmission::Panels(panels)) => {
            (format!("{} dashboard panels", panels.panels.len()), None)
        }
        Ok(GraderSubmission::Rule(rule)) => (
            format!(
                "alert rule: {} {} {}",
                rule.query, rule.condition, rule.threshold
            ),
            None,
        ),
        Err(_) => (stored.to_string(), None),
    }
}

/// Milliseconds since 1970 as `YYYY-MM-DD HH:MM UTC`.
fn when(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        (of_day / 60) % 60
    )
}

#[async_trait]
impl Grading for InProcessGrader {
    fn labs(&self) -> Vec<LabSummary> {
        self.grader.labs().iter().map(|lab| summary(lab)).collect()
    }

    fn lab(&self, id: &str, learner: Option<&LearnerId>) -> Option<LabDetail> {
        let lab = self.grader.labs().get(id)?;
        let fault_kinds: Vec<String> = dojo_grader::spec::fault_ids()
            .into_iter()
            .map(str::to_string)
            .collect();
        let services: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
        Some(LabDetail {
            summary: summary(lab),
            exercises: lab
                .exercises
                .iter()
                .map(|exercise| Exercise {
                    id: exercise.id.clone(),
                    title: exercise.title.clone(),
                    prompt_markdown: exercise.prompt.clone(),
                    hint_count: exercise.hints.len(),
                    kind: match &exercise.check {
                        Check::Traceql(_) => CheckKind::TraceQl,
                        // Only the learner's own service: the shop's are instrumented already.
                        Check::Instrumentation(check) => CheckKind::Instrumentation {
                            services: check.default_service.iter().cloned().collect(),
                        },
                        Check::RootCause(_) => {
                            CheckKind::RootCause {
                                services: services.clone(),
                                fault_kinds: fault_kinds.clone(),
                                asks_deployment: lab.scenario.iter().flat_map(|s| &s.variants).any(
                                    |v| v.truth.as_ref().is_some_and(|t| t.deployment.is_some()),
                                ),
                            }
                        }
                        Check::Pipeline(_) => CheckKind::Pipeline,
                        Check::Numeric(_) => CheckKind::Numeric,
                        Check::Dashboard(check) => CheckKind::Dashboard {
                            panels: check.panels.iter().map(|p| p.describe.clone()).collect(),
                            service: check.default_service.clone(),
                        },
                        Check::Alert(check) => CheckKind::Alert {
                            fault: check.fault.fault.clone(),
                        },
                        Check::Quiz(check) => {
                            // Each learner's own order; a visitor who has not joined sees
                            // the order of the spec (they cannot submit).
                            let layout = learner
                                .and_then(|l| self.grader.quiz_layout(l, &lab.id, &exercise.id));
                            CheckKind::Quiz {
                                questions: check
                                    .questions
                                    .iter()
                                    .enumerate()
                                    .map(|(qi, q)| QuizQuestion {
                                        id: q.id.clone(),
                                        prompt: q.question.clone(),
                                        choices: match layout.as_ref().and_then(|l| l.get(qi)) {
                                            Some(order) => order
                                                .iter()
                                                .filter_map(|&c| q.choices.get(c).cloned())
                                                .collect(),
                                            None => q.choices.clone(),
                                        },
                                    })
                                    .collect(),
                            }
                        }
                    },
                })
                .collect(),
            scenario: match &lab.scenario {
                Some(scenario) if scenario.variants.len() > 1 => format!(
                    "one of {} variants, picked for you, so your neighbour's root cause may differ from yours.",
                    scenario.variants.len()
                ),
                Some(_) => "the same faults for everyone.".into(),
                None => "none: this lab runs on the healthy shop.".into(),
            },
            scenario_faults: scenario_faults(lab),
            scenario_secret: lab
                .exercises
                .iter()
                .any(|exercise| matches!(exercise.check, Check::RootCause(_))),
        })
    }

    fn answer_key(&self) -> Vec<AnswerKeyLab> {
        self.grader
            .labs()
            .iter()
            .map(|lab| super::answer_key::lab_answers(lab))
            .collect()
    }

    fn offers_incidents(&self, lab: &str) -> bool {
        self.grader.offers_incidents(lab)
    }

    async fn another_incident(&self, learner: &LearnerId, lab: &str) -> Result<u32, GradingError> {
        match self.grader.another_incident(learner, lab).await {
            Ok(incident) => Ok(incident.round),
            Err(IncidentError::UnknownLab(lab)) => Err(GradingError::UnknownLab(lab)),
            Err(IncidentError::Progress(error)) => Err(unavailable(error)),
            Err(other) => Err(GradingError::Invalid(other.to_string())),
        }
    }

    async fn scenario_variants(&self, lab: &str, learner: Option<&LearnerId>) -> Vec<Vec<String>> {
        let Some(spec) = self.grader.labs().get(lab) else {
            return Vec::new();
        };
        let faults = |variant: &Variant| -> Vec<String> {
            variant.faults.iter().map(|f| f.fault.clone()).collect()
        };
        let mut mine = None;
        if let Some(learner) = learner {
            // The learner's current incident; their first one if the store cannot say.
            mine = match self.grader.current_variant(spec, learner).await {
                Ok(variant) => variant.map(faults),
                Err(_) => variant_for(spec, learner).map(faults),
            };
        }
        match mine {
            Some(faults) => vec![faults],
            None => spec
                .scenario
                .iter()
                .flat_map(|scenario| scenario.variants.iter().map(faults))
                .filter(|faults| !faults.is_empty())
                .collect(),
        }
    }

    async fn join(&self, name: &str, key: &LearnerKey) -> Result<Option<LearnerId>, GradingError> {
        let id = LearnerId::for_name(name);
        let Some(progress) = self.store() else {
            // Nothing is remembered, so there is nothing to claim.
            return Ok(Some(id));
        };
        let claimed = progress
            .claim(&id, name, &key.hash())
            .await
            .map_err(unavailable)?;
        Ok(claimed.map(|_| id))
    }

    async fn rejoin(&self, key: &LearnerKey) -> Result<Option<(LearnerId, String)>, GradingError> {
        let Some(progress) = self.store() else {
            return Ok(None);
        };
        let learner = progress
            .learner_by_key(&key.hash())
            .await
            .map_err(unavailable)?;
        Ok(learner.map(|l| (l.id, l.display_name)))
    }

    async fn submit(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        submission: Submission,
    ) -> Result<Feedback, GradingError> {
        let graded = self
            .grader
            .submit(learner, lab, exercise, &their_submission(submission))
            .await
            .map_err(grading_error)?;
        Ok(feedback(&graded.feedback))
    }

    async fn grade_alert(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        rule: RuleSpec,
        progress: Arc<dyn Fn(AlertProgress) + Send + Sync>,
    ) -> Result<Feedback, GradingError> {
        let report = move |step: alert::Progress| progress(alert_progress(&step));
        let graded = self
            .grader
            .submit_reporting(
                learner,
                lab,
                exercise,
                &GraderSubmission::Rule(rule),
                &report,
            )
            .await
            .map_err(grading_error)?;
        Ok(feedback(&graded.feedback))
    }

    async fn question(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
    ) -> Result<Option<String>, GradingError> {
        self.grader
            .question(learner, lab, exercise)
            .await
            .map_err(grading_error)
    }

    async fn hint(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        index: usize,
    ) -> Result<String, GradingError> {
        let hints = self
            .grader
            .hints(learner, lab, exercise, index + 1)
            .await
            .map_err(grading_error)?;
        hints.into_iter().nth(index).ok_or_else(|| {
            GradingError::Invalid("there are no more hints for this exercise".into())
        })
    }

    async fn attempts(&self, learner: &LearnerId, lab: &str) -> Result<Vec<Attempt>, GradingError> {
        let Some(progress) = self.store() else {
            return Ok(Vec::new());
        };
        let Some(spec) = self.grader.labs().get(lab) else {
            return Err(GradingError::UnknownLab(lab.to_string()));
        };
        let mut stored = Vec::new();
        for exercise in &spec.exercises {
            stored.extend(
                progress
                    .attempts(learner, lab, &exercise.id, ATTEMPTS_SHOWN)
                    .await
                    .map_err(unavailable)?,
            );
        }
        stored.sort_by_key(|a| std::cmp::Reverse((a.created_at_ms, a.id)));
        Ok(stored
            .into_iter()
            .map(|a| {
                let (answer, explanation_markdown) = describe(&a.submission);
                let verdict = serde_json::from_value::<GraderFeedback>(a.feedback.clone())
                    .map(|f| feedback(&f))
                    .unwrap_or_else(|_| Feedback {
                        passed: a.passed,
                        score: (a.score.clamp(0.0, 1.0) * 100.0).round() as u8,
                        summary: String::new(),
                        items: Vec::new(),
                    });
                Attempt {
                    exercise: a.exercise,
                    answer,
                    explanation_markdown,
                    feedback: verdict,
                    at: when(a.created_at_ms),
                }
            })
            .collect())
    }

    async fn progress(&self, learner: &LearnerId) -> Result<Vec<ExerciseProgress>, GradingError> {
        let Some(progress) = self.store() else {
            return Ok(Vec::new());
        };
        let scores = progress.scores(learner).await.map_err(unavailable)?;
        Ok(scores
            .into_iter()
            .filter(|s| s.attempts > 0)
            .map(|s| ExerciseProgress {
                lab: s.lab,
                exercise: s.exercise,
                passed: s.passed,
                best_score: (s.best_score.clamp(0.0, 1.0) * 100.0).round() as u8,
                attempts: u32::try_from(s.attempts).unwrap_or(u32::MAX),
            })
            .collect())
    }

    async fn class_progress(&self) -> Result<Vec<LearnerProgress>, GradingError> {
        let Some(progress) = self.store() else {
            return Ok(Vec::new());
        };
        let learners = progress.learners().await.map_err(unavailable)?;
        let mut out = Vec::with_capacity(learners.len());
        for learner in learners {
            let id = learner.id;
            out.push(LearnerProgress {
                exercises: Grading::progress(self, &id).await?,
                learner: id,
                name: learner.display_name,
            });
        }
        Ok(out)
    }

    async fn reset_learner(&self, learner: &LearnerId) -> Result<(), GradingError> {
        let Some(progress) = self.store() else {
            return Ok(());
        };
        if progress
            .learner(learner)
            .await
            .map_err(unavailable)?
            .is_none()
        {
            return Err(GradingError::Invalid(format!(
                "there is no learner with the id {:?}",
                learner.as_str()
            )));
        }
        progress.reset_learner(learner).await.map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_795_320_000_000), "2026-11-22 04:00 UTC");
    }
}
