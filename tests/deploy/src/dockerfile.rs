//! The Dockerfile, read instruction by instruction: enough to check the stages, the user, the
//! exposed ports and that everything it copies exists.

/// One instruction, with continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub arguments: String,
}

/// Splits a Dockerfile into instructions (comments and blank lines dropped).
pub fn parse(text: &str) -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(continued) = trimmed.strip_suffix('\\') {
            pending.push_str(continued);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (keyword, arguments) = pending.split_once(' ').unwrap_or((pending.as_str(), ""));
        instructions.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            arguments: arguments.trim().to_owned(),
        });
        pending.clear();
    }
    instructions
}

/// The instructions with a given keyword.
pub fn all<'a>(instructions: &'a [Instruction], keyword: &'a str) -> impl Iterator<Item = &'a str> {
    instructions
        .iter()
        .filter(move |i| i.keyword == keyword)
        .map(|i| i.arguments.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_join_into_one_instruction() {
        let parsed = parse("# c\nFROM a AS b\nRUN one \\\n    two\n\nUSER 1\n");
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].keyword, "RUN");
        assert_eq!(parsed[1].arguments, "one  two");
    }
}
