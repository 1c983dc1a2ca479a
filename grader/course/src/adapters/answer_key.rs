//! The instructor's answer key, read from the lab specs the grader grades with: every TraceQL
//! exercise's reference query and the near misses it refuses, the instrumentation lab's
//! assertions, the quiz's answers, and the ground truth of every fault variant. Only the
//! instructor's page shows it; it is built here so the page and the grader can never disagree.

use dojo_grader::spec::types::{Check, Expect, FaultToggle, Lab, Variant};

use crate::backend::{AnswerKeyEntry, AnswerKeyLab};

/// The answer key of one lab.
pub fn lab_answers(lab: &Lab) -> AnswerKeyLab {
    AnswerKeyLab {
        id: lab.id.clone(),
        title: lab.title.clone(),
        exercises: lab
            .exercises
            .iter()
            .map(|exercise| AnswerKeyEntry {
                title: exercise.title.clone(),
                lines: check_answers(&exercise.check),
            })
            .collect(),
        variants: lab
            .scenario
            .iter()
            .flat_map(|scenario| &scenario.variants)
            .map(variant_answers)
            .collect(),
    }
}

fn line(label: impl Into<String>, value: impl Into<String>) -> (String, String) {
    (label.into(), value.into())
}

fn check_answers(check: &Check) -> Vec<(String, String)> {
    match check {
        Check::Traceql(check) => {
            let mut lines = vec![line("Reference query", check.reference.trim())];
            lines.extend(
                check
                    .must_refuse
                    .iter()
                    .map(|near| line("Near miss (refused)", near.trim())),
            );
            lines
        }
        Check::Instrumentation(check) => check
            .assertions
            .iter()
            .map(|assertion| {
                let expect = match assertion.expect {
                    Expect::Present => "present".to_string(),
                    Expect::Absent => "absent".to_string(),
                    Expect::Every => {
                        format!("every trace of {}", assertion.of.as_deref().unwrap_or("?"))
                    }
                };
                line(
                    format!("{} (expect {expect})", assertion.describe),
                    assertion.query.trim(),
                )
            })
            .collect(),
        Check::RootCause(check) => vec![line(
            "Graded against",
            format!(
                "the learner's variant (below): service, operation and fault must match its truth, \
                 and at least {} cited traces must match its evidence query",
                check.min_evidence
            ),
        )],
        Check::Pipeline(check) => vec![
            line(
                "Brief",
                format!(
                    "keep every error and every trace of at least {}, {} % of the rest; never \
                     store {} or a card number",
                    check.keep_slower_than,
                    check.keep_rest_percent,
                    check.never_store.join(", ")
                ),
            ),
            line("Reference settings", check.reference.trim()),
        ],
        Check::Dashboard(check) => check
            .panels
            .iter()
            .map(|panel| {
                line(
                    format!(
                        "{} (within {} %, {} window, {} step)",
                        panel.describe, panel.tolerance_percent, check.window, check.step
                    ),
                    panel.reference.trim(),
                )
            })
            .collect(),
        Check::Alert(check) => std::iter::once(("Reference rule", &check.reference))
            .chain(check.must_refuse.iter().map(|r| ("Near miss (refused)", r)))
            .map(|(label, rule)| {
                line(
                    label,
                    format!(
                        "{} — {} {} for {} ({})",
                        rule.query.trim(),
                        rule.condition,
                        rule.threshold,
                        rule.for_duration,
                        rule.severity
                    ),
                )
            })
            .collect(),
        Check::Numeric(check) => vec![line(
            "Graded against",
            format!(
                "the learner's own traces: the lead time (commit → rollout finished) of the change \
                 named to them, within {} % or {}",
                check.tolerance_percent, check.tolerance_at_least
            ),
        )],
        Check::Quiz(check) => check
            .questions
            .iter()
            .map(|question| {
                let answer = question
                    .choices
                    .get(question.answer)
                    .map(String::as_str)
                    .unwrap_or("?");
                line(
                    question.question.trim(),
                    format!(
                        "choice {} of {}: {answer}\n{}",
                        question.answer + 1,
                        question.choices.len(),
                        question.explanation.trim()
                    ),
                )
            })
            .collect(),
    }
}

fn variant_answers(variant: &Variant) -> AnswerKeyEntry {
    let mut lines = vec![line(
        "Faults",
        variant
            .faults
            .iter()
            .map(describe_toggle)
            .collect::<Vec<_>>()
            .join("\n"),
    )];
    if let Some(truth) = &variant.truth {
        let mut service = truth.service.clone();
        if !truth.service_aliases.is_empty() {
            service.push_str(&format!(" (also: {})", truth.service_aliases.join(", ")));
        }
        let mut operation = truth.operation.clone();
        if !truth.operation_aliases.is_empty() {
            operation.push_str(&format!(" (also: {})", truth.operation_aliases.join(", ")));
        }
        lines.push(line("Service", service));
        lines.push(line("Operation", operation));
        lines.push(line("Fault kind", truth.fault.clone()));
        lines.push(line("Evidence query", truth.evidence.trim()));
        if let Some(deployment) = &truth.deployment {
            lines.push(line(
                "Deployment",
                format!(
                    "the release {} of {} (or its deployment.id); evidence from before and after it",
                    deployment.version, truth.service
                ),
            ));
        }
    }
    AnswerKeyEntry {
        title: format!("Variant {}", variant.id),
        lines,
    }
}

/// `slow_query, 30 % of requests, delay_ms = 900`.
fn describe_toggle(toggle: &FaultToggle) -> String {
    let mut parts = vec![toggle.fault.clone()];
    if let Some(fraction) = toggle.fraction {
        parts.push(format!("{} % of requests", (fraction * 100.0).round()));
    }
    if let Some(version) = &toggle.version {
        parts.push(format!("release {version} only"));
    }
    parts.extend(
        toggle
            .params
            .iter()
            .map(|(name, value)| format!("{name} = {value}")),
    );
    parts.join(", ")
}
