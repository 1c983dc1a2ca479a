//! A learner's dashboard: panels, each a TraceQL metrics query drawn as a time-series chart.
//! [`PanelStore`] is where panels are kept (the `dojo` command keeps them in the progress
//! database); [`PanelDraft::check`] turns a submitted form into a panel or into errors that
//! name the field (with a caret under a query that does not parse). The page is
//! `routes::dashboards`, the chart `pictures::timeseries`.

use async_trait::async_trait;

use dojo_grader::backend::BackendError;

use crate::backend::LearnerId;

/// Most panels one learner keeps.
pub const MAX_PANELS: usize = 20;
/// Longest panel title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// Longest panel query, in bytes.
pub const MAX_QUERY_BYTES: usize = 4 * 1024;

/// What a panel's values are in: the value axis and the table label them with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain number (`count_over_time()`).
    Count,
    /// Per second (`rate()`).
    PerSecond,
    /// Seconds (durations: `quantile_over_time(duration, .95)`).
    Seconds,
    /// A ratio shown as a percentage (0.25 → 25 %).
    Percent,
}

impl Unit {
    pub const ALL: [Unit; 4] = [Unit::PerSecond, Unit::Count, Unit::Seconds, Unit::Percent];

    /// The name stored and sent in forms.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::PerSecond => "per_second",
            Unit::Seconds => "seconds",
            Unit::Percent => "percent",
        }
    }

    /// The unit in two words, beside a panel's query.
    pub fn short(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::PerSecond => "per second",
            Unit::Seconds => "seconds",
            Unit::Percent => "percent",
        }
    }

    /// What the form's menu says.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Count => "count (a plain number)",
            Unit::PerSecond => "per second (rate)",
            Unit::Seconds => "seconds (durations)",
            Unit::Percent => "percent (a ratio 0–1)",
        }
    }

    pub fn parse(name: &str) -> Option<Unit> {
        Unit::ALL.into_iter().find(|u| u.name() == name)
    }

    /// A value as a person reads it in this unit: `12.5/s`, `850 ms`, `25 %`, `3`.
    pub fn format(self, value: f64) -> String {
        if !value.is_finite() {
            return "–".to_string();
        }
        match self {
            Unit::Count => short(value),
            Unit::PerSecond => format!("{}/s", short(value)),
            Unit::Percent => format!("{} %", short(value * 100.0)),
            Unit::Seconds => {
                let abs = value.abs();
                if abs == 0.0 {
                    "0 s".to_string()
                } else if abs < 1e-3 {
                    format!("{} µs", short(value * 1e6))
                } else if abs < 1.0 {
                    format!("{} ms", short(value * 1e3))
                } else {
                    format!("{} s", short(value))
                }
            }
        }
    }
}

/// A number with at most three significant digits after the point, trailing zeros dropped.
fn short(value: f64) -> String {
    let text = if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A saved panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub id: i64,
    pub title: String,
    pub query: String,
    pub unit: Unit,
}

/// A checked panel, ready to save.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelDraft {
    pub title: String,
    pub query: String,
    pub unit: Unit,
}

/// A form field that is wrong, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The form field's name (`title`, `query`, `unit`).
    pub field: &'static str,
    pub message: String,
    /// For a query: its faulty line with a caret under the column.
    pub caret: Option<String>,
    pub hint: Option<String>,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
            caret: None,
            hint: None,
        }
    }
}

impl PanelDraft {
    /// Checks a submitted panel: a title, a TraceQL **metrics** query that parses, a known
    /// unit. Every wrong field gets its own error.
    pub fn check(title: &str, query: &str, unit: &str) -> Result<PanelDraft, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = title.trim();
        if title.is_empty() {
            errors.push(FieldError::new(
                "title",
                "Give the panel a title, such as “Checkout requests per second”.",
            ));
        } else if title.chars().count() > MAX_TITLE_CHARS {
            errors.push(FieldError::new(
                "title",
                format!("The title is longer than {MAX_TITLE_CHARS} characters."),
            ));
        }
        let query = query.trim();
        errors.extend(metrics_query_error(
            query,
            "Write a TraceQL metrics query, such as { kind = server } | rate() by (resource.service.name).",
            "This is a search query: it finds traces, and a panel draws numbers over time.",
        ));
        let parsed_unit = Unit::parse(unit);
        if parsed_unit.is_none() {
            errors.push(FieldError::new(
                "unit",
                "Pick the unit of the values from the list.",
            ));
        }
        match parsed_unit {
            Some(unit) if errors.is_empty() => Ok(PanelDraft {
                title: title.to_string(),
                query: query.to_string(),
                unit,
            }),
            _ => Err(errors),
        }
    }
}

/// What is wrong with `query` (trimmed) as a metrics query, as the `query` field's error: empty
/// (`when_empty` says what to write), too long, not parsing (with the console's caret), or a
/// search query (`when_search` says why a metrics function is needed). `None` when it is a
/// metrics query that parses. Panels and alert rules both check their query with it.
pub fn metrics_query_error(query: &str, when_empty: &str, when_search: &str) -> Option<FieldError> {
    if query.is_empty() {
        return Some(FieldError::new("query", when_empty));
    }
    if query.len() > MAX_QUERY_BYTES {
        return Some(FieldError::new(
            "query",
            format!("The query is longer than {MAX_QUERY_BYTES} bytes."),
        ));
    }
    match dojo_grader::backend::parse_query(query) {
        Err(error) => Some(query_field_error(&error, query)),
        Ok(parsed) if !parsed.is_metrics() => {
            let mut error = FieldError::new("query", when_search);
            error.hint = Some(
                "end it with a metrics function, such as | rate() or | quantile_over_time(duration, .95)"
                    .into(),
            );
            Some(error)
        }
        Ok(_) => None,
    }
}

/// A query error as a field error, with the caret when the engine knows where it went wrong.
pub fn query_field_error(error: &BackendError, query: &str) -> FieldError {
    let (message, hint) = match error {
        BackendError::InvalidQuery { message, hint, .. } => (message.clone(), hint.clone()),
        other => (other.to_string(), None),
    };
    FieldError {
        field: "query",
        message,
        caret: error.caret(query),
        hint,
    }
}

/// The place panels are kept failed (not the learner's input).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the dashboard store is not answering: {0}")]
pub struct PanelStoreError(pub String);

/// Where a learner's panels are kept. Every call names the learner: a learner only ever
/// reads and changes their own panels.
#[async_trait]
pub trait PanelStore: Send + Sync {
    /// The learner's panels, top first.
    async fn panels(&self, learner: &LearnerId) -> Result<Vec<Panel>, PanelStoreError>;
    /// Adds a panel at the bottom; `None` when the learner already has `cap` panels.
    async fn add(
        &self,
        learner: &LearnerId,
        draft: &PanelDraft,
        cap: usize,
    ) -> Result<Option<Panel>, PanelStoreError>;
    /// Deletes one of the learner's panels; false when they have none with that id.
    async fn delete(&self, learner: &LearnerId, id: i64) -> Result<bool, PanelStoreError>;
    /// Moves a panel one place up (or down); false when it cannot move.
    async fn move_panel(
        &self,
        learner: &LearnerId,
        id: i64,
        up: bool,
    ) -> Result<bool, PanelStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_in_their_unit() {
        assert_eq!(Unit::PerSecond.format(12.5), "12.5/s");
        assert_eq!(Unit::Seconds.format(0.85), "850 ms");
        assert_eq!(Unit::Seconds.format(1.25), "1.25 s");
        assert_eq!(Unit::Seconds.format(0.00042), "420 µs");
        assert_eq!(Unit::Percent.format(0.25), "25 %");
        assert_eq!(Unit::Count.format(3.0), "3");
        assert_eq!(Unit::Count.format(f64::NAN), "–");
    }

    #[test]
    fn a_panel_needs_a_title_a_metrics_query_and_a_unit() {
        let draft = PanelDraft::check(
            " Requests ",
            "{ kind = server } | rate() by (resource.service.name)",
            "per_second",
        )
        .expect("a valid panel");
        assert_eq!(draft.title, "Requests");
        assert_eq!(draft.unit, Unit::PerSecond);

        let errors = PanelDraft::check("", "{ kind = server }", "furlongs").unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["title", "query", "unit"]);
        assert!(errors[1].message.contains("search query"), "{errors:?}");
    }

    #[test]
    fn a_query_that_does_not_parse_gets_a_caret() {
        let query = "{ } | rate() by (resource.service.name";
        let errors = PanelDraft::check("Rate", query, "per_second").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].caret.as_deref(),
            Some(format!("{query}\n{}^", " ".repeat(query.len())).as_str())
        );
    }
}
