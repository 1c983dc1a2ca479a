//! Search: a query over many traces, shaped as Tempo shapes a search response — the newest
//! traces first (by start time), at most `limit` of them, at most `spans_per_spanset` spans per
//! spanset with `matched` telling how many there really were (`reference/traceql.md` §0).

use crate::Query;
use crate::budget::EvalBudget;
use crate::error::Error;
use crate::eval::{SpansetMatch, evaluate_trace};
use crate::model::{Trace, TraceId};

/// Tempo's default number of traces in a search response.
pub const DEFAULT_LIMIT: usize = 20;
/// Tempo's default number of spans shown per spanset.
pub const DEFAULT_SPANS_PER_SPANSET: usize = 3;

/// How much a search returns, and how much work it may do.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Most traces returned; 0 means the default (20), as in Tempo.
    pub limit: usize,
    /// Most spans listed per spanset; 0 means the default (3), as in Tempo.
    pub spans_per_spanset: usize,
    /// The work allowed over the whole search.
    pub budget: EvalBudget,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            limit: DEFAULT_LIMIT,
            spans_per_spanset: DEFAULT_SPANS_PER_SPANSET,
            budget: EvalBudget::default(),
        }
    }
}

/// One matching trace and its spansets.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceMatch {
    pub trace_id: TraceId,
    /// The earliest span start, which orders the results.
    pub start_unix_nanos: u64,
    pub spansets: Vec<SpansetMatch>,
}

/// Runs `query` over `traces` and returns the newest matching traces.
pub fn search<'a>(
    query: &Query,
    traces: impl IntoIterator<Item = &'a Trace>,
    opts: &SearchOptions,
) -> Result<Vec<TraceMatch>, Error> {
    let limit = if opts.limit == 0 {
        DEFAULT_LIMIT
    } else {
        opts.limit
    };
    let spss = if opts.spans_per_spanset == 0 {
        DEFAULT_SPANS_PER_SPANSET
    } else {
        opts.spans_per_spanset
    };
    let mut budget = opts.budget.clone();
    let mut found: Vec<TraceMatch> = Vec::new();
    // Once `limit` matches are kept, a trace older than all of them cannot make the cut, so
    // it is not evaluated at all.
    let mut oldest_kept: Option<u64> = None;
    for trace in traces {
        let start = trace.start_unix_nanos();
        if oldest_kept.is_some_and(|oldest| start < oldest) {
            continue;
        }
        let spansets = evaluate_trace(query, trace, &mut budget)?;
        if spansets.is_empty() {
            continue;
        }
        found.push(TraceMatch {
            trace_id: trace.trace_id,
            start_unix_nanos: start,
            spansets: spansets
                .into_iter()
                .map(|mut s| {
                    s.spans.truncate(spss);
                    s
                })
                .collect(),
        });
        // Keep memory bounded: trim to the newest `limit` now and then.
        if found.len() >= limit.saturating_mul(4).max(64) {
            newest_first(&mut found);
            found.truncate(limit);
            oldest_kept = found.last().map(|m| m.start_unix_nanos);
        }
    }
    newest_first(&mut found);
    found.truncate(limit);
    Ok(found)
}

fn newest_first(found: &mut [TraceMatch]) {
    found.sort_by(|a, b| {
        b.start_unix_nanos
            .cmp(&a.start_unix_nanos)
            .then(a.trace_id.cmp(&b.trace_id))
    });
}
