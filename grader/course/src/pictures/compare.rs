//! Two traces side by side: the comparison an engineer makes by eye in a trace viewer (a slow
//! request against a typical one of the same operation), done for the learner.
//!
//! Spans are paired by their place in the tree: the path of `service: name` steps from the
//! root, with the occurrence among same-named siblings (the third `SELECT` under a request is
//! paired with the other trace's third). A pair whose durations differ by half or more, and by
//! at least a millisecond, is marked slower or faster; a span only one trace has is marked as
//! such. Then the spans whose **own time** (their duration less their children's) grew most
//! are named: that is where the extra time was spent, not merely passed through.

use std::collections::HashMap;

use dojo_traceql::model::Trace;

use super::format_duration;
use super::waterfall::{Row, rows};

/// How one span compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Slower,
    Faster,
    OnlyA,
    OnlyB,
}

impl Change {
    /// The CSS class and the word shown.
    pub fn label(self) -> &'static str {
        match self {
            Change::Same => "same",
            Change::Slower => "slower",
            Change::Faster => "faster",
            Change::OnlyA => "only in a",
            Change::OnlyB => "only in b",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Change::Same => "same",
            Change::Slower => "slower",
            Change::Faster => "faster",
            Change::OnlyA => "only-a",
            Change::OnlyB => "only-b",
        }
    }
}

/// One line of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub depth: usize,
    pub service: String,
    pub name: String,
    /// Durations, shown; `None` where the trace has no such span.
    pub a: Option<String>,
    pub b: Option<String>,
    /// `a − b`, signed, shown; empty when one side is missing.
    pub delta: String,
    pub change: Change,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub a_duration: String,
    pub b_duration: String,
    pub a_spans: usize,
    pub b_spans: usize,
    pub rows: Vec<CompareRow>,
    /// Where the difference sits: sentences naming the spans whose own time changed most.
    pub findings: Vec<String>,
}

/// A span's place in its tree, as the key that pairs it with the other trace's.
fn keyed(trace: &Trace) -> Vec<(String, Row)> {
    let mut out = Vec::with_capacity(trace.spans.len());
    // The key of the open ancestor at each depth.
    let mut path: Vec<String> = Vec::new();
    // How many siblings of each name each parent key has had so far.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for row in rows(trace) {
        path.truncate(row.depth);
        let parent = path.last().cloned().unwrap_or_default();
        let step = format!("{}: {}", row.service, row.name);
        let nth = seen.entry((parent.clone(), step.clone())).or_default();
        *nth += 1;
        let key = format!("{parent} / {step} #{nth}");
        path.push(key.clone());
        out.push((key, row));
    }
    out
}

/// Each span's own time: its duration less the time its children cover (their union, clipped
/// to the span), by index in `trace.spans`.
fn own_times(trace: &Trace) -> Vec<u64> {
    let mut children: HashMap<usize, Vec<(u64, u64)>> = HashMap::new();
    let ids: HashMap<_, _> = trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id, i))
        .collect();
    for span in &trace.spans {
        if let Some(&parent) = span.parent_span_id.as_ref().and_then(|p| ids.get(p)) {
            children
                .entry(parent)
                .or_default()
                .push((span.start_unix_nanos, span.end_unix_nanos));
        }
    }
    trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, span)| {
            let mut covered = 0u64;
            let mut kids = children.remove(&i).unwrap_or_default();
            kids.sort_unstable();
            let mut cursor = span.start_unix_nanos;
            for (start, end) in kids {
                let start = start.max(cursor);
                let end = end.min(span.end_unix_nanos);
                if end > start {
                    covered += end - start;
                    cursor = end;
                }
            }
            span.duration_nanos().saturating_sub(covered)
        })
        .collect()
}

/// `+1.10 s` or `−35 ms`.
fn signed(delta: i128) -> String {
    let sign = if delta < 0 { '−' } else { '+' };
    format!("{sign}{}", format_duration(delta.unsigned_abs() as u64))
}

const MIN_DIFFERENCE_NANOS: u64 = 1_000_000;

/// Compares trace `a` (the one being studied) with trace `b` (the reference).
pub fn compare(a: &Trace, b: &Trace) -> Comparison {
    let a_rows = keyed(a);
    let b_rows = keyed(b);
    let (a_own, b_own) = (own_times(a), own_times(b));
    let b_by_key: HashMap<&str, &Row> = b_rows.iter().map(|(k, r)| (k.as_str(), r)).collect();
    let mut rows = Vec::with_capacity(a_rows.len().max(b_rows.len()));
    // (change in own time, description) for the findings.
    let mut moved: Vec<(i128, String)> = Vec::new();
    for (key, row) in &a_rows {
        let other = b_by_key.get(key.as_str());
        let (change, delta) = match other {
            Some(other) => {
                let (x, y) = (row.duration_nanos, other.duration_nanos);
                let (low, high) = (x.min(y), x.max(y));
                let change = if high - low >= MIN_DIFFERENCE_NANOS && high >= low + low / 2 {
                    if x > y {
                        Change::Slower
                    } else {
                        Change::Faster
                    }
                } else {
                    Change::Same
                };
                let own = i128::from(a_own[row.index]) - i128::from(b_own[other.index]);
                moved.push((own, format!("`{}: {}`", row.service, row.name)));
                (change, signed(i128::from(x) - i128::from(y)))
            }
            None => {
                moved.push((
                    i128::from(a_own[row.index]),
                    format!("`{}: {}` (only in a)", row.service, row.name),
                ));
                (Change::OnlyA, String::new())
            }
        };
        rows.push(CompareRow {
            depth: row.depth,
            service: row.service.clone(),
            name: row.name.clone(),
            a: Some(format_duration(row.duration_nanos)),
            b: other.map(|o| format_duration(o.duration_nanos)),
            delta,
            change,
        });
    }
    let a_keys: std::collections::HashSet<&str> = a_rows.iter().map(|(k, _)| k.as_str()).collect();
    for (key, row) in &b_rows {
        if a_keys.contains(key.as_str()) {
            continue;
        }
        moved.push((
            -i128::from(b_own[row.index]),
            format!("`{}: {}` (only in b)", row.service, row.name),
        ));
        rows.push(CompareRow {
            depth: row.depth,
            service: row.service.clone(),
            name: row.name.clone(),
            a: None,
            b: Some(format_duration(row.duration_nanos)),
            delta: String::new(),
            change: Change::OnlyB,
        });
    }
    let total = |t: &Trace| t.end_unix_nanos().saturating_sub(t.start_unix_nanos());
    let difference = i128::from(total(a)) - i128::from(total(b));
    moved.sort_by_key(|(own, _)| std::cmp::Reverse(own.signum() * difference.signum() * own.abs()));
    let findings = if difference.unsigned_abs() < u128::from(MIN_DIFFERENCE_NANOS) {
        vec!["The two traces took about as long as each other.".to_string()]
    } else {
        let mut findings = vec![format!(
            "Trace a took {} {} than trace b ({} against {}).",
            format_duration(difference.unsigned_abs() as u64),
            if difference > 0 { "longer" } else { "less" },
            format_duration(total(a)),
            format_duration(total(b))
        )];
        findings.extend(
            moved
                .iter()
                .filter(|(own, _)| {
                    own.signum() == difference.signum()
                        && own.unsigned_abs() >= u128::from(MIN_DIFFERENCE_NANOS)
                })
                .take(3)
                .map(|(own, what)| format!("{what} spent {} of its own time there.", signed(*own))),
        );
        findings
    };
    Comparison {
        a_duration: format_duration(total(a)),
        b_duration: format_duration(total(b)),
        a_spans: a.spans.len(),
        b_spans: b.spans.len(),
        rows,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use dojo_traceql::model::TraceId;

    use super::*;
    use crate::pictures::fixtures::span;

    fn trace(id: u8, spans: Vec<dojo_traceql::model::Span>) -> Trace {
        Trace {
            trace_id: TraceId([id; 16]),
            spans,
        }
    }

    #[test]
    fn the_span_whose_own_time_grew_is_named_and_missing_spans_are_marked() {
        // A slow checkout: the database call under api took 400 ms instead of 10 ms, and the
        // retry (a second payments call) happened only in the slow one.
        let slow = trace(
            1,
            vec![
                span(1, None, "frontend", 0, 520),
                span(2, Some(1), "api", 5, 510),
                span(3, Some(2), "db", 10, 410),
                span(4, Some(2), "payments", 420, 460),
                span(5, Some(2), "payments", 465, 505),
            ],
        );
        let typical = trace(
            2,
            vec![
                span(1, None, "frontend", 0, 70),
                span(2, Some(1), "api", 5, 65),
                span(3, Some(2), "db", 10, 20),
                span(4, Some(2), "payments", 25, 60),
            ],
        );
        let comparison = compare(&slow, &typical);
        let changes: Vec<(&str, Change)> = comparison
            .rows
            .iter()
            .map(|r| (r.service.as_str(), r.change))
            .collect();
        assert_eq!(
            changes,
            [
                ("frontend", Change::Slower),
                ("api", Change::Slower),
                ("db", Change::Slower),
                ("payments", Change::Same),
                ("payments", Change::OnlyA),
            ]
        );
        assert!(
            comparison.findings[0].starts_with("Trace a took 450 ms longer"),
            "{:?}",
            comparison.findings
        );
        assert!(
            comparison.findings[1].starts_with("`db: op3` spent +390 ms"),
            "the database call is where the time went: {:?}",
            comparison.findings
        );
        assert_eq!(comparison.rows[2].delta, "+390 ms");
    }

    #[test]
    fn a_span_only_the_reference_has_is_listed_after_the_others() {
        let a = trace(1, vec![span(1, None, "frontend", 0, 50)]);
        let b = trace(
            2,
            vec![
                span(1, None, "frontend", 0, 50),
                span(2, Some(1), "api", 5, 40),
            ],
        );
        let comparison = compare(&a, &b);
        assert_eq!(comparison.rows.len(), 2);
        assert_eq!(comparison.rows[1].change, Change::OnlyB);
        assert_eq!(comparison.rows[1].a, None);
        assert_eq!(
            comparison.findings,
            ["The two traces took about as long as each other."]
        );
    }
}
