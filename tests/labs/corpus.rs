//! An independent corpus of answers, graded on the live shop as a teacher would grade them.
//!
//! The answers in `tests/labs/corpus/*.yaml` were written from the course as a learner sees it
//! (lab pages, lessons, exercise prompts), not from the labs' references or `must_refuse`
//! lists: equivalent rewrites of right answers, and the near misses people really write. Each
//! carries the verdict a teacher would give and why. Every answer is graded twice on the same
//! running shop; an answer a teacher accepts must pass both times (never "not enough traffic"
//! once the shop has warmed up), and one a teacher refuses must never pass. So a grader that
//! only knows its own lab's near misses, or traffic that cannot tell an answer from a near
//! miss, fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dojo_grader::check::dashboard::{DashboardAnswer, SubmittedPanel};
use dojo_grader::check::feedback::{Feedback, Verdict};
use dojo_grader::check::root_cause::Report;
use dojo_grader::progress::LearnerId;
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::LabSet;
use dojo_grader::spec::types::Check;
use serde::Deserialize;

use crate::shop::Shop;

/// One corpus file: the answers to one lab's exercises.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    lab: String,
    answers: Vec<Answer>,
}

/// What a teacher says of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Expect {
    /// Right: it must pass.
    Pass,
    /// Wrong: it must not pass (refused, or "not enough traffic yet").
    Refuse,
}

/// One answer and the verdict a teacher gives it. Exactly one of `query`, `panels`, `report`,
/// `choices` or `same_position` is the answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    exercise: String,
    /// For a lab with several fault variants: the variant of the learner who submits.
    #[serde(default)]
    variant: Option<String>,
    expect: Expect,
    why: String,
    /// Set where the lab's traffic cannot yet tell this answer from the reference and no
    /// contrast traffic has been found for it: graded and printed, not asserted. Says why.
    #[serde(default)]
    known_gap: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    panels: Option<Vec<String>>,
    #[serde(default)]
    report: Option<ReportAnswer>,
    /// The report's evidence: the newest `count` traces this query finds.
    #[serde(default)]
    evidence: Option<EvidenceQuery>,
    /// `other`: `$learner` in the evidence query is a classmate, not the submitter.
    #[serde(default)]
    evidence_from: Option<String>,
    /// Quiz answers by the start of the chosen choice's text.
    #[serde(default)]
    choices: Option<BTreeMap<String, String>>,
    /// Quiz answers: the same position (0 = the first choice shown) for every question.
    #[serde(default)]
    same_position: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportAnswer {
    service: String,
    operation: String,
    fault: String,
    explanation: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceQuery {
    query: String,
    count: usize,
}

/// Who submits: the default learner of each lab, one per variant where a lab has several,
/// and the classmate whose traces a report may wrongly cite.
pub struct Learners<'a> {
    pub by_lab: BTreeMap<&'a str, &'a LearnerId>,
    pub by_variant: BTreeMap<&'a str, &'a LearnerId>,
    pub classmate: &'a LearnerId,
    pub other_classmate: &'a LearnerId,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/labs/corpus")
}

fn load_corpus() -> Vec<CorpusFile> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the corpus folder exists")
        .map(|entry| entry.expect("the corpus folder is readable").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("a corpus file is readable");
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Grades every corpus answer twice on the running shop and fails with every verdict a
/// teacher would not sign (and the figures per lab).
pub async fn every_corpus_answer_gets_the_teachers_verdict(
    labs: &LabSet,
    shop: &Shop,
    learners: &Learners<'_>,
) {
    let grader = Grader::new(labs.clone(), shop.backend(), None);
    let corpus = load_corpus();
    let mut wrong = Vec::new();
    let mut sizes = Vec::new();
    for round in 1..=2 {
        for file in &corpus {
            if round == 1 {
                sizes.push(format!("{} {}", file.lab, file.answers.len()));
            }
            for answer in &file.answers {
                let who = match &answer.variant {
                    Some(variant) => learners.by_variant.get(variant.as_str()),
                    None => learners.by_lab.get(file.lab.as_str()),
                }
                .unwrap_or_else(|| panic!("{}: no learner for {answer:?}", file.lab));
                let submission =
                    match submission(labs, &grader, shop, learners, &file.lab, who, answer).await {
                        Ok(submission) => submission,
                        Err(problem) => {
                            wrong.push(format!("round {round}: {problem}"));
                            continue;
                        }
                    };
                let feedback: Feedback = grader
                    .grade(who, &file.lab, &answer.exercise, &submission)
                    .await
                    .unwrap_or_else(|e| panic!("{}/{}: {e}", file.lab, answer.exercise));
                let right = match answer.expect {
                    Expect::Pass => feedback.verdict == Verdict::Pass,
                    Expect::Refuse => feedback.verdict != Verdict::Pass,
                };
                if let Some(gap) = &answer.known_gap {
                    eprintln!(
                        "corpus, round {round}: known gap {}/{} {:?} got {:?}: {gap}",
                        file.lab,
                        answer.exercise,
                        answer_text(answer),
                        feedback.verdict
                    );
                } else if !right {
                    let what = match answer.expect {
                        Expect::Pass => "false refusal",
                        Expect::Refuse => "false accept",
                    };
                    wrong.push(format!(
                        "round {round}, {what}: {}/{} {:?} ({}):\n{}",
                        file.lab,
                        answer.exercise,
                        answer_text(answer),
                        answer.why,
                        feedback.to_text()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} verdicts a teacher would not sign (corpus: {}):\n\n{}",
        wrong.len(),
        sizes.join(", "),
        wrong.join("\n\n")
    );
}

fn answer_text(answer: &Answer) -> String {
    if let Some(query) = &answer.query {
        return query.clone();
    }
    if let Some(panels) = &answer.panels {
        return panels.join(" ; ");
    }
    if let Some(report) = &answer.report {
        return format!(
            "{} / {} / {}",
            report.service, report.operation, report.fault
        );
    }
    if let Some(position) = answer.same_position {
        return format!("choice {position} everywhere");
    }
    "quiz answers".into()
}

/// The submission a learner would send for this answer.
async fn submission(
    labs: &LabSet,
    grader: &Grader,
    shop: &Shop,
    learners: &Learners<'_>,
    lab: &str,
    who: &LearnerId,
    answer: &Answer,
) -> Result<Submission, String> {
    if let Some(query) = &answer.query {
        return Ok(Submission::Query(query.clone()));
    }
    if let Some(panels) = &answer.panels {
        return Ok(Submission::Panels(DashboardAnswer {
            service: String::new(),
            panels: panels
                .iter()
                .enumerate()
                .map(|(i, query)| SubmittedPanel {
                    title: format!("Panel {}", i + 1),
                    query: query.clone(),
                })
                .collect(),
        }));
    }
    if let Some(report) = &answer.report {
        let evidence = answer
            .evidence
            .as_ref()
            .unwrap_or_else(|| panic!("{lab}/{}: a report cites evidence", answer.exercise));
        let cited = if answer.evidence_from.as_deref() == Some("other") {
            if learners.classmate == who {
                learners.other_classmate
            } else {
                learners.classmate
            }
        } else {
            who
        };
        let query = evidence.query.replace("$learner", cited.as_str());
        let ids = shop.find(&query, evidence.count).await;
        if ids.len() != evidence.count {
            return Err(format!(
                "{lab}/{}: the evidence query {query} found {} traces, {} are cited",
                answer.exercise,
                ids.len(),
                evidence.count
            ));
        }
        return Ok(Submission::Report(Report {
            service: report.service.clone(),
            operation: report.operation.clone(),
            fault: report.fault.clone(),
            evidence: ids,
            explanation: report.explanation.clone(),
            deployment: String::new(),
        }));
    }
    Ok(quiz_answers(labs, grader, lab, who, answer))
}

/// Quiz answers as positions in the order this learner sees the choices.
fn quiz_answers(
    labs: &LabSet,
    grader: &Grader,
    lab: &str,
    who: &LearnerId,
    answer: &Answer,
) -> Submission {
    let (_, exercise) = labs
        .exercise(lab, &answer.exercise)
        .unwrap_or_else(|| panic!("{lab}/{} exists", answer.exercise));
    let Check::Quiz(quiz) = &exercise.check else {
        panic!("{lab}/{} is not a quiz", answer.exercise)
    };
    let layout = grader
        .quiz_layout(who, lab, &answer.exercise)
        .expect("a quiz has a layout");
    let positions = quiz
        .questions
        .iter()
        .enumerate()
        .map(|(qi, question)| {
            let position = match (&answer.choices, answer.same_position) {
                (_, Some(position)) => position,
                (Some(choices), None) => {
                    let text = choices
                        .get(&question.id)
                        .unwrap_or_else(|| panic!("the corpus answers {}", question.id));
                    let choice = question
                        .choices
                        .iter()
                        .position(|c| c.starts_with(text.as_str()))
                        .unwrap_or_else(|| {
                            panic!("{}: no choice starts with {text:?}", question.id)
                        });
                    layout[qi]
                        .iter()
                        .position(|&c| c == choice)
                        .expect("every choice is shown")
                }
                (None, None) => panic!("a quiz answer has choices or same_position"),
            };
            (question.id.clone(), position)
        })
        .collect();
    Submission::Answers(positions)
}
