//! The service graph: which service calls which, how often, and how often those calls fail.
//! Services are laid out in columns by how far they sit from a root; databases are drawn as
//! cylinders and external dependencies as dashed boxes, so the picture says what each is.
//!
//! Requests and failures are counted as [`super::requests`] defines them, the same way the
//! RED charts count them: an edge's requests into a callee add up, with the requests that
//! started traces there, to the callee's RED totals.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use dojo_traceql::model::Trace;

use super::requests::{self, Requests};
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

/// What a node of the graph is, which decides how it is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// One of ours: it sends its own spans.
    Service,
    /// A database, known from the `db.system.name` of the calls to it.
    Database,
    /// A third party: named as external (the shop's payments provider stands in for one), or
    /// known only from calls to it (it sends no spans of its own).
    External,
}

impl NodeKind {
    /// The word the page uses.
    pub fn label(self) -> &'static str {
        match self {
            NodeKind::Service => "service",
            NodeKind::Database => "database",
            NodeKind::External => "external",
        }
    }
}

/// The graph computed from a set of traces.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceGraph {
    /// Every node seen (services, databases, external dependencies), alphabetically.
    pub services: Vec<String>,
    /// What each node is.
    pub kinds: BTreeMap<String, NodeKind>,
    /// Edges sorted by caller then callee.
    pub edges: Vec<Edge>,
    /// Services that started traces (had root spans).
    pub entry_points: Vec<String>,
    /// Client spans that no service answered and whose callee could not be told, so they are
    /// on no edge: (requests, errors).
    pub unattributed: (u64, u64),
}

impl ServiceGraph {
    /// What a node is (a service when unknown).
    pub fn kind(&self, node: &str) -> NodeKind {
        self.kinds.get(node).copied().unwrap_or(NodeKind::Service)
    }
}

/// Computes the graph; `external` names services that stand in for third parties.
pub fn compute(traces: &[Trace], external: &[&str]) -> ServiceGraph {
    from_requests(&requests::collect(traces), external)
}

/// The graph of requests already collected (the RED charts count the same ones).
pub fn from_requests(requests: &Requests, external: &[&str]) -> ServiceGraph {
    let mut services: BTreeSet<String> = requests.instrumented.clone();
    let mut edges: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for request in &requests.list {
        services.insert(request.callee.clone());
        let Some(caller) = &request.caller else {
            continue;
        };
        let counts = edges
            .entry((caller.clone(), request.callee.clone()))
            .or_default();
        counts.0 += 1;
        if request.failed {
            counts.1 += 1;
        }
    }
    let kinds = services
        .iter()
        .map(|node| {
            let kind = if requests.databases.contains(node) {
                NodeKind::Database
            } else if external.contains(&node.as_str()) || !requests.instrumented.contains(node) {
                NodeKind::External
            } else {
                NodeKind::Service
            };
            (node.clone(), kind)
        })
        .collect();
    ServiceGraph {
        services: services.into_iter().collect(),
        kinds,
        edges: edges
            .into_iter()
            .map(|((from, to), (requests, errors))| Edge {
                from,
                to,
                requests,
                errors,
            })
            .collect(),
        entry_points: requests.entry_points.iter().cloned().collect(),
        unattributed: requests.unattributed,
    }
}

/// One node: a box for a service, a cylinder for a database, a dashed box for an external
/// dependency, each with its kind written under its name. Services and databases link to the
/// console, filtered to their spans.
fn node(name: &str, kind: NodeKind, colour: &str, x: f64, y: f64) -> String {
    let (cx, bottom) = (x + NODE_W / 2.0, y + NODE_H);
    let shape = match kind {
        NodeKind::Service => format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\" \
             fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"3\"/>"
        ),
        NodeKind::External => format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\" \
             fill=\"#f7f7f7\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
        ),
        NodeKind::Database => {
            let ry = 6.0;
            let right = x + NODE_W;
            format!(
                "<path d=\"M {x:.1} {top:.1} L {x:.1} {low:.1} A {rx:.1} {ry} 0 0 0 {right:.1} {low:.1} \
                 L {right:.1} {top:.1}\" fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"3\"/>\
                 <ellipse cx=\"{cx:.1}\" cy=\"{top:.1}\" rx=\"{rx:.1}\" ry=\"{ry}\" fill=\"#fff\" \
                 stroke=\"{colour}\" stroke-width=\"3\"/>",
                top = y + ry,
                low = bottom - ry,
                rx = NODE_W / 2.0,
            )
        }
    };
    let caption = match kind {
        NodeKind::Service => String::new(),
        NodeKind::Database => "database".to_string(),
        NodeKind::External => "external".to_string(),
    };
    let name_y = if caption.is_empty() {
        y + NODE_H / 2.0 + 4.0
    } else {
        y + NODE_H / 2.0 + 1.0
    };
    let mut drawn = format!(
        "<g class=\"node {}\" data-node=\"{}\">{shape}<text x=\"{cx:.1}\" y=\"{name_y:.1}\" \
         text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
        kind.label(),
        xml(name),
        xml(name)
    );
    if !caption.is_empty() {
        drawn.push_str(&format!(
            "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" \
             fill=\"#666\">{caption}</text>",
            bottom - 6.0
        ));
    }
    drawn.push_str("</g>");
    let query = match kind {
        NodeKind::Database => format!("{{ span.db.system.name = \"{name}\" }}"),
        _ => format!("{{ resource.service.name = \"{name}\" }}"),
    };
    let query = crate::markdown::highlight::form_urlencode(&query);
    format!("<a href=\"/console?q={query}\">{drawn}</a>")
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
        let kind = graph.kind(service);
        out.push_str(&node(service, kind, colours.of(service), x, y));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use dojo_traceql::model::{KeyValue, Span, SpanKind, StatusCode, TraceId, Value};

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
        let graph = compute(&traces, &[]);
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
        let graph = compute(&traces, &[]);
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
        let graph = compute(&[timed_out(2), answered, timed_out(3)], &[]);
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
            .push(KeyValue::new("db.system.name", Value::str("postgresql")));
        let traces = vec![Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "api", 0, 100),
                client_call(2, 1, "api", "127.0.0.1", 8083, true),
                named,
                database,
            ],
        }];
        let graph = compute(&traces, &[]);
        assert_eq!(graph.unattributed, (1, 1));
        let ledger = edge(&graph, "api", "ledger").expect("peer.service names the callee");
        assert_eq!((ledger.requests, ledger.errors), (1, 1));
        assert_eq!(
            graph.kind("ledger"),
            NodeKind::External,
            "a callee that sends no spans is a third party"
        );
        let database = edge(&graph, "api", "postgresql").expect("an edge to the database");
        assert_eq!((database.requests, database.errors), (1, 1));
        assert_eq!(graph.kind("postgresql"), NodeKind::Database);
        assert_eq!(graph.kind("api"), NodeKind::Service);
        let picture = svg(&graph);
        assert!(
            picture.contains("<g class=\"node database\" data-node=\"postgresql\"><path"),
            "a database is drawn as a cylinder: {picture}"
        );
        assert!(
            picture.contains("<g class=\"node external\" data-node=\"ledger\"><rect")
                && picture.contains("stroke-dasharray"),
            "an external dependency is a dashed box: {picture}"
        );
    }

    #[test]
    fn a_service_named_external_is_drawn_as_one_though_it_sends_spans() {
        let traces = vec![Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "api", 0, 100),
                span(2, Some(1), "payments", 10, 20),
            ],
        }];
        let graph = compute(&traces, &["payments"]);
        assert_eq!(graph.kind("payments"), NodeKind::External);
        assert_eq!(compute(&traces, &[]).kind("payments"), NodeKind::Service);
    }

    #[test]
    fn the_graph_and_the_red_charts_count_the_same_requests_and_errors() {
        // Every way a call can fail: the callee's error, the caller giving up on a callee that
        // ended well, a call no server answered, a failed database call, a split trace.
        let mut payments_failed = span(4, Some(3), "payments", 10, 20);
        payments_failed.status = StatusCode::Error;
        let mut db_failed = client_call(6, 2, "api", "db", 5432, true);
        db_failed
            .attributes
            .push(KeyValue::new("db.system.name", Value::str("sqlite")));
        let mut orphan = span(9, Some(77), "api", 10, 30);
        orphan.status = StatusCode::Error;
        let traces = vec![
            Trace {
                trace_id: TraceId([1; 16]),
                spans: vec![
                    span(1, None, "frontend", 0, 100),
                    span(2, Some(1), "api", 5, 90),
                    client_call(3, 2, "api", "127.0.0.1", 8083, false),
                    payments_failed,
                ],
            },
            Trace {
                trace_id: TraceId([2; 16]),
                spans: vec![
                    span(1, None, "frontend", 0, 100),
                    span(2, Some(1), "api", 5, 90),
                    client_call(3, 2, "api", "127.0.0.1", 8083, true),
                    span(4, Some(3), "payments", 10, 900),
                    db_failed,
                ],
            },
            Trace {
                trace_id: TraceId([3; 16]),
                spans: vec![
                    span(1, None, "frontend", 0, 100),
                    span(2, Some(1), "api", 5, 90),
                    client_call(3, 2, "api", "127.0.0.1", 8083, true),
                ],
            },
            Trace {
                trace_id: TraceId([4; 16]),
                spans: vec![orphan],
            },
        ];
        let requests = crate::pictures::requests::collect(&traces);
        let graph = from_requests(&requests, &[]);
        let red = crate::pictures::red::compute(&requests, 2_000_000_000, 1_000_000_000, 4);
        for series in &red {
            let into: Vec<&Edge> = graph
                .edges
                .iter()
                .filter(|e| e.to == series.service)
                .collect();
            let roots = requests
                .list
                .iter()
                .filter(|r| r.callee == series.service && r.caller.is_none());
            let (root_requests, root_errors) =
                roots.fold((0, 0), |(n, e), r| (n + 1, e + u64::from(r.failed)));
            assert_eq!(
                into.iter().map(|e| e.requests).sum::<u64>() + root_requests,
                series.requests(),
                "requests into {}",
                series.service
            );
            assert_eq!(
                into.iter().map(|e| e.errors).sum::<u64>() + root_errors,
                series.errors(),
                "errors of {}",
                series.service
            );
        }
        let payments = red
            .iter()
            .find(|s| s.service == "payments")
            .expect("payments");
        assert_eq!((payments.requests(), payments.errors()), (3, 3));
        let sqlite = red
            .iter()
            .find(|s| s.service == "sqlite")
            .expect("the database");
        assert_eq!((sqlite.requests(), sqlite.errors()), (1, 1));
        let api = red.iter().find(|s| s.service == "api").expect("api");
        assert_eq!(
            (api.requests(), api.errors()),
            (4, 1),
            "the split half counts"
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
        let graph = compute(&traces, &[]);
        assert_eq!(graph.edges.len(), 2);
        assert!(svg(&graph).contains("</svg>"));
    }
}
