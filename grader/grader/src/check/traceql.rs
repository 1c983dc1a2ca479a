//! TraceQL answers, graded by result sets.
//!
//! The learner's query and the reference run over the same pinned window. Traces in one
//! result and not the other are then fetched and both queries evaluated on each, so a trace
//! that merely arrived between the two searches is not held against the learner, and the
//! feedback can say what each query matched in it. Queries written differently but meaning
//! the same pass, because only results are compared.

use std::collections::{BTreeMap, BTreeSet};

use dojo_traceql::model::{SpanId, Trace, TraceId};

use super::GradeError;
use super::contrast;
use super::describe;
use super::diagnose;
use super::feedback::{Evidence, Feedback, Item, Verdict};
pub use super::search_context::Context;
use super::search_context::complete_span_ids;
use crate::backend::{BackendError, SearchHit, SearchRequest, TraceBackend, Window};
use crate::query::{self};
use crate::spec::types::{Compare, TraceqlCheck};

fn window_text(window: &Window) -> String {
    use super::describe::{clock_utc, human_duration};
    format!(
        "{}–{} UTC ({} long)",
        clock_utc(window.start_s.saturating_mul(1_000_000_000)),
        clock_utc(window.end_s.saturating_mul(1_000_000_000)),
        human_duration(
            window
                .end_s
                .saturating_sub(window.start_s)
                .saturating_mul(1_000_000_000)
        )
    )
}

/// Grades one answer.
pub async fn grade(
    ctx: &Context<'_>,
    check: &TraceqlCheck,
    answer: &str,
) -> Result<Feedback, GradeError> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Ok(fail_early(
            "Your answer is empty: write a TraceQL query, such as `{ status = error }`.",
            None,
        ));
    }
    let learner = match query::parse(answer) {
        Ok(parsed) => parsed,
        Err(error) => {
            let syntax = error.syntax();
            return Ok(fail_early(refusal_headline(&error), Some(syntax)));
        }
    };
    if !learner.is_search() {
        return Ok(fail_early(
            "This exercise asks for traces, and your query is a metrics query (`rate()`, \
             `count_over_time()`, …). Remove the metrics stage and keep the spanset filter.",
            None,
        ));
    }
    let reference_text = query::render(&check.reference, &ctx.vars);
    let reference = query::parse(&reference_text).map_err(|e| GradeError::Spec(e.one_line()))?;
    let spss = match check.compare {
        Compare::Traces => 3,
        Compare::Spans => 100,
    };
    let template = request_for(ctx, spss);
    let (reference_hits, learner_hits) = tokio::join!(
        ctx.backend.search(SearchRequest {
            query: reference.text(),
            parsed: Some(reference.query()),
            ..template
        }),
        ctx.backend.search(SearchRequest {
            query: learner.text(),
            parsed: Some(learner.query()),
            ..template
        })
    );
    let reference_hits = reference_hits.map_err(GradeError::Backend)?;
    let learner_hits = match learner_hits {
        Ok(hits) => hits,
        Err(BackendError::InvalidQuery { message, .. }) => {
            return Ok(fail_early(
                format!("The trace store refused your query: {message}"),
                None,
            ));
        }
        Err(other) => return Err(GradeError::Backend(other)),
    };
    if reference_hits.len() < check.min_reference_matches {
        return Ok(Feedback::not_ready(
            format!(
                "The lab has not produced the traces this question is about yet (the reference \
                 found {} in the window, and at least {} are needed). Let the load generator run \
                 a minute longer, check the lab's scenario is switched on, and submit again.",
                reference_hits.len(),
                check.min_reference_matches
            ),
            vec![Item::info("Time window", window_text(&ctx.window))],
        ));
    }

    let reference_by_id: BTreeMap<TraceId, &SearchHit> =
        reference_hits.iter().map(|h| (h.trace_id, h)).collect();
    let learner_by_id: BTreeMap<TraceId, &SearchHit> =
        learner_hits.iter().map(|h| (h.trace_id, h)).collect();
    let mut missed: Vec<TraceId> = reference_by_id
        .keys()
        .filter(|id| !learner_by_id.contains_key(id))
        .copied()
        .collect();
    let mut extra: Vec<TraceId> = learner_by_id
        .keys()
        .filter(|id| !reference_by_id.contains_key(id))
        .copied()
        .collect();

    // Fetch the differing traces and evaluate both queries on each. A difference that the
    // queries do not reproduce on the trace itself came from data arriving between the two
    // searches, and is dropped.
    let mut missed_evidence = Vec::new();
    let mut extra_evidence = Vec::new();
    let mut race = BTreeSet::new();
    let differing: Vec<TraceId> = missed.iter().chain(extra.iter()).copied().collect();
    for id in differing.into_iter().take(ctx.settings.verify_limit) {
        let Some(trace) = ctx
            .backend
            .trace_by_id(ctx.tenant, id)
            .await
            .map_err(GradeError::Backend)?
        else {
            race.insert(id);
            continue;
        };
        let by_reference = reference
            .matching_spans(&trace)
            .map_err(|e| GradeError::Spec(e.one_line()))?;
        let by_learner = learner.matching_spans(&trace).unwrap_or_default();
        match (by_reference.is_empty(), by_learner.is_empty()) {
            (false, true) => {
                if missed_evidence.len() < ctx.settings.examples {
                    missed_evidence.push(Evidence {
                        trace_id: id.to_string(),
                        trace: describe::trace(&trace),
                        why: format!(
                            "the reference matched {} here; your query matched nothing in this trace",
                            describe::spans(by_reference.iter().copied(), 3)
                        ),
                    });
                }
            }
            (true, false) => {
                if extra_evidence.len() < ctx.settings.examples {
                    extra_evidence.push(Evidence {
                        trace_id: id.to_string(),
                        trace: describe::trace(&trace),
                        why: format!(
                            "your query matched {}, but this trace is not one the question asks for",
                            describe::spans(by_learner.iter().copied(), 3)
                        ),
                    });
                }
            }
            _ => {
                race.insert(id);
            }
        }
    }
    missed.retain(|id| !race.contains(id));
    extra.retain(|id| !race.contains(id));

    // Where spans matter, compare the matched spans of the traces both found.
    let mut span_mismatches = 0usize;
    let mut span_evidence = Vec::new();
    let both: Vec<TraceId> = reference_by_id
        .keys()
        .filter(|id| learner_by_id.contains_key(id))
        .copied()
        .collect();
    if check.compare == Compare::Spans {
        for id in &both {
            let (r, l) = (reference_by_id[id], learner_by_id[id]);
            let (r_spans, l_spans) = match (complete_span_ids(r), complete_span_ids(l)) {
                (Some(r), Some(l)) => (r, l),
                _ => {
                    let Some(trace) = ctx
                        .backend
                        .trace_by_id(ctx.tenant, *id)
                        .await
                        .map_err(GradeError::Backend)?
                    else {
                        continue;
                    };
                    (
                        span_ids(
                            &reference
                                .matching_spans(&trace)
                                .map_err(|e| GradeError::Spec(e.one_line()))?,
                        ),
                        span_ids(&learner.matching_spans(&trace).unwrap_or_default()),
                    )
                }
            };
            if r_spans != l_spans {
                span_mismatches += 1;
                if span_evidence.len() < ctx.settings.examples
                    && let Some(trace) = ctx
                        .backend
                        .trace_by_id(ctx.tenant, *id)
                        .await
                        .map_err(GradeError::Backend)?
                {
                    span_evidence.push(span_difference(&trace, &r_spans, &l_spans));
                }
            }
        }
    }

    let union = reference_by_id.len() + extra.len();
    let common = both.len();
    let mut score = if union == 0 {
        0.0
    } else {
        common as f64 / union as f64
    };
    if check.compare == Compare::Spans && common > 0 {
        score *= (common - span_mismatches) as f64 / common as f64;
    }
    let passed = missed.is_empty() && extra.is_empty() && span_mismatches == 0;
    if passed
        && let Some(wait) =
            contrast::indistinguishable(ctx, check, &reference_hits, &request_for(ctx, spss))
                .await?
    {
        return Ok(Feedback::not_ready(
            format!(
                "Not enough traffic yet to tell answers apart — wait about {} s and submit again.",
                wait.as_secs()
            ),
            vec![
                Item::info(
                    "Why this was not graded",
                    "In this window, a query that is nearly but not quite the answer returns the same \
                     result as the answer does, so a pass here would not yet mean your query is \
                     right. The load generator's traffic soon includes the requests that tell \
                     them apart; this attempt is not counted.",
                ),
                Item::info("Time window", window_text(&ctx.window)),
            ],
        ));
    }
    let found = learner_by_id.len()
        - race
            .iter()
            .filter(|id| learner_by_id.contains_key(id))
            .count();
    let expected = reference_by_id.len()
        - race
            .iter()
            .filter(|id| reference_by_id.contains_key(id))
            .count();

    let mut items = Vec::new();
    // Nothing found where the reference finds traces: which part of the query empties it?
    let diagnosis = match (found, learner.pipeline()) {
        (0, Some(pipeline)) if expected > 0 => {
            diagnose::empty_result(ctx.backend, &request_for(ctx, 3), pipeline).await?
        }
        _ => None,
    };
    if let Some((_, item)) = &diagnosis {
        items.push(item.clone());
    }
    if !missed.is_empty() {
        items.push(
            Item::fail(
                format!("Missed {} trace{}", missed.len(), plural(missed.len())),
                "These traces answer the question, but your query does not return them. Open one, \
                 look at the span the reference matched, and ask which of your conditions it fails.",
            )
            .with_evidence(missed_evidence),
        );
    }
    if !extra.is_empty() {
        items.push(
            Item::fail(
                format!("Included {} trace{} that do not answer the question", extra.len(), plural(extra.len())),
                "Your query returns these, but they are not what the question asks for. Look at the \
                 span your query matched in each: which condition is missing or too loose?",
            )
            .with_evidence(extra_evidence),
        );
    }
    if span_mismatches > 0 {
        items.push(
            Item::fail(
                format!(
                    "Right trace, different spans, in {span_mismatches} trace{}",
                    plural(span_mismatches)
                ),
                "This question is about spans, not only traces: the spans your query returns inside \
                 a trace must be the ones that answer it. Check which spans each part of your query \
                 selects (a structural operator returns the spans of its right-hand side).",
            )
            .with_evidence(span_evidence),
        );
    }
    if passed {
        items.push(Item::pass(
            "Same result as the reference",
            format!(
                "Your query returns the same {expected} trace{} as the reference{}.",
                plural(expected),
                if check.compare == Compare::Spans {
                    ", with the same spans in each"
                } else {
                    ""
                }
            ),
        ));
    }
    items.push(Item::info("Time window", window_text(&ctx.window)));

    let headline = if passed {
        format!(
            "Correct: your query finds exactly the {expected} trace{} the question asks for.",
            plural(expected)
        )
    } else if let Some((headline, _)) = diagnosis {
        headline
    } else if found == 0 {
        format!(
            "Your query matched no traces in the window; the reference matched {expected}. Check \
             attribute names and scopes (`resource.` or `span.`), value types (status codes are \
             numbers, durations need a unit) and spelling."
        )
    } else if missed.is_empty() && extra.is_empty() {
        "You found the right traces, but not the right spans in them.".to_string()
    } else if missed.is_empty() {
        format!(
            "Too broad: your query finds all {expected} traces the question asks for, plus {} that it does not.",
            extra.len()
        )
    } else if extra.is_empty() {
        format!(
            "Too narrow: your query finds {found} of the {expected} traces the question asks for; it misses {}.",
            missed.len()
        )
    } else {
        format!(
            "Not quite: your query finds {common} of the {expected} traces the question asks for, misses {}, and includes {} it should not.",
            missed.len(),
            extra.len()
        )
    };
    Ok(Feedback {
        verdict: if passed { Verdict::Pass } else { Verdict::Fail },
        score,
        headline,
        items,
        syntax_error: None,
    })
}

/// The search every query of one grading runs: same tenant, window, limit and spans per set.
fn request_for<'a>(ctx: &'a Context<'a>, spans_per_spanset: usize) -> SearchRequest<'a> {
    SearchRequest {
        tenant: ctx.tenant,
        query: "",
        parsed: None,
        window: ctx.window,
        limit: ctx.settings.search_limit,
        spans_per_spanset,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The headline for a query the engine refused: a type error is named as one (the text is
/// TraceQL, but compares or combines values that do not go together), not as a parse error.
fn refusal_headline(error: &query::QueryError) -> String {
    use dojo_traceql::ErrorKind;
    let (line, column) = error.error.line_col(&error.text);
    let at = format!("line {line}, column {column}");
    match error.error.kind {
        ErrorKind::Parse => format!("Your query does not parse ({at})."),
        ErrorKind::Validate => format!(
            "Type error ({at}): your query is TraceQL, but {}.",
            error.error.message.trim_end_matches('.')
        ),
        ErrorKind::Regex => format!("The regular expression in your query is not valid ({at})."),
        ErrorKind::Unsupported => {
            format!("Your query uses TraceQL that Tempo does not run yet ({at}).")
        }
        ErrorKind::TooDeep => format!("Your query nests too deeply to run ({at})."),
        ErrorKind::Budget | ErrorKind::Runtime => {
            format!("Your query could not run ({at}): {}.", error.error.message)
        }
    }
}

/// A refusal before any result is compared. The syntax error's picture already carries its
/// hint, so the hint is not repeated as an item (text mode would print it twice).
fn fail_early(
    headline: impl Into<String>,
    syntax: Option<super::feedback::SyntaxError>,
) -> Feedback {
    Feedback {
        verdict: Verdict::Fail,
        score: 0.0,
        headline: headline.into(),
        items: Vec::new(),
        syntax_error: syntax,
    }
}

fn span_ids(spans: &[&dojo_traceql::model::Span]) -> BTreeSet<SpanId> {
    spans.iter().map(|s| s.span_id).collect()
}

fn span_difference(
    trace: &Trace,
    reference: &BTreeSet<SpanId>,
    learner: &BTreeSet<SpanId>,
) -> Evidence {
    let only_in = |a: &BTreeSet<SpanId>, b: &BTreeSet<SpanId>| {
        trace
            .spans
            .iter()
            .filter(|s| a.contains(&s.span_id) && !b.contains(&s.span_id))
            .collect::<Vec<_>>()
    };
    let yours = only_in(learner, reference);
    let theirs = only_in(reference, learner);
    let mut why = Vec::new();
    if !yours.is_empty() {
        why.push(format!(
            "you returned {} which the answer does not include",
            describe::spans(yours.into_iter(), 3)
        ));
    }
    if !theirs.is_empty() {
        why.push(format!(
            "you did not return {}",
            describe::spans(theirs.into_iter(), 3)
        ));
    }
    Evidence {
        trace_id: trace.trace_id.to_string(),
        trace: describe::trace(trace),
        why: why.join("; "),
    }
}

/// Runs a query over a window and returns the matched traces (used by other checks too).
pub(crate) async fn search_all(
    backend: &dyn TraceBackend,
    tenant: Option<&str>,
    query_text: &str,
    window: Window,
    limit: usize,
) -> Result<Vec<SearchHit>, GradeError> {
    backend
        .search(SearchRequest {
            tenant,
            query: query_text,
            parsed: None,
            window,
            limit,
            spans_per_spanset: 3,
        })
        .await
        .map_err(|e| match e {
            BackendError::InvalidQuery { message, .. } => {
                GradeError::Spec(format!("the trace store refused `{query_text}`: {message}"))
            }
            other => GradeError::Backend(other),
        })
}
