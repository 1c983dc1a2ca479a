//! Pictures people would rather look at than read, drawn on the server as SVG (no JavaScript):
//! the trace [`waterfall`], the [`service_graph`] and the [`red`] charts, the last two counting
//! the same [`requests`]. Each module computes
//! a plain view from traces first and draws it second, so the numbers are tested apart from
//! the drawing.

pub mod red;
pub mod requests;
pub mod service_graph;
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

/// A duration in the unit a person would use: `850µs`, `12.3ms`, `1.25s`.
pub fn format_duration(nanos: u64) -> String {
    let n = nanos as f64;
    if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 1_000_000 {
        format!("{:.0}µs", n / 1e3)
    } else if nanos < 10_000_000 {
        format!("{:.2}ms", n / 1e6)
    } else if nanos < 1_000_000_000 {
        format!("{:.1}ms", n / 1e6)
    } else if nanos < 60_000_000_000 {
        format!("{:.2}s", n / 1e9)
    } else if nanos < 3_600_000_000_000 {
        let secs = nanos / 1_000_000_000;
        if secs.is_multiple_of(60) {
            format!("{} min", secs / 60)
        } else {
            format!("{} min {} s", secs / 60, secs % 60)
        }
    } else {
        format!("{:.1} h", n / 3.6e12)
    }
}

/// Text escaped for SVG/XML content and attribute values.
pub(crate) fn xml(text: &str) -> String {
    escape(text)
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_shown_in_a_readable_unit() {
        assert_eq!(format_duration(500), "500ns");
        assert_eq!(format_duration(850_000), "850µs");
        assert_eq!(format_duration(2_500_000), "2.50ms");
        assert_eq!(format_duration(412_000_000), "412.0ms");
        assert_eq!(format_duration(1_250_000_000), "1.25s");
        assert_eq!(format_duration(900_000_000_000), "15 min");
        assert_eq!(format_duration(95_000_000_000), "1 min 35 s");
        assert_eq!(format_duration(5_400_000_000_000), "1.5 h");
    }

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
