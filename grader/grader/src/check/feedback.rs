//! What a check returns: a verdict, a score and items that teach, as data. The HTTP API sends
//! it as JSON, the course renders it, and `dojo grade` prints it with [`Feedback::to_text`].

use serde::{Deserialize, Serialize};

/// The outcome of one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The lab cannot grade this yet (no traffic in the window, the scenario not running);
    /// nothing was wrong with the submission, and it is not recorded as an attempt.
    NotReady,
}

/// How one item went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Pass,
    Fail,
    Info,
}

/// A trace that illustrates an item, with why it is cited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// 32 hex digits, ready for the waterfall link.
    pub trace_id: String,
    /// What the trace is (`frontend: POST /checkout`).
    pub trace: String,
    /// Why it is cited, in a sentence.
    pub why: String,
}

/// One point of feedback: an assertion, a field of a report, a quiz question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub status: ItemStatus,
    pub title: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

impl Item {
    pub fn pass(title: impl Into<String>, message: impl Into<String>) -> Self {
        Item {
            status: ItemStatus::Pass,
            title: title.into(),
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    pub fn fail(title: impl Into<String>, message: impl Into<String>) -> Self {
        Item {
            status: ItemStatus::Fail,
            title: title.into(),
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    pub fn info(title: impl Into<String>, message: impl Into<String>) -> Self {
        Item {
            status: ItemStatus::Info,
            title: title.into(),
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    pub fn with_evidence(mut self, evidence: Vec<Evidence>) -> Self {
        self.evidence = evidence;
        self
    }
}

/// Where a query stopped parsing, for the caret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntaxError {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The query with a caret under the fault, for a monospace block.
    pub rendered: String,
}

/// The grader's answer to one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub verdict: Verdict,
    /// 0.0 to 1.0.
    pub score: f64,
    /// One sentence: what happened.
    pub headline: String,
    pub items: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syntax_error: Option<SyntaxError>,
}

impl Feedback {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    pub fn not_ready(headline: impl Into<String>, items: Vec<Item>) -> Self {
        Feedback {
            verdict: Verdict::NotReady,
            score: 0.0,
            headline: headline.into(),
            items,
            syntax_error: None,
        }
    }

    /// Plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verdict = match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotReady => "NOT READY",
        };
        out.push_str(&format!(
            "{verdict} ({:.0}%): {}\n",
            self.score * 100.0,
            self.headline
        ));
        if let Some(syntax) = &self.syntax_error {
            out.push('\n');
            out.push_str(&syntax.rendered);
            if !syntax.rendered.ends_with('\n') {
                out.push('\n');
            }
        }
        for item in &self.items {
            let mark = match item.status {
                ItemStatus::Pass => "✓",
                ItemStatus::Fail => "✗",
                ItemStatus::Info => "·",
            };
            out.push_str(&format!("\n{mark} {}\n", item.title));
            for line in item.message.lines() {
                out.push_str(&format!("    {line}\n"));
            }
            for e in &item.evidence {
                out.push_str(&format!("    - {}  {}: {}\n", e.trace_id, e.trace, e.why));
            }
        }
        out
    }
}
