//! Every Tempo configuration names only blocks and processors that exist, generates service-graph
//! and span metrics into Prometheus, and has tenants on exactly where the workshop needs them.

use crate::support;

#[test]
fn every_tempo_config_names_only_known_blocks_and_processors() {
    for file in support::TEMPO_CONFIGS {
        let problems = support::tempo_config(file).problems();
        assert!(problems.is_empty(), "{file}: {problems:#?}");
    }
}

#[test]
fn the_metrics_generator_keeps_local_blocks_for_traceql_metrics() {
    // Span metrics and the service graph come from the collectors (see `metrics`); Tempo's
    // generator only keeps recent blocks so that rate() and quantile_over_time() run.
    for file in support::TEMPO_CONFIGS {
        let processors = support::tempo_config(file).generator_processors();
        assert_eq!(processors, ["local-blocks"], "{file}");
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
            "  traces_storage:\n    path:",
            "  traces_storage:\n    pth:",
            "metrics_generator.traces_storage.pth",
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
