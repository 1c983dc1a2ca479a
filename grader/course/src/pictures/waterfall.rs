//! The trace waterfall: one row per span in tree order, a bar on a shared time axis, coloured
//! by service, errors outlined in red with a `!`, spans whose parent never arrived marked as
//! such. Every bar links to the same page with that span selected, so the side panel with
//! attributes, events and log lines works without JavaScript.

use std::collections::HashMap;

use dojo_traceql::model::{SpanId, SpanKind, StatusCode, Trace};

use super::{Colours, clip, format_duration, xml};

/// One row of the waterfall.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Index of the span in `trace.spans`.
    pub index: usize,
    pub span_id: SpanId,
    pub depth: usize,
    pub service: String,
    pub name: String,
    pub kind: SpanKind,
    /// From the start of the trace.
    pub offset_nanos: u64,
    pub duration_nanos: u64,
    pub error: bool,
    /// The span names a parent that is not in the trace (a hole, or a split trace).
    pub orphan: bool,
}

/// Orders the spans of a trace as a tree: roots by start time, each followed by its children
/// by start time. Spans whose parent is missing are shown as extra roots, flagged.
pub fn rows(trace: &Trace) -> Vec<Row> {
    let start = trace.start_unix_nanos();
    let ids: HashMap<SpanId, usize> = trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id, i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (index, span) in trace.spans.iter().enumerate() {
        match span.parent_span_id.and_then(|p| ids.get(&p).copied()) {
            Some(parent) if parent != index => children.entry(parent).or_default().push(index),
            _ => roots.push(index),
        }
    }
    let by_start =
        |list: &mut Vec<usize>| list.sort_by_key(|&i| (trace.spans[i].start_unix_nanos, i));
    by_start(&mut roots);
    for list in children.values_mut() {
        by_start(list);
    }
    let mut out = Vec::with_capacity(trace.spans.len());
    let mut visited = vec![false; trace.spans.len()];
    // Depth-first with an explicit stack; `visited` guards against cycles in bad data.
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&i| (i, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut visited[index], true) {
            continue;
        }
        let span = &trace.spans[index];
        out.push(Row {
            index,
            span_id: span.span_id,
            depth,
            service: span.service_name().unwrap_or("unknown service").to_string(),
            name: span.name.to_string(),
            kind: span.kind,
            offset_nanos: span.start_unix_nanos.saturating_sub(start),
            duration_nanos: span.duration_nanos(),
            error: span.status == StatusCode::Error,
            orphan: span.parent_span_id.is_some_and(|p| !ids.contains_key(&p)),
        });
        if let Some(kids) = children.get(&index) {
            for &kid in kids.iter().rev() {
                stack.push((kid, depth + 1));
            }
        }
    }
    out
}

const LABEL_WIDTH: f64 = 270.0;
const BAR_WIDTH: f64 = 560.0;
const ROW_HEIGHT: f64 = 24.0;
const AXIS_HEIGHT: f64 = 28.0;
/// The labels' font size in the SVG's own units.
const FONT_SIZE: f64 = 12.0;
/// The smallest the labels may be drawn on screen, in CSS pixels.
const MIN_TEXT_PX: f64 = 11.0;

/// Draws the waterfall. `selected` highlights one span; bars link to `link_base?span=<id>`.
pub fn svg(trace: &Trace, rows: &[Row], selected: Option<SpanId>, link_base: &str) -> String {
    let total = trace
        .end_unix_nanos()
        .saturating_sub(trace.start_unix_nanos())
        .max(1);
    let width = LABEL_WIDTH + BAR_WIDTH + 90.0;
    let height = AXIS_HEIGHT + ROW_HEIGHT * rows.len() as f64 + 8.0;
    // Squeezed below this, the text would shrink under MIN_TEXT_PX: the page scrolls sideways.
    let min_width = (width * MIN_TEXT_PX / FONT_SIZE).ceil();
    let mut colours = Colours::default();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"waterfall\" role=\"img\" aria-label=\"Trace waterfall\" \
         viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"min-width: {min_width}px; max-width: {width}px\" preserveAspectRatio=\"xMinYMin meet\" font-family=\"sans-serif\" font-size=\"{FONT_SIZE}\">"
    );
    // The time axis: five ticks across the bar area.
    for tick in 0..=4 {
        let x = LABEL_WIDTH + BAR_WIDTH * tick as f64 / 4.0;
        let label = format_duration(total * tick / 4);
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{AXIS_HEIGHT}\" x2=\"{x:.1}\" y2=\"{height}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"16\" text-anchor=\"middle\" fill=\"#555\">{label}</text>"
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        let y = AXIS_HEIGHT + ROW_HEIGHT * i as f64;
        let colour = colours.of(&row.service);
        let x = LABEL_WIDTH + BAR_WIDTH * row.offset_nanos as f64 / total as f64;
        let w = (BAR_WIDTH * row.duration_nanos as f64 / total as f64).max(2.0);
        let href = format!("{link_base}?span={}", row.span_id);
        let is_selected = selected == Some(row.span_id);
        let mut title = format!(
            "{} · {} · {}",
            row.service,
            row.name,
            format_duration(row.duration_nanos)
        );
        if row.error {
            title.push_str(" · error");
        }
        if row.orphan {
            title.push_str(" · parent missing");
        }
        out.push_str(&format!(
            "<a href=\"{}\"><title>{}</title>",
            xml(&href),
            xml(&title)
        ));
        if is_selected {
            out.push_str(&format!(
                "<rect x=\"0\" y=\"{y:.1}\" width=\"{width}\" height=\"{ROW_HEIGHT}\" fill=\"#fff4c2\"/>"
            ));
        }
        let indent = 6.0 + 12.0 * row.depth.min(12) as f64;
        let label = clip(
            &format!("{}: {}", row.service, row.name),
            44usize.saturating_sub(row.depth * 2).max(12),
        );
        out.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"4\" height=\"14\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#222\">{}{}</text>",
            indent,
            y + 5.0,
            indent + 8.0,
            y + 16.0,
            if row.orphan { "⤷ " } else { "" },
            xml(&label)
        ));
        let stroke = if row.error {
            " stroke=\"#d62728\" stroke-width=\"2\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<rect class=\"bar{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"14\" rx=\"2\" fill=\"{colour}\"{stroke}/>",
            if row.error { " error" } else { "" },
            y + 5.0
        ));
        let mut after = format_duration(row.duration_nanos);
        if row.error {
            after = format!("! {after}");
        }
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\">{}</text></a>",
            (x + w + 4.0).min(LABEL_WIDTH + BAR_WIDTH + 4.0),
            y + 16.0,
            if row.error { "#d62728" } else { "#444" },
            xml(&after)
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use dojo_traceql::model::TraceId;

    use super::*;
    use crate::pictures::fixtures::span;

    #[test]
    fn spans_are_ordered_as_a_tree_with_depths_and_offsets() {
        let mut failing = span(3, Some(1), "payments", 20, 90);
        failing.status = StatusCode::Error;
        let trace = Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(2, Some(1), "api", 5, 15),
                failing,
                span(1, None, "frontend", 0, 100),
                span(4, Some(9), "api", 30, 40),
            ],
        };
        let rows = rows(&trace);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.depth,
                    r.offset_nanos / 1_000_000,
                    r.error,
                    r.orphan,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("op1", 0, 0, false, false),
                ("op2", 1, 5, false, false),
                ("op3", 1, 20, true, false),
                ("op4", 0, 30, false, true),
            ]
        );
    }

    #[test]
    fn the_picture_links_every_bar_and_marks_errors() {
        let mut failing = span(2, Some(1), "api", 10, 50);
        failing.status = StatusCode::Error;
        let trace = Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![span(1, None, "frontend <&>", 0, 100), failing],
        };
        let rows = rows(&trace);
        let picture = svg(&trace, &rows, Some(rows[1].span_id), "/traces/abc");
        assert!(
            picture.contains("href=\"/traces/abc?span=0000000000000002\""),
            "{picture}"
        );
        assert!(picture.contains("class=\"bar error\""));
        assert!(
            picture.contains("frontend &lt;&amp;&gt;"),
            "service names are escaped"
        );
        assert!(
            picture.contains("#fff4c2"),
            "the selected row is highlighted"
        );
    }
}
