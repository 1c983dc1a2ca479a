//! Every collector configuration parses and names only components that exist in
//! `otelcol-contrib`, wired the way the collector accepts; and the platform's pipeline is there.

use dojo_deploy_tests::collector::component_type;

use crate::support;

#[test]
fn every_collector_config_names_only_existing_components_wired_correctly() {
    for file in support::COLLECTOR_CONFIGS {
        let problems = support::collector_config(file).problems();
        assert!(problems.is_empty(), "{file}: {problems:#?}");
    }
}

#[test]
fn tail_sampling_keeps_errors_slow_traces_and_a_share_of_the_rest() {
    for file in [
        "compose/otel-collector.yaml",
        "k8s/base/observability/config/otel-gateway.yaml",
        "k8s/overlays/workshop/shared/otel-gateway.yaml",
    ] {
        let types = support::collector_config(file).tail_sampling_policy_types();
        assert_eq!(types, ["status_code", "latency", "probabilistic"], "{file}");
    }
}

#[test]
fn credentials_are_deleted_and_raw_statements_hashed_before_export() {
    for file in [
        "compose/otel-collector.yaml",
        "k8s/base/observability/config/otel-agent.yaml",
    ] {
        let actions = support::collector_config(file).attribute_actions();
        let deletes = |needle: &str| {
            actions
                .iter()
                .any(|(target, action)| action == "delete" && target.contains(needle))
        };
        for secret in [
            "authorization",
            "cookie",
            "user.password",
            "payment.card.number",
        ] {
            assert!(
                deletes(secret),
                "{file} does not delete {secret}: {actions:?}"
            );
        }
        assert!(
            actions
                .iter()
                .any(|(t, a)| t == "db.statement" && a == "hash"),
            "{file} does not hash db.statement"
        );
    }
}

#[test]
fn the_compose_pipelines_run_the_platform_processors_in_order() {
    let config = support::collector_config("compose/otel-collector.yaml");
    let types = |pipeline: &str| -> Vec<String> {
        config.service.pipelines[pipeline]
            .processors
            .iter()
            .map(|id| component_type(id).to_owned())
            .collect()
    };
    assert_eq!(
        types("traces/in"),
        [
            "memory_limiter",
            "resource",
            "attributes",
            "transform",
            "batch"
        ]
    );
    assert_eq!(
        types("traces/sampled"),
        ["memory_limiter", "tail_sampling", "batch"]
    );
}

#[test]
fn the_workshop_gateway_sends_each_learner_namespace_to_its_own_tenant() {
    let config = support::collector_config("k8s/overlays/workshop/shared/otel-gateway.yaml");
    for k in 1..=3 {
        let learner = format!("learner-{k}");
        let exporter = config
            .exporters
            .get(&format!("otlp_grpc/{learner}"))
            .unwrap_or_else(|| panic!("no exporter for {learner}"));
        let tenant = exporter
            .get("headers")
            .and_then(|h| h.get(dojo_defaults::TENANT_HEADER))
            .and_then(|v| v.as_str());
        assert_eq!(tenant, Some(learner.as_str()));
        let pipeline = &config.service.pipelines[&format!("traces/{learner}")];
        assert_eq!(pipeline.exporters, [format!("otlp_grpc/{learner}")]);
        let routed = config.connectors["routing"]["table"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|route| {
                route["condition"].as_str()
                    == Some(&format!(
                        r#"attributes["k8s.namespace.name"] == "{learner}""#
                    ))
                    && route["pipelines"][0].as_str() == Some(&format!("traces/{learner}"))
            });
        assert!(
            routed,
            "namespace {learner} is not routed to traces/{learner}"
        );
    }
}

fn recorded_keys() -> serde_yaml::Value {
    let file = dojo_deploy_tests::collector::KEYS_FILE;
    serde_yaml::from_str(&support::read(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_collector_setting_is_one_the_pinned_components_have_at_every_depth() {
    let keys = recorded_keys();
    for file in support::COLLECTOR_CONFIGS {
        let problems = support::collector_config(file).key_problems(&keys);
        assert!(problems.is_empty(), "{file}: {problems:#?}");
    }
}

#[test]
fn planted_mistakes_in_the_collector_settings_are_each_named() {
    let keys = recorded_keys();
    let file = "compose/otel-collector.yaml";
    for (from, to, named) in [
        (
            "          threshold_ms: 500",
            "          threshhold_ms: 500",
            "processors.tail_sampling.policies[1].latency.threshhold_ms",
        ),
        (
            "    tls:\n      insecure: true",
            "    tls:\n      insecur: true",
            "exporters.otlp_grpc/tempo.tls.insecur",
        ),
        (
            "    exemplars:\n      enabled: true",
            "    exemplar:\n      enabled: true",
            "connectors.spanmetrics.exemplar",
        ),
    ] {
        let text = support::read(file);
        assert!(text.contains(from), "{file} has {from:?}");
        let config = dojo_deploy_tests::collector::parse(&text.replacen(from, to, 1), "typo")
            .unwrap_or_else(|e| panic!("{e}"));
        let problems = config.key_problems(&keys);
        assert!(
            problems.iter().any(|p| p.contains(&format!("`{named}`"))),
            "{named}: {problems:#?}"
        );
    }
    // An unknown component type: the collector refuses it, and so do these checks.
    let text = support::read(file)
        .replace("  tail_sampling:\n", "  tail_sampler:\n")
        .replace(
            "[memory_limiter, tail_sampling, batch]",
            "[memory_limiter, tail_sampler, batch]",
        );
    let config =
        dojo_deploy_tests::collector::parse(&text, "unknown").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config
            .problems()
            .iter()
            .any(|p| p.contains("no processor type `tail_sampler`")),
        "{:#?}",
        config.problems()
    );
}
