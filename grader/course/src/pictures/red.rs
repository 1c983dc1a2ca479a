//! RED charts per service: **R**ate of requests, **E**rror percentage and **D**uration (p95)
//! over time, computed from the server spans of recent traces (a service with no server spans
//! is measured by its root spans). Every point links to an exemplar trace from its interval:
//! the slowest request for the duration chart, a failed one for the error chart when there is
//! one — the metric-to-trace jump that exemplars give in Grafana.

use std::collections::BTreeMap;

use dojo_traceql::model::{SpanKind, StatusCode, Trace, TraceId};

use super::{format_duration, xml};

/// One time interval of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Start of the interval, Unix nanoseconds.
    pub start_unix_nanos: u64,
    pub requests: u64,
    pub errors: u64,
    /// 95th percentile of request durations (nearest rank), 0 with no requests.
    pub p95_nanos: u64,
    /// The slowest request's trace.
    pub slowest: Option<TraceId>,
    /// A failed request's trace, if any failed.
    pub failed: Option<TraceId>,
}

/// The RED series of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub service: String,
    pub interval_nanos: u64,
    pub points: Vec<Point>,
}

impl Series {
    /// Requests per second in a point.
    pub fn rate(&self, point: &Point) -> f64 {
        point.requests as f64 / (self.interval_nanos as f64 / 1e9)
    }
}

/// Splits `[end - window, end)` into `buckets` intervals and measures each service in each.
pub fn compute(
    traces: &[Trace],
    end_unix_nanos: u64,
    window_nanos: u64,
    buckets: usize,
) -> Vec<Series> {
    let buckets = buckets.max(1);
    let interval = (window_nanos / buckets as u64).max(1);
    let start = end_unix_nanos.saturating_sub(interval * buckets as u64);
    let has_server: std::collections::BTreeSet<&str> = traces
        .iter()
        .flat_map(|t| &t.spans)
        .filter(|s| s.kind == SpanKind::Server)
        .filter_map(|s| s.service_name())
        .collect();
    let mut samples: BTreeMap<String, Vec<Vec<Sample>>> = BTreeMap::new();
    for trace in traces {
        for span in &trace.spans {
            let Some(service) = span.service_name() else {
                continue;
            };
            let counts = if has_server.contains(service) {
                span.kind == SpanKind::Server
            } else {
                span.parent_span_id.is_none()
            };
            if !counts
                || span.start_unix_nanos < start
                || span.start_unix_nanos >= start + interval * buckets as u64
            {
                continue;
            }
            let bucket = ((span.start_unix_nanos - start) / interval) as usize;
            let series = samples
                .entry(service.to_string())
                .or_insert_with(|| vec![Vec::new(); buckets]);
            series[bucket].push((
                span.duration_nanos(),
                span.status == StatusCode::Error,
                trace.trace_id,
            ));
        }
    }
    samples
        .into_iter()
        .map(|(service, per_bucket)| Series {
            service,
            interval_nanos: interval,
            points: per_bucket
                .into_iter()
                .enumerate()
                .map(|(i, mut samples)| {
                    samples.sort_by_key(|s| s.0);
                    let p95 = if samples.is_empty() {
                        0
                    } else {
                        let rank = (samples.len() * 95).div_ceil(100).max(1);
                        samples[rank - 1].0
                    };
                    Point {
                        start_unix_nanos: start + interval * i as u64,
                        requests: samples.len() as u64,
                        errors: samples.iter().filter(|s| s.1).count() as u64,
                        p95_nanos: p95,
                        slowest: samples.last().map(|s| s.2),
                        failed: samples.iter().rev().find(|s| s.1).map(|s| s.2),
                    }
                })
                .collect(),
        })
        .collect()
}

/// One request: its duration, whether it failed, and its trace.
type Sample = (u64, bool, TraceId);

const W: f64 = 240.0;
const H: f64 = 90.0;
const PAD: f64 = 22.0;

/// Draws the three charts of one service side by side.
pub fn svg(series: &Series) -> String {
    let width = 3.0 * (W + 16.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"red\" role=\"img\" aria-label=\"Rate, errors and duration of {}\" \
         viewBox=\"0 0 {width} {H}\" width=\"{width}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"11\">",
        xml(&series.service)
    );
    let rates: Vec<f64> = series.points.iter().map(|p| series.rate(p)).collect();
    let errors: Vec<f64> = series
        .points
        .iter()
        .map(|p| {
            if p.requests == 0 {
                0.0
            } else {
                p.errors as f64 * 100.0 / p.requests as f64
            }
        })
        .collect();
    let durations: Vec<f64> = series.points.iter().map(|p| p.p95_nanos as f64).collect();
    let rate_links: Vec<Option<TraceId>> = series.points.iter().map(|p| p.slowest).collect();
    let error_links: Vec<Option<TraceId>> = series
        .points
        .iter()
        .map(|p| p.failed.or(p.slowest))
        .collect();
    chart(
        &mut out,
        0.0,
        "Rate (req/s)",
        &rates,
        &rate_links,
        |v| format!("{v:.2}/s"),
        "#4e79a7",
    );
    chart(
        &mut out,
        W + 16.0,
        "Errors (%)",
        &errors,
        &error_links,
        |v| format!("{v:.1}%"),
        "#d62728",
    );
    chart(
        &mut out,
        2.0 * (W + 16.0),
        "Duration (p95)",
        &durations,
        &rate_links,
        |v| format_duration(v as u64),
        "#59a14f",
    );
    out.push_str("</svg>");
    out
}

fn chart(
    out: &mut String,
    left: f64,
    title: &str,
    values: &[f64],
    links: &[Option<TraceId>],
    label: impl Fn(f64) -> String,
    colour: &str,
) {
    let max = values.iter().copied().fold(0.0f64, f64::max);
    let scale = if max > 0.0 { max } else { 1.0 };
    let n = values.len().max(2) - 1;
    let x_of = |i: usize| left + 6.0 + (W - 12.0) * i as f64 / n as f64;
    let y_of = |v: f64| H - 8.0 - (H - PAD - 12.0) * v / scale;
    out.push_str(&format!(
        "<rect x=\"{left}\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fafafa\" stroke=\"#e5e5e5\"/>\
         <text x=\"{:.1}\" y=\"14\" fill=\"#333\">{} · max {}</text>",
        left + 6.0,
        xml(title),
        xml(&label(max))
    ));
    let path: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
        .collect();
    out.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
        path.join(" ")
    ));
    for (i, value) in values.iter().enumerate() {
        let (x, y) = (x_of(i), y_of(*value));
        let dot = format!(
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"><title>{}</title></circle>",
            xml(&label(*value))
        );
        match links.get(i).copied().flatten() {
            Some(trace) => out.push_str(&format!(
                "<a class=\"exemplar\" href=\"/traces/{trace}\">{dot}</a>"
            )),
            None => out.push_str(&dot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pictures::fixtures::span;

    #[test]
    fn requests_errors_and_p95_are_counted_per_interval_with_exemplars() {
        // t = 1 s + start_ms; window 1 s → 1000 ms, two buckets of 500 ms from t = 1 s.
        let mut slow = span(1, None, "frontend", 100, 400);
        slow.kind = SpanKind::Server;
        let mut fast = span(1, None, "frontend", 200, 210);
        fast.kind = SpanKind::Server;
        let mut failed = span(1, None, "frontend", 600, 650);
        failed.kind = SpanKind::Server;
        failed.status = StatusCode::Error;
        let traces = vec![
            Trace {
                trace_id: TraceId([1; 16]),
                spans: vec![slow],
            },
            Trace {
                trace_id: TraceId([2; 16]),
                spans: vec![fast],
            },
            Trace {
                trace_id: TraceId([3; 16]),
                spans: vec![failed, span(2, None, "loadgen", 600, 700)],
            },
        ];
        let series = compute(&traces, 2_000_000_000, 1_000_000_000, 2);
        let frontend = series
            .iter()
            .find(|s| s.service == "frontend")
            .expect("frontend measured");
        assert_eq!(frontend.points[0].requests, 2);
        assert_eq!(frontend.points[0].errors, 0);
        assert_eq!(frontend.points[0].p95_nanos, 300_000_000);
        assert_eq!(frontend.points[0].slowest, Some(TraceId([1; 16])));
        assert_eq!(frontend.points[1].failed, Some(TraceId([3; 16])));
        assert!((frontend.rate(&frontend.points[0]) - 4.0).abs() < 1e-9);
        let loadgen = series
            .iter()
            .find(|s| s.service == "loadgen")
            .expect("a service without server spans is measured by its roots");
        assert_eq!(loadgen.points[1].requests, 1);
        let picture = svg(frontend);
        assert!(
            picture.contains(&format!("href=\"/traces/{}\"", TraceId([3; 16]))),
            "{picture}"
        );
    }
}
