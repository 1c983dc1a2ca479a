//! Shell colouring: the command word of each line, flags, strings, variables, comments.

use super::{Class, Scanner, quoted_len, run_len};

/// Splits a shell snippet into coloured tokens.
pub fn tokens(code: &str) -> Vec<(Class, &str)> {
    let mut s = Scanner::new(code);
    let mut command_next = true;
    while !s.done() {
        let rest = s.rest();
        let Some(c) = rest.chars().next() else { break };
        if c == '\n' || c == ';' || c == '|' || c == '&' {
            s.take(Class::Plain, 1);
            command_next = true;
        } else if c == ' ' || c == '\t' || c == '\\' {
            s.take_char();
        } else if c == '#' {
            s.take(Class::Comment, run_len(rest, |c| c != '\n'));
        } else if c == '"' {
            s.take(Class::String, quoted_len(rest, '"', true));
        } else if c == '\'' {
            s.take(Class::String, quoted_len(rest, '\'', false));
        } else if c == '$' {
            s.take(
                Class::Attribute,
                1 + run_len(&rest[1..], |c| {
                    c.is_alphanumeric() || c == '_' || c == '{' || c == '}'
                }),
            );
        } else {
            let len = run_len(rest, |c| !c.is_whitespace() && !"\"'#;|&$".contains(c));
            let word = &rest[..len.max(1)];
            let class = if command_next && !word.contains('=') {
                command_next = false;
                Class::Function
            } else if word.starts_with('-') {
                Class::Keyword
            } else {
                Class::Plain
            };
            if word == "export" || word == "sudo" {
                command_next = true;
            }
            s.take(class, len.max(1));
        }
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_flags_strings_and_comments_are_coloured() {
        let tokens =
            tokens("cargo run --release -- up # start\nexport OTEL_SERVICE_NAME=\"api\"\n");
        assert!(tokens.contains(&(Class::Function, "cargo")));
        assert!(tokens.contains(&(Class::Keyword, "--release")));
        assert!(tokens.contains(&(Class::Comment, "# start")));
        assert!(tokens.contains(&(Class::String, "\"api\"")));
    }
}
