//! Metrics before sampling: every collector computes span metrics and the service graph from all
//! spans before tail sampling, Tempo's metrics-generator does not compute them a second time from
//! the sampled traces, and Grafana queries only metric and label names the collectors really
//! produce (recorded in `tests/deploy/data/span-metrics.yaml`, with their sources), with exemplar
//! links on the label the collector puts the trace id in.

use std::collections::{BTreeMap, BTreeSet};

use dojo_deploy_tests::collector::{self, component_type};
use dojo_deploy_tests::{grafana, promql};
use serde::Deserialize;

use crate::support;

const RECORDED: &str = "tests/deploy/data/span-metrics.yaml";

#[derive(Deserialize)]
struct Recorded {
    exemplar_trace_id_label: String,
    metrics: BTreeMap<String, Vec<String>>,
    assumes: BTreeMap<String, String>,
    grafana_service_map_needs: Vec<String>,
}

fn recorded() -> Recorded {
    serde_yaml::from_str(&support::read(RECORDED)).unwrap_or_else(|e| panic!("{RECORDED}: {e}"))
}

/// The collectors that export to Tempo (the gateways; the k8s agent only forwards).
const SAMPLING_COLLECTORS: &[&str] = &[
    "compose/otel-collector.yaml",
    "k8s/base/observability/config/otel-gateway.yaml",
    "k8s/overlays/workshop/shared/otel-gateway.yaml",
];

/// Where a collector computes its span metrics relative to tail sampling, as problems.
fn ordering_problems(config: &collector::Config) -> Vec<String> {
    let mut problems = Vec::new();
    let sampling_pipelines: BTreeSet<&str> = config
        .service
        .pipelines
        .iter()
        .filter(|(_, p)| {
            p.processors
                .iter()
                .any(|id| component_type(id) == "tail_sampling")
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if sampling_pipelines.is_empty() {
        problems.push("no pipeline tail-samples".to_owned());
    }
    for wanted in ["spanmetrics", "servicegraph"] {
        let feeding: Vec<&str> = config
            .service
            .pipelines
            .iter()
            .filter(|(_, p)| p.exporters.iter().any(|id| component_type(id) == wanted))
            .map(|(name, _)| name.as_str())
            .collect();
        if feeding.is_empty() {
            problems.push(format!("no traces pipeline feeds the {wanted} connector"));
        }
        for pipeline in feeding {
            if sampling_pipelines.contains(pipeline) {
                problems.push(format!(
                    "{wanted} is fed by `{pipeline}`, which tail-samples first: its metrics would count only the kept traces"
                ));
            }
            // Everything the pipeline sees must come straight from the receivers, not from a
            // connector after sampling.
            let receivers = &config.service.pipelines[pipeline].receivers;
            if receivers.iter().any(|r| config.connectors.contains_key(r)) {
                problems.push(format!(
                    "{wanted} is fed by `{pipeline}`, which does not receive the spans first-hand"
                ));
            }
        }
        let exported = config.service.pipelines.values().any(|p| {
            p.receivers.iter().any(|id| component_type(id) == wanted)
                && p.exporters
                    .iter()
                    .any(|id| component_type(id) == "prometheusremotewrite")
        });
        if !exported {
            problems.push(format!("the {wanted} metrics do not reach Prometheus"));
        }
    }
    problems
}

#[test]
fn every_collector_computes_span_metrics_from_all_spans_before_tail_sampling() {
    for file in SAMPLING_COLLECTORS {
        let problems = ordering_problems(&support::collector_config(file));
        assert!(problems.is_empty(), "{file}: {problems:#?}");
    }
}

#[test]
fn span_metrics_computed_after_sampling_are_caught() {
    // The review's finding: the connectors fed from the sampled pipeline.
    let text = support::read("compose/otel-collector.yaml")
        .replace(
            "      exporters: [spanmetrics, servicegraph, forward/sampling]",
            "      exporters: [forward/sampling]",
        )
        .replace(
            "      exporters: [otlp_grpc/tempo]",
            "      exporters: [otlp_grpc/tempo, spanmetrics, servicegraph]",
        );
    let config = collector::parse(&text, "sampled first").unwrap_or_else(|e| panic!("{e}"));
    let problems = ordering_problems(&config);
    assert!(
        problems.iter().any(|p| p.contains("spanmetrics is fed by `traces/sampled`, which tail-samples first")),
        "{problems:#?}"
    );
}

#[test]
fn the_connectors_are_configured_as_the_recorded_metric_names_assume() {
    let recorded = recorded();
    for file in SAMPLING_COLLECTORS {
        let config = support::collector_config(file);
        let spanmetrics = &config.connectors["spanmetrics"];
        assert_eq!(
            spanmetrics["namespace"].as_str(),
            Some(recorded.assumes["spanmetrics.namespace"].as_str()),
            "{file}"
        );
        assert_eq!(
            spanmetrics["histogram"]["unit"].as_str(),
            Some(recorded.assumes["spanmetrics.histogram.unit"].as_str()),
            "{file}"
        );
        assert_eq!(
            spanmetrics["exemplars"]["enabled"].as_bool(),
            Some(true),
            "{file}"
        );
    }
}

#[test]
fn tempo_does_not_compute_span_metrics_again_from_the_sampled_traces() {
    for file in support::TEMPO_CONFIGS {
        let processors = support::tempo_config(file).generator_processors();
        for twice in ["span-metrics", "service-graphs"] {
            assert!(
                !processors.iter().any(|p| p == twice),
                "{file}: Tempo's {twice} would count only the sampled traces (and twice in Prometheus)"
            );
        }
    }
}

#[test]
fn development_keeps_every_trace_as_the_seeds_say() {
    let config = support::collector_config("compose/otel-collector.yaml");
    let share = config.processors["tail_sampling"]["policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|p| p["type"].as_str() == Some("probabilistic"))
        .and_then(|p| p["probabilistic"]["sampling_percentage"].as_f64());
    assert_eq!(share, Some(100.0));
}

/// Every metric and label Grafana queries in `exprs` that the collectors do not produce.
fn unknown_references(
    exprs: &[String],
    extra_labels: &[String],
    recorded: &Recorded,
) -> Vec<String> {
    let mut unknown = Vec::new();
    let all_labels: BTreeSet<&String> = recorded.metrics.values().flatten().collect();
    for expr in exprs {
        let (metrics, labels) = promql::references(expr);
        if metrics.is_empty() {
            unknown.push(format!("no span or service-graph metric in {expr:?}"));
        }
        for metric in &metrics {
            if !recorded.metrics.contains_key(metric) {
                unknown.push(format!("metric {metric} (in {expr:?}) is not produced"));
            }
        }
        for label in labels.iter().chain(extra_labels) {
            let on_some_metric = metrics
                .iter()
                .filter_map(|m| recorded.metrics.get(m))
                .any(|known| known.contains(label));
            let label_without_metric = metrics.is_empty() && all_labels.contains(label);
            if !(on_some_metric || label_without_metric) {
                unknown.push(format!(
                    "label {label} (in {expr:?}) is on none of its metrics"
                ));
            }
        }
    }
    unknown
}

fn dashboard_exprs() -> Vec<String> {
    let file = "compose/grafana/dashboards/tracing-dojo-overview.json";
    grafana::dashboard_exprs(
        &grafana::parse_dashboard(&support::read(file), file).unwrap_or_else(|e| panic!("{e}")),
    )
}

#[test]
fn the_dashboard_queries_only_metrics_and_labels_the_collectors_produce() {
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 5, "{exprs:?}");
    let unknown = unknown_references(&exprs, &[], &recorded());
    assert!(unknown.is_empty(), "{unknown:#?}");
}

#[test]
fn a_fake_metric_name_in_the_dashboard_is_caught() {
    let mut exprs = dashboard_exprs();
    exprs[0] = exprs[0].replace(
        "traces_spanmetrics_calls_total",
        "traces_spanmetrics_latency_bucket",
    );
    let unknown = unknown_references(&exprs, &[], &recorded());
    assert!(
        unknown
            .iter()
            .any(|u| u.contains("metric traces_spanmetrics_latency_bucket")),
        "{unknown:#?}"
    );
}

#[test]
fn grafana_links_traces_to_metrics_and_exemplars_to_traces_by_the_real_names() {
    let recorded = recorded();
    for file in support::DATASOURCE_FILES {
        let datasources = grafana::parse_datasources(&support::read(file), file)
            .unwrap_or_else(|e| panic!("{e}"));
        let (queries, tag_labels) = datasources.traces_to_metrics();
        assert!(!queries.is_empty(), "{file}");
        let unknown = unknown_references(&queries, &tag_labels, &recorded);
        assert!(unknown.is_empty(), "{file}: {unknown:#?}");
        let labels = datasources.exemplar_trace_id_labels();
        assert_eq!(
            labels,
            std::slice::from_ref(&recorded.exemplar_trace_id_label),
            "{file}"
        );
    }
    for needed in &recorded.grafana_service_map_needs {
        assert!(recorded.metrics.contains_key(needed), "{needed}");
    }
}

#[test]
fn a_wrong_exemplar_label_is_caught() {
    let file = "compose/grafana/provisioning/datasources/datasources.yaml";
    let text = support::read(file).replace("        - name: trace_id", "        - name: traceID");
    let datasources = grafana::parse_datasources(&text, file).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(
        datasources.exemplar_trace_id_labels(),
        [recorded().exemplar_trace_id_label]
    );
}
