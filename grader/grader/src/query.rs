//! TraceQL as the grader writes it: queries in lab specs are templates with `$learner` and
//! `$service` placeholders, filled in per learner before they run.
//!
//! Values are escaped for a TraceQL string literal, so a placeholder is always written inside
//! quotes in a spec: `{ span.learner.id = "$learner" }`.

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

fn escape(value: &str) -> String {
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
