//! Diagnostics as data: what went wrong, where (a byte range of the query), and a hint for the
//! learner. Rendering (line and column, the query with a caret) happens at the edge, through
//! [`Error::render`] for a terminal or a web page and [`Error::one_line`] for line-oriented tools.
//!
//! The first line follows Tempo's own wording where Tempo has one
//! (`parse error at line L, col C: syntax error: unexpected X, expecting Y`), so a message
//! learned here reads the same against a real Tempo.

use std::ops::Range;

/// Which stage refused the query, or stopped evaluating it. Each kind is its own variant so
/// callers (the grader, the HTTP API) can react without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The text is not TraceQL (Tempo: "parse error").
    Parse,
    /// The text is TraceQL but makes no sense, e.g. `{ 1 = "a" }` (Tempo: "invalid query").
    Validate,
    /// Valid TraceQL that Tempo (and this engine) does not run yet, e.g. `parent.x`.
    Unsupported,
    /// The query nests deeper than [`crate::parser::MAX_DEPTH`].
    TooDeep,
    /// A regular expression does not compile, or would need more memory than allowed.
    Regex,
    /// Evaluation ran out of its step or time budget.
    Budget,
    /// A run-time failure Tempo also reports as an error, e.g. an integer division by zero.
    Runtime,
}

/// A diagnostic about one query. `Display` gives the message and hint without a position
/// (use [`Error::render`] or [`Error::one_line`] when the query is at hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", .hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
pub struct Error {
    pub kind: ErrorKind,
    /// Byte range of the query the error points at (may be empty, e.g. at the end of input).
    pub span: Range<usize>,
    /// What went wrong, without position (the renderers add it).
    pub message: String,
    /// A teaching hint for a common mistake, when one applies.
    pub hint: Option<String>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, span: Range<usize>, message: impl Into<String>) -> Self {
        Error {
            kind,
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn parse(span: Range<usize>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, span, message)
    }

    pub(crate) fn validate(span: Range<usize>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validate, span, message)
    }

    pub(crate) fn unsupported(span: Range<usize>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, span, message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// True when the query is valid TraceQL that is not supported yet (as in Tempo).
    pub fn is_unsupported(&self) -> bool {
        self.kind == ErrorKind::Unsupported
    }

    /// 1-based line and column (in characters) of the start of the error's span.
    pub fn line_col(&self, query: &str) -> (usize, usize) {
        let mut at = self.span.start.min(query.len());
        while !query.is_char_boundary(at) {
            at -= 1;
        }
        let before = &query[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The first line of the message with the position, Tempo style:
    /// `parse error at line 1, col 12: syntax error: unexpected ==, expecting …`.
    pub fn headline(&self, query: &str) -> String {
        let (line, col) = self.line_col(query);
        let what = match self.kind {
            ErrorKind::Parse => "parse error",
            ErrorKind::Validate | ErrorKind::Regex => "invalid query",
            ErrorKind::Unsupported => "unsupported query",
            ErrorKind::TooDeep => "query too complex",
            ErrorKind::Budget => "query stopped",
            ErrorKind::Runtime => "query failed",
        };
        format!("{what} at line {line}, col {col}: {}", self.message)
    }

    /// Everything on one line (headline, then the hint if any), for `dojo traceql check`.
    pub fn one_line(&self, query: &str) -> String {
        let mut out = self.headline(query).replace(['\n', '\r'], " ");
        if let Some(hint) = &self.hint {
            out.push_str(" (hint: ");
            out.push_str(&hint.replace(['\n', '\r'], " "));
            out.push(')');
        }
        out
    }

    /// The headline, the offending line of the query with a caret under the fault, and the hint.
    pub fn render(&self, query: &str) -> String {
        let (line_no, col) = self.line_col(query);
        let span_chars = query
            .get(self.span.clone())
            .map(|s| s.lines().next().unwrap_or("").chars().count())
            .unwrap_or(0)
            .max(1);
        let mut out = self.headline(query);
        for row in caret_under(query, line_no, col, span_chars)
            .unwrap_or_default()
            .lines()
        {
            out.push_str("\n  ");
            out.push_str(row);
        }
        if let Some(hint) = &self.hint {
            out.push_str("\nhint: ");
            out.push_str(hint);
        }
        out
    }
}

/// Line `line` (1-based) of `query` with `width` carets under it from column `column`
/// (1-based, in characters): the one way every place that shows a query error points at it.
/// Tabs are kept in the padding so the carets line up under the same characters. `None` when
/// the query has no such line.
pub fn caret_under(query: &str, line: usize, column: usize, width: usize) -> Option<String> {
    let text = query.lines().nth(line.checked_sub(1)?)?;
    let pad: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!("{text}\n{pad}{}", "^".repeat(width.max(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_from_one() {
        let e = Error::parse(8..10, "x");
        assert_eq!(e.line_col("{ .a == 4 }"), (1, 9));
        let e = Error::parse(5..6, "x");
        assert_eq!(e.line_col("{\n  é=1 }"), (2, 3));
    }

    #[test]
    fn render_puts_a_caret_under_the_fault_and_adds_the_hint() {
        let e = Error::parse(5..7, "syntax error: unexpected ==").with_hint("use =");
        let text = e.render("{ .a == 4 }");
        assert_eq!(
            text,
            "parse error at line 1, col 6: syntax error: unexpected ==\n  { .a == 4 }\n       ^^\nhint: use ="
        );
    }
}
