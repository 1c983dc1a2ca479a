//! RED charts per service: **R**ate of requests, **E**rror percentage and **D**uration (p95)
//! over time, computed from the requests into each service or database as
//! [`super::requests`] defines them (the service graph counts the same ones, so its edges and
//! these charts agree). Every point links to an exemplar trace from its interval:
//! the slowest request for the duration chart, a failed one for the error chart when there is
//! one — the metric-to-trace jump that exemplars give in Grafana.

use std::collections::BTreeMap;

use dojo_traceql::model::TraceId;

use super::requests::Requests;

use super::{format_duration, xml};
use dojo_grader::check::describe::clock_utc;

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

/// Splits `[end - window, end)` into `buckets` intervals and measures each callee in each.
pub fn compute(
    requests: &Requests,
    end_unix_nanos: u64,
    window_nanos: u64,
    buckets: usize,
) -> Vec<Series> {
    let buckets = buckets.max(1);
    let interval = (window_nanos / buckets as u64).max(1);
    let start = end_unix_nanos.saturating_sub(interval * buckets as u64);
    let end = start + interval * buckets as u64;
    let mut samples: BTreeMap<&str, Vec<Vec<Sample>>> = BTreeMap::new();
    for request in &requests.list {
        if request.start_unix_nanos < start || request.start_unix_nanos >= end {
            continue;
        }
        let bucket = ((request.start_unix_nanos - start) / interval) as usize;
        samples
            .entry(request.callee.as_str())
            .or_insert_with(|| vec![Vec::new(); buckets])[bucket]
            .push((request.duration_nanos, request.failed, request.trace_id));
    }
    samples
        .into_iter()
        .map(|(service, per_bucket)| Series {
            service: service.to_string(),
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

impl Series {
    /// Requests in the whole series.
    pub fn requests(&self) -> u64 {
        self.points.iter().map(|p| p.requests).sum()
    }

    /// Failed requests in the whole series.
    pub fn errors(&self) -> u64 {
        self.points.iter().map(|p| p.errors).sum()
    }
}

/// One request: its duration, whether it failed, and its trace.
type Sample = (u64, bool, TraceId);

/// A chart's size in its own units; it is drawn at the width of its column (100 %), so three
/// sit side by side on a wide screen and stack on a phone.
const W: f64 = 300.0;
const H: f64 = 150.0;
/// Room on the left for the value axis' labels, and below for the clock times.
const LEFT: f64 = 54.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 22.0;

/// Draws the three charts of one service, each its own SVG, in a grid the stylesheet lays out.
pub fn svg(series: &Series) -> String {
    svg_marked(series, &[])
}

/// [`svg`] with a dashed vertical marker at each `(time in Unix nanoseconds, label)`: the
/// deployments on the Delivery page.
pub fn svg_marked(series: &Series, marks: &[(u64, String)]) -> String {
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
    let times: Vec<u64> = series.points.iter().map(|p| p.start_unix_nanos).collect();
    let mut out = format!(
        "<div class=\"red-charts\" data-service=\"{}\" data-requests=\"{}\" data-errors=\"{}\">",
        xml(&series.service),
        series.requests(),
        series.errors()
    );
    let charts = [
        Chart {
            title: "Rate",
            marks,
            unit: "requests per second",
            values: &rates,
            links: &rate_links,
            label: &|v| format!("{} req/s", short_number(v)),
            colour: "#4e79a7",
        },
        Chart {
            title: "Errors",
            marks,
            unit: "% of requests failed",
            values: &errors,
            links: &error_links,
            label: &|v| format!("{}%", short_number(v)),
            colour: "#d62728",
        },
        Chart {
            title: "Duration",
            marks,
            unit: "p95",
            values: &durations,
            links: &rate_links,
            label: &|v| format_duration(v as u64),
            colour: "#59a14f",
        },
    ];
    for chart in charts {
        chart.draw(&mut out, &series.service, &times, series.interval_nanos);
    }
    out.push_str("</div>");
    out
}

/// A number with as many decimals as its size needs: `12`, `4.2`, `0.35`.
fn short_number(value: f64) -> String {
    if value == 0.0 {
        "0".to_string()
    } else if value >= 10.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// One chart of the three.
struct Chart<'a> {
    title: &'a str,
    unit: &'a str,
    marks: &'a [(u64, String)],
    values: &'a [f64],
    links: &'a [Option<TraceId>],
    label: &'a dyn Fn(f64) -> String,
    colour: &'a str,
}

impl Chart<'_> {
    fn draw(&self, out: &mut String, service: &str, times: &[u64], interval: u64) {
        let max = self.values.iter().copied().fold(0.0f64, f64::max);
        let scale = if max > 0.0 { max } else { 1.0 };
        let n = self.values.len().max(2) - 1;
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        let x_of = |i: usize| LEFT + plot_w * i as f64 / n as f64;
        let y_of = |v: f64| TOP + plot_h - plot_h * v / scale;
        let label = self.label;
        out.push_str(&format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"red\" role=\"img\" \
             aria-label=\"{} of {}, {}\" viewBox=\"0 0 {W} {H}\" width=\"100%\" \
             preserveAspectRatio=\"xMinYMin meet\" font-family=\"sans-serif\" font-size=\"11\">\
             <text x=\"4\" y=\"14\" fill=\"#333\"><tspan font-weight=\"bold\">{}</tspan> · {}</text>",
            self.title,
            xml(service),
            self.unit,
            self.title,
            self.unit
        ));
        // The value axis: 0, half and the largest value, with their units.
        for fraction in [0.0, 0.5, 1.0] {
            let value = if max > 0.0 { max * fraction } else { fraction };
            let y = y_of(value);
            out.push_str(&format!(
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>\
                 <text class=\"y-tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
                W - RIGHT,
                LEFT - 4.0,
                y + 4.0,
                xml(&label(value))
            ));
        }
        // The time axis: clock times at the first, middle and last point.
        if let (Some(first), Some(last)) = (times.first(), times.last()) {
            let middle = times[times.len() / 2];
            for (i, time, anchor) in [
                (0, *first, "start"),
                (times.len() / 2, middle, "middle"),
                (times.len() - 1, *last, "end"),
            ] {
                out.push_str(&format!(
                    "<text class=\"x-tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#555\">{}</text>",
                    x_of(i),
                    H - 6.0,
                    clock_utc(time)
                ));
            }
        }
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>",
            TOP + plot_h,
            W - RIGHT,
            TOP + plot_h
        ));
        // Markers: a point stands for the interval that starts at its time.
        if let Some(first) = times.first() {
            for (at, mark) in self.marks {
                // The last point stands for the newest interval: a mark in it sits on it.
                let offset = at.saturating_sub(*first) as f64 / interval.max(1) as f64;
                let x = (LEFT + plot_w * offset / n as f64).min(W - RIGHT);
                if at >= first {
                    out.push_str(&format!(
                        "<line class=\"marker\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" \
                         stroke=\"#333\" stroke-dasharray=\"4 3\"><title>{}</title></line>",
                        TOP + plot_h,
                        xml(mark)
                    ));
                }
            }
        }
        let path: Vec<String> = self
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
            .collect();
        out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
            path.join(" "),
            self.colour
        ));
        for (i, value) in self.values.iter().enumerate() {
            let (x, y) = (x_of(i), y_of(*value));
            let when = times.get(i).copied().unwrap_or_default();
            let dot = format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{}\"><title>{}–{} UTC: {}</title></circle>",
                self.colour,
                clock_utc(when),
                clock_utc(when + interval),
                xml(&label(*value))
            );
            match self.links.get(i).copied().flatten() {
                Some(trace) => out.push_str(&format!(
                    "<a class=\"exemplar\" href=\"/traces/{trace}\">{dot}</a>"
                )),
                None => out.push_str(&dot),
            }
        }
        out.push_str("</svg>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pictures::fixtures::span;
    use dojo_traceql::model::{SpanKind, StatusCode, Trace};

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
        let series = compute(
            &crate::pictures::requests::collect(&traces),
            2_000_000_000,
            1_000_000_000,
            2,
        );
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
