//! Metrics evaluation over the hand-built trace in `fixtures`: which interval a span counts in,
//! what each function computes, how `by`, second stages and arithmetic shape the series, and
//! that errors keep their position in the query.
//!
//! The trace's spans start at T0 + 0, 5, 10, 20, 30, 90, 100 and 1050 ms: frontend has three
//! spans (0, 10, 1050 ms), api three (20, 30, 90 ms), payments one, worker one.

use std::sync::Arc;

use crate::fixtures::{MS, T0, checkout_trace};
use dojo_traceql::metrics::{MetricsResult, MetricsWindow, evaluate_metrics};
use dojo_traceql::model::Value;
use dojo_traceql::{ErrorKind, EvalBudget, parse};

/// One interval `[T0, T0 + 2 s]` holding every span.
fn instant() -> MetricsWindow {
    MetricsWindow {
        start_nanos: T0,
        end_nanos: T0 + 2000 * MS,
        step_nanos: 2000 * MS,
        max_exemplars: 0,
        instant: true,
    }
}

/// Four 500 ms intervals: (T0-500ms, T0], (T0, T0+500ms], (…, T0+1s], (…, T0+1.5s].
fn range() -> MetricsWindow {
    MetricsWindow {
        start_nanos: T0 - 500 * MS,
        end_nanos: T0 + 1500 * MS,
        step_nanos: 500 * MS,
        max_exemplars: 10,
        instant: false,
    }
}

fn run(query: &str, window: &MetricsWindow) -> MetricsResult {
    let parsed = parse(query).unwrap_or_else(|e| panic!("{}", e.render(query)));
    let metrics = parsed.metrics().expect("a metrics query");
    evaluate_metrics(
        metrics,
        window,
        &[Arc::new(checkout_trace())],
        &mut EvalBudget::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render(query)))
}

/// `service → values` of a result grouped by `resource.service.name`.
fn by_service(result: &MetricsResult) -> Vec<(String, Vec<f64>)> {
    result
        .series
        .values()
        .map(|s| {
            let service = match &s.labels[0].value {
                Some(Value::Str(name)) => name.to_string(),
                other => panic!("a service label, got {other:?}"),
            };
            (service, s.values.clone())
        })
        .collect()
}

fn pairs(expected: &[(&str, &[f64])]) -> Vec<(String, Vec<f64>)> {
    expected
        .iter()
        .map(|(s, v)| (s.to_string(), v.to_vec()))
        .collect()
}

#[test]
fn count_over_time_by_service_counts_each_services_spans() {
    let result = run(
        "{ } | count_over_time() by (resource.service.name)",
        &instant(),
    );
    assert_eq!(
        by_service(&result),
        pairs(&[
            ("api", &[3.0]),
            ("frontend", &[3.0]),
            ("payments", &[1.0]),
            ("worker", &[1.0]),
        ])
    );
    assert_eq!(result.inspected_traces, 1);
    assert_eq!(result.inspected_spans, 8);
}

#[test]
fn rate_divides_each_intervals_count_by_the_step_in_seconds() {
    let result = run("{ } | rate() by (resource.service.name)", &range());
    // Right-closed intervals: the root span at exactly T0 counts in the first one.
    assert_eq!(
        by_service(&result),
        pairs(&[
            ("api", &[0.0, 6.0, 0.0, 0.0]),
            ("frontend", &[2.0, 2.0, 0.0, 2.0]),
            ("payments", &[0.0, 2.0, 0.0, 0.0]),
            ("worker", &[0.0, 2.0, 0.0, 0.0]),
        ])
    );
    // Each interval stamps its points with its right edge.
    assert_eq!(range().timestamp_ms(0), T0 / 1_000_000);
}

#[test]
fn an_ungrouped_series_is_named_after_its_function() {
    let result = run("{ status = error } | count_over_time()", &instant());
    let series: Vec<_> = result.series.values().collect();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].labels[0].key, "__name__");
    assert_eq!(
        series[0].labels[0].value,
        Some(Value::str("count_over_time"))
    );
    assert_eq!(series[0].values, vec![2.0]);
}

#[test]
fn quantile_over_time_gives_one_series_per_quantile_in_seconds() {
    let result = run(
        "{ resource.service.name = \"api\" } | quantile_over_time(duration, 0.5, 1)",
        &instant(),
    );
    let got: Vec<(Option<Value>, Vec<f64>)> = result
        .series
        .values()
        .map(|s| {
            let p = s.labels.iter().find(|l| l.key == "p").expect("a p label");
            (p.value.clone(), s.values.clone())
        })
        .collect();
    // api's spans last 900, 50 and 800 ms.
    assert_eq!(
        got,
        vec![
            (Some(Value::Float(0.5)), vec![0.8]),
            (Some(Value::Float(1.0)), vec![0.9]),
        ]
    );
}

#[test]
fn avg_min_max_and_sum_read_the_attribute_of_each_span() {
    let api = "{ resource.service.name = \"api\" }";
    for (function, expected) in [
        ("avg_over_time", 1.75 / 3.0),
        ("min_over_time", 0.05),
        ("max_over_time", 0.9),
        ("sum_over_time", 1.75),
    ] {
        let query = format!("{api} | {function}(duration)");
        let result = run(&query, &instant());
        let value = result.series.values().next().expect("one series").values[0];
        assert!(
            (value - expected).abs() < 1e-9,
            "{query}: expected {expected}, got {value}"
        );
    }
}

#[test]
fn second_stages_keep_the_series_and_points_that_pass() {
    let result = run(
        "{ } | count_over_time() by (resource.service.name) > 2",
        &instant(),
    );
    assert_eq!(
        by_service(&result),
        pairs(&[("api", &[3.0]), ("frontend", &[3.0])])
    );
    let result = run(
        "{ } | rate() by (resource.service.name) | topk(1)",
        &range(),
    );
    let kept: Vec<String> = by_service(&result).into_iter().map(|(s, _)| s).collect();
    assert!(kept.contains(&"api".to_string()), "{kept:?}");
    assert!(kept.contains(&"frontend".to_string()), "{kept:?}");
    assert!(!kept.contains(&"worker".to_string()), "{kept:?}");
}

#[test]
fn arithmetic_divides_series_with_the_same_labels() {
    let result = run(
        "({ status = error } | count_over_time()) / ({ } | count_over_time())",
        &instant(),
    );
    let values: Vec<f64> = result
        .series
        .values()
        .flat_map(|s| s.values.clone())
        .collect();
    assert_eq!(values, vec![0.25]);
}

#[test]
fn exemplars_link_points_to_their_traces() {
    let result = run("{ } | count_over_time()", &range());
    let series = result.series.values().next().expect("one series");
    // One exemplar per interval with spans (three of the four).
    assert_eq!(series.exemplars.len(), 3);
    assert!(
        series
            .exemplars
            .iter()
            .all(|e| e.trace_id == checkout_trace().trace_id)
    );
}

#[test]
fn compare_is_refused_as_unsupported_pointing_at_the_function() {
    let query = "{ } | compare({ status = error })";
    let parsed = parse(query).expect("compare() parses");
    let error = evaluate_metrics(
        parsed.metrics().expect("a metrics query"),
        &instant(),
        &[Arc::new(checkout_trace())],
        &mut EvalBudget::default(),
    )
    .expect_err("compare() is not evaluated");
    assert_eq!(error.kind, ErrorKind::Unsupported);
    assert!(error.message.contains("compare()"), "{}", error.message);
    assert!(error.render(query).contains('^'), "{}", error.render(query));
}

#[test]
fn a_query_that_runs_out_of_budget_stops_with_a_budget_error() {
    let query = "{ } | rate()";
    let parsed = parse(query).expect("parses");
    let error = evaluate_metrics(
        parsed.metrics().expect("a metrics query"),
        &instant(),
        &[Arc::new(checkout_trace())],
        &mut EvalBudget::new(1, None),
    )
    .expect_err("one step is not enough");
    assert_eq!(error.kind, ErrorKind::Budget);
}
