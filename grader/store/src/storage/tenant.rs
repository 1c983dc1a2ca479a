//! Tenants: who a span or a query belongs to, and each tenant's bounded set of traces.
//!
//! A tenant is named by the `X-Scope-OrgID` header (or gRPC metadata), as in Tempo; requests
//! without one belong to `single-tenant`. Each tenant keeps its traces in arrival order so the
//! oldest can be evicted first when a limit is reached or the retention window has passed.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dojo_traceql::model::{Trace, TraceId};
use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::bounds::SpanLimits;
use crate::config::Limits;
use crate::otlp::convert::IncomingSpan;

/// A checked tenant name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

/// Why a tenant name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("the tenant id (X-Scope-OrgID) must not be empty")]
    Empty,
    #[error("the tenant id (X-Scope-OrgID) must be at most 150 characters long, found {0}")]
    TooLong(usize),
    #[error(
        "the tenant id (X-Scope-OrgID) {0:?} may only contain letters, digits and the characters !-_.*'(); querying several tenants at once (a|b) is not supported here"
    )]
    BadCharacter(String),
}

impl TenantId {
    /// Checks a tenant name with the rules Tempo applies.
    pub fn parse(text: &str) -> Result<Self, TenantError> {
        if text.is_empty() {
            return Err(TenantError::Empty);
        }
        if text.len() > 150 {
            return Err(TenantError::TooLong(text.len()));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
        if !text.chars().all(allowed) || text == "." || text == ".." {
            return Err(TenantError::BadCharacter(text.to_string()));
        }
        Ok(TenantId(Arc::from(text)))
    }

    /// The tenant of requests without a tenant header.
    pub fn default_tenant() -> Self {
        TenantId(Arc::from(dojo_defaults::DEFAULT_TENANT))
    }

    /// The tenant named by an optional header value; absent means the default tenant.
    pub fn from_header(value: Option<&str>) -> Result<Self, TenantError> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::default_tenant()),
            Some(text) => Self::parse(text),
        }
    }

    /// The tenant named by a raw header value, as bytes: the one parser the OTLP receivers
    /// (HTTP headers and gRPC metadata) and the Tempo API all use, so each refuses exactly
    /// the names the others refuse. Bytes that are not text are refused, never read as absent.
    pub fn from_header_bytes(value: Option<&[u8]>) -> Result<Self, TenantError> {
        match value {
            None => Ok(Self::default_tenant()),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Self::from_header(Some(text)),
                Err(_) => Err(TenantError::BadCharacter(
                    String::from_utf8_lossy(bytes).into_owned(),
                )),
            },
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Running totals per tenant, readable without any lock (for `/metrics` and the status page).
#[derive(Debug, Default)]
pub struct Counters {
    /// Spans that arrived in a request that was accepted, valid or not.
    pub received_spans: AtomicU64,
    /// Spans refused because OTLP forbids them (bad ids).
    pub refused_spans: AtomicU64,
    /// Spans dropped by probabilistic or tail sampling.
    pub sampled_out_spans: AtomicU64,
    /// Spans that made it into storage.
    pub stored_spans: AtomicU64,
    /// Spans removed to respect a limit or the retention window.
    pub evicted_spans: AtomicU64,
    /// Traces removed to respect a limit or the retention window.
    pub evicted_traces: AtomicU64,
    /// Requests turned away with 429/503 because the store was overloaded.
    pub refused_requests: AtomicU64,
    /// Spans stored cut down to the span limits (attributes, values, events, links).
    pub truncated_spans: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// One stored trace and what eviction needs to know about it.
#[derive(Debug)]
pub struct StoredTrace {
    /// Shared with running queries; a write while a query holds it copies it first.
    pub trace: Arc<Trace>,
    /// When its first span arrived: the retention clock and the eviction order.
    pub received_at: Instant,
    /// Estimated bytes, to keep the tenant's total exact as traces leave.
    pub bytes: u64,
}

/// A tenant's traces. Guarded by a `RwLock` that is never held across an `.await`.
#[derive(Debug, Default)]
pub struct TenantState {
    /// Fx hashing: trace ids are random already, and this lookup runs once per ingested span run.
    pub traces: FxHashMap<TraceId, StoredTrace>,
    /// Trace ids in order of first arrival; the front is evicted first.
    pub arrival: VecDeque<TraceId>,
    /// Spans currently stored.
    pub spans: usize,
    /// Estimated bytes currently stored.
    pub bytes: u64,
}

/// What an eviction pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evicted {
    pub traces: usize,
    pub spans: usize,
    /// Estimated bytes freed.
    pub bytes: u64,
}

impl Evicted {
    fn add(&mut self, removed: &StoredTrace) {
        self.traces += 1;
        self.spans += removed.trace.spans.len();
        self.bytes += removed.bytes;
    }
}

/// Spans of a batch turned away because their trace is already as big as a trace may be.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TooBig {
    pub spans: usize,
    /// Why the first of them was refused.
    pub first_reason: Option<String>,
}

impl TenantState {
    /// Removes from `spans` those that would take their trace past `max_spans_per_trace` or
    /// `max_bytes_per_trace`, counting what is already stored and what comes earlier in the
    /// batch. Runs under the read lock, before the spans are counted in metrics and stored.
    pub fn admit(&self, spans: &mut Vec<IncomingSpan>, limits: &SpanLimits) -> TooBig {
        let mut too_big = TooBig::default();
        let mut sizes: FxHashMap<TraceId, (usize, u64)> = FxHashMap::default();
        spans.retain(|span| {
            let (count, bytes) = sizes.entry(span.trace_id).or_insert_with(|| {
                self.traces
                    .get(&span.trace_id)
                    .map_or((0, 0), |t| (t.trace.spans.len(), t.bytes))
            });
            let reason = if *count >= limits.max_spans_per_trace {
                format!(
                    "the trace {} already has {} spans, the most a trace may have in this store (span_limits.max_spans_per_trace); its later spans are refused",
                    span.trace_id, limits.max_spans_per_trace
                )
            } else if *bytes + span.bytes > limits.max_bytes_per_trace {
                format!(
                    "the trace {} would grow past {} bytes, the most a trace may hold in this store (span_limits.max_bytes_per_trace, as Tempo's max_bytes_per_trace); its later spans are refused",
                    span.trace_id, limits.max_bytes_per_trace
                )
            } else {
                *count += 1;
                *bytes += span.bytes;
                return true;
            };
            too_big.spans += 1;
            too_big.first_reason.get_or_insert(reason);
            false
        });
        too_big
    }

    /// When the oldest trace still stored was first received.
    pub fn oldest(&self) -> Option<Instant> {
        self.arrival
            .front()
            .and_then(|id| self.traces.get(id))
            .map(|t| t.received_at)
    }

    /// Removes the oldest trace (for the store-wide budget).
    pub fn evict_oldest(&mut self) -> Evicted {
        let mut evicted = Evicted::default();
        while let Some(oldest) = self.arrival.pop_front() {
            if let Some(removed) = self.traces.remove(&oldest) {
                self.spans -= removed.trace.spans.len();
                self.bytes -= removed.bytes;
                evicted.add(&removed);
                break;
            }
        }
        evicted
    }

    /// Adds spans to their traces, creating traces on first sight, and returns the estimated
    /// bytes added. Consecutive spans of one trace (the usual shape of a batch) cost one
    /// lookup together.
    pub fn insert(&mut self, spans: Vec<IncomingSpan>, now: Instant) -> u64 {
        let mut total = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some(first) = spans.next() {
            let trace_id = first.trace_id;
            let stored = self.traces.entry(trace_id).or_insert_with(|| {
                self.arrival.push_back(trace_id);
                StoredTrace {
                    trace: Arc::new(Trace {
                        trace_id,
                        spans: Vec::new(),
                    }),
                    received_at: now,
                    bytes: 0,
                }
            });
            let trace = Arc::make_mut(&mut stored.trace);
            let mut added_bytes = first.bytes;
            let mut added_spans = 1;
            trace.spans.push(first.span);
            while let Some(next) = spans.next_if(|s| s.trace_id == trace_id) {
                added_bytes += next.bytes;
                added_spans += 1;
                trace.spans.push(next.span);
            }
            stored.bytes += added_bytes;
            self.spans += added_spans;
            self.bytes += added_bytes;
            total += added_bytes;
        }
        total
    }

    /// Takes one trace out (its id stays in `arrival` until eviction passes over it): its
    /// spans, each with its share of the trace's bytes, and the bytes it held.
    pub fn take(&mut self, trace_id: &TraceId) -> Option<(Vec<IncomingSpan>, u64)> {
        let removed = self.traces.remove(trace_id)?;
        let count = removed.trace.spans.len();
        self.spans -= count;
        self.bytes -= removed.bytes;
        let share = removed.bytes / count.max(1) as u64;
        let trace = Arc::unwrap_or_clone(removed.trace);
        let spans = trace
            .spans
            .into_iter()
            .map(|span| IncomingSpan {
                trace_id: *trace_id,
                span,
                bytes: share,
            })
            .collect();
        Some((spans, removed.bytes))
    }

    /// Removes the oldest traces while a limit is exceeded or they are past retention.
    pub fn evict(&mut self, limits: &Limits, now: Instant) -> Evicted {
        let mut evicted = Evicted::default();
        while let Some(oldest) = self.arrival.front().copied() {
            let expired = self
                .traces
                .get(&oldest)
                .is_none_or(|t| now.saturating_duration_since(t.received_at) > limits.retention);
            let over = self.spans > limits.max_spans_per_tenant
                || self.bytes > limits.max_bytes_per_tenant;
            if !expired && !over {
                break;
            }
            self.arrival.pop_front();
            if let Some(removed) = self.traces.remove(&oldest) {
                self.spans -= removed.trace.spans.len();
                self.bytes -= removed.bytes;
                evicted.add(&removed);
            }
        }
        evicted
    }

    /// Every stored trace, cheaply (clones of `Arc`s), so queries run without the lock.
    pub fn snapshot(&self) -> Vec<Arc<Trace>> {
        self.traces.values().map(|t| t.trace.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_traceql::model::{Span, SpanId};
    use std::time::Duration;

    fn incoming(trace: u8, span: u8) -> IncomingSpan {
        IncomingSpan {
            trace_id: TraceId([trace; 16]),
            span: Span {
                span_id: SpanId([span; 8]),
                ..Default::default()
            },
            bytes: 100,
        }
    }

    fn limits(spans: usize) -> Limits {
        Limits {
            max_spans_per_tenant: spans,
            ..Limits::default()
        }
    }

    #[test]
    fn tenant_names_follow_tempos_rules() {
        assert_eq!(
            TenantId::from_header(None).unwrap().as_str(),
            "single-tenant"
        );
        assert_eq!(
            TenantId::from_header(Some("team-a")).unwrap().as_str(),
            "team-a"
        );
        assert!(matches!(
            TenantId::parse("a|b"),
            Err(TenantError::BadCharacter(_))
        ));
        assert!(matches!(
            TenantId::parse(&"x".repeat(151)),
            Err(TenantError::TooLong(151))
        ));
        assert!(TenantId::parse("..").is_err());
    }

    #[test]
    fn spans_of_one_trace_are_assembled_in_arrival_order() {
        let mut state = TenantState::default();
        let now = Instant::now();
        state.insert(vec![incoming(1, 1), incoming(2, 1)], now);
        state.insert(vec![incoming(1, 2)], now);
        assert_eq!(state.traces[&TraceId([1; 16])].trace.spans.len(), 2);
        assert_eq!(state.spans, 3);
        assert_eq!(state.bytes, 300);
        assert_eq!(state.arrival, [TraceId([1; 16]), TraceId([2; 16])]);
    }

    #[test]
    fn the_oldest_traces_are_evicted_first_when_over_the_span_limit() {
        let mut state = TenantState::default();
        let now = Instant::now();
        state.insert(vec![incoming(1, 1), incoming(1, 2)], now);
        state.insert(vec![incoming(2, 1)], now);
        state.insert(vec![incoming(3, 1)], now);
        let evicted = state.evict(&limits(2), now);
        assert_eq!(
            evicted,
            Evicted {
                traces: 1,
                spans: 2,
                bytes: 200
            }
        );
        assert!(!state.traces.contains_key(&TraceId([1; 16])));
        assert_eq!(state.spans, 2);
        assert_eq!(state.bytes, 200);
    }

    #[test]
    fn traces_past_retention_are_evicted() {
        let mut state = TenantState::default();
        let then = Instant::now();
        state.insert(vec![incoming(1, 1)], then);
        let mut limits = limits(100);
        limits.retention = Duration::from_secs(60);
        assert_eq!(
            state.evict(&limits, then + Duration::from_secs(30)).traces,
            0
        );
        assert_eq!(
            state.evict(&limits, then + Duration::from_secs(61)).traces,
            1
        );
        assert!(state.traces.is_empty());
    }

    #[test]
    fn a_snapshot_is_not_changed_by_later_writes() {
        let mut state = TenantState::default();
        let now = Instant::now();
        state.insert(vec![incoming(1, 1)], now);
        let snapshot = state.snapshot();
        state.insert(vec![incoming(1, 2)], now);
        assert_eq!(snapshot[0].spans.len(), 1);
        assert_eq!(state.traces[&TraceId([1; 16])].trace.spans.len(), 2);
    }
}
