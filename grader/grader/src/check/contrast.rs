//! Whether the pinned window can tell the answer from its near misses.
//!
//! A result-set grader is only as good as the data in the window: if a nearly-right query
//! (the `must_refuse` list of the exercise) returns exactly what the reference returns, a
//! pass would mean nothing, because that near miss would pass too. So before a TraceQL answer
//! is accepted, each near miss runs over the same window; while one of them cannot be told
//! apart, the learner is asked to wait (and the attempt is not judged) instead of passing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use dojo_traceql::model::{SpanId, TraceId};

use super::GradeError;
use super::search_context::{Context, complete_span_ids};
use crate::backend::{BackendError, SearchHit, SearchRequest};
use crate::query;
use crate::spec::types::{Compare, TraceqlCheck};

/// The shortest and longest wait suggested.
const MIN_WAIT: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(180);

/// `Some(wait)` when some near miss returns the same result as the reference in the window;
/// `wait` is how long the learner should let the traffic run before submitting again.
pub async fn indistinguishable(
    ctx: &Context<'_>,
    check: &TraceqlCheck,
    reference_hits: &[SearchHit],
    template: &SearchRequest<'_>,
) -> Result<Option<Duration>, GradeError> {
    let reference = result_of(reference_hits, check.compare);
    for near_miss in &check.must_refuse {
        let text = query::render(near_miss, &ctx.vars);
        let hits = match ctx
            .backend
            .search(SearchRequest {
                query: &text,
                ..*template
            })
            .await
        {
            Ok(hits) => hits,
            // The spec is validated at load; a store that still refuses it is the lab's bug.
            Err(BackendError::InvalidQuery { message, .. }) => {
                return Err(GradeError::Spec(format!(
                    "the trace store refused the near miss `{text}`: {message}"
                )));
            }
            Err(other) => return Err(GradeError::Backend(other)),
        };
        if result_of(&hits, check.compare) == reference {
            return Ok(Some(suggested_wait(
                reference_hits,
                ctx.window.end_s,
                ctx.settings.settle,
            )));
        }
    }
    Ok(None)
}

/// What a query returned, as far as the comparison goes: the traces, and with
/// `compare: spans` the matched spans of each (`None` where the store cut the list short).
type Compared = BTreeMap<TraceId, Option<BTreeSet<SpanId>>>;

fn result_of(hits: &[SearchHit], compare: Compare) -> Compared {
    hits.iter()
        .map(|hit| {
            let spans = match compare {
                Compare::Traces => None,
                Compare::Spans => complete_span_ids(hit),
            };
            (hit.trace_id, spans)
        })
        .collect()
}

/// How long to wait: the reference's matches arrived at some rate over the stretch of the
/// window that has traffic; the traces that tell a near miss apart come at a comparable rate,
/// so three such intervals (plus the settle time the window ends before now) is a fair
/// estimate, rounded up to 5 s and kept between [`MIN_WAIT`] and [`MAX_WAIT`].
pub fn suggested_wait(
    reference_hits: &[SearchHit],
    window_end_s: u64,
    settle: Duration,
) -> Duration {
    let earliest_s = reference_hits
        .iter()
        .map(|h| h.start_unix_nanos / 1_000_000_000)
        .min()
        .unwrap_or(window_end_s);
    let covered_s = window_end_s.saturating_sub(earliest_s).max(1) as f64;
    let matches = reference_hits.len().max(1) as f64;
    let estimate = 3.0 * covered_s / matches + settle.as_secs_f64();
    let clamped = estimate.clamp(MIN_WAIT.as_secs_f64(), MAX_WAIT.as_secs_f64());
    Duration::from_secs(((clamped / 5.0).ceil() * 5.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(start_s: u64) -> SearchHit {
        SearchHit {
            trace_id: TraceId([start_s as u8; 16]),
            root_service_name: "frontend".into(),
            root_trace_name: "GET /".into(),
            start_unix_nanos: start_s * 1_000_000_000,
            duration_nanos: 1_000_000,
            spansets: Vec::new(),
        }
    }

    #[test]
    fn the_wait_follows_how_often_the_reference_matched() {
        let settle = Duration::from_secs(10);
        // Two matches over the last 20 s: one every 10 s, so about 30 s + the settle time.
        assert_eq!(
            suggested_wait(&[hit(980), hit(990)], 1000, settle),
            Duration::from_secs(40)
        );
        // Frequent matches still ask for at least the minimum.
        let many: Vec<SearchHit> = (0..100).map(|i| hit(900 + i)).collect();
        assert_eq!(suggested_wait(&many, 1000, Duration::ZERO), MIN_WAIT);
        // A rare match is capped, so the learner is not told to wait for an hour.
        assert_eq!(suggested_wait(&[hit(0)], 1000, settle), MAX_WAIT);
    }
}
