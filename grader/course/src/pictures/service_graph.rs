//! The service graph: which service calls which, how often, and how often those calls fail.
//! Services are laid out in columns by how far they sit from a root.
//!
//! A request on an edge is a span whose parent span belongs to a different service (the
//! callee's server span under the caller's client span). It is an error when either half is:
//! a caller that gave up (a timeout) marks its client span, while the callee's server span may
//! still end well. A client span with no server span under it (a timeout whose answer never
//! came, a refused connection) is still a request, and an error if its status says so; its
//! callee is found from `peer.service`, or else from its `server.address` and `server.port`
//! when another client span to that same address was answered by a known service in the same
//! traces. When neither tells the callee (every call to that address failed before reaching
//! it), the span is counted in [`ServiceGraph::unattributed`] rather than guessed. Database
//! calls (`db.system`) are not edges.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use dojo_traceql::model::{Span, SpanId, SpanKind, StatusCode, Trace, Value, attribute};

use super::{Colours, xml};

/// A call from one service to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub requests: u64,
    pub errors: u64,
}

impl Edge {
    /// Errors as a percentage of requests.
    pub fn error_percent(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 * 100.0 / self.requests as f64
        }
    }
}

/// The graph computed from a set of traces.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceGraph {
    /// Every service seen, alphabetically.
    pub services: Vec<String>,
    /// Edges sorted by caller then callee.
    pub edges: Vec<Edge>,
    /// Services that started traces (had root spans).
    pub entry_points: Vec<String>,
    /// Client spans that no service answered and whose callee could not be told, so they are
    /// on no edge: (requests, errors).
    pub unattributed: (u64, u64),
}

fn service_of(span: &Span) -> &str {
    span.service_name().unwrap_or("unknown service")
}

fn text<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attribute(&span.attributes, key) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// Where a client span went: `server.address` and `server.port` (older `net.peer.*`).
fn address_of(span: &Span) -> Option<String> {
    let host = text(span, "server.address").or_else(|| text(span, "net.peer.name"))?;
    let port = ["server.port", "net.peer.port"]
        .iter()
        .find_map(|key| match attribute(&span.attributes, key) {
            Some(Value::Int(port)) => Some(port.to_string()),
            Some(Value::Str(port)) => Some(port.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    Some(format!("{host}:{port}"))
}

/// Computes the graph.
pub fn compute(traces: &[Trace]) -> ServiceGraph {
    let mut services = BTreeSet::new();
    let mut entry = BTreeSet::new();
    let mut edges: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    // Address → the service that answered calls to it, learnt from answered client spans.
    let mut answered_by: HashMap<String, String> = HashMap::new();
    // Unanswered client spans: (caller, peer.service, address, failed).
    let mut unanswered: Vec<(String, Option<String>, Option<String>, bool)> = Vec::new();
    for trace in traces {
        let by_id: HashMap<SpanId, &Span> = trace.spans.iter().map(|s| (s.span_id, s)).collect();
        let mut answered: HashSet<SpanId> = HashSet::new();
        for span in &trace.spans {
            let service = service_of(span);
            services.insert(service.to_string());
            match span.parent_span_id.and_then(|p| by_id.get(&p)) {
                None if span.parent_span_id.is_none() => {
                    entry.insert(service.to_string());
                }
                Some(parent) if service_of(parent) != service => {
                    answered.insert(parent.span_id);
                    if let Some(address) = address_of(parent) {
                        answered_by.insert(address, service.to_string());
                    }
                    let counts = edges
                        .entry((service_of(parent).to_string(), service.to_string()))
                        .or_default();
                    counts.0 += 1;
                    if span.status == StatusCode::Error || parent.status == StatusCode::Error {
                        counts.1 += 1;
                    }
                }
                _ => {}
            }
        }
        for span in &trace.spans {
            if span.kind != SpanKind::Client
                || answered.contains(&span.span_id)
                || text(span, "db.system").is_some()
            {
                continue;
            }
            let peer = text(span, "peer.service").map(str::to_string);
            let address = address_of(span);
            if peer.is_none() && address.is_none() {
                // An in-process client span (no remote peer named): not a call to a service.
                continue;
            }
            unanswered.push((
                service_of(span).to_string(),
                peer,
                address,
                span.status == StatusCode::Error,
            ));
        }
    }
    let mut unattributed = (0, 0);
    for (caller, peer, address, failed) in unanswered {
        let callee = peer.or_else(|| address.and_then(|a| answered_by.get(&a).cloned()));
        let counts = match callee {
            Some(callee) if callee != caller => {
                services.insert(callee.clone());
                edges.entry((caller, callee)).or_default()
            }
            Some(_) => continue,
            None => &mut unattributed,
        };
        counts.0 += 1;
        if failed {
            counts.1 += 1;
        }
    }
    ServiceGraph {
        services: services.into_iter().collect(),
        edges: edges
            .into_iter()
            .map(|((from, to), (requests, errors))| Edge {
                from,
                to,
                requests,
                errors,
            })
            .collect(),
        entry_points: entry.into_iter().collect(),
        unattributed,
    }
}

/// Column of each service: 0 for entry points, then one more than its furthest caller
/// (bounded by the number of services, so cycles cannot loop forever).
fn columns(graph: &ServiceGraph) -> HashMap<&str, usize> {
    let mut column: HashMap<&str, usize> = graph.services.iter().map(|s| (s.as_str(), 0)).collect();
    for _ in 0..graph.services.len() {
        let mut changed = false;
        for edge in &graph.edges {
            let from = column.get(edge.from.as_str()).copied().unwrap_or(0);
            let to = column.entry(edge.to.as_str()).or_insert(0);
            if *to < from + 1 && from + 1 < graph.services.len() {
                *to = from + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    column
}

const NODE_W: f64 = 150.0;
const NODE_H: f64 = 44.0;
const COL_GAP: f64 = 160.0;
const ROW_GAP: f64 = 40.0;

/// Draws the graph: boxes per service, arrows per edge labelled with requests and error rate.
/// Edges with errors are red. Each box links to the console, filtered to that service.
pub fn svg(graph: &ServiceGraph) -> String {
    let column = columns(graph);
    let mut per_column: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for service in &graph.services {
        per_column
            .entry(column[service.as_str()])
            .or_default()
            .push(service);
    }
    let mut position: HashMap<&str, (f64, f64)> = HashMap::new();
    for (col, services) in &per_column {
        for (row, service) in services.iter().enumerate() {
            let x = 20.0 + *col as f64 * (NODE_W + COL_GAP);
            let y = 20.0 + row as f64 * (NODE_H + ROW_GAP);
            position.insert(service, (x, y));
        }
    }
    let columns = per_column.keys().max().map(|c| c + 1).unwrap_or(1) as f64;
    let rows = per_column.values().map(Vec::len).max().unwrap_or(1).max(1) as f64;
    let width = 40.0 + columns * NODE_W + (columns - 1.0) * COL_GAP;
    let height = 40.0 + rows * NODE_H + (rows - 1.0) * ROW_GAP;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"service-graph\" role=\"img\" aria-label=\"Service graph\" \
         viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"max-width: {width}px\" preserveAspectRatio=\"xMinYMin meet\" font-family=\"sans-serif\" font-size=\"12\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
         <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#666\"/></marker></defs>"
    );
    for edge in &graph.edges {
        let (Some(&(fx, fy)), Some(&(tx, ty))) = (
            position.get(edge.from.as_str()),
            position.get(edge.to.as_str()),
        ) else {
            continue;
        };
        let (x1, y1) = (fx + NODE_W, fy + NODE_H / 2.0);
        let (x2, y2) = if tx > fx {
            (tx, ty + NODE_H / 2.0)
        } else {
            (tx + NODE_W / 2.0, ty)
        };
        let colour = if edge.errors > 0 { "#d62728" } else { "#666" };
        let label = format!("{} req · {:.1}% err", edge.requests, edge.error_percent());
        out.push_str(&format!(
            "<g class=\"edge\"><title>{} → {}: {}</title><line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" \
             stroke=\"{colour}\" stroke-width=\"2\" marker-end=\"url(#arrow)\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{colour}\">{}</text></g>",
            xml(&edge.from),
            xml(&edge.to),
            xml(&label),
            (x1 + x2) / 2.0,
            (y1 + y2) / 2.0 - 6.0,
            xml(&label)
        ));
    }
    let mut colours = Colours::default();
    for service in &graph.services {
        let (x, y) = position[service.as_str()];
        let colour = colours.of(service);
        let query = crate::markdown::highlight::form_urlencode(&format!(
            "{{ resource.service.name = \"{service}\" }}"
        ));
        out.push_str(&format!(
            "<a href=\"/console?q={query}\"><g class=\"node\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\" \
             fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text></g></a>",
            x + NODE_W / 2.0,
            y + NODE_H / 2.0 + 4.0,
            xml(service)
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use dojo_traceql::model::{KeyValue, TraceId};

    use super::*;
    use crate::pictures::fixtures::span;

    #[test]
    fn calls_between_services_are_counted_with_their_errors() {
        let mut failed = span(4, Some(3), "payments", 10, 20);
        failed.status = StatusCode::Error;
        let traces = vec![
            Trace {
                trace_id: TraceId([1; 16]),
                spans: vec![
                    span(1, None, "frontend", 0, 100),
                    span(2, Some(1), "api", 5, 90),
                    span(3, Some(2), "api", 6, 30),
                    failed,
                ],
            },
            Trace {
                trace_id: TraceId([2; 16]),
                spans: vec![
                    span(1, None, "frontend", 0, 100),
                    span(2, Some(1), "api", 5, 90),
                ],
            },
        ];
        let graph = compute(&traces);
        assert_eq!(graph.services, ["api", "frontend", "payments"]);
        assert_eq!(graph.entry_points, ["frontend"]);
        assert_eq!(
            graph.edges,
            [
                Edge {
                    from: "api".into(),
                    to: "payments".into(),
                    requests: 1,
                    errors: 1
                },
                Edge {
                    from: "frontend".into(),
                    to: "api".into(),
                    requests: 2,
                    errors: 0
                },
            ]
        );
        let picture = svg(&graph);
        assert!(picture.contains("1 req · 100.0% err"), "{picture}");
        assert!(picture.contains("2 req · 0.0% err"));
    }

    /// A client span of `service` to `host:port`, as the shop's HTTP client records it.
    fn client_call(id: u8, parent: u8, service: &str, host: &str, port: i64, failed: bool) -> Span {
        let mut call = span(id, Some(parent), service, 10, 20);
        call.kind = SpanKind::Client;
        call.attributes = vec![
            KeyValue::new("server.address", Value::str(host)),
            KeyValue::new("server.port", Value::Int(port)),
        ];
        if failed {
            call.status = StatusCode::Error;
        }
        call
    }

    fn edge<'a>(graph: &'a ServiceGraph, from: &str, to: &str) -> Option<&'a Edge> {
        graph.edges.iter().find(|e| e.from == from && e.to == to)
    }

    #[test]
    fn a_call_the_caller_saw_fail_is_an_error_even_when_the_callee_ended_well() {
        // api gave up waiting (timeout): its client span is an error, payments' server span
        // under it finished later without error.
        let traces = vec![Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "api", 0, 100),
                client_call(2, 1, "api", "127.0.0.1", 8083, true),
                span(3, Some(2), "payments", 12, 900),
            ],
        }];
        let graph = compute(&traces);
        let edge = edge(&graph, "api", "payments").expect("an api → payments edge");
        assert_eq!((edge.requests, edge.errors), (1, 1), "{graph:?}");
        assert!(svg(&graph).contains("1 req · 100.0% err"));
    }

    #[test]
    fn a_call_no_server_answered_counts_on_the_edge_to_the_service_at_that_address() {
        let answered = Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "api", 0, 100),
                client_call(2, 1, "api", "127.0.0.1", 8083, false),
                span(3, Some(2), "payments", 12, 18),
            ],
        };
        let timed_out = |n: u8| Trace {
            trace_id: TraceId([n; 16]),
            spans: vec![
                span(1, None, "api", 0, 100),
                client_call(2, 1, "api", "127.0.0.1", 8083, true),
            ],
        };
        let graph = compute(&[timed_out(2), answered, timed_out(3)]);
        let edge = edge(&graph, "api", "payments").expect("an api → payments edge");
        assert_eq!((edge.requests, edge.errors), (3, 2), "{graph:?}");
        assert_eq!(graph.unattributed, (0, 0));
    }

    #[test]
    fn a_failed_call_whose_callee_cannot_be_told_is_counted_apart_and_peer_service_names_it() {
        let mut named = client_call(3, 1, "api", "10.0.0.9", 9000, true);
        named
            .attributes
            .push(KeyValue::new("peer.service", Value::str("ledger")));
        let mut database = client_call(4, 1, "api", "db", 5432, true);
        database
            .attributes
            .push(KeyValue::new("db.system", Value::str("postgresql")));
        let traces = vec![Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "api", 0, 100),
                client_call(2, 1, "api", "127.0.0.1", 8083, true),
                named,
                database,
            ],
        }];
        let graph = compute(&traces);
        assert_eq!(graph.unattributed, (1, 1));
        let edge = edge(&graph, "api", "ledger").expect("peer.service names the callee");
        assert_eq!((edge.requests, edge.errors), (1, 1));
        assert_eq!(
            graph.edges.len(),
            1,
            "a database call is no edge: {graph:?}"
        );
    }

    #[test]
    fn a_cycle_between_services_still_draws() {
        let traces = vec![Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "a", 0, 10),
                span(2, Some(1), "b", 1, 9),
                span(3, Some(2), "a", 2, 8),
            ],
        }];
        let graph = compute(&traces);
        assert_eq!(graph.edges.len(), 2);
        assert!(svg(&graph).contains("</svg>"));
    }
}
