//! The log book: the JSON log lines the lab's services wrote, kept so the course can show the
//! logs of a span beside its trace (trace–log correlation).
//!
//! `dojo up` reads every child's standard output line by line and hands each line here. Lines
//! are kept in arrival order in a bounded ring, and indexed by the `trace_id` they carry, so
//! that "the logs of this trace" is one lookup. The oldest lines go first when the ring is full.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// One log line a service wrote, with the ids that tie it to a span.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// The service that wrote it (`frontend`, `api`, …).
    pub service: String,
    /// 32 hex digits, when the line was written inside a span.
    pub trace_id: Option<String>,
    /// 16 hex digits, when the line was written inside a span.
    pub span_id: Option<String>,
    /// The log level as the service wrote it (`INFO`, `WARN`, …).
    pub level: String,
    /// The human message.
    pub message: String,
    /// The timestamp as the service wrote it (RFC 3339).
    pub timestamp: String,
    /// The whole line, for a detail view.
    pub raw: String,
}

impl LogLine {
    /// Reads one line of a service's output. JSON lines give their fields; any other line is
    /// kept as its text so nothing a service prints is lost.
    pub fn parse(service: &str, raw: &str) -> LogLine {
        let json: Option<serde_json::Value> = serde_json::from_str(raw).ok();
        let find = |key: &str| -> Option<String> {
            let json = json.as_ref()?;
            // tracing-subscriber's JSON puts event fields under "fields" and span fields under
            // "span"; our services also write trace ids at the top level. Look in all three.
            [Some(json), json.get("fields"), json.get("span")]
                .into_iter()
                .flatten()
                .find_map(|v| v.get(key))
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        LogLine {
            service: service.to_owned(),
            trace_id: find("trace_id").filter(|id| id.len() == 32),
            span_id: find("span_id").filter(|id| id.len() == 16),
            level: find("level").unwrap_or_default(),
            message: find("message").unwrap_or_else(|| {
                if json.is_some() {
                    String::new()
                } else {
                    raw.to_owned()
                }
            }),
            timestamp: find("timestamp").unwrap_or_default(),
            raw: raw.to_owned(),
        }
    }
}

/// A cheap, cloneable handle to the shared log book.
#[derive(Clone)]
pub struct LogBook {
    shared: Arc<Mutex<State>>,
}

struct State {
    /// Lines in arrival order; each has a sequence number so the index survives eviction.
    lines: VecDeque<(u64, Arc<LogLine>)>,
    /// Sequence number of the next line.
    next_seq: u64,
    /// trace id → sequence numbers of its lines (pruned lazily as lines are evicted).
    by_trace: HashMap<String, Vec<u64>>,
    /// How many lines to keep.
    capacity: usize,
}

impl LogBook {
    /// A log book keeping at most `capacity` lines.
    pub fn new(capacity: usize) -> LogBook {
        LogBook {
            shared: Arc::new(Mutex::new(State {
                lines: VecDeque::new(),
                next_seq: 0,
                by_trace: HashMap::new(),
                capacity: capacity.max(1),
            })),
        }
    }

    /// Adds a line, evicting the oldest when full.
    pub fn push(&self, line: LogLine) {
        let mut state = self
            .shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = state.next_seq;
        state.next_seq += 1;
        if let Some(trace_id) = &line.trace_id {
            state
                .by_trace
                .entry(trace_id.clone())
                .or_default()
                .push(seq);
        }
        state.lines.push_back((seq, Arc::new(line)));
        while state.lines.len() > state.capacity {
            if let Some((old_seq, old)) = state.lines.pop_front()
                && let Some(trace_id) = &old.trace_id
                && let Some(seqs) = state.by_trace.get_mut(trace_id)
            {
                seqs.retain(|s| *s != old_seq);
                if seqs.is_empty() {
                    state.by_trace.remove(trace_id);
                }
            }
        }
    }

    /// The lines written inside the given trace, oldest first.
    pub fn for_trace(&self, trace_id: &str) -> Vec<Arc<LogLine>> {
        let state = self
            .shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(seqs) = state.by_trace.get(&trace_id.to_ascii_lowercase()) else {
            return Vec::new();
        };
        let first = state.lines.front().map(|(s, _)| *s).unwrap_or(0);
        seqs.iter()
            .filter_map(|seq| seq.checked_sub(first))
            .filter_map(|offset| state.lines.get(offset as usize))
            .map(|(_, line)| Arc::clone(line))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn json_line(trace: &str, message: &str) -> String {
        format!(
            r#"{{"timestamp":"2026-11-22T10:00:00Z","level":"INFO","fields":{{"message":"{message}"}},"trace_id":"{trace}","span_id":"00f067aa0ba902b7"}}"#
        )
    }

    #[test]
    fn a_json_line_gives_its_ids_level_and_message() {
        let line = LogLine::parse("api", &json_line(TRACE, "order placed"));
        assert_eq!(line.trace_id.as_deref(), Some(TRACE));
        assert_eq!(line.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(line.level, "INFO");
        assert_eq!(line.message, "order placed");
    }

    #[test]
    fn a_plain_text_line_is_kept_as_its_message() {
        let line = LogLine::parse("api", "listening on http://127.0.0.1:8082");
        assert_eq!(line.message, "listening on http://127.0.0.1:8082");
        assert_eq!(line.trace_id, None);
    }

    #[test]
    fn lines_are_found_by_trace_and_the_oldest_are_evicted_first() {
        let book = LogBook::new(3);
        book.push(LogLine::parse("api", &json_line(TRACE, "one")));
        book.push(LogLine::parse(
            "api",
            &json_line("0".repeat(32).as_str(), "other"),
        ));
        book.push(LogLine::parse("frontend", &json_line(TRACE, "two")));
        let messages: Vec<_> = book
            .for_trace(TRACE)
            .iter()
            .map(|l| l.message.clone())
            .collect();
        assert_eq!(messages, ["one", "two"]);

        book.push(LogLine::parse("api", &json_line(TRACE, "three")));
        let messages: Vec<_> = book
            .for_trace(TRACE)
            .iter()
            .map(|l| l.message.clone())
            .collect();
        assert_eq!(messages, ["two", "three"], "the oldest line was evicted");
    }
}
