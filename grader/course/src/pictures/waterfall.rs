//! The trace waterfall: one row per span in tree order, a bar on a shared time axis, coloured
//! by service, errors outlined in red with a `!`, spans whose parent never arrived marked as
//! such, and the **critical path** (the spans the trace's end waited on) drawn darker.
//!
//! It is plain HTML, not a picture: each subtree is a `<details>` element, so collapsing and
//! expanding work without JavaScript; the labels are real text that stays readable on a phone,
//! where the name goes above its bar. Every label links to the same page with that span
//! selected, so the side panel with attributes, events, links and log lines works without
//! JavaScript too; span events are ticks on their bar.

use std::collections::{HashMap, HashSet};

use dojo_traceql::model::{Span, SpanId, SpanKind, StatusCode, Trace};

use super::{Colours, format_duration, xml};

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

/// Who is whose parent in a trace, by index in `trace.spans`.
struct Tree {
    ids: HashMap<SpanId, usize>,
    children: HashMap<usize, Vec<usize>>,
    /// Spans without a parent in the trace (roots, and spans whose parent never arrived).
    roots: Vec<usize>,
}

impl Tree {
    fn of(trace: &Trace) -> Tree {
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
        Tree {
            ids,
            children,
            roots,
        }
    }
}

/// Orders the spans of a trace as a tree: roots by start time, each followed by its children
/// by start time. Spans whose parent is missing are shown as extra roots, flagged.
pub fn rows(trace: &Trace) -> Vec<Row> {
    let start = trace.start_unix_nanos();
    let Tree {
        ids,
        mut children,
        mut roots,
    } = Tree::of(trace);
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

/// Marks the critical path: from each root, the chain of spans whose end the parent waited on.
/// Walking back from a span's end, the child that finished last before that point is on the
/// path; the walk then continues from that child's start, so sequential children can all be on
/// it. Returns the indexes of the spans on the path.
pub fn critical_path(trace: &Trace) -> HashSet<usize> {
    let Tree {
        children, roots, ..
    } = Tree::of(trace);
    let mut on_path = HashSet::new();
    // (span, the time its part of the path ends), walked without recursion.
    let mut todo: Vec<(usize, u64)> = roots
        .iter()
        .map(|&r| (r, trace.spans[r].end_unix_nanos))
        .collect();
    while let Some((index, until)) = todo.pop() {
        if !on_path.insert(index) {
            continue;
        }
        let span = &trace.spans[index];
        let mut cursor = until.min(span.end_unix_nanos);
        let kids = children.get(&index).map(Vec::as_slice).unwrap_or_default();
        loop {
            let last = kids
                .iter()
                .copied()
                .filter(|&k| trace.spans[k].start_unix_nanos < cursor)
                .max_by_key(|&k| (trace.spans[k].end_unix_nanos.min(cursor), k));
            let Some(kid) = last else { break };
            todo.push((kid, cursor));
            // Before this child started, the span waited on whatever ended before that.
            cursor = trace.spans[kid].start_unix_nanos;
            if cursor <= span.start_unix_nanos {
                break;
            }
        }
    }
    on_path
}

/// What the page asks of the waterfall beyond the trace itself.
#[derive(Debug, Clone, Default)]
pub struct View<'a> {
    /// The span shown in the side panel.
    pub selected: Option<SpanId>,
    /// The page's own address: labels link to `link_base?span=<id>`.
    pub link_base: &'a str,
    /// Text searched for within the trace (span name, service, attribute keys and values):
    /// matching rows are highlighted, the rest dimmed.
    pub find: Option<&'a str>,
}

/// Whether a span matches the in-trace search (case-insensitive, anywhere in its name, its
/// service, or an attribute's key or value).
pub fn matches(span: &Span, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    let has = |text: &str| text.to_lowercase().contains(&needle);
    has(&span.name)
        || span.service_name().is_some_and(has)
        || span
            .attributes
            .iter()
            .any(|kv| has(&kv.key) || has(&kv.value.to_string()))
}

/// Percent of the trace's duration, for CSS positions.
fn percent(part: u64, total: u64) -> f64 {
    (part as f64 * 100.0 / total.max(1) as f64).clamp(0.0, 100.0)
}

/// Draws the waterfall as nested lists of rows. Deep traces are drawn without recursion.
pub fn html(trace: &Trace, rows: &[Row], view: &View) -> String {
    let start = trace.start_unix_nanos();
    let total = trace.end_unix_nanos().saturating_sub(start).max(1);
    let critical = critical_path(trace);
    let mut colours = Colours::default();
    let mut out = String::from(
        "<div class=\"waterfall\" id=\"waterfall\" role=\"tree\" aria-label=\"Trace waterfall\">\
         <div class=\"wf-row wf-axis\" aria-hidden=\"true\"><span class=\"wf-label\">Service: span</span><span class=\"wf-track\">",
    );
    for tick in 0..=4u64 {
        let anchor = match tick {
            0 => "left: 0",
            4 => "right: 0",
            _ => "",
        };
        let position = if anchor.is_empty() {
            format!("left: {}%; transform: translateX(-50%)", tick * 25)
        } else {
            anchor.to_string()
        };
        out.push_str(&format!(
            "<span class=\"wf-tick\" style=\"{position}\">{}</span>",
            format_duration(total * tick / 4)
        ));
    }
    out.push_str("</span></div><ul class=\"wf-tree\">");
    // Depths of the rows whose subtree is still open.
    let mut open: Vec<usize> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        while open.last().is_some_and(|&d| d >= row.depth) {
            open.pop();
            out.push_str("</ul></details></li>");
        }
        let span = &trace.spans[row.index];
        let has_children = rows.get(i + 1).is_some_and(|next| next.depth > row.depth);
        let mut classes = vec!["wf-row"];
        if critical.contains(&row.index) {
            classes.push("critical");
        }
        if view.selected == Some(row.span_id) {
            classes.push("selected");
        }
        if let Some(needle) = view.find {
            classes.push(if matches(span, needle) {
                "match"
            } else {
                "dim"
            });
        }
        let row_tag = if has_children { "summary" } else { "div" };
        out.push_str(&format!(
            "<li role=\"treeitem\" data-span=\"{}\">{}<{row_tag} class=\"{}\" style=\"--depth: {}\">",
            row.span_id,
            if has_children { "<details open>" } else { "" },
            classes.join(" "),
            row.depth.min(30)
        ));
        let colour = colours.of(&row.service);
        let mut title = format!(
            "{} · {} · {} · {}",
            row.service,
            row.name,
            row.kind.traceql_name(),
            format_duration(row.duration_nanos)
        );
        if row.error {
            title.push_str(" · error");
        }
        if row.orphan {
            title.push_str(" · its parent never arrived");
        }
        if critical.contains(&row.index) {
            title.push_str(" · on the critical path");
        }
        out.push_str(&format!(
            "<span class=\"wf-label\"><span class=\"wf-swatch\" style=\"background: {colour}\"></span>\
             <a class=\"span-link\" href=\"{}?span={}\" title=\"{}\">{}<span class=\"wf-service\">{}</span> {}</a></span>",
            xml(view.link_base),
            row.span_id,
            xml(&title),
            if row.orphan { "⤷ " } else { "" },
            xml(&row.service),
            xml(&row.name)
        ));
        let left = percent(row.offset_nanos, total);
        let width = percent(row.duration_nanos, total);
        let mut duration = format_duration(row.duration_nanos);
        if row.error {
            duration = format!("! {duration}");
        }
        // The duration goes after the bar; before it when the bar ends near the right edge;
        // inside it when the bar also starts near the left edge (no room on either side).
        let (duration_at, inside) = if left + width <= 75.0 {
            (
                format!("left: {:.2}%; margin-left: 4px", left + width),
                false,
            )
        } else if left >= 20.0 {
            (
                format!("right: {:.2}%; margin-right: 4px", 100.0 - left),
                false,
            )
        } else {
            (format!("left: {left:.2}%; margin-left: 4px"), true)
        };
        out.push_str(&format!(
            "<span class=\"wf-track\"><span class=\"wf-bar{}\" style=\"left: {left:.2}%; width: {width:.2}%; background: {colour}\"></span>",
            if row.error { " error" } else { "" }
        ));
        for event in &span.events {
            let at = percent(event.time_unix_nanos.saturating_sub(start), total);
            let exception = event.name.as_ref() == "exception";
            out.push_str(&format!(
                "<span class=\"wf-event{}\" style=\"left: {at:.2}%\" title=\"{} at +{}\"></span>",
                if exception { " exception" } else { "" },
                xml(&event.name),
                format_duration(event.time_unix_nanos.saturating_sub(span.start_unix_nanos))
            ));
        }
        out.push_str(&format!(
            "<span class=\"wf-duration{}{}\" style=\"{duration_at}\">{}</span></span></{row_tag}>",
            if row.error { " error" } else { "" },
            if inside { " inside" } else { "" },
            xml(&duration)
        ));
        if has_children {
            out.push_str("<ul>");
            open.push(row.depth);
        } else {
            out.push_str("</li>");
        }
    }
    for _ in open {
        out.push_str("</ul></details></li>");
    }
    out.push_str("</ul></div>");
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
    fn the_waterfall_links_every_span_marks_errors_and_nests_subtrees_to_collapse() {
        let mut failing = span(2, Some(1), "api", 10, 50);
        failing.status = StatusCode::Error;
        let trace = Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "frontend <&>", 0, 100),
                failing,
                span(3, Some(2), "api", 12, 40),
            ],
        };
        let rows = rows(&trace);
        let view = View {
            selected: Some(rows[1].span_id),
            link_base: "/traces/abc",
            find: None,
        };
        let picture = html(&trace, &rows, &view);
        assert!(
            picture.contains("href=\"/traces/abc?span=0000000000000002\""),
            "{picture}"
        );
        assert!(picture.contains("class=\"wf-bar error\""));
        assert!(
            picture.contains("frontend &lt;&amp;&gt;"),
            "service names are escaped"
        );
        assert!(
            picture.contains("selected"),
            "the selected row is highlighted"
        );
        assert_eq!(
            picture.matches("<details open>").count(),
            2,
            "each span with children opens a subtree that can be collapsed: {picture}"
        );
        assert_eq!(
            picture.matches("<li").count(),
            picture.matches("</li>").count(),
            "balanced: {picture}"
        );
    }

    #[test]
    fn the_critical_path_follows_what_the_end_waited_for() {
        // root 0..100 calls a (0..30), then b (35..60) and c (35..95) in parallel. The end
        // waited for c, which started after a ended: a and c are on the path, b is not.
        let trace = Trace {
            trace_id: TraceId([1; 16]),
            spans: vec![
                span(1, None, "frontend", 0, 100),
                span(2, Some(1), "api", 0, 30),
                span(3, Some(1), "api", 35, 60),
                span(4, Some(1), "api", 35, 95),
                span(5, Some(4), "payments", 40, 90),
            ],
        };
        let path = critical_path(&trace);
        let mut on: Vec<usize> = path.into_iter().collect();
        on.sort_unstable();
        assert_eq!(on, [0, 1, 3, 4]);
    }

    #[test]
    fn searching_within_a_trace_matches_names_services_and_attributes() {
        let mut call = span(2, Some(1), "api", 10, 50);
        call.attributes = vec![dojo_traceql::model::KeyValue::new(
            "db.query.text",
            dojo_traceql::model::Value::str("SELECT * FROM orders"),
        )];
        assert!(matches(&call, "orders"));
        assert!(matches(&call, "API"));
        assert!(matches(&call, "op2"));
        assert!(!matches(&call, "payments"));
    }
}
