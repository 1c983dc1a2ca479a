//! Every Tempo configuration names only blocks and processors that exist, generates service-graph
//! and span metrics into Prometheus, and has tenants on exactly where the workshop needs them.

use dojo_deploy_tests::ports::port_of;

use crate::support;

#[test]
fn every_tempo_config_names_only_known_blocks_and_processors() {
    for file in support::TEMPO_CONFIGS {
        let problems = support::tempo_config(file).problems();
        assert!(problems.is_empty(), "{file}: {problems:#?}");
    }
}

#[test]
fn the_metrics_generator_writes_service_graphs_and_span_metrics_to_prometheus() {
    for file in support::TEMPO_CONFIGS {
        let config = support::tempo_config(file);
        let processors = config.generator_processors();
        for processor in ["service-graphs", "span-metrics"] {
            assert!(
                processors.iter().any(|p| p == processor),
                "{file}: {processors:?}"
            );
        }
        let urls = config.remote_write_urls();
        assert_eq!(urls.len(), 1, "{file}: {urls:?}");
        assert!(
            urls[0].starts_with("http://prometheus:"),
            "{file}: {}",
            urls[0]
        );
        assert!(urls[0].ends_with("/api/v1/write"), "{file}: {}", urls[0]);
        assert_eq!(port_of(&urls[0]), Some(9090), "{file}");
    }
}

#[test]
fn only_the_workshop_tempo_has_a_tenant_per_learner() {
    for file in support::TEMPO_CONFIGS {
        let expected = file.contains("workshop");
        assert_eq!(
            support::tempo_config(file).multitenant(),
            expected,
            "{file}"
        );
    }
}
