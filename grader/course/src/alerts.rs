//! A learner's trace-based alert rules: [`RuleDraft::check`] turns a submitted form into a
//! rule or into errors naming the field (a caret under a query that does not parse, the same
//! as the console's); [`AlertStore`] is where rules are kept (the `dojo` command keeps them in
//! the progress database). What a rule means and how it is evaluated is
//! [`dojo_grader::alerting`]; the continuous evaluation is `alert_evaluation`, the page
//! `routes::alerts`, the Grafana and Prometheus export `alert_export`.

use std::time::Duration;

use async_trait::async_trait;
use dojo_grader::alerting::{AlertRule, Condition, Evaluation, Severity};

use crate::backend::LearnerId;
use crate::dashboards::{FieldError, MAX_TITLE_CHARS, metrics_query_error};

/// Most rules one learner keeps.
pub const MAX_RULES: usize = 10;
/// The longest "for" a rule may have.
pub const MAX_FOR: Duration = Duration::from_secs(60 * 60);

/// A saved rule.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRule {
    pub id: i64,
    pub name: String,
    pub rule: AlertRule,
}

/// A checked rule, ready to save.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDraft {
    pub name: String,
    pub rule: AlertRule,
}

/// The fields of the rule form, as submitted.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleForm<'a> {
    pub name: &'a str,
    pub query: &'a str,
    pub condition: &'a str,
    pub threshold: &'a str,
    pub for_duration: &'a str,
    pub severity: &'a str,
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
        caret: None,
        hint: None,
    }
}

/// `30s`, `1m`, `2m30s`, `1h`, or a bare number of seconds.
pub fn parse_for(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    (number.is_empty() && !text.is_empty()).then(|| Duration::from_secs(total))
}

/// A duration as a "for" is written back: `45s`, `2m`, `1m30s`.
pub fn format_for(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

impl RuleDraft {
    /// Checks a submitted rule: a name, a TraceQL **metrics** query that parses, a condition,
    /// a numeric threshold, a "for" no shorter than `interval` (a shorter one could never be
    /// seen to hold) and a severity. Every wrong field gets its own error.
    pub fn check(form: RuleForm<'_>, interval: Duration) -> Result<RuleDraft, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = form.name.trim();
        if name.is_empty() {
            errors.push(field_error(
                "name",
                "Give the rule a name, such as “Checkout errors”.",
            ));
        } else if name.chars().count() > MAX_TITLE_CHARS {
            errors.push(field_error(
                "name",
                format!("The name is longer than {MAX_TITLE_CHARS} characters."),
            ));
        }
        let query = form.query.trim();
        errors.extend(metrics_query_error(
            query,
            "Write a TraceQL metrics query, such as { status = error } | rate().",
            "This is a search query: it finds traces, and a rule needs a number to compare with the threshold.",
        ));
        let condition = Condition::parse(form.condition);
        if condition.is_none() {
            errors.push(field_error(
                "condition",
                "Pick whether the rule fires above or below the threshold.",
            ));
        }
        let threshold = form.threshold.trim();
        let parsed_threshold = threshold.parse::<f64>().ok().filter(|t| t.is_finite());
        if parsed_threshold.is_none() {
            let mut error = field_error(
                "threshold",
                if threshold.is_empty() {
                    "Give the threshold as a number, such as 0.5.".to_string()
                } else {
                    format!(
                        "The threshold must be a number, such as 0.5; “{threshold}” is not one."
                    )
                },
            );
            error.hint = Some(
                "durations are in seconds (500 ms is 0.5) and rates per second; a ratio is 0–1 (5 % is 0.05)"
                    .into(),
            );
            errors.push(error);
        }
        let for_duration = parse_for(form.for_duration);
        match for_duration {
            None => errors.push(field_error(
                "for",
                format!(
                    "Write how long the condition must hold as seconds or minutes, such as 30s or 2m; “{}” is not a duration.",
                    form.for_duration.trim()
                ),
            )),
            Some(d) if d < interval => errors.push(field_error(
                "for",
                format!(
                    "The “for” must be at least the evaluation interval, {}: rules are evaluated every {}, so a shorter one could never be seen to hold.",
                    format_for(interval),
                    format_for(interval)
                ),
            )),
            Some(d) if d > MAX_FOR => errors.push(field_error(
                "for",
                format!("The “for” can be at most {}.", format_for(MAX_FOR)),
            )),
            Some(_) => {}
        }
        let severity = Severity::parse(form.severity);
        if severity.is_none() {
            errors.push(field_error("severity", "Pick a severity from the list."));
        }
        match (condition, parsed_threshold, for_duration, severity) {
            (Some(condition), Some(threshold), Some(for_duration), Some(severity))
                if errors.is_empty() =>
            {
                Ok(RuleDraft {
                    name: name.to_string(),
                    rule: AlertRule {
                        query: query.to_string(),
                        condition,
                        threshold,
                        for_duration,
                        severity,
                    },
                })
            }
            _ => Err(errors),
        }
    }
}

/// The place rules are kept failed (not the learner's input).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the alert rule store is not answering: {0}")]
pub struct AlertStoreError(pub String);

/// Where learners' alert rules are kept. Every call but [`AlertStore::all_rules`] (the
/// evaluation's) names the learner: a learner only ever reads and changes their own rules.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// The learner's rules, oldest first.
    async fn rules(&self, learner: &LearnerId) -> Result<Vec<SavedRule>, AlertStoreError>;
    /// Every learner's rules, for the continuous evaluation.
    async fn all_rules(&self) -> Result<Vec<(LearnerId, SavedRule)>, AlertStoreError>;
    /// Adds a rule; `None` when the learner already has `cap` rules.
    async fn add(
        &self,
        learner: &LearnerId,
        draft: &RuleDraft,
        cap: usize,
    ) -> Result<Option<SavedRule>, AlertStoreError>;
    /// Deletes one of the learner's rules; false when they have none with that id.
    async fn delete(&self, learner: &LearnerId, id: i64) -> Result<bool, AlertStoreError>;
    /// Records where rule `id` stands, so a restart picks up from there (a store that keeps
    /// nothing across restarts need not).
    async fn save_state(&self, id: i64, evaluation: &Evaluation) -> Result<(), AlertStoreError> {
        let _ = (id, evaluation);
        Ok(())
    }
    /// Where every rule stood when last recorded: (learner, rule id, evaluation).
    async fn states(&self) -> Result<Vec<(LearnerId, i64, Evaluation)>, AlertStoreError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(threshold: &'a str, for_duration: &'a str) -> RuleForm<'a> {
        RuleForm {
            name: "Checkout errors",
            query: "{ status = error } | rate()",
            condition: "above",
            threshold,
            for_duration,
            severity: "critical",
        }
    }

    #[test]
    fn a_rule_needs_a_metrics_query_a_number_and_a_for_of_at_least_the_interval() {
        let interval = Duration::from_secs(15);
        let draft = RuleDraft::check(form("0.25", "1m"), interval).expect("a valid rule");
        assert_eq!(draft.rule.threshold, 0.25);
        assert_eq!(draft.rule.for_duration, Duration::from_secs(60));
        assert_eq!(draft.rule.condition, Condition::Above);
        assert_eq!(draft.rule.severity, Severity::Critical);

        let errors = RuleDraft::check(form("500ms", "10s"), interval).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["threshold", "for"]);
        assert!(
            errors[0].message.contains("“500ms” is not one"),
            "{errors:?}"
        );
        assert!(
            errors[0]
                .hint
                .as_deref()
                .unwrap_or("")
                .contains("500 ms is 0.5")
        );
        assert!(errors[1].message.contains("every 15s"), "{errors:?}");

        let errors = RuleDraft::check(
            RuleForm {
                name: " ",
                query: "{ status = error }",
                condition: "sideways",
                threshold: "1",
                for_duration: "soon",
                severity: "apocalyptic",
            },
            interval,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec!["name", "query", "condition", "for", "severity"]
        );
        assert!(errors[1].message.contains("search query"), "{errors:?}");
    }

    #[test]
    fn a_rule_query_that_does_not_parse_gets_the_consoles_caret() {
        let mut bad = form("1", "30s");
        bad.query = "{ status = error } | rate(";
        let errors = RuleDraft::check(bad, Duration::from_secs(15)).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "query");
        let caret = errors[0].caret.as_deref().expect("a caret");
        assert!(caret.starts_with(bad.query), "{caret}");
        assert!(caret.ends_with('^'), "{caret}");
    }

    #[test]
    fn for_durations_are_read_and_written_in_seconds_and_minutes() {
        assert_eq!(parse_for("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_for("2m30s"), Some(Duration::from_secs(150)));
        assert_eq!(parse_for(" 1h "), Some(Duration::from_secs(3600)));
        assert_eq!(parse_for("1.5m"), None);
        assert_eq!(parse_for("m"), None);
        assert_eq!(parse_for("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_for("30x"), None);
        assert_eq!(parse_for(""), None);
        assert_eq!(format_for(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_for(Duration::from_secs(120)), "2m");
        assert_eq!(format_for(Duration::from_secs(15)), "15s");
    }
}
