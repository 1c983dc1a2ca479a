//! The TraceQL examples in the lessons, with what each one claims.
//!
//! Every ```` ```traceql ```` block is an example a learner will copy, so tests check them: all
//! must parse, and the ones the lesson says return traces must return traces against the live
//! lab. A block says so in its fence's info string, after the language:
//!
//! ````markdown
//! ```traceql returns
//! { resource.service.name = "payments" }
//! ```
//!
//! ```traceql returns with=payments_failing:mode=error
//! { resource.service.name = "payments" && status = error }
//! ```
//! ````
//!
//! - `returns`: against the running lab (the shop under its load generator) the query finds
//!   at least one trace; for a metrics query, at least one series.
//! - `nothing`: the lesson says the query finds nothing (a claim about TraceQL's behaviour:
//!   `{ !(span.a = 1) }`, an integer compared with a float, two services in one span). It is
//!   run over the same traffic in which the `returns` examples with the same faults found
//!   their traces, so the lab had traffic to find, and must find none of it.
//! - `with=FAULT[:PARAM=VALUE]...` (repeatable, needs `returns` or `nothing`): only while these
//!   faults are switched on, with these parameters. Without `with=` every fault is off.
//! - `secret`: the page must not name the faults (a lab where finding the fault is the
//!   exercise). Elsewhere the rendered lesson tells the learner which fault to switch on.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use super::Course;
pub use super::marker::{Claim, FaultSetting, LabState, Marker, parse_marker};
use crate::markdown;

/// One ```traceql block of a lesson.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryExample {
    /// The lesson's path under `content/`.
    pub lesson: String,
    /// The 1-based line of the opening fence.
    pub line: usize,
    /// The query, trimmed.
    pub query: String,
    /// The lab's state in which the lesson's claim about the query holds; `None` when the
    /// lesson makes no claim.
    pub returns: Option<LabState>,
    /// What the lesson claims the query finds in that state.
    pub claim: Claim,
}

impl QueryExample {
    /// `lesson:line`, for messages.
    pub fn location(&self) -> String {
        format!("content/{}:{}", self.lesson, self.line)
    }
}

/// A marker the parser does not understand: where, and how to write it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("content/{lesson}:{line}: {message}")]
pub struct MarkerError {
    pub lesson: String,
    pub line: usize,
    pub message: String,
}

/// Every ```traceql block of the course in reading order, or the markers that are wrong.
pub fn query_examples(course: &Course) -> Result<Vec<QueryExample>, Vec<MarkerError>> {
    let mut examples = Vec::new();
    let mut errors = Vec::new();
    for lesson in &course.lessons {
        let path = &lesson.chapter.path;
        let source = &lesson.source;
        let mut open: Option<(usize, Result<Marker, String>, String)> = None;
        for (event, range) in Parser::new_ext(source, markdown::options()).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                    if info.split_whitespace().next() == Some("traceql") =>
                {
                    let line = source[..range.start].matches('\n').count() + 1;
                    open = Some((line, parse_marker(&info), String::new()));
                }
                Event::Text(text) => {
                    if let Some((_, _, code)) = open.as_mut() {
                        code.push_str(&text);
                    }
                }
                Event::End(TagEnd::CodeBlock) => match open.take() {
                    Some((line, Ok(marker), code)) => examples.push(QueryExample {
                        lesson: path.clone(),
                        line,
                        query: code.trim().to_string(),
                        returns: marker.returns,
                        claim: marker.claim,
                    }),
                    Some((line, Err(message), _)) => errors.push(MarkerError {
                        lesson: path.clone(),
                        line,
                        message,
                    }),
                    None => {}
                },
                _ => {}
            }
        }
    }
    if errors.is_empty() {
        Ok(examples)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Chapter;

    fn course(markdown: &str) -> Course {
        Course::from_sources(vec![(
            Chapter {
                title: "T".into(),
                path: "t.md".into(),
                part: String::new(),
            },
            markdown.to_string(),
        )])
    }

    #[test]
    fn markers_say_which_blocks_return_traces_and_with_which_faults() {
        let examples = query_examples(&course(
            "# T\n\n```traceql\n{ }\n```\n\ntext\n\n```traceql returns\n{ a }\n```\n\n\
             ```traceql returns with=slow_query with=payments_failing:mode=error:hang_ms=5 secret\n{ b }\n```\n\n\
             ```rust\nfn main() {}\n```\n",
        ))
        .expect("markers parse");
        assert_eq!(examples.len(), 3);
        assert_eq!(examples[0].returns, None);
        assert_eq!(examples[0].line, 3);
        assert_eq!(examples[0].query, "{ }");
        assert_eq!(examples[1].returns, Some(LabState::default()));
        assert_eq!(examples[1].claim, Claim::Finds);
        assert_eq!(examples[1].location(), "content/t.md:9");
        let state = examples[2].returns.clone().expect("a claim");
        assert_eq!(
            state.to_string(),
            "with payments_failing:hang_ms=5:mode=error, slow_query"
        );
        assert_eq!(
            state.faults[0].activation_body(),
            serde_json::json!({ "params": { "mode": "error", "hang_ms": 5 } })
        );
    }

    #[test]
    fn a_nothing_marker_claims_no_trace_in_its_lab_state() {
        let examples = query_examples(&course(
            "# T\n\n```traceql nothing\n{ !(.a = 1) }\n```\n\n```traceql nothing with=slow_query\n{ .b = 1.0 }\n```\n",
        ))
        .expect("markers parse");
        assert_eq!(examples[0].claim, Claim::FindsNothing);
        assert_eq!(examples[0].returns, Some(LabState::default()));
        assert_eq!(examples[1].claim, Claim::FindsNothing);
        assert_eq!(
            examples[1]
                .returns
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("with slow_query")
        );
    }

    #[test]
    fn a_wrong_marker_names_the_file_the_line_and_the_fix() {
        for (marker, wanted) in [
            ("traceql retruns", "unknown word \"retruns\""),
            ("traceql with=slow_query", "need `returns`"),
            ("traceql secret", "need `returns`"),
            ("traceql returns with=", "needs a fault id"),
            (
                "traceql returns with=payments_failing:mode",
                "is not NAME=VALUE",
            ),
            ("traceql returns with=a with=a", "named twice"),
            ("traceql returns nothing", "not both"),
        ] {
            let errors = query_examples(&course(&format!("# T\n\n```{marker}\n{{ }}\n```\n")))
                .expect_err(marker);
            assert_eq!(errors.len(), 1, "{marker}");
            let message = errors[0].to_string();
            assert!(message.starts_with("content/t.md:3: "), "{message}");
            assert!(message.contains(wanted), "{marker}: {message}");
        }
    }
}
