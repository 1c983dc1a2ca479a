//! The service graph: who calls whom, how often, how often it fails, and how long it takes,
//! built like Tempo's `service-graphs` processor.
//!
//! An edge is a client (or producer) span in one service whose child is a server (or consumer)
//! span in another. The two halves arrive in any order, from different services and batches,
//! so each half waits in `pending` under the key (trace id, client span id) for the other.
//! A half that waits longer than `service_graph_wait` is closed alone: a client span naming
//! its peer (`peer.service`, `db.system`, `server.address`, …) gets a virtual server node (a
//! database, an uninstrumented dependency); anything else is dropped and counted. A root
//! server span, which has no client half, is an edge from the virtual node `user`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use dojo_traceql::model::{Span, SpanId, SpanKind, StatusCode, TraceId, Value, attribute};
use rustc_hash::FxHashMap;
use tokio::time::Instant;

use super::MetricsConfig;
use super::histogram::{Exemplar, Histogram};

/// Attributes naming the peer of an unanswered client span, in order of preference.
const PEER_ATTRIBUTES: [&str; 6] = [
    "peer.service",
    "db.name",
    "db.namespace",
    "db.system",
    "server.address",
    "net.peer.name",
];

/// The counters and latencies of one client → server edge.
#[derive(Debug, Clone)]
pub struct Edge {
    /// `""` for a plain request, `database`, `messaging_system` or `virtual_node`.
    pub connection_type: &'static str,
    pub requests: u64,
    pub failed: u64,
    /// Seen from the server span.
    pub server_latency: Histogram,
    /// Seen from the client span.
    pub client_latency: Histogram,
}

#[derive(Debug, Clone)]
struct Half {
    service: Arc<str>,
    seconds: f64,
    failed: bool,
    messaging: bool,
    peer: Option<(Arc<str>, &'static str)>,
    exemplar: Exemplar,
}

#[derive(Debug, Clone)]
enum PendingHalf {
    Client(Half),
    Server(Half),
}

/// One tenant's service graph.
#[derive(Debug, Clone)]
pub struct ServiceGraph {
    bounds: Vec<f64>,
    wait: std::time::Duration,
    max_items: usize,
    max_edges: usize,
    pending: FxHashMap<(TraceId, SpanId), PendingHalf>,
    /// The virtual client of root server spans, shared rather than allocated per span.
    user: Arc<str>,
    expiry: VecDeque<(Instant, (TraceId, SpanId))>,
    edges: BTreeMap<(Arc<str>, Arc<str>), Edge>,
    /// Halves closed without a partner or peer attribute, or not kept because of the limits.
    pub dropped_halves: u64,
}

fn half_of(trace_id: &TraceId, span: &Span, service: &Arc<str>, messaging: bool) -> Half {
    let seconds = span.duration_nanos() as f64 / 1e9;
    let peer = PEER_ATTRIBUTES
        .iter()
        .find_map(|key| match attribute(&span.attributes, key) {
            Some(Value::Str(s)) if !s.is_empty() => {
                let kind = if key.starts_with("db.") {
                    "database"
                } else {
                    "virtual_node"
                };
                Some((s.clone(), kind))
            }
            _ => None,
        });
    Half {
        service: service.clone(),
        seconds,
        failed: span.status == StatusCode::Error,
        messaging,
        peer,
        exemplar: Exemplar {
            trace_id: *trace_id,
            value: seconds,
            timestamp_ms: span.end_unix_nanos / 1_000_000,
        },
    }
}

impl ServiceGraph {
    pub fn new(config: &MetricsConfig) -> Self {
        ServiceGraph {
            bounds: config.histogram_buckets.clone(),
            wait: config.service_graph_wait,
            max_items: config.service_graph_max_items,
            max_edges: config.max_series,
            pending: FxHashMap::default(),
            user: Arc::from("user"),
            expiry: VecDeque::new(),
            edges: BTreeMap::new(),
            dropped_halves: 0,
        }
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Looks at one span of the given service; completes an edge when both halves are known.
    pub fn observe(&mut self, trace_id: &TraceId, span: &Span, service: &Arc<str>, now: Instant) {
        match span.kind {
            SpanKind::Client | SpanKind::Producer => {
                let half = half_of(trace_id, span, service, span.kind == SpanKind::Producer);
                let key = (*trace_id, span.span_id);
                match self.pending.remove(&key) {
                    Some(PendingHalf::Server(server)) => self.record(half, server, ""),
                    Some(other) => {
                        self.pending.insert(key, other);
                    }
                    None => self.wait_for_partner(key, PendingHalf::Client(half), now),
                }
            }
            SpanKind::Server | SpanKind::Consumer => {
                let half = half_of(trace_id, span, service, span.kind == SpanKind::Consumer);
                let Some(parent) = span.parent_span_id else {
                    let user = Half {
                        service: self.user.clone(),
                        peer: None,
                        ..half.clone()
                    };
                    self.record(user, half, "virtual_node");
                    return;
                };
                let key = (*trace_id, parent);
                match self.pending.remove(&key) {
                    Some(PendingHalf::Client(client)) => self.record(client, half, ""),
                    Some(other) => {
                        self.pending.insert(key, other);
                    }
                    None => self.wait_for_partner(key, PendingHalf::Server(half), now),
                }
            }
            SpanKind::Internal | SpanKind::Unspecified => {}
        }
    }

    fn wait_for_partner(&mut self, key: (TraceId, SpanId), half: PendingHalf, now: Instant) {
        if self.pending.len() >= self.max_items {
            self.dropped_halves += 1;
            return;
        }
        self.pending.insert(key, half);
        self.expiry.push_back((now + self.wait, key));
    }

    /// Closes halves whose wait is over.
    pub fn expire(&mut self, now: Instant) {
        while let Some((deadline, key)) = self.expiry.front().copied() {
            if deadline > now {
                break;
            }
            self.expiry.pop_front();
            match self.pending.remove(&key) {
                Some(PendingHalf::Client(client)) => match client.peer.clone() {
                    Some((peer, kind)) => {
                        let server = Half {
                            service: peer,
                            ..client.clone()
                        };
                        self.record(client, server, kind);
                    }
                    None => self.dropped_halves += 1,
                },
                Some(PendingHalf::Server(_)) => self.dropped_halves += 1,
                None => {}
            }
        }
    }

    fn record(&mut self, client: Half, server: Half, connection_type: &'static str) {
        if client.service == server.service && connection_type.is_empty() {
            // A service calling itself is not an edge of the graph (Tempo drops these too).
            return;
        }
        let key = (client.service.clone(), server.service.clone());
        if !self.edges.contains_key(&key) && self.edges.len() >= self.max_edges {
            self.dropped_halves += 2;
            return;
        }
        let bounds_len = self.bounds.len();
        let connection_type = if client.messaging || server.messaging {
            "messaging_system"
        } else {
            connection_type
        };
        let edge = self.edges.entry(key).or_insert_with(|| Edge {
            connection_type,
            requests: 0,
            failed: 0,
            server_latency: Histogram::new(bounds_len),
            client_latency: Histogram::new(bounds_len),
        });
        edge.requests += 1;
        if client.failed || server.failed {
            edge.failed += 1;
        }
        edge.server_latency
            .observe(&self.bounds, server.seconds, server.exemplar);
        edge.client_latency
            .observe(&self.bounds, client.seconds, client.exemplar);
    }

    /// Every edge as `((client, server), edge)`, sorted.
    pub fn edges(&self) -> impl Iterator<Item = (&(Arc<str>, Arc<str>), &Edge)> {
        self.edges.iter()
    }

    /// Halves still waiting for a partner.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::span_metrics::service_of;
    use dojo_traceql::model::{KeyValue, Resource};
    use std::time::Duration;

    fn span(service: &str, kind: SpanKind, id: u8, parent: Option<u8>) -> Span {
        Span {
            span_id: SpanId([id; 8]),
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            kind,
            start_unix_nanos: 0,
            end_unix_nanos: 20_000_000,
            resource: Arc::new(Resource {
                attributes: vec![KeyValue::new("service.name", Value::str(service))],
            }),
            ..Default::default()
        }
    }

    fn observe(graph: &mut ServiceGraph, trace_id: &TraceId, span: &Span, now: Instant) {
        graph.observe(trace_id, span, &service_of(span), now);
    }

    fn edge<'a>(graph: &'a ServiceGraph, client: &str, server: &str) -> Option<&'a Edge> {
        graph
            .edges()
            .find(|((c, s), _)| &**c == client && &**s == server)
            .map(|(_, e)| e)
    }

    #[test]
    fn a_client_span_and_its_server_child_make_an_edge_in_either_order() {
        let mut graph = ServiceGraph::new(&MetricsConfig::default());
        let now = Instant::now();
        let t = TraceId([1; 16]);
        observe(
            &mut graph,
            &t,
            &span("frontend", SpanKind::Client, 2, Some(1)),
            now,
        );
        observe(
            &mut graph,
            &t,
            &span("api", SpanKind::Server, 3, Some(2)),
            now,
        );
        let t2 = TraceId([2; 16]);
        let mut failing = span("api", SpanKind::Server, 3, Some(2));
        failing.status = StatusCode::Error;
        observe(&mut graph, &t2, &failing, now);
        observe(
            &mut graph,
            &t2,
            &span("frontend", SpanKind::Client, 2, Some(1)),
            now,
        );
        let e = edge(&graph, "frontend", "api").expect("frontend → api");
        assert_eq!((e.requests, e.failed), (2, 1));
        assert_eq!(graph.pending(), 0);
    }

    #[test]
    fn a_root_server_span_is_called_by_the_user() {
        let mut graph = ServiceGraph::new(&MetricsConfig::default());
        observe(
            &mut graph,
            &TraceId([1; 16]),
            &span("frontend", SpanKind::Server, 1, None),
            Instant::now(),
        );
        assert_eq!(
            edge(&graph, "user", "frontend").map(|e| e.requests),
            Some(1)
        );
    }

    #[test]
    fn an_unanswered_database_call_becomes_an_edge_to_the_database_after_the_wait() {
        let mut graph = ServiceGraph::new(&MetricsConfig::default());
        let now = Instant::now();
        let mut call = span("api", SpanKind::Client, 2, Some(1));
        call.attributes
            .push(KeyValue::new("db.system", Value::str("sqlite")));
        observe(&mut graph, &TraceId([1; 16]), &call, now);
        graph.expire(now + Duration::from_secs(5));
        assert!(edge(&graph, "api", "sqlite").is_none());
        graph.expire(now + Duration::from_secs(11));
        let e = edge(&graph, "api", "sqlite").expect("api → sqlite");
        assert_eq!(e.connection_type, "database");
    }

    #[test]
    fn an_unanswered_call_without_a_peer_is_dropped_and_counted() {
        let mut graph = ServiceGraph::new(&MetricsConfig::default());
        let now = Instant::now();
        observe(
            &mut graph,
            &TraceId([1; 16]),
            &span("api", SpanKind::Client, 2, Some(1)),
            now,
        );
        graph.expire(now + Duration::from_secs(11));
        assert_eq!(graph.edges().count(), 0);
        assert_eq!(graph.dropped_halves, 1);
    }
}
