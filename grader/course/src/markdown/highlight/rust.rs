//! Rust colouring: keywords, strings, chars and lifetimes, numbers, comments, macros.

use super::{Class, Scanner, quoted_len, run_len};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while",
];

/// Splits Rust into coloured tokens.
pub fn tokens(code: &str) -> Vec<(Class, &str)> {
    let mut s = Scanner::new(code);
    while !s.done() {
        let rest = s.rest();
        let Some(c) = rest.chars().next() else { break };
        if rest.starts_with("//") {
            s.take(Class::Comment, run_len(rest, |c| c != '\n'));
        } else if rest.starts_with("/*") {
            let len = rest.find("*/").map(|i| i + 2).unwrap_or(rest.len());
            s.take(Class::Comment, len);
        } else if c == '"' {
            s.take(Class::String, quoted_len(rest, '"', true));
        } else if c == '\'' {
            // A char literal ('a', '\n') or a lifetime ('a): a char closes within a few bytes.
            let len = quoted_len(rest, '\'', true);
            if len <= 4 || rest.starts_with("'\\") {
                s.take(Class::String, len);
            } else {
                s.take(
                    Class::Keyword,
                    1 + run_len(&rest[1..], |c| c.is_alphanumeric() || c == '_'),
                );
            }
        } else if c.is_ascii_digit() {
            s.take(
                Class::Number,
                run_len(rest, |c| c.is_ascii_alphanumeric() || c == '.' || c == '_'),
            );
        } else if c.is_alphabetic() || c == '_' {
            let len = run_len(rest, |c| c.is_alphanumeric() || c == '_');
            let word = &rest[..len];
            if rest[len..].starts_with('!') {
                s.take(Class::Function, len + 1);
            } else if KEYWORDS.contains(&word) {
                s.take(Class::Keyword, len);
            } else if word.starts_with(char::is_uppercase) {
                s.take(Class::Attribute, len);
            } else {
                s.take(Class::Plain, len);
            }
        } else {
            s.take_char();
        }
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_macros_types_and_comments_are_coloured() {
        let tokens = tokens("let x: Span = info!(\"hi\"); // done");
        assert!(tokens.contains(&(Class::Keyword, "let")));
        assert!(tokens.contains(&(Class::Attribute, "Span")));
        assert!(tokens.contains(&(Class::Function, "info!")));
        assert!(tokens.contains(&(Class::String, "\"hi\"")));
        assert!(tokens.contains(&(Class::Comment, "// done")));
    }
}
