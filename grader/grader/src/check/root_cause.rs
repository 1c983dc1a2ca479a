//! Root-cause reports: the faulty service, operation and fault kind, evidence traces and an
//! explanation, checked against the learner's scenario variant.
//!
//! Every cited trace is fetched and the variant's evidence query evaluated on it: a trace
//! counts only if it exists, is recent and really shows the fault.

use std::collections::BTreeSet;

use dojo_traceql::model::TraceId;
use serde::{Deserialize, Serialize};

use super::GradeError;
use super::describe;
use super::feedback::{Evidence, Feedback, Item, ItemStatus, Verdict};
use crate::backend::{TraceBackend, Window};
use crate::query::{self, Vars};
use crate::spec::types::{GroundTruth, RootCauseCheck};

/// What the learner reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub service: String,
    /// A span name or route.
    pub operation: String,
    /// A fault kind: an id from the catalogue (`slow-query`) or its words (`slow query`).
    pub fault: String,
    /// Trace ids, 32 hex digits (leading zeros may be left out).
    pub evidence: Vec<String>,
    /// Markdown.
    pub explanation: String,
}

/// Everything the check needs besides the report.
pub struct Context<'a> {
    pub backend: &'a dyn TraceBackend,
    pub tenant: Option<&'a str>,
    pub vars: Vars<'a>,
    /// Cited traces must overlap this window.
    pub window: Window,
    /// The fault kinds a learner may name, for the message when theirs is wrong.
    pub fault_kinds: &'a [&'a str],
}

/// Lower-case letters and digits only: `Slow_Query`, `slow query` and `slow-query` agree.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Grades a report against the ground truth of the learner's variant.
pub async fn grade(
    ctx: &Context<'_>,
    check: &RootCauseCheck,
    truth: &GroundTruth,
    report: &Report,
) -> Result<Feedback, GradeError> {
    let mut items = Vec::new();
    let mut score = 0.0;

    // Evidence first: what the cited traces show informs the messages about the fields.
    let evidence_query = query::render(&truth.evidence, &ctx.vars);
    let evidence = query::parse(&evidence_query).map_err(|e| GradeError::Spec(e.one_line()))?;
    let mut seen = BTreeSet::new();
    let mut verified = 0usize;
    let mut services_in_evidence = BTreeSet::new();
    let mut evidence_items = Vec::new();
    for cited in &report.evidence {
        let cited = cited.trim();
        if cited.is_empty() {
            continue;
        }
        let title = format!("Evidence trace `{cited}`");
        let id = match TraceId::from_hex(cited) {
            Ok(id) => id,
            Err(e) => {
                evidence_items.push(Item::fail(
                    title,
                    format!("This is not a trace id: {e}. Copy it from the trace view."),
                ));
                continue;
            }
        };
        if !seen.insert(id) {
            evidence_items.push(Item::info(title, "Cited twice; it counts once."));
            continue;
        }
        let Some(trace) = ctx
            .backend
            .trace_by_id(ctx.tenant, id)
            .await
            .map_err(GradeError::Backend)?
        else {
            evidence_items.push(Item::fail(
                title,
                "No trace with this id is in the trace store. Check that you copied the whole id.",
            ));
            continue;
        };
        if !ctx
            .window
            .overlaps(trace.start_unix_nanos(), trace.end_unix_nanos())
        {
            evidence_items.push(Item::fail(
                title,
                "This trace is older than the lab's evidence window: cite traces from the current run of the scenario.",
            ));
            continue;
        }
        for span in &trace.spans {
            if let Some(s) = span.service_name() {
                services_in_evidence.insert(s.to_string());
            }
        }
        let shows = evidence
            .matching_spans(&trace)
            .map_err(|e| GradeError::Spec(e.one_line()))?;
        if shows.is_empty() {
            evidence_items.push(
                Item::fail(
                    title,
                    "This trace does not show the fault: nothing in it is affected. Cite traces where \
                     the problem is visible (for slowness, the slow ones; for errors, the failed ones).",
                )
                .with_evidence(vec![Evidence {
                    trace_id: id.to_string(),
                    trace: describe::trace(&trace),
                    why: "a healthy request".into(),
                }]),
            );
        } else {
            verified += 1;
            evidence_items.push(
                Item::pass(
                    title,
                    format!(
                        "Shows the fault: {}.",
                        describe::spans(shows.iter().copied(), 2)
                    ),
                )
                .with_evidence(vec![Evidence {
                    trace_id: id.to_string(),
                    trace: describe::trace(&trace),
                    why: "shows the fault".into(),
                }]),
            );
        }
    }

    // The service.
    let names_the_service = std::iter::once(&truth.service)
        .chain(&truth.service_aliases)
        .any(|name| normalize(&report.service) == normalize(name));
    if names_the_service {
        score += 0.25;
        items.push(Item::pass(
            "Faulty service",
            format!("`{}` is right.", truth.service),
        ));
    } else if report.service.trim().is_empty() {
        items.push(Item::fail(
            "Faulty service",
            "Name the service where the fault is.",
        ));
    } else {
        let why = if services_in_evidence.contains(report.service.trim()) {
            "Its spans are affected only because they wait on spans below them. Follow the time (or \
             the error) down the tree to the deepest span that is slow or failing in its own right, \
             and name that span's service."
        } else {
            "Look at which service's spans stand out in the traces that show the problem."
        };
        items.push(Item::fail(
            "Faulty service",
            format!(
                "`{}` is not where the fault is. {why}",
                report.service.trim()
            ),
        ));
    }

    // The operation.
    let operation_ok = std::iter::once(&truth.operation)
        .chain(truth.operation_aliases.iter())
        .any(|o| normalize(o) == normalize(&report.operation));
    if operation_ok {
        score += 0.2;
        items.push(Item::pass(
            "Faulty operation",
            format!("`{}` is right.", report.operation.trim()),
        ));
    } else {
        items.push(Item::fail(
            "Faulty operation",
            if report.operation.trim().is_empty() {
                "Name the operation: the span name (or route) of the span that shows the fault."
                    .to_string()
            } else {
                format!(
                    "`{}` is not the faulty operation. Name the span (or route) that shows the \
                     fault itself, not one of its callers.",
                    report.operation.trim()
                )
            },
        ));
    }

    // The fault kind.
    if normalize(&report.fault) == normalize(&truth.fault) {
        score += 0.25;
        items.push(Item::pass(
            "Kind of fault",
            format!("`{}` is right.", truth.fault),
        ));
    } else {
        items.push(Item::fail(
            "Kind of fault",
            format!(
                "`{}` does not describe what happens. Ask what the affected span is doing with its \
                 time: waiting on a query, on a dependency, on a connection, or working itself? \
                 The kinds are: {}.",
                report.fault.trim(),
                ctx.fault_kinds.join(", ")
            ),
        ));
    }

    // The evidence, as a whole.
    let cited = seen.len();
    if verified >= check.min_evidence {
        score += 0.2;
        items.push(Item::pass(
            "Evidence",
            format!(
                "{verified} of the {cited} cited trace{} show the fault.",
                if cited == 1 { "" } else { "s" }
            ),
        ));
    } else {
        if verified > 0 {
            score += 0.2 * verified as f64 / check.min_evidence as f64;
        }
        items.push(Item::fail(
            "Evidence",
            format!(
                "{verified} cited trace{} show{} the fault; at least {} are needed. Find traces that \
                 show it with a query, and cite their ids.",
                if verified == 1 { "" } else { "s" },
                if verified == 1 { "s" } else { "" },
                check.min_evidence
            ),
        ));
    }
    items.extend(evidence_items);

    // The explanation.
    let words = report.explanation.split_whitespace().count();
    if words >= check.min_explanation_words {
        score += 0.1;
        items.push(Item::pass("Explanation", format!("{words} words.")));
    } else {
        items.push(Item::fail(
            "Explanation",
            format!(
                "Explain in at least {} words how the traces show the fault: which span, what it \
                 does with its time, and how often (you wrote {words}).",
                check.min_explanation_words
            ),
        ));
    }

    let passed = items
        .iter()
        .all(|i| i.status != ItemStatus::Fail || i.title.starts_with("Evidence trace"))
        && verified >= check.min_evidence;
    let wrong: Vec<&str> = items
        .iter()
        .filter(|i| i.status == ItemStatus::Fail && !i.title.starts_with("Evidence trace"))
        .map(|i| i.title.as_str())
        .collect();
    Ok(Feedback {
        verdict: if passed { Verdict::Pass } else { Verdict::Fail },
        score: if passed { 1.0 } else { score.min(0.99) },
        headline: if passed {
            format!(
                "Root cause found: `{}` in `{}` ({}), with {verified} trace{} as evidence.",
                truth.operation,
                truth.service,
                truth.fault,
                if verified == 1 { "" } else { "s" }
            )
        } else {
            format!("Not yet: check {}.", wrong.join(", ").to_lowercase())
        },
        items,
        syntax_error: None,
    })
}
