//! What counts as a request, and when it failed: the one definition that the service graph,
//! its table and the RED charts all count with, so the three pictures cannot disagree.
//!
//! A request is a call into a service, seen at its **entry span**: a root span, a span whose
//! parent belongs to another service, or a span whose parent never arrived. The caller is the
//! parent's service. A request **failed when either side says so**: the entry span's status
//! is error, or the caller's span that made the call is. A caller that gave up (a timeout)
//! marks its client span while the callee may still end well, and a learner looking at the
//! caller's side should see that call as failed. Its duration is the entry span's.
//!
//! Two kinds of call have no entry span, and are requests all the same:
//! - a **database call**: a client span with `db.system.name` (or the older `db.system`); its
//!   callee is the database, named by that attribute, and status and duration are the client
//!   span's;
//! - a **client call no service answered** (a timeout whose answer never came, a refused
//!   connection): its callee is named by `peer.service`, or else is the service that answered
//!   other calls to the same `server.address:server.port` in these traces. When neither tells
//!   (every call to that address failed before reaching it), the call is counted in
//!   [`Requests::unattributed`] rather than guessed.

use std::collections::{BTreeSet, HashMap, HashSet};

use dojo_traceql::model::{Span, SpanId, SpanKind, StatusCode, Trace, TraceId, Value, attribute};

/// One call into a service or a database.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The calling service; `None` for a request that started a trace (or whose caller's span
    /// never arrived).
    pub caller: Option<String>,
    /// The service or database called.
    pub callee: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    /// Either side recorded an error.
    pub failed: bool,
    pub trace_id: TraceId,
}

/// Every request in a set of traces, and what the pictures need to draw their callees.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Requests {
    pub list: Vec<Request>,
    /// Services that sent spans of their own.
    pub instrumented: BTreeSet<String>,
    /// Databases called (named by `db.system.name` or `db.system`).
    pub databases: BTreeSet<String>,
    /// Services that started traces (had root spans).
    pub entry_points: BTreeSet<String>,
    /// Client calls that no service answered and whose callee could not be told:
    /// (requests, failed).
    pub unattributed: (u64, u64),
}

/// The service a span belongs to.
pub fn service_of(span: &Span) -> &str {
    span.service_name().unwrap_or("unknown service")
}

fn text<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attribute(&span.attributes, key) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// The database a client span calls, if it is a database call.
pub fn database_of(span: &Span) -> Option<&str> {
    text(span, "db.system.name").or_else(|| text(span, "db.system"))
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

/// A client call nobody answered, kept until every trace has taught which service answers
/// which address.
struct Unanswered {
    caller: String,
    peer: Option<String>,
    address: Option<String>,
    start_unix_nanos: u64,
    duration_nanos: u64,
    failed: bool,
    trace_id: TraceId,
}

/// Finds every request in `traces`.
pub fn collect(traces: &[Trace]) -> Requests {
    let mut out = Requests::default();
    // Address → the service that answered calls to it, learnt from answered client spans.
    let mut answered_by: HashMap<String, String> = HashMap::new();
    let mut unanswered: Vec<Unanswered> = Vec::new();
    for trace in traces {
        let by_id: HashMap<SpanId, &Span> = trace.spans.iter().map(|s| (s.span_id, s)).collect();
        let mut answered: HashSet<SpanId> = HashSet::new();
        for span in &trace.spans {
            let service = service_of(span);
            out.instrumented.insert(service.to_string());
            let parent = span.parent_span_id.and_then(|p| by_id.get(&p).copied());
            if span.parent_span_id.is_none() {
                out.entry_points.insert(service.to_string());
            }
            let caller = match parent {
                Some(parent) if service_of(parent) == service => continue,
                Some(parent) => {
                    answered.insert(parent.span_id);
                    if let Some(address) = address_of(parent) {
                        answered_by.insert(address, service.to_string());
                    }
                    Some(parent)
                }
                None => None,
            };
            out.list.push(Request {
                caller: caller.map(|c| service_of(c).to_string()),
                callee: service.to_string(),
                start_unix_nanos: span.start_unix_nanos,
                duration_nanos: span.duration_nanos(),
                failed: span.status == StatusCode::Error
                    || caller.is_some_and(|c| c.status == StatusCode::Error),
                trace_id: trace.trace_id,
            });
        }
        for span in &trace.spans {
            if span.kind != SpanKind::Client || answered.contains(&span.span_id) {
                continue;
            }
            let failed = span.status == StatusCode::Error;
            if let Some(database) = database_of(span) {
                out.databases.insert(database.to_string());
                out.list.push(Request {
                    caller: Some(service_of(span).to_string()),
                    callee: database.to_string(),
                    start_unix_nanos: span.start_unix_nanos,
                    duration_nanos: span.duration_nanos(),
                    failed,
                    trace_id: trace.trace_id,
                });
                continue;
            }
            let peer = text(span, "peer.service").map(str::to_string);
            let address = address_of(span);
            if peer.is_none() && address.is_none() {
                // An in-process client span (no remote peer named): not a call to a service.
                continue;
            }
            unanswered.push(Unanswered {
                caller: service_of(span).to_string(),
                peer,
                address,
                start_unix_nanos: span.start_unix_nanos,
                duration_nanos: span.duration_nanos(),
                failed,
                trace_id: trace.trace_id,
            });
        }
    }
    for call in unanswered {
        let callee = call
            .peer
            .or_else(|| call.address.and_then(|a| answered_by.get(&a).cloned()));
        match callee {
            Some(callee) if callee != call.caller => out.list.push(Request {
                caller: Some(call.caller),
                callee,
                start_unix_nanos: call.start_unix_nanos,
                duration_nanos: call.duration_nanos,
                failed: call.failed,
                trace_id: call.trace_id,
            }),
            Some(_) => {}
            None => {
                out.unattributed.0 += 1;
                if call.failed {
                    out.unattributed.1 += 1;
                }
            }
        }
    }
    out
}
