//! Routing spans to a tenant per learner, as a collector's routing connector would in a
//! workshop: the shop is shared, but each learner's traces live in their own tenant, so
//! everything a learner reads (console, trace pages, services page, grading evidence) is
//! their own traffic and a learner's own pipeline (the sampling exercise) touches only it.
//!
//! A learner's request is recognised by the `learner.id` its spans carry: the shop records
//! the `learner.id` baggage on every server span, and `dojo run --learner` sets it as a
//! resource attribute of the learner's own service. Not every span of a request carries it
//! (a database call, an outgoing client span), so the router remembers which learner a
//! trace belongs to once one span says so: later spans of that trace follow it, and spans
//! of it that were stored before the mark arrived (another batch, exported a moment
//! earlier) are moved over. Spans of traces no learner marked stay in the tenant they were
//! sent to (the class's shared view).
//!
//! [`learner_tenant`] is the one mapping from a learner to their tenant; the course and the
//! grader use it too.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use dojo_traceql::model::{Span, TraceId, Value, attribute};
use rustc_hash::FxHashMap;

use super::tenant::TenantId;
use crate::otlp::convert::IncomingSpan;

/// The attribute (on the span or its resource) that names the learner a span belongs to.
pub const LEARNER_ATTRIBUTE: &str = "learner.id";

/// How many traces the router remembers the learner of. At the lab's rate (about 11 traces
/// a second per load generator) this covers well over an hour of a busy class; a trace
/// forgotten early only means its late unmarked spans stay in the shared tenant.
const REMEMBERED_TRACES: usize = 200_000;

/// The tenant that holds a learner's traces: `learner-<id>`. `None` for a text that is not a
/// learner id (1 to 64 ASCII letters, digits, `.`, `_` or `-`), which is never routed.
pub fn learner_tenant(learner_id: &str) -> Option<TenantId> {
    let valid = !learner_id.is_empty()
        && learner_id.len() <= 64
        && learner_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return None;
    }
    TenantId::parse(&format!("learner-{learner_id}")).ok()
}

/// Whether a tenant is one [`learner_tenant`] names (a learner's own traffic).
pub fn is_learner_tenant(tenant: &TenantId) -> bool {
    tenant
        .as_str()
        .strip_prefix("learner-")
        .is_some_and(|id| learner_tenant(id).is_some())
}

/// The learner a span names, from its own attributes first, then its resource's.
pub fn learner_of(span: &Span) -> Option<&str> {
    let value = attribute(&span.attributes, LEARNER_ATTRIBUTE)
        .or_else(|| attribute(&span.resource.attributes, LEARNER_ATTRIBUTE))?;
    match value {
        Value::Str(text) => Some(text.as_ref()),
        _ => None,
    }
}

/// The router's memory of which learner each recent trace belongs to.
#[derive(Default)]
pub(crate) struct Router {
    memory: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    tenant_of: FxHashMap<TraceId, TenantId>,
    /// Trace ids in the order they were learned, to forget the oldest first.
    order: VecDeque<TraceId>,
}

/// A batch split by destination.
pub(crate) struct Routed {
    /// Spans no learner marked: they stay where they were sent.
    pub stay: Vec<IncomingSpan>,
    /// Each learner tenant's spans, in the batch's order.
    pub moved: Vec<(TenantId, Vec<IncomingSpan>)>,
    /// Traces this batch revealed the learner of: any of their spans already stored where
    /// the batch was sent belong with them.
    pub learned: Vec<(TraceId, TenantId)>,
}

impl Router {
    /// Splits `spans` by learner: a trace goes to the learner the first marked span names
    /// (in an earlier batch or this one); the rest stay.
    pub(crate) fn split(&self, spans: Vec<IncomingSpan>) -> Routed {
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        let mut learned = Vec::new();
        for span in &spans {
            if memory.tenant_of.contains_key(&span.trace_id) {
                continue;
            }
            if let Some(tenant) = learner_of(&span.span).and_then(learner_tenant) {
                memory.remember(span.trace_id, tenant.clone());
                learned.push((span.trace_id, tenant));
            }
        }
        let mut stay = Vec::new();
        let mut moved: Vec<(TenantId, Vec<IncomingSpan>)> = Vec::new();
        for span in spans {
            match memory.tenant_of.get(&span.trace_id) {
                Some(tenant) => match moved.iter_mut().find(|(t, _)| t == tenant) {
                    Some((_, list)) => list.push(span),
                    None => moved.push((tenant.clone(), vec![span])),
                },
                None => stay.push(span),
            }
        }
        Routed {
            stay,
            moved,
            learned,
        }
    }
}

impl Memory {
    fn remember(&mut self, trace_id: TraceId, tenant: TenantId) {
        self.tenant_of.insert(trace_id, tenant);
        self.order.push_back(trace_id);
        while self.order.len() > REMEMBERED_TRACES {
            if let Some(oldest) = self.order.pop_front() {
                self.tenant_of.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dojo_traceql::model::{KeyValue, Resource, SpanId};

    use super::*;

    fn span(trace: u8, id: u8, learner: Option<&str>, on_resource: bool) -> IncomingSpan {
        let mark = learner.map(|l| KeyValue {
            key: LEARNER_ATTRIBUTE.into(),
            value: Value::Str(l.into()),
        });
        let mut resource = Resource::default();
        let mut attributes = Vec::new();
        match (mark, on_resource) {
            (Some(kv), true) => resource.attributes.push(kv),
            (Some(kv), false) => attributes.push(kv),
            (None, _) => {}
        }
        IncomingSpan {
            trace_id: TraceId([trace; 16]),
            span: Span {
                span_id: SpanId([id; 8]),
                attributes,
                resource: Arc::new(resource),
                ..Default::default()
            },
            bytes: 10,
        }
    }

    #[test]
    fn a_learner_maps_to_one_tenant_and_a_non_id_to_none() {
        assert_eq!(
            learner_tenant("ada-1a2b3c4d").map(|t| t.to_string()),
            Some("learner-ada-1a2b3c4d".into())
        );
        for bad in ["", "a b", "a|b", "ada\u{e9}", &"x".repeat(65)] {
            assert_eq!(learner_tenant(bad), None, "{bad:?}");
        }
        assert!(is_learner_tenant(&learner_tenant("ada-1").unwrap()));
        assert!(!is_learner_tenant(&TenantId::default_tenant()));
        assert!(!is_learner_tenant(&TenantId::parse("learner-").unwrap()));
    }

    #[test]
    fn a_trace_follows_the_learner_its_first_marked_span_names() {
        let router = Router::default();
        // An unmarked database span of trace 1 arrives with the marked server span of trace 2.
        let first = router.split(vec![span(1, 1, None, false), span(2, 1, Some("bo"), false)]);
        assert_eq!(first.stay.len(), 1, "trace 1 is nobody's yet");
        assert_eq!(first.moved.len(), 1);
        assert_eq!(first.moved[0].0.as_str(), "learner-bo");
        // Trace 1's server span says Ada; trace 2's late client span has no mark.
        let second = router.split(vec![
            span(2, 2, None, false),
            span(1, 2, Some("ada"), true),
            span(3, 1, None, false),
        ]);
        assert_eq!(second.stay.len(), 1, "trace 3 stays: {:?}", second.stay);
        let tenants: Vec<(&str, usize)> = second
            .moved
            .iter()
            .map(|(t, spans)| (t.as_str(), spans.len()))
            .collect();
        assert_eq!(tenants, [("learner-bo", 1), ("learner-ada", 1)]);
        assert_eq!(
            second.learned,
            [(TraceId([1; 16]), learner_tenant("ada").unwrap())],
            "only trace 1 is newly learned, so its earlier span can be fetched"
        );
    }

    #[test]
    fn a_mark_that_is_not_a_learner_id_routes_nothing() {
        let router = Router::default();
        let routed = router.split(vec![span(1, 1, Some("a|b"), false)]);
        assert_eq!(routed.stay.len(), 1);
        assert!(routed.moved.is_empty() && routed.learned.is_empty());
    }
}
