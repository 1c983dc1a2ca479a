//! YAML colouring: keys, strings, numbers and booleans, comments, list dashes.

use super::{Class, Scanner, quoted_len, run_len};

/// Splits YAML into coloured tokens, one line at a time.
pub fn tokens(code: &str) -> Vec<(Class, &str)> {
    let mut s = Scanner::new(code);
    let mut line_start = true;
    while !s.done() {
        let rest = s.rest();
        let Some(c) = rest.chars().next() else { break };
        if c == '\n' {
            s.take(Class::Plain, 1);
            line_start = true;
            continue;
        }
        if c == ' ' || c == '\t' {
            s.take(Class::Plain, run_len(rest, |c| c == ' ' || c == '\t'));
            continue;
        }
        if c == '#' {
            s.take(Class::Comment, run_len(rest, |c| c != '\n'));
        } else if line_start && c == '-' && rest[1..].starts_with([' ', '\n']) {
            s.take(Class::Operator, 1);
            continue; // still at the start of the item: a key may follow
        } else if c == '"' || c == '\'' {
            s.take(Class::String, quoted_len(rest, c, c == '"'));
        } else if line_start && let Some(key_len) = key_len(rest) {
            s.take(Class::Attribute, key_len);
        } else {
            let len = run_len(rest, |c| c != '\n' && c != '#' && c != ' ');
            let word = &rest[..len.max(1)];
            let class = if word.parse::<f64>().is_ok() {
                Class::Number
            } else if matches!(word, "true" | "false" | "null" | "~" | "{}" | "[]") {
                Class::Literal
            } else {
                Class::Plain
            };
            s.take(class, len.max(1));
        }
        line_start = false;
    }
    s.finish()
}

/// The length of a `key:` at the start of `text`, if the line starts with a key.
fn key_len(text: &str) -> Option<usize> {
    let len = run_len(text, |c| c.is_alphanumeric() || "_-./".contains(c));
    (len > 0 && text[len..].starts_with(':')).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_and_comments_are_coloured() {
        let tokens = tokens(
            "receivers:\n  otlp: # in\n    endpoint: 0.0.0.0:4317\n    insecure: true\n- name: \"x\"\n",
        );
        assert!(tokens.contains(&(Class::Attribute, "receivers")));
        assert!(tokens.contains(&(Class::Comment, "# in")));
        assert!(tokens.contains(&(Class::Literal, "true")));
        assert!(tokens.contains(&(Class::Attribute, "name")));
        assert!(tokens.contains(&(Class::String, "\"x\"")));
    }
}
