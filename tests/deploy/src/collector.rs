//! OpenTelemetry Collector configurations: a strict model of the top level, the component names
//! that exist in the contrib distribution, and the wiring rules the collector enforces at start.
//!
//! The collector refuses to start on an unknown component type or a pipeline that names an
//! undefined component; both are caught here first. The lists below are the components of
//! `otelcol-contrib` (from the collector and collector-contrib documentation) that a tracing lab
//! might reasonably use — extend them when a new one is needed, after checking that the pinned
//! image ships it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_yaml::Value;

use crate::DeployError;

/// Receivers that exist in `otelcol-contrib`.
pub const KNOWN_RECEIVERS: &[&str] = &[
    "otlp",
    "jaeger",
    "zipkin",
    "prometheus",
    "hostmetrics",
    "kubeletstats",
    "k8s_cluster",
    "filelog",
];

/// Processors that exist in `otelcol-contrib`.
pub const KNOWN_PROCESSORS: &[&str] = &[
    "memory_limiter",
    "batch",
    "attributes",
    "resource",
    "transform",
    "filter",
    "tail_sampling",
    "probabilistic_sampler",
    "k8sattributes",
    "resourcedetection",
    "redaction",
    "span",
    "groupbytrace",
];

/// Exporters that exist in `otelcol-contrib`. `otlp_grpc` and `otlp_http` are the names since
/// v0.144; `otlp` and `otlphttp` remain as deprecated aliases.
pub const KNOWN_EXPORTERS: &[&str] = &[
    "otlp_grpc",
    "otlp_http",
    "otlp",
    "otlphttp",
    "debug",
    "loadbalancing",
    "prometheus",
    "prometheusremotewrite",
    "file",
];

/// Connectors that exist in `otelcol-contrib`.
pub const KNOWN_CONNECTORS: &[&str] =
    &["routing", "spanmetrics", "servicegraph", "forward", "count"];

/// Extensions that exist in `otelcol-contrib`.
pub const KNOWN_EXTENSIONS: &[&str] = &[
    "health_check",
    "healthcheckv2",
    "pprof",
    "zpages",
    "headers_setter",
    "basicauth",
    "bearertokenauth",
    "file_storage",
];

/// The recorded settings of the pinned collector's components (see the file's header).
pub const KEYS_FILE: &str = "tests/deploy/data/otelcol-contrib-0.150-keys.yaml";

/// The top level of a collector configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub extensions: BTreeMap<String, Value>,
    #[serde(default)]
    pub receivers: BTreeMap<String, Value>,
    #[serde(default)]
    pub processors: BTreeMap<String, Value>,
    #[serde(default)]
    pub exporters: BTreeMap<String, Value>,
    #[serde(default)]
    pub connectors: BTreeMap<String, Value>,
    pub service: ServiceSection,
}

/// `service:`: which components run, and how they are wired.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    #[serde(default)]
    pub extensions: Vec<String>,
    pub pipelines: BTreeMap<String, Pipeline>,
    #[serde(default)]
    pub telemetry: Option<Value>,
}

/// One pipeline: `traces`, `traces/in`, …
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub receivers: Vec<String>,
    #[serde(default)]
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
}

/// Parses a collector configuration.
pub fn parse(text: &str, place: &str) -> Result<Config, DeployError> {
    serde_yaml::from_str(text).map_err(|source| DeployError::Yaml {
        place: place.to_owned(),
        what: "an OpenTelemetry Collector configuration",
        source,
    })
}

/// The type of a component id: `otlp_grpc/tempo` → `otlp_grpc`.
pub fn component_type(id: &str) -> &str {
    id.split_once('/').map_or(id, |(kind, _)| kind)
}

impl Config {
    /// Every problem the collector would refuse to start with, plus the lab's own rules:
    /// `memory_limiter` first and `batch` last in every pipeline that processes, and no
    /// component defined but left unused. Empty when the configuration is right.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let sections: [(&str, &BTreeMap<String, Value>, &[&str]); 5] = [
            ("receiver", &self.receivers, KNOWN_RECEIVERS),
            ("processor", &self.processors, KNOWN_PROCESSORS),
            ("exporter", &self.exporters, KNOWN_EXPORTERS),
            ("connector", &self.connectors, KNOWN_CONNECTORS),
            ("extension", &self.extensions, KNOWN_EXTENSIONS),
        ];
        for (what, defined, known) in sections {
            for id in defined.keys() {
                if !known.contains(&component_type(id)) {
                    problems.push(format!(
                        "{what} `{id}`: there is no {what} type `{}` in otelcol-contrib",
                        component_type(id)
                    ));
                }
            }
        }

        let mut used: BTreeSet<&str> = BTreeSet::new();
        for id in &self.service.extensions {
            used.insert(id);
            if !self.extensions.contains_key(id) {
                problems.push(format!(
                    "service.extensions names `{id}`, which is not defined"
                ));
            }
        }
        let mut connector_as_exporter = BTreeSet::new();
        let mut connector_as_receiver = BTreeSet::new();
        for (name, pipeline) in &self.service.pipelines {
            let signal = component_type(name);
            if !matches!(signal, "traces" | "metrics" | "logs") {
                problems.push(format!("pipeline `{name}`: `{signal}` is not a signal"));
            }
            for id in &pipeline.receivers {
                used.insert(id);
                if self.connectors.contains_key(id) {
                    connector_as_receiver.insert(id.as_str());
                } else if !self.receivers.contains_key(id) {
                    problems.push(format!(
                        "pipeline `{name}` receives from `{id}`, which is not defined"
                    ));
                }
            }
            for id in &pipeline.processors {
                used.insert(id);
                if !self.processors.contains_key(id) {
                    problems.push(format!(
                        "pipeline `{name}` uses processor `{id}`, which is not defined"
                    ));
                }
            }
            for id in &pipeline.exporters {
                used.insert(id);
                if self.connectors.contains_key(id) {
                    connector_as_exporter.insert(id.as_str());
                } else if !self.exporters.contains_key(id) {
                    problems.push(format!(
                        "pipeline `{name}` exports to `{id}`, which is not defined"
                    ));
                }
            }
            if let Some(first) = pipeline.processors.first()
                && component_type(first) != "memory_limiter"
            {
                problems.push(format!(
                    "pipeline `{name}`: memory_limiter must come first (found `{first}`)"
                ));
            }
            if let Some(last) = pipeline.processors.last()
                && component_type(last) != "batch"
            {
                problems.push(format!(
                    "pipeline `{name}`: batch must come last (found `{last}`)"
                ));
            }
        }
        for id in self.connectors.keys() {
            if !connector_as_exporter.contains(id.as_str())
                || !connector_as_receiver.contains(id.as_str())
            {
                problems.push(format!(
                    "connector `{id}` must be an exporter of one pipeline and a receiver of another"
                ));
            }
        }
        problems.extend(self.routing_problems());
        let all_defined = self
            .receivers
            .keys()
            .chain(self.processors.keys())
            .chain(self.exporters.keys())
            .chain(self.connectors.keys())
            .chain(self.extensions.keys());
        for id in all_defined {
            if !used.contains(id.as_str()) {
                problems.push(format!("`{id}` is defined but no pipeline uses it"));
            }
        }
        problems
    }

    /// A routing connector may only route to pipelines that exist and receive from it.
    fn routing_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (id, settings) in &self.connectors {
            if component_type(id) != "routing" {
                continue;
            }
            let table = settings.get("table").and_then(Value::as_sequence);
            let defaults = settings
                .get("default_pipelines")
                .and_then(Value::as_sequence);
            let routes = table
                .into_iter()
                .flatten()
                .filter_map(|route| route.get("pipelines").and_then(Value::as_sequence))
                .chain(defaults)
                .flatten()
                .filter_map(Value::as_str);
            for target in routes {
                let receives = self
                    .service
                    .pipelines
                    .get(target)
                    .is_some_and(|pipeline| pipeline.receivers.iter().any(|r| r == id));
                if !receives {
                    problems.push(format!(
                        "connector `{id}` routes to `{target}`, which is not a pipeline receiving from it"
                    ));
                }
            }
        }
        problems
    }

    /// Settings the pinned collector's components do not have, at any depth, checked against a
    /// recorded key tree ([`KEYS_FILE`]); a component type with no recorded keys is a problem too.
    pub fn key_problems(&self, schema: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let sections = [
            ("receivers", &self.receivers),
            ("processors", &self.processors),
            ("exporters", &self.exporters),
            ("connectors", &self.connectors),
            ("extensions", &self.extensions),
        ];
        for (section, components) in sections {
            for (id, settings) in components {
                let kind = component_type(id);
                let Some(keys) = schema.get(section).and_then(|s| s.get(kind)) else {
                    problems.push(format!(
                        "{section}.{kind}: no recorded keys; add the component's keys to {KEYS_FILE}"
                    ));
                    continue;
                };
                let settings = if settings.is_null() {
                    &Value::Mapping(Default::default())
                } else {
                    settings
                };
                for path in crate::keys::unknown_keys(settings, keys, id) {
                    problems.push(format!(
                        "`{section}.{path}` is not a setting of {kind} (a typo?)"
                    ));
                }
            }
        }
        problems
    }

    /// The policy types of the `tail_sampling` processor, in order.
    pub fn tail_sampling_policy_types(&self) -> Vec<String> {
        self.processors
            .iter()
            .filter(|(id, _)| component_type(id) == "tail_sampling")
            .filter_map(|(_, settings)| settings.get("policies")?.as_sequence())
            .flatten()
            .filter_map(|policy| policy.get("type")?.as_str().map(str::to_owned))
            .collect()
    }

    /// The `endpoint` of each OTLP receiver protocol: `[("grpc", "0.0.0.0:4317"), …]`.
    pub fn otlp_receiver_endpoints(&self) -> Vec<(String, String)> {
        let Some(protocols) = self
            .receivers
            .get("otlp")
            .and_then(|otlp| otlp.get("protocols"))
            .and_then(Value::as_mapping)
        else {
            return Vec::new();
        };
        protocols
            .iter()
            .filter_map(|(protocol, settings)| {
                Some((
                    protocol.as_str()?.to_owned(),
                    settings.get("endpoint")?.as_str()?.to_owned(),
                ))
            })
            .collect()
    }

    /// The `endpoint` of every OTLP exporter, with the exporter's id.
    pub fn otlp_exporter_endpoints(&self) -> Vec<(String, String)> {
        self.exporters
            .iter()
            .filter(|(id, _)| matches!(component_type(id), "otlp" | "otlp_grpc"))
            .filter_map(|(id, settings)| {
                Some((id.clone(), settings.get("endpoint")?.as_str()?.to_owned()))
            })
            .collect()
    }

    /// The actions of every `attributes` processor, as `(key or pattern, action)`.
    pub fn attribute_actions(&self) -> Vec<(String, String)> {
        self.processors
            .iter()
            .filter(|(id, _)| component_type(id) == "attributes")
            .filter_map(|(_, settings)| settings.get("actions")?.as_sequence())
            .flatten()
            .filter_map(|action| {
                let target = action
                    .get("key")
                    .or_else(|| action.get("pattern"))?
                    .as_str()?
                    .to_owned();
                Some((target, action.get("action")?.as_str()?.to_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\nprocessors:\n  memory_limiter: {}\n  batch: {}\nexporters:\n  otlp_grpc/tempo:\n    endpoint: tempo:4317\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [memory_limiter, batch]\n      exporters: [otlp_grpc/tempo]\n";

    #[test]
    fn a_minimal_pipeline_has_no_problems() {
        let config = parse(MINIMAL, "minimal").expect("valid");
        assert_eq!(config.problems(), Vec::<String>::new());
    }

    #[test]
    fn an_unknown_processor_type_is_named() {
        let text = MINIMAL
            .replace("  batch: {}", "  batch: {}\n  tail_sampler: {}")
            .replace(
                "[memory_limiter, batch]",
                "[memory_limiter, tail_sampler, batch]",
            );
        let problems = parse(&text, "typo").expect("valid YAML").problems();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no processor type `tail_sampler`")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_pipeline_naming_an_undefined_exporter_is_refused() {
        let text = MINIMAL.replace(
            "exporters: [otlp_grpc/tempo]",
            "exporters: [otlp_grpc/jaeger]",
        );
        let problems = parse(&text, "undefined").expect("valid YAML").problems();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`otlp_grpc/jaeger`, which is not defined")),
            "{problems:?}"
        );
    }

    #[test]
    fn batch_before_memory_limiter_is_refused() {
        let text = MINIMAL.replace("[memory_limiter, batch]", "[batch, memory_limiter]");
        let problems = parse(&text, "order").expect("valid YAML").problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn a_misspelt_top_level_section_does_not_parse() {
        let text = MINIMAL.replace("exporters:\n  otlp_grpc", "exporter:\n  otlp_grpc");
        assert!(parse(&text, "typo").is_err());
    }
}
