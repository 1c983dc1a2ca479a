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

fn recorded_keys() -> serde_yaml::Value {
    serde_yaml::from_str(&support::read(dojo_deploy_tests::tempo::KEYS_FILE))
        .unwrap_or_else(|e| panic!("{}: {e}", dojo_deploy_tests::tempo::KEYS_FILE))
}

#[test]
fn every_tempo_config_uses_only_keys_of_the_pinned_tempo_at_every_depth() {
    let keys = recorded_keys();
    for file in support::TEMPO_CONFIGS {
        let problems = support::tempo_config(file).key_problems(&keys);
        assert!(problems.is_empty(), "{file}: {problems:#?}");
    }
}

#[test]
fn a_typo_in_a_nested_tempo_key_is_caught_and_named() {
    let keys = recorded_keys();
    for (from, to, named) in [
        (
            "    remote_write:\n      - url:",
            "    remote_write:\n      - uri:",
            "metrics_generator.storage.remote_write[0].uri",
        ),
        (
            "  max_block_duration:",
            "  max_block_duraton:",
            "ingester.max_block_duraton",
        ),
        (
            "      version: vParquet5",
            "      versoin: vParquet5",
            "storage.trace.block.versoin",
        ),
    ] {
        let text = support::read("compose/tempo.yaml");
        assert!(text.contains(from), "compose/tempo.yaml has {from:?}");
        let broken = dojo_deploy_tests::tempo::parse(&text.replacen(from, to, 1), "typo")
            .unwrap_or_else(|e| panic!("{e}"));
        let problems = broken.key_problems(&keys);
        assert!(
            problems.iter().any(|p| p.contains(&format!("`{named}`"))),
            "{named}: {problems:#?}"
        );
    }
}

#[test]
fn every_tempo_writes_vparquet5_so_span_child_count_queries_run() {
    // Tempo 2.10.4 writes vParquet4 by default, which refuses the span:childCount intrinsic
    // the course teaches (tempodb/encoding/vparquet4/block_traceql.go at v2.10.4).
    for file in support::TEMPO_CONFIGS {
        assert_eq!(
            support::tempo_config(file).block_version(),
            Some("vParquet5"),
            "{file}"
        );
    }
}
