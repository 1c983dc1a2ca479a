//! Pictures people would rather look at than read, drawn on the server as SVG (no JavaScript):
//! the trace [`waterfall`], the [`service_graph`] and the [`red`] charts, the last two counting
//! the same [`requests`]. Each module computes
//! a plain view from traces first and draws it second, so the numbers are tested apart from
//! the drawing.

pub mod compare;
pub mod deploys;
pub mod red;
pub mod requests;
pub mod service_graph;
pub mod timeseries;
pub mod waterfall;

use std::collections::HashMap;

use crate::markdown::escape;

/// Colours for services, chosen to stay distinguishable side by side.
const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac",
    "#ff9da7",
];

/// Gives each service a stable colour, in order of first appearance.
#[derive(Debug, Default, Clone)]
pub struct Colours {
    assigned: HashMap<String, &'static str>,
}

impl Colours {
    /// The colour of a service, assigning the next one if it is new.
    pub fn of(&mut self, service: &str) -> &'static str {
        let next = PALETTE[self.assigned.len() % PALETTE.len()];
        self.assigned.entry(service.to_string()).or_insert(next)
    }
}

/// A duration in the unit a person would use: `850 µs`, `2.5 ms`, `1.25 s`, `15 min`. The same
/// format as the grader's feedback, so a learner reads one way of writing time everywhere.
pub fn format_duration(nanos: u64) -> String {
    dojo_grader::check::describe::human_duration(nanos)
}

/// Text escaped for SVG/XML content and attribute values.
pub(crate) fn xml(text: &str) -> String {
    escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_keeps_its_colour() {
        let mut colours = Colours::default();
        let api = colours.of("api");
        assert_ne!(colours.of("frontend"), api);
        assert_eq!(colours.of("api"), api);
    }
}

/// Hand-built spans for the pictures' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::sync::Arc;

    use dojo_traceql::model::{KeyValue, Resource, Span, SpanId, Value};

    /// A span with id `id`, its parent, its service, and start/end in ms after t = 1 s.
    pub(crate) fn span(
        id: u8,
        parent: Option<u8>,
        service: &str,
        start_ms: u64,
        end_ms: u64,
    ) -> Span {
        Span {
            span_id: SpanId([0, 0, 0, 0, 0, 0, 0, id]),
            parent_span_id: parent.map(|p| SpanId([0, 0, 0, 0, 0, 0, 0, p])),
            name: format!("op{id}").into(),
            start_unix_nanos: 1_000_000_000 + start_ms * 1_000_000,
            end_unix_nanos: 1_000_000_000 + end_ms * 1_000_000,
            resource: Arc::new(Resource {
                attributes: vec![KeyValue::new("service.name", Value::str(service))],
            }),
            ..Span::default()
        }
    }
}
