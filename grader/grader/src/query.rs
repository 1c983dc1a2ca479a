//! TraceQL as the grader uses it: the one seam to the engine (`dojo_traceql`), and templates.
//!
//! Queries in lab specs are templates with `$learner` and `$service` placeholders, filled in
//! per learner before they run. Values are escaped for a TraceQL string literal, so a
//! placeholder is always written inside quotes in a spec: `{ span.learner.id = "$learner" }`.

use dojo_traceql::EvalBudget;
use dojo_traceql::model::{Span, Trace};

use crate::check::feedback::SyntaxError;

/// A query that parsed and validated, with the text it came from.
#[derive(Debug, Clone)]
pub struct Parsed {
    text: String,
    query: dojo_traceql::Query,
}

/// A query the engine refused, with the text, for rendering.
#[derive(Debug, Clone)]
pub struct QueryError {
    pub text: String,
    pub error: dojo_traceql::Error,
}

impl QueryError {
    /// One line: position, message and hint.
    pub fn one_line(&self) -> String {
        self.error.one_line(&self.text)
    }

    /// The error as feedback data: line, column, message, hint and the caret picture.
    pub fn syntax(&self) -> SyntaxError {
        let (line, column) = self.error.line_col(&self.text);
        SyntaxError {
            line,
            column,
            message: self.error.message.clone(),
            hint: self.error.hint.clone(),
            rendered: self.error.render(&self.text),
        }
    }
}

impl Parsed {
    /// True for a metrics query (one ending in `| rate()` and the like).
    pub fn is_metrics(&self) -> bool {
        self.query.is_metrics()
    }
}

/// Parses and validates a query.
pub fn parse(text: &str) -> Result<Parsed, QueryError> {
    match dojo_traceql::parse(text) {
        Ok(query) => Ok(Parsed {
            text: text.to_string(),
            query,
        }),
        Err(error) => Err(QueryError {
            text: text.to_string(),
            error,
        }),
    }
}

/// Checks a template from a spec: known placeholders only, and it parses once filled in.
pub fn parse_template(template: &str) -> Result<(), String> {
    check_template(template).map_err(|e| e.to_string())?;
    parse(&render(template, &Vars::SAMPLE))
        .map(|_| ())
        .map_err(|e| format!("the TraceQL does not parse: {}", e.one_line()))
}

impl Parsed {
    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed query, for a backend that evaluates it without parsing the text again.
    pub fn query(&self) -> &dojo_traceql::Query {
        &self.query
    }

    /// True for a search (spanset) query, false for a metrics query.
    pub fn is_search(&self) -> bool {
        !self.query.is_metrics()
    }

    /// The spanset pipeline of a search query.
    pub fn pipeline(&self) -> Option<&dojo_traceql::Pipeline> {
        self.query.pipeline()
    }

    /// The canonical TraceQL of the query.
    pub fn canonical(&self) -> String {
        self.query.to_string()
    }

    /// The spans of `trace` in any spanset the query returns; empty when the trace does not
    /// match. Runs with the engine's default budget, as the store's search does.
    pub fn matching_spans<'t>(&self, trace: &'t Trace) -> Result<Vec<&'t Span>, QueryError> {
        let mut budget = EvalBudget::default();
        let sets =
            dojo_traceql::evaluate_trace(&self.query, trace, &mut budget).map_err(|error| {
                QueryError {
                    text: self.text.clone(),
                    error,
                }
            })?;
        let mut indexes: Vec<usize> = sets.iter().flat_map(|s| s.spans.iter().copied()).collect();
        indexes.sort_unstable();
        indexes.dedup();
        Ok(indexes
            .into_iter()
            .filter_map(|i| trace.spans.get(i))
            .collect())
    }
}

/// The values a template may use.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// The learner's id (also their `learner.id` baggage and span attribute).
    pub learner: &'a str,
    /// The service under test, for instrumentation checks.
    pub service: &'a str,
}

impl Vars<'static> {
    /// Stand-in values used to check a template when a spec is loaded.
    pub const SAMPLE: Vars<'static> = Vars {
        learner: "sample-learner",
        service: "sample-service",
    };
}

/// The placeholders a template may contain.
pub const PLACEHOLDERS: [&str; 2] = ["learner", "service"];

/// Why a template is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`${name}` is not a placeholder the grader fills in; use $learner or $service")]
    UnknownPlaceholder { name: String },
}

/// A value escaped for the inside of a TraceQL string literal.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Fills in a template. Unknown placeholders are left as written (the parser then refuses
/// them); [`check_template`] reports them when a spec loads.
pub fn render(template: &str, vars: &Vars<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        match &after[..len] {
            "learner" => out.push_str(&escape(vars.learner)),
            "service" => out.push_str(&escape(vars.service)),
            other => {
                out.push('$');
                out.push_str(other);
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Checks that a template only uses known placeholders.
pub fn check_template(template: &str) -> Result<(), TemplateError> {
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..len];
        if !PLACEHOLDERS.contains(&name) {
            return Err(TemplateError::UnknownPlaceholder {
                name: name.to_string(),
            });
        }
        rest = &after[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in_and_escaped_for_a_string_literal() {
        let vars = Vars {
            learner: "ada",
            service: "my\"svc",
        };
        assert_eq!(
            render(
                r#"{ span.learner.id = "$learner" && resource.service.name = "$service" }"#,
                &vars
            ),
            r#"{ span.learner.id = "ada" && resource.service.name = "my\"svc" }"#
        );
    }

    #[test]
    fn unknown_placeholders_are_reported_by_name() {
        assert_eq!(
            check_template(r#"{ .x = "$lerner" }"#),
            Err(TemplateError::UnknownPlaceholder {
                name: "lerner".into()
            })
        );
        assert!(check_template(r#"{ .x = "$learner" }"#).is_ok());
        assert!(check_template("{ duration > 1s }").is_ok());
    }
}
