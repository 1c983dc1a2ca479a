//! Logs beside traces: the collectors read every container's log lines, take the trace context
//! from the fields our services write (`trace_id`, `span_id`: see tests/services/logs.rs) and
//! send them to Loki's OTLP endpoint; Grafana links a span to its logs and a log line to its
//! trace, in compose and Kubernetes alike.

use dojo_deploy_tests::collector::{self, component_type};
use dojo_deploy_tests::grafana;
use serde_yaml::Value;

use crate::support;

/// The collectors that read log files.
const LOG_COLLECTORS: &[&str] = &[
    "compose/otel-collector.yaml",
    "k8s/base/observability/config/otel-agent.yaml",
];

/// Why a collector does not bring log lines, with their trace ids, to Loki.
fn log_problems(config: &collector::Config) -> Vec<String> {
    let mut problems = Vec::new();
    let logs: Vec<_> = config
        .service
        .pipelines
        .iter()
        .filter(|(name, _)| component_type(name) == "logs")
        .collect();
    if logs.is_empty() {
        return vec!["no logs pipeline".to_owned()];
    }
    for (name, pipeline) in logs {
        for receiver in &pipeline.receivers {
            if component_type(receiver) != "filelog" {
                continue;
            }
            let operators = config.receivers[receiver]["operators"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            let trace_parser = operators
                .iter()
                .find(|op| op["type"].as_str() == Some("trace_parser"));
            let from = |field: &str| {
                trace_parser
                    .and_then(|op| op[field]["parse_from"].as_str())
                    .map(str::to_owned)
            };
            if from("trace_id").as_deref() != Some("attributes.trace_id")
                || from("span_id").as_deref() != Some("attributes.span_id")
            {
                problems.push(format!(
                    "{name}: {receiver} does not take the trace context from the lines' trace_id and span_id"
                ));
            }
        }
        let to_loki = pipeline.exporters.iter().any(|id| {
            component_type(id) == "otlp_http"
                && config.exporters[id]["endpoint"].as_str() == Some("http://loki:3100/otlp")
        });
        if !to_loki {
            problems.push(format!("{name}: does not export to Loki's OTLP endpoint"));
        }
    }
    problems
}

#[test]
fn every_log_collector_sends_the_lines_with_their_trace_ids_to_loki() {
    for file in LOG_COLLECTORS {
        let problems = log_problems(&support::collector_config(file));
        assert!(problems.is_empty(), "{file}: {problems:#?}");
    }
}

#[test]
fn a_trace_parser_reading_the_wrong_field_is_caught() {
    let text = support::read("compose/otel-collector.yaml").replace(
        "parse_from: attributes.trace_id",
        "parse_from: attributes.traceId",
    );
    let config = collector::parse(&text, "wrong field").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        log_problems(&config),
        [
            "logs: filelog/containers does not take the trace context from the lines' trace_id and span_id"
        ]
    );
}

#[test]
fn grafana_links_spans_to_logs_and_log_lines_to_traces() {
    for file in support::DATASOURCE_FILES {
        let datasources = grafana::parse_datasources(&support::read(file), file)
            .unwrap_or_else(|e| panic!("{e}"));
        let loki = datasources
            .datasources
            .iter()
            .find(|d| d.kind == "loki")
            .unwrap_or_else(|| panic!("{file}: no Loki datasource"));
        assert_eq!(loki.url, "http://loki:3100", "{file}");
        let derived = loki
            .json_data
            .as_ref()
            .and_then(|j| j.get("derivedFields"))
            .and_then(Value::as_sequence)
            .and_then(|fields| fields.first())
            .unwrap_or_else(|| panic!("{file}: Loki has no derived trace link"));
        assert_eq!(derived["matcherType"].as_str(), Some("label"), "{file}");
        assert_eq!(derived["matcherRegex"].as_str(), Some("trace_id"), "{file}");
        for tempo in datasources.datasources.iter().filter(|d| d.kind == "tempo") {
            let to_logs = tempo
                .json_data
                .as_ref()
                .and_then(|j| j.get("tracesToLogsV2"))
                .unwrap_or_else(|| panic!("{file}: {} has no traces-to-logs", tempo.name));
            assert_eq!(
                to_logs["datasourceUid"].as_str(),
                Some(loki.uid.as_str()),
                "{file}"
            );
            assert_eq!(to_logs["filterByTraceID"].as_bool(), Some(true), "{file}");
        }
        // Both links point at datasources that exist (and the rest of the file's links too).
        assert_eq!(datasources.problems(), Vec::<String>::new(), "{file}");
    }
}

#[test]
fn compose_and_kubernetes_run_the_same_loki_configuration() {
    assert_eq!(
        support::read("compose/loki.yaml"),
        support::read("k8s/base/observability/config/loki.yaml"),
        "k8s/base/observability/config/loki.yaml must be a copy of compose/loki.yaml"
    );
}
