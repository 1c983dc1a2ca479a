//! TraceQL colouring: intrinsics and keywords, enum literals, attributes with their scope,
//! strings, numbers and durations, functions, operators. Lexical rules follow Tempo's: an
//! attribute name runs until whitespace or one of `{ } ( ) = ~ ! < > & | ^ ,`.

use super::{Class, Scanner, quoted_len, run_len};

const INTRINSICS: &[&str] = &[
    "duration",
    "name",
    "status",
    "statusMessage",
    "kind",
    "traceDuration",
    "rootName",
    "rootServiceName",
    "childCount",
    "parent",
    "nestedSetLeft",
    "nestedSetRight",
    "nestedSetParent",
];
const LITERALS: &[&str] = &[
    "true",
    "false",
    "nil",
    "error",
    "ok",
    "unset",
    "server",
    "client",
    "internal",
    "producer",
    "consumer",
    "unspecified",
    "minInt",
    "maxInt",
];
const FUNCTIONS: &[&str] = &[
    "count",
    "avg",
    "min",
    "max",
    "sum",
    "by",
    "select",
    "coalesce",
    "with",
    "rate",
    "count_over_time",
    "sum_over_time",
    "min_over_time",
    "max_over_time",
    "avg_over_time",
    "quantile_over_time",
    "histogram_over_time",
    "compare",
    "topk",
    "bottomk",
];
const SCOPES: &[&str] = &[
    "span.",
    "resource.",
    "event.",
    "link.",
    "instrumentation.",
    "parent.",
];
const INTRINSIC_SCOPES: &[&str] = &["span:", "trace:", "event:", "link:", "instrumentation:"];

fn ends_attribute(c: char) -> bool {
    c.is_whitespace() || "{}()=~!<>&|^,".contains(c)
}

/// Splits TraceQL into coloured tokens.
pub fn tokens(code: &str) -> Vec<(Class, &str)> {
    let mut s = Scanner::new(code);
    while !s.done() {
        let rest = s.rest();
        let Some(c) = rest.chars().next() else { break };
        if rest.starts_with("//") {
            s.take(Class::Comment, run_len(rest, |c| c != '\n'));
        } else if c == '"' {
            s.take(Class::String, quoted_len(rest, '"', true));
        } else if c == '`' {
            s.take(Class::String, quoted_len(rest, '`', false));
        } else if c.is_ascii_digit()
            || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            // Numbers, floats and durations such as 1.5s or 1h30m.
            s.take(
                Class::Number,
                run_len(rest, |c| c.is_ascii_alphanumeric() || c == '.' || c == 'µ'),
            );
        } else if let Some(scope) = SCOPES.iter().find(|p| rest.starts_with(**p)) {
            let name_len = attribute_len(&rest[scope.len()..]);
            s.take(Class::Attribute, scope.len() + name_len);
        } else if let Some(scope) = INTRINSIC_SCOPES.iter().find(|p| rest.starts_with(**p)) {
            let name_len = run_len(&rest[scope.len()..], |c| {
                c.is_ascii_alphanumeric() || c == '_'
            });
            s.take(Class::Keyword, scope.len() + name_len);
        } else if c == '.' {
            s.take(Class::Attribute, 1 + attribute_len(&rest[1..]));
        } else if c.is_alphabetic() || c == '_' {
            let len = run_len(rest, |c| c.is_alphanumeric() || c == '_');
            let word = &rest[..len];
            let class = if INTRINSICS.contains(&word) {
                Class::Keyword
            } else if LITERALS.contains(&word) {
                Class::Literal
            } else if FUNCTIONS.contains(&word) {
                Class::Function
            } else {
                Class::Plain
            };
            s.take(class, len);
        } else if "=!<>&|~^+-*/%".contains(c) {
            s.take(
                Class::Operator,
                run_len(rest, |c| "=!<>&|~".contains(c)).max(1),
            );
        } else {
            s.take_char();
        }
    }
    s.finish()
}

/// Length of an attribute name, including quoted segments such as `"foo bar"`.
fn attribute_len(text: &str) -> usize {
    let mut len = 0;
    loop {
        let rest = &text[len..];
        if rest.starts_with('"') {
            len += quoted_len(rest, '"', true);
        } else {
            let run = run_len(rest, |c| !ends_attribute(c) && c != '"');
            if run == 0 {
                return len;
            }
            len += run;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(code: &str) -> Vec<(Class, &str)> {
        tokens(code)
            .into_iter()
            .filter(|(c, _)| *c != Class::Plain)
            .collect()
    }

    #[test]
    fn scoped_attributes_keywords_and_durations_are_told_apart() {
        assert_eq!(
            classes(r#"{ resource.service.name = "api" && duration > 1.5s }"#),
            [
                (Class::Attribute, "resource.service.name"),
                (Class::Operator, "="),
                (Class::String, "\"api\""),
                (Class::Operator, "&&"),
                (Class::Keyword, "duration"),
                (Class::Operator, ">"),
                (Class::Number, "1.5s"),
            ]
        );
    }

    #[test]
    fn quoted_attribute_names_and_scoped_intrinsics_are_single_tokens() {
        assert_eq!(
            classes(r#"{ span."cart items" > 3 && trace:rootService = "frontend" } | count() > 1"#)
                [..2],
            [
                (Class::Attribute, "span.\"cart items\""),
                (Class::Operator, ">")
            ]
        );
        assert!(
            classes("{ trace:rootService = x }").contains(&(Class::Keyword, "trace:rootService"))
        );
        assert!(classes("{ } | count() > 1").contains(&(Class::Function, "count")));
        assert!(classes("{ status = error }").contains(&(Class::Literal, "error")));
    }
}
