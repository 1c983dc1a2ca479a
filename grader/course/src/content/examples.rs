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

use std::collections::BTreeMap;

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use super::Course;
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

/// What a lesson says a query finds in the running lab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Claim {
    /// Some traces (`returns`).
    #[default]
    Finds,
    /// No trace at all, although the lab has traffic (`nothing`).
    FindsNothing,
}

/// What a ```traceql fence's info string says about its block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marker {
    /// The lab state of the claim, as [`QueryExample::returns`].
    pub returns: Option<LabState>,
    /// The claim, as [`QueryExample::claim`].
    pub claim: Claim,
    /// The faults must not be named to the learner.
    pub secret: bool,
}

impl QueryExample {
    /// `lesson:line`, for messages.
    pub fn location(&self) -> String {
        format!("content/{}:{}", self.lesson, self.line)
    }
}

/// The faults that must be on for a `returns` claim; empty means the healthy shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabState {
    /// Sorted by fault id.
    pub faults: Vec<FaultSetting>,
}

impl std::fmt::Display for LabState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.faults.is_empty() {
            return f.write_str("every fault off");
        }
        let names: Vec<String> = self.faults.iter().map(FaultSetting::to_string).collect();
        write!(f, "with {}", names.join(", "))
    }
}

/// One fault to switch on, with parameters (strings, as the marker spells them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FaultSetting {
    pub id: String,
    pub params: BTreeMap<String, String>,
}

impl FaultSetting {
    /// The JSON body that switches this fault on through a service's `/admin/faults/{id}`:
    /// numbers as numbers, anything else as a string.
    pub fn activation_body(&self) -> serde_json::Value {
        let params: serde_json::Map<String, serde_json::Value> = self
            .params
            .iter()
            .map(|(name, value)| {
                let value = value
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .or_else(|_| value.parse::<f64>().map(serde_json::Value::from))
                    .unwrap_or_else(|_| serde_json::Value::from(value.as_str()));
                (name.clone(), value)
            })
            .collect();
        serde_json::json!({ "params": params })
    }
}

impl std::fmt::Display for FaultSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)?;
        for (name, value) in &self.params {
            write!(f, ":{name}={value}")?;
        }
        Ok(())
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

/// Reads the words after `traceql` in a fence's info string.
pub fn parse_marker(info: &str) -> Result<Marker, String> {
    let mut returns = false;
    let mut nothing = false;
    let mut secret = false;
    let mut faults = Vec::new();
    for word in info.split_whitespace().skip(1) {
        if word == "returns" {
            returns = true;
        } else if word == "nothing" {
            nothing = true;
        } else if word == "secret" {
            secret = true;
        } else if let Some(setting) = word.strip_prefix("with=") {
            faults.push(parse_setting(setting)?);
        } else {
            return Err(format!(
                "unknown word {word:?} after ```traceql; write `returns` when the lesson says the \
                 query finds traces in the lab, `nothing` when it says the query finds none, \
                 `with=FAULT[:PARAM=VALUE]` for each fault it needs, and `secret` when the page \
                 must not name the fault"
            ));
        }
    }
    if returns && nothing {
        return Err(
            "a block says either `returns` (it finds traces) or `nothing` (it finds none), not both"
                .to_string(),
        );
    }
    if !returns && !nothing {
        return if faults.is_empty() && !secret {
            Ok(Marker::default())
        } else {
            Err(
                "`with=` and `secret` need `returns` (or `nothing`) before them: ```traceql returns with=FAULT"
                    .to_string(),
            )
        };
    }
    faults.sort();
    if faults.windows(2).any(|pair| pair[0].id == pair[1].id) {
        return Err("a fault is named twice in `with=`; name each fault once".to_string());
    }
    Ok(Marker {
        returns: Some(LabState { faults }),
        claim: if nothing {
            Claim::FindsNothing
        } else {
            Claim::Finds
        },
        secret,
    })
}

/// `FAULT[:PARAM=VALUE]...`
fn parse_setting(text: &str) -> Result<FaultSetting, String> {
    let mut parts = text.split(':');
    let id = parts.next().unwrap_or_default();
    if id.is_empty() {
        return Err("`with=` needs a fault id, e.g. `with=slow_query`".to_string());
    }
    let mut params = BTreeMap::new();
    for part in parts {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!(
                "fault parameter {part:?} in `with={text}` is not NAME=VALUE, e.g. `with=payments_failing:mode=error`"
            ));
        };
        if name.is_empty() || value.is_empty() {
            return Err(format!(
                "fault parameter {part:?} in `with={text}` needs a name and a value"
            ));
        }
        params.insert(name.to_string(), value.to_string());
    }
    Ok(FaultSetting {
        id: id.to_string(),
        params,
    })
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
