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
use super::regression;
use super::traceql::search_all;
use crate::backend::{Elsewhere, TraceBackend, Window};
use crate::query::{self, Vars};
use crate::spec::types::{GroundTruth, RootCauseCheck};
use dojo_faults::{FaultClass, FaultId};

/// What the learner reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub service: String,
    /// A span name or route.
    pub operation: String,
    /// A fault kind: an id from the catalogue (`slow_query`) or one of its names in plain
    /// words (`slow database query`, `connection-pool exhaustion`: see `dojo_faults::names`).
    pub fault: String,
    /// Trace ids, 32 hex digits (leading zeros may be left out).
    pub evidence: Vec<String>,
    /// Markdown.
    pub explanation: String,
    /// The deployment that introduced the regression (its `deployment.id` or the version it
    /// rolled out), for exercises whose truth names one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deployment: String,
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

    // No trace in the window shows this learner's fault: their scenario variant is not what
    // the lab runs (another learner's, another lab's, or none), or no traffic reached it yet.
    // Grading the fields against traffic without the fault would mislead, so say that instead.
    if search_all(ctx.backend, ctx.tenant, &evidence_query, ctx.window, 1)
        .await?
        .is_empty()
    {
        return Ok(Feedback::not_ready(
            "No trace in the window comes from your scenario: the lab's traffic does not show \
             your variant's fault. Is the lab running with your faults on (`dojo up --lab <lab> \
             --learner <the name you joined with>`, or joined to the workshop under that name), \
             and has the load generator sent traffic for a minute?",
            vec![],
        ));
    }
    let mut seen = BTreeSet::new();
    let mut verified = 0usize;
    let mut services_in_evidence = BTreeSet::new();
    let mut evidence_items = Vec::new();
    // (index in `evidence_items`, the spans in that trace that show the fault)
    let mut showing: Vec<(usize, String)> = Vec::new();
    // Traces from before and after the deploy, when the truth names one.
    let (mut before, mut after) = (0usize, 0usize);
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
            // In a workshop each learner's traces are kept apart: a neighbour's trace is not
            // among yours, and saying so beats "no such trace".
            let message = match ctx.backend.held_elsewhere(ctx.tenant, id).await {
                Some(Elsewhere::AnotherLearner) => ANOTHER_LEARNERS,
                Some(Elsewhere::Shared) => {
                    "This trace is not from your traffic: it is among the class's shared \
                     requests, which carry no learner id, and your faults hit only your own. \
                     Cite traces of your own traffic (`dojo loadgen --learner <your id>`)."
                }
                None => {
                    "No trace with this id is in the trace store. Check that you copied the \
                     whole id."
                }
            };
            evidence_items.push(Item::fail(title, message));
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
        // In a workshop each learner's requests carry their id (`learner.id` baggage, recorded
        // on the spans) and their fault hits only those: a neighbour's trace is not evidence.
        if let Some(theirs) = learner_of(&trace)
            && theirs != ctx.vars.learner
        {
            evidence_items.push(Item::fail(title, ANOTHER_LEARNERS).with_evidence(vec![
                Evidence {
                    trace_id: id.to_string(),
                    trace: describe::trace(&trace),
                    why: "another learner's request".into(),
                },
            ]));
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
        let side = truth
            .deployment
            .as_ref()
            .map(|deployment| regression::side(&trace, truth, deployment, !shows.is_empty()));
        match &side {
            Some(regression::Side::After) => after += 1,
            Some(regression::Side::Before(versions)) => {
                before += 1;
                evidence_items.push(
                    regression::before_item(title, &truth.service, versions).with_evidence(vec![
                        Evidence {
                            trace_id: id.to_string(),
                            trace: describe::trace(&trace),
                            why: "before the deploy".into(),
                        },
                    ]),
                );
                continue;
            }
            _ => {}
        }
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
            // The spans are named only once the report names the fault's service and
            // operation: before that, naming them would give the answer away.
            showing.push((
                evidence_items.len(),
                describe::spans(shows.iter().copied(), 2),
            ));
            evidence_items.push(Item::pass(title, "Shows the fault.").with_evidence(vec![
                Evidence {
                    trace_id: id.to_string(),
                    trace: describe::trace(&trace),
                    why: "shows the fault".into(),
                },
            ]));
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
        let class = FaultId::parse(&truth.fault).map(FaultId::class);
        let why = if services_in_evidence.contains(report.service.trim()) {
            affected_not_faulty(class)
        } else {
            where_to_look(class)
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

    // The fault kind, by its id or in plain words.
    let named = FaultId::from_words(&report.fault);
    let truth_kind = FaultId::parse(&truth.fault);
    if named.is_some() && named == truth_kind || normalize(&report.fault) == normalize(&truth.fault)
    {
        score += 0.25;
        items.push(Item::pass(
            "Kind of fault",
            format!("`{}` is right.", report.fault.trim()),
        ));
    } else if report.fault.trim().is_empty() {
        items.push(Item::fail(
            "Kind of fault",
            format!(
                "Name the kind of fault. The kinds are: {}.",
                kinds_list(ctx, "")
            ),
        ));
    } else if named.is_none() {
        items.push(Item::fail(
            "Kind of fault",
            format!(
                "`{}` is not a kind of fault this lab knows. The kinds, closest to what you \
                 wrote first: {}.",
                report.fault.trim(),
                kinds_list(ctx, &report.fault)
            ),
        ));
    } else {
        items.push(Item::fail(
            "Kind of fault",
            format!(
                "`{}` does not describe what happens. {}",
                report.fault.trim(),
                kind_advice(truth_kind.map(FaultId::class))
            ),
        ));
    }

    // The deployment that brought the fault, and evidence from both sides of it.
    let mut weight = 1.0;
    if let Some(deployment) = &truth.deployment {
        weight += 0.2;
        let (named, item) = regression::naming_item(
            ctx.backend,
            ctx.tenant,
            truth,
            deployment,
            &report.deployment,
        )
        .await?;
        if named {
            score += 0.1;
        }
        items.push(item);
        let sides = regression::sides_item(truth, before, after);
        if sides.status == ItemStatus::Pass {
            score += 0.1;
        }
        items.push(sides);
    }

    if names_the_service && operation_ok {
        for (index, spans) in showing {
            if let Some(item) = evidence_items.get_mut(index) {
                item.message = format!("Shows the fault: {spans}.");
            }
        }
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
                "Explain in at least {} words how the traces show the fault: {} (you wrote \
                 {words}).",
                check.min_explanation_words,
                explanation_asks(truth_kind.map(FaultId::class))
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
        score: if passed {
            1.0
        } else {
            (score / weight).min(0.99)
        },
        headline: if passed {
            format!(
                "Root cause found: `{}` in `{}` ({}){}, with {verified} trace{} as evidence.",
                truth.operation,
                truth.service,
                truth.fault,
                truth
                    .deployment
                    .as_ref()
                    .map(|d| format!(", brought by release {}", d.version))
                    .unwrap_or_default(),
                if verified == 1 { "" } else { "s" }
            )
        } else {
            format!("Not yet: check {}.", wrong.join(", ").to_lowercase())
        },
        items,
        syntax_error: None,
    })
}

/// The fault kinds a report may name, closest to `wrote` first: each id with its plain name.
fn kinds_list(ctx: &Context<'_>, wrote: &str) -> String {
    FaultId::closest_to(wrote)
        .into_iter()
        .filter(|id| ctx.fault_kinds.contains(&id.as_str()))
        .map(|id| format!("`{}` ({})", id.as_str(), id.plain_name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the named service, whose spans the evidence shows, is not the culprit — and where
/// the culprit is found for this kind of fault.
fn affected_not_faulty(class: Option<FaultClass>) -> &'static str {
    match class {
        Some(FaultClass::Propagation) => {
            "Its spans are there, but the break is not in them. A broken hop is found where the \
             trace is cut: look for a trace whose root is not the frontend, and for a client span \
             with no server child below it. The service to name is the one that sends its \
             requests without the trace context."
        }
        Some(FaultClass::Errors) => {
            "Its spans fail only because a span below them failed. Follow the error down the tree \
             to the deepest span with an error status whose children succeeded, and name that \
             span's service."
        }
        Some(FaultClass::Network) => {
            "Compare a client span with the server span it called: when the client waits much \
             longer than the server works, the time is lost between the two services, not inside \
             either one."
        }
        Some(FaultClass::Sampling) => {
            "Look at which traces are missing or cut short, and which service's sampling decides \
             that."
        }
        Some(FaultClass::Latency) | None => {
            "Its spans are affected only because they wait on spans below them. Follow the time \
             down the tree to the deepest span that is slow in its own right, and name that \
             span's service."
        }
    }
}

/// Where to look when the named service does not even appear in the evidence.
fn where_to_look(class: Option<FaultClass>) -> &'static str {
    match class {
        Some(FaultClass::Propagation) => {
            "Look for traces that are cut in two: a root span in a service that should never \
             be first, and a client span with no child."
        }
        Some(FaultClass::Errors) => {
            "Look at which service's spans carry the error status in the traces that failed."
        }
        _ => "Look at which service's spans stand out in the traces that show the problem.",
    }
}

/// What a good explanation says, for the class of fault the lab hides (without naming it).
fn explanation_asks(class: Option<FaultClass>) -> &'static str {
    match class {
        Some(FaultClass::Propagation) | Some(FaultClass::Sampling) => {
            "where the traces break or go missing, which hop loses them, and how often"
        }
        Some(FaultClass::Errors) => "which span fails, how it fails, and how often",
        _ => "which span, what it does with its time, and how often",
    }
}

/// A hint towards the right kind of fault, without naming it.
fn kind_advice(class: Option<FaultClass>) -> &'static str {
    match class {
        Some(FaultClass::Propagation) | Some(FaultClass::Sampling) => {
            "Ask what the traces look like as a whole: are they complete, or cut into pieces, or \
             missing?"
        }
        Some(FaultClass::Errors) => {
            "Ask how the affected spans fail: always or sometimes, on every input or one, in the \
             service itself or in something it calls?"
        }
        _ => {
            "Ask what the affected span is doing with its time: waiting on a query, on a \
             dependency, on a connection, on the network, or working itself?"
        }
    }
}

/// What a learner is told about a cited trace of another learner's traffic.
const ANOTHER_LEARNERS: &str = "This trace comes from another learner's traffic, not yours: its \
     requests carry another learner id. Each learner's faults hit only their own requests, so \
     cite traces of your own traffic (`dojo loadgen --learner <your id>`).";

/// The learner whose request a trace is, from the `learner.id` its spans carry.
fn learner_of(trace: &dojo_traceql::model::Trace) -> Option<&str> {
    trace.spans.iter().find_map(|span| {
        match dojo_traceql::model::attribute(&span.attributes, "learner.id") {
            Some(dojo_traceql::model::Value::Str(id)) => Some(id.as_ref()),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explanation_asked_for_fits_the_class_of_fault() {
        let broken = explanation_asks(Some(FaultId::BrokenPropagation.class()));
        assert!(broken.contains("hop"), "{broken}");
        assert!(
            !broken.contains("time"),
            "a broken trace is not about time: {broken}"
        );
        let failing = explanation_asks(Some(FaultClass::Errors));
        assert!(failing.contains("fails"), "{failing}");
        let slow = explanation_asks(Some(FaultClass::Latency));
        assert!(slow.contains("time"), "{slow}");
    }
}
