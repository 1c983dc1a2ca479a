//! Reading the answer files of `dojo grade` (a root-cause report, quiz answers), YAML or
//! JSON, with errors that name the file, the field and what was expected in plain words —
//! not a parser's message about "invalid type: sequence".

use std::collections::BTreeMap;
use std::path::Path;

use dojo_grader::check::root_cause::Report;
use dojo_grader::spec::types::{QuizCheck, RuleSpec};
use serde_yaml::Value;

/// What is wrong with an answer file.
#[derive(Debug, thiserror::Error)]
pub enum AnswerFileError {
    #[error("cannot read the {what} file {path}: {source}")]
    Unreadable {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the {what} file {path} is not YAML or JSON ({reason})")]
    NotYaml {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("the {what} file {path}: {problem}")]
    Field {
        what: &'static str,
        path: String,
        problem: String,
    },
}

const REPORT_FIELDS: &str = "service, operation, fault, evidence, explanation";
/// Asked only by exercises about a regression a deploy brought (Lab 5).
const DEPLOYMENT_FIELD: &str = "deployment";

fn load(path: &Path, what: &'static str) -> Result<Value, AnswerFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| AnswerFileError::Unreadable {
        what,
        path: path.display().to_string(),
        source,
    })?;
    // YAML is a superset of JSON, so one reader takes both.
    serde_yaml::from_str(&text).map_err(|e| AnswerFileError::NotYaml {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// What a YAML value is, in words.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a set of fields",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A scalar as text (a number or true/false written where text was meant is fine).
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The fields of an alert rule file.
const RULE_FIELDS: &str = "query, condition, threshold, for, severity";

/// Reads an alert rule (query, condition, threshold, for, severity).
pub fn read_rule(path: &Path) -> Result<RuleSpec, AnswerFileError> {
    const WHAT: &str = "rule";
    let value = load(path, WHAT)?;
    if !matches!(value, Value::Mapping(_)) {
        return Err(AnswerFileError::Field {
            what: WHAT,
            path: path.display().to_string(),
            problem: format!(
                "expected the fields {RULE_FIELDS}, one per line (`condition: above`), but the file holds {}",
                kind(&value)
            ),
        });
    }
    serde_yaml::from_value(value).map_err(|e| AnswerFileError::Field {
        what: WHAT,
        path: path.display().to_string(),
        problem: format!("{e}; a rule has {RULE_FIELDS} (`for` and `severity` may be left out)"),
    })
}

/// Reads a root-cause report: `service`, `operation`, `fault`, `evidence` (a list of trace
/// ids, or one id), `explanation`, and `deployment` (a `deployment.id` or a version) for an
/// exercise about a regression a deploy brought.
pub fn read_report(path: &Path) -> Result<Report, AnswerFileError> {
    const WHAT: &str = "report";
    let problem = |problem: String| AnswerFileError::Field {
        what: WHAT,
        path: path.display().to_string(),
        problem,
    };
    let value = load(path, WHAT)?;
    let Value::Mapping(fields) = value else {
        return Err(problem(format!(
            "expected the fields {REPORT_FIELDS}, one per line (`service: api`), but the file holds {}",
            kind(&value)
        )));
    };
    for key in fields.keys() {
        let name = as_text(key).unwrap_or_default();
        if !REPORT_FIELDS.split(", ").any(|f| f == name) && name != DEPLOYMENT_FIELD {
            return Err(problem(format!(
                "there is no field `{name}` in a report; the fields are {REPORT_FIELDS} (and \
                 `{DEPLOYMENT_FIELD}` when the exercise asks which deploy brought the fault)"
            )));
        }
    }
    let text = |name: &str| -> Result<String, AnswerFileError> {
        match fields.get(name) {
            None | Some(Value::Null) => Err(problem(format!(
                "the field `{name}` is missing; a report has {REPORT_FIELDS}"
            ))),
            Some(value) => as_text(value).ok_or_else(|| {
                problem(format!(
                    "the field `{name}` should be text, but it is {}",
                    kind(value)
                ))
            }),
        }
    };
    let evidence = match fields.get("evidence") {
        None | Some(Value::Null) => {
            return Err(problem(
                "the field `evidence` is missing: list the ids of traces that show the fault"
                    .into(),
            ));
        }
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                as_text(item).ok_or_else(|| {
                    problem(format!(
                        "evidence item {} should be a trace id (32 hex digits), but it is {}",
                        i + 1,
                        kind(item)
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(one)) => one
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(other) => {
            return Err(problem(format!(
                "the field `evidence` should be a list of trace ids, but it is {}",
                kind(other)
            )));
        }
    };
    Ok(Report {
        service: text("service")?,
        operation: text("operation")?,
        fault: text("fault")?,
        evidence,
        explanation: text("explanation")?,
        deployment: match fields.get(DEPLOYMENT_FIELD) {
            None | Some(Value::Null) => String::new(),
            Some(value) => as_text(value).ok_or_else(|| {
                problem(format!(
                    "the field `deployment` should be text (a deployment.id or a version like \
                     1.4.0), but it is {}",
                    kind(value)
                ))
            })?,
        },
    })
}

/// Reads quiz answers: question id → the chosen answer, as its position in the order you
/// see the choices (0 for the first), its letter (`a`, `b`, …) or its text.
/// `quiz` is the quiz with the learner's order of each question's choices (`None` when the
/// exercise is not a quiz: then only numbers and letters are read).
pub fn read_answers(
    path: &Path,
    quiz: Option<(&QuizCheck, Vec<Vec<usize>>)>,
) -> Result<BTreeMap<String, usize>, AnswerFileError> {
    const WHAT: &str = "answers";
    let problem = |problem: String| AnswerFileError::Field {
        what: WHAT,
        path: path.display().to_string(),
        problem,
    };
    let value = load(path, WHAT)?;
    let Value::Mapping(entries) = value else {
        return Err(problem(format!(
            "expected one line per question, `question-id: answer`, but the file holds {}",
            kind(&value)
        )));
    };
    let mut answers = BTreeMap::new();
    for (key, value) in entries {
        let Some(id) = as_text(&key) else {
            return Err(problem(format!(
                "a question id should be text, but one is {}",
                kind(&key)
            )));
        };
        let question = quiz.as_ref().and_then(|(check, layout)| {
            let qi = check.questions.iter().position(|q| q.id == id)?;
            Some((&check.questions[qi], layout.get(qi)))
        });
        let expected =
            "the number of your choice (0 for the first), its letter (a, b, …) or its text";
        let position = match &value {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    problem(format!(
                        "question `{id}`: expected {expected}; {n} is not one"
                    ))
                })?,
            Value::String(text) => {
                let letter = text.trim().to_ascii_lowercase();
                let mut chars = letter.chars();
                match (chars.next(), chars.next()) {
                    (Some(c @ 'a'..='z'), None) => usize::from(c as u8 - b'a'),
                    _ => match question {
                        Some((q, Some(order))) => order
                            .iter()
                            .position(|&c| q.choices.get(c).is_some_and(|t| same_text(t, text)))
                            .ok_or_else(|| {
                                problem(format!(
                                    "question `{id}`: \"{text}\" is not one of its choices; give {expected}"
                                ))
                            })?,
                        // An unknown question: the grader lists it as ignored.
                        _ => 0,
                    },
                }
            }
            other => {
                return Err(problem(format!(
                    "question `{id}`: expected {expected}, but the answer is {}",
                    kind(other)
                )));
            }
        };
        answers.insert(id, position);
    }
    Ok(answers)
}

/// Equal ignoring case, spacing and punctuation.
fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("dojo-answers-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("writable");
        path
    }

    #[test]
    fn malformed_reports_name_the_file_the_field_and_what_was_expected() {
        let cases = [
            (
                "list",
                "- api\n- slow\n",
                "expected the fields service, operation",
            ),
            (
                "unknown",
                "service: api\nservise: x\n",
                "no field `servise`",
            ),
            (
                "missing",
                "service: api\noperation: x\nevidence: []\nexplanation: y\n",
                "the field `fault` is missing",
            ),
            (
                "evidence",
                "service: api\noperation: x\nfault: y\nevidence: {a: 1}\nexplanation: z\n",
                "`evidence` should be a list of trace ids, but it is a set of fields",
            ),
            (
                "service",
                "service: [api]\noperation: x\nfault: y\nevidence: []\nexplanation: z\n",
                "`service` should be text, but it is a list",
            ),
            ("yaml", "service: [api\n", "is not YAML or JSON"),
            (
                "deployment",
                "service: api\noperation: x\nfault: y\nevidence: []\nexplanation: z\ndeployment: [dep-1]\n",
                "`deployment` should be text (a deployment.id or a version",
            ),
        ];
        for (name, text, says) in cases {
            let path = write(name, text);
            let error = read_report(&path).expect_err(name).to_string();
            assert!(error.contains(says), "{name}: {error}");
            assert!(
                error.contains(&path.display().to_string()),
                "{name}: {error}"
            );
            let _ = std::fs::remove_file(path);
        }
        let path = write(
            "ok",
            "service: api\noperation: x\nfault: y\nevidence: 'ab12, cd34'\nexplanation: z\n",
        );
        let report = read_report(&path).expect("a good report");
        assert_eq!(report.evidence, vec!["ab12", "cd34"]);
        assert_eq!(report.deployment, "", "no deployment asked");
        let _ = std::fs::remove_file(path);
        let path = write(
            "deploy",
            "service: api\noperation: x\nfault: y\nevidence: []\nexplanation: z\ndeployment: dep-1a2b\n",
        );
        let report = read_report(&path).expect("a report naming a deployment");
        assert_eq!(report.deployment, "dep-1a2b");
        let _ = std::fs::remove_file(path);
    }
}
