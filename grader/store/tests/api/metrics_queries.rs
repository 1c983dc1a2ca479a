//! TraceQL metrics functions, math and second stages, evaluated in-process over three checkout
//! traces (spans of 120, 100, 90 and 40 ms each; the 40 ms database query fails).

use dojo_store::tempo_api::query_range::instant_json;
use dojo_store::{Store, StoreConfig, TenantId};
use dojo_traceql::EvalBudget;
use dojo_traceql::metrics::MetricsWindow;
use serde_json::Value;

use crate::helpers::{checkout_trace, minutes_ago};

fn shop() -> Store {
    let store = Store::new(StoreConfig::default()).unwrap();
    for n in 1..=3 {
        let (frontend, api) = checkout_trace(n, minutes_ago(10 - u64::from(n)));
        store.ingest(&TenantId::default_tenant(), frontend).unwrap();
        store.ingest(&TenantId::default_tenant(), api).unwrap();
    }
    store
}

/// Runs an instant query over the last hour; returns `(label text, value)` per series.
fn instant(store: &Store, query: &str) -> Vec<(String, f64)> {
    let end = minutes_ago(0);
    let window = MetricsWindow {
        start_nanos: end - 3_600_000_000_000,
        end_nanos: end,
        step_nanos: 3_600_000_000_000,
        max_exemplars: 10,
        instant: true,
    };
    let result = store
        .query_metrics(
            &TenantId::default_tenant(),
            query,
            &window,
            &mut EvalBudget::default(),
        )
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let body = instant_json(&result);
    body.get("series")
        .and_then(Value::as_array)
        .map(|series| {
            series
                .iter()
                .map(|s| {
                    let labels: Vec<String> = s["labels"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|l| {
                            format!(
                                "{}={}",
                                l["key"].as_str().unwrap(),
                                l["value"].as_object().unwrap().values().next().unwrap()
                            )
                        })
                        .collect();
                    (labels.join(","), s["value"].as_f64().unwrap_or(0.0))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn every_metrics_function_math_and_second_stage_gives_the_expected_values() {
    let store = shop();
    let cases: Vec<(&str, Vec<(&str, f64)>)> = vec![
        (
            "{ } | count_over_time()",
            vec![("__name__=\"count_over_time\"", 12.0)],
        ),
        (
            "{ } | max_over_time(duration)",
            vec![("__name__=\"max_over_time\"", 0.12)],
        ),
        (
            "{ } | min_over_time(duration) by (resource.service.name)",
            vec![
                ("resource.service.name=\"api\"", 0.04),
                ("resource.service.name=\"frontend\"", 0.1),
            ],
        ),
        (
            "{ } | avg_over_time(duration)",
            vec![("__name__=\"avg_over_time\"", 0.0875)],
        ),
        (
            "{ } | sum_over_time(duration)",
            vec![("__name__=\"sum_over_time\"", 1.05)],
        ),
        (
            "{ } | histogram_over_time(duration)",
            vec![
                ("__name__=\"histogram_over_time\",__bucket=0.067108864", 3.0),
                ("__name__=\"histogram_over_time\",__bucket=0.134217728", 9.0),
            ],
        ),
        (
            "({ } | count_over_time()) / ({ status = error } | count_over_time())",
            vec![("__name__=\"count_over_time\"", 4.0)],
        ),
        (
            "({ status = error } | count_over_time()) * 100",
            vec![("__name__=\"count_over_time\"", 300.0)],
        ),
        (
            "{ } | count_over_time() by (name) | topk(1)",
            vec![("name=\"POST /api/orders\"", 6.0)],
        ),
        ("{ } | count_over_time() by (name) | bottomk(1) > 3", vec![]),
        (
            "{ } | count_over_time() by (name) > 4",
            vec![("name=\"POST /api/orders\"", 6.0)],
        ),
        ("{ false } | rate()", vec![]),
    ];
    for (query, expected) in cases {
        let got = instant(&store, query);
        assert_eq!(got.len(), expected.len(), "{query}: {got:?}");
        for (labels, value) in expected {
            let found = got
                .iter()
                .find(|(l, _)| l == labels)
                .unwrap_or_else(|| panic!("{query}: no series {labels} in {got:?}"));
            assert!(
                close(found.1, value),
                "{query}: {labels} = {} instead of {value}",
                found.1
            );
        }
    }
}

#[tokio::test]
async fn compare_is_refused_with_a_pointer_to_tempo() {
    let store = shop();
    let end = minutes_ago(0);
    let window = MetricsWindow {
        start_nanos: end - 3_600_000_000_000,
        end_nanos: end,
        step_nanos: 60_000_000_000,
        max_exemplars: 0,
        instant: false,
    };
    let error = store
        .query_metrics(
            &TenantId::default_tenant(),
            "{ } | compare({ status = error })",
            &window,
            &mut EvalBudget::default(),
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("compare() is not supported"),
        "{error}"
    );
}
