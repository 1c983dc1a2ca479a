//! The tail-sampling buffer: spans wait here, grouped by trace, until their trace's decision.
//!
//! A trace's deadline is fixed when its first span arrives (`decision_wait` later, as in the
//! collector). Spans arriving after the decision follow it, thanks to a bounded memory of
//! recent decisions, so a late span never resurrects a dropped trace.

use std::collections::VecDeque;
use std::time::Duration;

use dojo_traceql::model::TraceId;
use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::otlp::convert::IncomingSpan;

/// How many recent decisions are remembered for late spans.
const DECISION_MEMORY: usize = 100_000;

/// What happened to spans handed to the buffer.
#[derive(Debug, Default)]
pub struct Added {
    /// Spans of already-kept traces: store them now.
    pub keep_now: Vec<IncomingSpan>,
    /// Spans of already-dropped traces.
    pub dropped: usize,
    /// Spans now waiting.
    pub waiting: usize,
}

#[derive(Debug)]
struct Pending {
    spans: Vec<IncomingSpan>,
}

/// One tenant's waiting traces.
#[derive(Debug, Default)]
pub struct TailBuffer {
    pending: FxHashMap<TraceId, Pending>,
    /// Deadlines in arrival order (all traces wait the same time, so this is also deadline order).
    deadlines: VecDeque<(Instant, TraceId)>,
    decided: FxHashMap<TraceId, bool>,
    decided_order: VecDeque<TraceId>,
}

impl TailBuffer {
    /// Buffers spans, or routes them by an earlier decision.
    pub fn add(&mut self, spans: Vec<IncomingSpan>, now: Instant, wait: Duration) -> Added {
        let mut added = Added::default();
        for span in spans {
            match self.decided.get(&span.trace_id) {
                Some(true) => added.keep_now.push(span),
                Some(false) => added.dropped += 1,
                None => {
                    let trace_id = span.trace_id;
                    let pending = self.pending.entry(trace_id).or_insert_with(|| {
                        self.deadlines.push_back((now + wait, trace_id));
                        Pending { spans: Vec::new() }
                    });
                    pending.spans.push(span);
                    added.waiting += 1;
                }
            }
        }
        added
    }

    /// Takes every trace whose deadline has passed.
    pub fn take_due(&mut self, now: Instant) -> Vec<(TraceId, Vec<IncomingSpan>)> {
        let mut due = Vec::new();
        while let Some((deadline, trace_id)) = self.deadlines.front().copied() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(pending) = self.pending.remove(&trace_id) {
                due.push((trace_id, pending.spans));
            }
        }
        due
    }

    /// Remembers a decision so late spans follow it.
    pub fn remember(&mut self, trace_id: TraceId, keep: bool) {
        if self.decided.insert(trace_id, keep).is_none() {
            self.decided_order.push_back(trace_id);
        }
        while self.decided_order.len() > DECISION_MEMORY {
            if let Some(old) = self.decided_order.pop_front() {
                self.decided.remove(&old);
            }
        }
    }

    /// Spans currently waiting.
    pub fn waiting_spans(&self) -> usize {
        self.pending.values().map(|p| p.spans.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_traceql::model::Span;

    fn span(trace: u8) -> IncomingSpan {
        IncomingSpan {
            trace_id: TraceId([trace; 16]),
            span: Span::default(),
            bytes: 1,
        }
    }

    #[test]
    fn traces_wait_until_their_deadline() {
        let mut buffer = TailBuffer::default();
        let start = Instant::now();
        let wait = Duration::from_secs(5);
        buffer.add(vec![span(1)], start, wait);
        buffer.add(vec![span(1), span(2)], start + Duration::from_secs(2), wait);
        assert!(buffer.take_due(start + Duration::from_secs(4)).is_empty());
        let due = buffer.take_due(start + Duration::from_secs(5));
        assert_eq!(due.len(), 1);
        assert_eq!(
            due[0].1.len(),
            2,
            "both spans of trace 1 are decided together"
        );
        assert_eq!(buffer.waiting_spans(), 1);
    }

    #[test]
    fn late_spans_follow_the_earlier_decision() {
        let mut buffer = TailBuffer::default();
        let now = Instant::now();
        buffer.remember(TraceId([1; 16]), true);
        buffer.remember(TraceId([2; 16]), false);
        let added = buffer.add(vec![span(1), span(2), span(3)], now, Duration::from_secs(1));
        assert_eq!(added.keep_now.len(), 1);
        assert_eq!(added.dropped, 1);
        assert_eq!(added.waiting, 1);
    }
}
