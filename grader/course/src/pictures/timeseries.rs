//! A time-series chart of a metrics query's answer, drawn as SVG on the server: a time axis
//! with UTC clock labels, a value axis labelled in the panel's unit, one coloured line per
//! series, and a point per interval whose tooltip (the SVG `<title>`) gives the series, the
//! value and the time, so hovering shows values with no script at all. The legend and the
//! table beside it are HTML (see `routes::dashboards`), coloured by [`series_colours`].

use std::fmt::Write as _;

use dojo_grader::check::describe::clock_utc;

use super::{Colours, xml};
use crate::dashboards::Unit;
use dojo_grader::backend::MetricsAnswer;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 34.0;
/// Ticks on the time axis.
const TIME_TICKS: u64 = 5;

/// What a series is called in the legend: its labels; for a query without `by()`, the metrics
/// function that draws it (`rate()`), and for one quantile of several, that quantile
/// (`quantile_over_time(duration, 0.95)` rather than `p=0.95`); "all spans" when the query's
/// function cannot be read.
pub fn series_name(labels: &str, query: &str) -> String {
    let function = metrics_function(query);
    if labels.is_empty() {
        return function.unwrap_or_else(|| "all spans".to_string());
    }
    if let (Some(quantile), Some(function)) = (labels.strip_prefix("p="), &function)
        && !quantile.contains(',')
        && let Some((name, args)) = function.split_once('(')
    {
        let attribute = args.split(',').next().unwrap_or_default().trim();
        return format!("{name}({attribute}, {quantile})");
    }
    labels.to_string()
}

/// The metrics function a query ends with, as written (`rate()`,
/// `quantile_over_time(duration, .95)`), without its `by (…)`; `None` when the query does
/// not end with one.
fn metrics_function(query: &str) -> Option<String> {
    let tail = query.rsplit('|').next()?.trim();
    let open = tail.find('(')?;
    let name = tail[..open].trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in tail.char_indices().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(format!("{name}{}", &tail[open..=i]));
                }
            }
            _ => {}
        }
    }
    None
}

/// The colour of each series, in order.
pub fn series_colours(answer: &MetricsAnswer) -> Vec<&'static str> {
    let mut colours = Colours::default();
    answer
        .series
        .iter()
        .map(|s| colours.of(&s.labels_text()))
        .collect()
}

/// The right edge of interval `i`, Unix nanoseconds: the time its point is stamped with.
pub fn point_time(answer: &MetricsAnswer, i: usize) -> u64 {
    answer.start_nanos + (i as u64 + 1) * answer.step_nanos
}

/// The value axis' top and tick step: 1, 2 or 5 times a power of ten, four ticks or so.
fn value_scale(largest: f64) -> (f64, f64) {
    if largest.is_nan() || largest <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = largest / 4.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    ((largest / step).ceil() * step, step)
}

/// Draws the chart of `query`'s answer; an answer without series draws the axes and says so.
pub fn draw(answer: &MetricsAnswer, unit: Unit, query: &str) -> String {
    draw_with_threshold(answer, unit, None, query)
}

/// Draws the chart with an alert rule's threshold as a dashed red line across it (the value
/// axis reaches up to the threshold when the series stay below it).
pub fn draw_with_threshold(
    answer: &MetricsAnswer,
    unit: Unit,
    threshold: Option<f64>,
    query: &str,
) -> String {
    let intervals = answer
        .series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let span_nanos = (answer.step_nanos * intervals as u64).max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x =
        |t: u64| LEFT + (t.saturating_sub(answer.start_nanos)) as f64 / span_nanos as f64 * plot_w;
    let largest = answer
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .chain(threshold.filter(|t| t.is_finite()))
        .fold(f64::NAN, f64::max);
    let (top, step) = value_scale(largest);
    let y = |v: f64| TOP + plot_h - (v.max(0.0) / top).min(1.0) * plot_h;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeseries" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="time series chart" xmlns="http://www.w3.org/2000/svg">"#
    );
    // Value axis: grid lines and labels in the unit.
    let mut tick = 0.0;
    while tick <= top + step / 2.0 {
        let ty = y(tick);
        let _ = write!(
            svg,
            r##"<line class="grid" x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#ddd"/><text class="value-label" x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            ty + 4.0,
            xml(&unit.format(tick))
        );
        tick += step;
    }
    // Time axis: clock labels at even spacing.
    let _ = write!(
        svg,
        r##"<line class="axis" x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888"/>"##,
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h
    );
    for k in 0..=TIME_TICKS {
        let t = answer.start_nanos + span_nanos / TIME_TICKS * k;
        let tx = x(t);
        let anchor = match k {
            0 => "start",
            k if k == TIME_TICKS => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#888"/><text class="time-label" x="{tx:.1}" y="{:.1}" text-anchor="{anchor}" font-size="11">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 4.0,
            TOP + plot_h + 16.0,
            clock_utc(t)
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="#666">time (UTC)</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 3.0
    );
    if let Some(threshold) = threshold.filter(|t| t.is_finite()) {
        let ty = y(threshold);
        let _ = write!(
            svg,
            r##"<g class="threshold"><line x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="6 4"><title>threshold: {}</title></line><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10" fill="#c62828">threshold {}</text></g>"##,
            WIDTH - RIGHT,
            xml(&unit.format(threshold)),
            WIDTH - RIGHT - 2.0,
            ty - 3.0,
            xml(&unit.format(threshold))
        );
    }
    if answer.series.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13" fill="#666">No spans matched in this window.</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    for (series, colour) in answer.series.iter().zip(series_colours(answer)) {
        let name = xml(&series_name(&series.labels_text(), query));
        let _ = write!(svg, r#"<g class="series" data-series="{name}">"#);
        // One polyline per run of intervals that have values.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, svg: &mut String| {
            if run.len() > 1 {
                let _ = write!(
                    svg,
                    r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                    run.join(" ")
                );
            }
            run.clear();
        };
        for (i, value) in series.values.iter().enumerate() {
            if !value.is_finite() {
                flush(&mut run, &mut svg);
                continue;
            }
            run.push(format!("{:.1},{:.1}", x(point_time(answer, i)), y(*value)));
        }
        flush(&mut run, &mut svg);
        for (i, value) in series.values.iter().enumerate() {
            if !value.is_finite() {
                continue;
            }
            let t = point_time(answer, i);
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="{colour}"><title>{name}: {} at {}</title></circle>"#,
                x(t),
                y(*value),
                xml(&unit.format(*value)),
                clock_utc(t)
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_grader::backend::MetricsSeries;

    fn answer(values: Vec<Vec<f64>>) -> MetricsAnswer {
        MetricsAnswer {
            // 12:00:00 UTC on some day, 15 s intervals.
            start_nanos: 1_700_049_600_000_000_000,
            step_nanos: 15_000_000_000,
            series: values
                .into_iter()
                .enumerate()
                .map(|(n, values)| MetricsSeries {
                    labels: vec![(
                        "resource.service.name".into(),
                        Some(dojo_traceql::model::Value::str(format!("s{n}"))),
                    )],
                    values,
                })
                .collect(),
        }
    }

    #[test]
    fn the_value_axis_ends_on_a_round_number_above_the_largest_value() {
        assert_eq!(value_scale(7.3), (8.0, 2.0));
        assert_eq!(value_scale(0.042), (0.06, 0.02));
        assert_eq!(value_scale(f64::NAN), (1.0, 0.25));
    }

    #[test]
    fn the_chart_has_clock_labels_unit_labels_and_one_line_per_series() {
        let svg = draw(
            &answer(vec![
                vec![1.0, 2.0, f64::NAN, 4.0],
                vec![0.5, 0.5, 0.5, 0.5],
            ]),
            Unit::PerSecond,
            "{ } | rate() by (resource.service.name)",
        );
        assert!(svg.contains(">12:00:00</text>"), "{svg}");
        assert!(svg.contains(">12:01:00</text>"), "{svg}");
        assert!(svg.contains(">4/s</text>"), "{svg}");
        assert_eq!(svg.matches("<g class=\"series\"").count(), 2, "{svg}");
        // The first series breaks at its missing interval: one line of two points, and a
        // lone point; the second is one line.
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(
            svg.contains("<title>resource.service.name=&quot;s0&quot;: 4/s at 12:01:00</title>"),
            "{svg}"
        );
    }

    #[test]
    fn an_empty_answer_says_nothing_matched() {
        let svg = draw(&answer(Vec::new()), Unit::Count, "{ } | rate()");
        assert!(svg.contains("No spans matched"), "{svg}");
    }

    #[test]
    fn a_series_is_named_by_its_labels_and_an_ungrouped_one_by_its_function() {
        assert_eq!(series_name("", "{ } | rate()"), "rate()");
        assert_eq!(
            series_name("", "{ status = error } | count_over_time() "),
            "count_over_time()"
        );
        assert_eq!(
            series_name(
                "p=0.95",
                "{ kind = server } | quantile_over_time(duration, .95)"
            ),
            "quantile_over_time(duration, 0.95)"
        );
        assert_eq!(
            series_name("p=0.5", "{ } | quantile_over_time(span.size, .5, .95)"),
            "quantile_over_time(span.size, 0.5)"
        );
        assert_eq!(
            series_name(
                "resource.service.name=\"api\"",
                "{ } | rate() by (resource.service.name)"
            ),
            "resource.service.name=\"api\""
        );
        assert_eq!(series_name("", "{ name =~ \"a|b\" }"), "all spans");
        assert_eq!(series_name("", "not a query ("), "all spans");
    }
}
