//! Short, readable descriptions of traces and spans for feedback: `api › SELECT orders
//! (client, 1.24 s, error)`.

use dojo_traceql::model::{Span, StatusCode, Trace};

use crate::backend::SearchHit;

/// A duration as a person reads it: `420 µs`, `35 ms`, `1.24 s`, `1 min 35 s`, `1.5 h`. The
/// one format learners see, in feedback and on every page of the course.
pub fn human_duration(nanos: u64) -> String {
    if nanos >= 3_600_000_000_000 {
        format!("{:.1} h", nanos as f64 / 3.6e12)
    } else if nanos >= 60_000_000_000 {
        let secs = nanos / 1_000_000_000;
        if secs.is_multiple_of(60) {
            format!("{} min", secs / 60)
        } else {
            format!("{} min {} s", secs / 60, secs % 60)
        }
    } else if nanos >= 1_000_000_000 {
        format!("{:.2} s", nanos as f64 / 1e9)
    } else if nanos >= 10_000_000 {
        format!("{} ms", nanos / 1_000_000)
    } else if nanos >= 1_000_000 {
        format!("{:.1} ms", nanos as f64 / 1e6)
    } else if nanos >= 1_000 {
        format!("{} µs", nanos / 1_000)
    } else {
        format!("{nanos} ns")
    }
}

/// A moment as a clock time of day in UTC, `14:05:30`: what a learner compares with the
/// timestamps they see, where unix seconds say nothing.
pub fn clock_utc(unix_nanos: u64) -> String {
    let seconds = (unix_nanos / 1_000_000_000) % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// `service › name (kind, duration[, error])`.
pub fn span(span: &Span) -> String {
    let status = match span.status {
        StatusCode::Error => ", status error",
        _ => "",
    };
    format!(
        "`{} › {}` ({}, {}{status})",
        span.service_name().unwrap_or("unknown service"),
        span.name,
        span.kind.traceql_name(),
        human_duration(span.duration_nanos())
    )
}

/// Up to `max` spans, then how many more.
pub fn spans<'a>(list: impl Iterator<Item = &'a Span>, max: usize) -> String {
    let all: Vec<&Span> = list.collect();
    let mut text: Vec<String> = all.iter().take(max).map(|s| span(s)).collect();
    if all.len() > max {
        text.push(format!("and {} more", all.len() - max));
    }
    text.join(", ")
}

/// `frontend: POST /checkout, 1.30 s` for a fetched trace.
pub fn trace(trace: &Trace) -> String {
    let duration = trace
        .end_unix_nanos()
        .saturating_sub(trace.start_unix_nanos());
    match trace.root() {
        Some(root) => format!(
            "{}: {}, {}",
            root.service_name().unwrap_or("unknown service"),
            root.name,
            human_duration(duration)
        ),
        None => format!(
            "root span missing, {} spans, {}",
            trace.spans.len(),
            human_duration(duration)
        ),
    }
}

/// The same for a search hit.
pub fn hit(hit: &SearchHit) -> String {
    format!(
        "{}: {}, {}",
        if hit.root_service_name.is_empty() {
            "unknown service"
        } else {
            &hit.root_service_name
        },
        hit.root_trace_name,
        if hit.duration_nanos == 0 {
            // Tempo counts whole milliseconds; "0 µs" would be wrong.
            "under 1 ms".to_string()
        } else {
            human_duration(hit.duration_nanos)
        }
    )
}

/// What the spans of a search hit show: names and the attributes the query fetched.
pub fn hit_spans(hit: &SearchHit, max: usize) -> String {
    let mut parts = Vec::new();
    for span in hit.spansets.iter().flat_map(|s| s.spans.iter()).take(max) {
        let mut text = span
            .name
            .clone()
            .map(|n| format!("`{n}`"))
            .unwrap_or_else(|| "a span".into());
        text.push_str(&format!(" ({}", human_duration(span.duration_nanos)));
        for (k, v) in &span.attributes {
            text.push_str(&format!(", {k} = {v}"));
        }
        text.push(')');
        parts.push(text);
    }
    if parts.is_empty() {
        "the trace as a whole".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_read_as_clock_times_in_utc() {
        assert_eq!(clock_utc(1_765_117_330 * 1_000_000_000), "14:22:10");
        assert_eq!(clock_utc(0), "00:00:00");
    }

    #[test]
    fn durations_read_in_the_unit_a_person_would_use() {
        assert_eq!(human_duration(420_000), "420 µs");
        assert_eq!(human_duration(388_400), "388 µs");
        assert_eq!(human_duration(2_460_000), "2.5 ms");
        assert_eq!(human_duration(640), "640 ns");
        assert_eq!(human_duration(35_000_000), "35 ms");
        assert_eq!(human_duration(1_240_000_000), "1.24 s");
        assert_eq!(human_duration(900_000_000_000), "15 min");
        assert_eq!(human_duration(95_000_000_000), "1 min 35 s");
        assert_eq!(human_duration(5_400_000_000_000), "1.5 h");
    }
}
