//! The compose file parses with `docker-compose-types`, and it is safe and complete: pinned
//! images, health checks, localhost-only ports, files that exist, dependencies that exist.

use docker_compose_types::DependsOnOptions;
use dojo_deploy_tests::{compose, grafana, ports, repo};

use crate::support;

#[test]
fn the_compose_file_parses_and_runs_every_part_of_the_lab() {
    let file = support::compose_file();
    let names: Vec<&str> = compose::services(&file).map(|(name, _)| name).collect();
    for expected in [
        "frontend",
        "api",
        "payments",
        "loadgen",
        "dojo",
        "postgres",
        "otel-collector",
        "tempo",
        "prometheus",
        "grafana",
    ] {
        assert!(
            names.contains(&expected),
            "no service {expected}: {names:?}"
        );
    }
}

#[test]
fn every_service_built_here_runs_a_role_of_the_one_dojo_binary() {
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        if service.image.as_deref() != Some("tracing-dojo:local") {
            continue;
        }
        // The role is the first argument after the binary: the command's, or the entrypoint's
        // when the service replaces the image's (`deploy`, run with `dojo deploy`'s flags).
        let mut args = match compose::entrypoint(service) {
            Some(entrypoint) => {
                assert_eq!(
                    entrypoint.first().map(String::as_str),
                    Some("/usr/local/bin/dojo"),
                    "{name}: the entrypoint must still be the dojo binary"
                );
                entrypoint[1..].to_vec()
            }
            None => Vec::new(),
        };
        args.extend(compose::command(service));
        let role_ok = match args.first().map(String::as_str) {
            Some("service") => args.get(1).map(String::as_str) == Some(ports::role_of(name)),
            Some("loadgen") => name == "loadgen",
            Some("serve") => name == "dojo",
            Some("deploy") => name == "deploy",
            _ => false,
        };
        assert!(role_ok, "{name}: command {args:?} does not run its role");
    }
}

#[test]
fn every_third_party_image_is_pinned_to_a_version() {
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        let image = service.image.as_deref().unwrap_or("");
        let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest",
            "{name}: image {image:?} is not pinned"
        );
    }
}

#[test]
fn every_long_running_service_with_a_shell_has_a_healthcheck() {
    // The collector, Tempo and Loki images have no shell or HTTP client, so their health is
    // checked from the host (compose/README.md); tempo-init, loadgen and deploy serve nothing.
    let without_shell = [
        "otel-collector",
        "tempo",
        "loki",
        "tempo-init",
        "loadgen",
        "deploy",
    ];
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        if without_shell.contains(&name) {
            continue;
        }
        assert!(
            compose::healthcheck(service).is_some(),
            "{name} has no healthcheck"
        );
    }
}

#[test]
fn published_ports_listen_on_localhost_only() {
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        for published in compose::published(service) {
            assert_eq!(
                published.host_ip.as_deref(),
                Some("127.0.0.1"),
                "{name}: {published:?} would be reachable from the network"
            );
        }
    }
}

#[test]
fn every_dependency_names_a_service_that_exists() {
    let file = support::compose_file();
    let names: Vec<&str> = compose::services(&file).map(|(name, _)| name).collect();
    for (name, service) in compose::services(&file) {
        let dependencies: Vec<String> = match &service.depends_on {
            DependsOnOptions::Simple(list) => list.clone(),
            DependsOnOptions::Conditional(map) => map.keys().cloned().collect(),
        };
        for dependency in dependencies {
            assert!(
                names.contains(&dependency.as_str()),
                "{name} depends on unknown {dependency}"
            );
        }
    }
}

#[test]
fn every_file_mounted_from_the_repository_exists() {
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        for volume in &service.volumes {
            let docker_compose_types::Volumes::Simple(spec) = volume else {
                continue;
            };
            let source = spec.split(':').next().unwrap_or("");
            if let Some(relative) = source.strip_prefix("./") {
                let path = repo::path("compose").join(relative);
                assert!(
                    path.exists(),
                    "{name} mounts {source}, which does not exist"
                );
            }
        }
    }
}

#[test]
fn prometheus_accepts_remote_write_from_the_collector() {
    let file = support::compose_file();
    let prometheus = compose::services(&file)
        .find(|(name, _)| *name == "prometheus")
        .map(|(_, service)| compose::command(service))
        .expect("a prometheus service");
    assert!(
        prometheus
            .iter()
            .any(|arg| arg == "--web.enable-remote-write-receiver"),
        "{prometheus:?}"
    );
}

#[test]
fn grafana_datasources_link_only_to_provisioned_datasources_with_streaming_off() {
    for file in support::DATASOURCE_FILES {
        let datasources = grafana::parse_datasources(&support::read(file), file)
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(datasources.problems(), Vec::<String>::new(), "{file}");
        let kinds: Vec<&str> = datasources
            .datasources
            .iter()
            .map(|d| d.kind.as_str())
            .collect();
        assert!(
            kinds.contains(&"tempo") && kinds.contains(&"prometheus"),
            "{file}: {kinds:?}"
        );
    }
}

#[test]
fn the_dashboard_uses_only_provisioned_datasources_and_is_the_same_in_compose_and_k8s() {
    let compose_path = "compose/grafana/dashboards/tracing-dojo-overview.json";
    let k8s_path = "k8s/base/observability/grafana/tracing-dojo-overview.json";
    let text = support::read(compose_path);
    assert_eq!(
        text,
        support::read(k8s_path),
        "{k8s_path} must be a copy of {compose_path}"
    );
    let dashboard = grafana::parse_dashboard(&text, compose_path).unwrap_or_else(|e| panic!("{e}"));
    let used = grafana::dashboard_datasource_uids(&dashboard);
    for file in support::DATASOURCE_FILES {
        let datasources = grafana::parse_datasources(&support::read(file), file)
            .unwrap_or_else(|error| panic!("{error}"));
        let defined = datasources.uids();
        for uid in &used {
            assert!(
                defined.contains(uid.as_str()),
                "the dashboard uses {uid}, which {file} lacks"
            );
        }
    }
}

#[test]
fn every_service_has_a_memory_limit_and_rotated_logs() {
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        assert!(service.mem_limit.is_some(), "{name} has no mem_limit");
        let logging = service
            .logging
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no logging"));
        assert_eq!(logging.driver.as_deref(), Some("json-file"), "{name}");
        let options = logging.options.clone().unwrap_or_default();
        for option in ["max-size", "max-file"] {
            assert!(
                options.contains_key(option),
                "{name}: logs without {option}"
            );
        }
    }
}

#[test]
fn third_party_image_versions_come_from_the_env_file() {
    let text = support::read(support::COMPOSE);
    for line in text.lines().map(str::trim) {
        let Some(image) = line.strip_prefix("image: ") else {
            continue;
        };
        if image.starts_with("tracing-dojo:") {
            continue;
        }
        let tag = image.split_once(':').map_or("", |(_, tag)| tag);
        assert!(
            tag.starts_with("${") && tag.ends_with(":?set in compose/.env}"),
            "{image}: the version belongs in compose/.env"
        );
    }
}

#[test]
fn grafana_lets_anonymous_visitors_look_but_not_edit() {
    let file = support::compose_file();
    let grafana = compose_grafana(&file);
    let role = compose::env(grafana, "GF_AUTH_ANONYMOUS_ORG_ROLE");
    assert!(
        matches!(role.as_deref(), None | Some("Viewer")),
        "anonymous role {role:?}"
    );
    assert_ne!(
        compose::env(grafana, "GF_AUTH_DISABLE_LOGIN_FORM").as_deref(),
        Some("true"),
        "the admin must be able to sign in"
    );
    for manifest in support::manifests() {
        for container in grafana_containers(&manifest) {
            let role = dojo_deploy_tests::kube::env_value(container, "GF_AUTH_ANONYMOUS_ORG_ROLE");
            assert!(
                matches!(role, None | Some("Viewer")),
                "{}: anonymous role {role:?}",
                manifest.place
            );
            let password = container
                .env
                .iter()
                .flatten()
                .find(|v| v.name == "GF_SECURITY_ADMIN_PASSWORD")
                .unwrap_or_else(|| panic!("{}: no admin password", manifest.place));
            assert!(
                password
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                    .is_some(),
                "{}: the admin password comes from a Secret",
                manifest.place
            );
        }
    }
}

#[test]
fn exported_learner_dashboards_dropped_in_their_folder_are_provisioned_against_the_tempo_uid() {
    // Grafana is provisioned to read the folder …
    let providers: serde_yaml::Value = serde_yaml::from_str(&support::read(
        "compose/grafana/provisioning/dashboards/dashboards.yaml",
    ))
    .expect("the dashboard providers parse");
    let paths: Vec<&str> = providers["providers"]
        .as_sequence()
        .expect("a list of providers")
        .iter()
        .filter_map(|p| p["options"]["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/var/lib/grafana/learner-dashboards"),
        "{paths:?}"
    );
    // … which compose mounts from the repository folder the course tells learners about …
    let folder = dojo_defaults::GRAFANA_LEARNER_DASHBOARDS_DIR;
    let relative = folder.strip_prefix("compose/").expect("a compose folder");
    let file = support::compose_file();
    let grafana = compose_grafana(&file);
    let mounted = grafana.volumes.iter().any(|volume| {
        matches!(volume, docker_compose_types::Volumes::Simple(spec)
            if spec.starts_with(&format!("./{relative}:/var/lib/grafana/learner-dashboards")))
    });
    assert!(mounted, "grafana does not mount ./{relative}");
    assert!(repo::path(folder).is_dir(), "{folder} is missing");
    // … and the exported panels' datasource uid is the provisioned Tempo's.
    for file in support::DATASOURCE_FILES {
        let datasources = grafana::parse_datasources(&support::read(file), file)
            .unwrap_or_else(|error| panic!("{error}"));
        let tempo = datasources
            .datasources
            .iter()
            .find(|d| d.kind == "tempo")
            .unwrap_or_else(|| panic!("{file}: no Tempo datasource"));
        assert_eq!(
            tempo.uid,
            dojo_defaults::GRAFANA_TEMPO_DATASOURCE_UID,
            "{file}"
        );
    }
}

/// The feature toggle Grafana 12 still needs before a Tempo datasource can back an alert rule.
const TEMPO_ALERTING_TOGGLE: &str = "tempoAlerting";

fn toggles_enable_tempo_alerting(value: Option<&str>) -> bool {
    value.is_some_and(|toggles| {
        toggles
            .split([',', ' '])
            .any(|toggle| toggle.trim() == TEMPO_ALERTING_TOGGLE)
    })
}

#[test]
fn grafana_can_evaluate_the_alert_rules_learners_export() {
    // The course exports rules as alerting provisioning into this folder, which compose mounts
    // under Grafana's provisioning directory …
    let folder = repo::path("compose/grafana/provisioning/alerting");
    assert!(folder.is_dir(), "{} is missing", folder.display());
    let file = support::compose_file();
    let grafana = compose_grafana(&file);
    let mounted = grafana.volumes.iter().any(|volume| {
        matches!(volume, docker_compose_types::Volumes::Simple(spec)
            if spec.starts_with("./grafana/provisioning:/etc/grafana/provisioning"))
    });
    assert!(mounted, "grafana does not mount ./grafana/provisioning");
    // … and their queries run on the Tempo datasource, which Grafana refuses for alerting
    // unless the toggle is on: without it, every exported rule fails to load.
    assert!(
        toggles_enable_tempo_alerting(
            compose::env(grafana, "GF_FEATURE_TOGGLES_ENABLE").as_deref()
        ),
        "compose's grafana must set GF_FEATURE_TOGGLES_ENABLE to include {TEMPO_ALERTING_TOGGLE}"
    );
    let mut k8s_grafanas = 0;
    for manifest in support::manifests() {
        for container in grafana_containers(&manifest) {
            k8s_grafanas += 1;
            assert!(
                toggles_enable_tempo_alerting(dojo_deploy_tests::kube::env_value(
                    container,
                    "GF_FEATURE_TOGGLES_ENABLE"
                )),
                "{}: grafana must enable {TEMPO_ALERTING_TOGGLE}",
                manifest.place
            );
        }
    }
    assert!(k8s_grafanas > 0, "no Grafana in the Kubernetes manifests");
}

/// compose's Grafana service.
fn compose_grafana(file: &docker_compose_types::Compose) -> &docker_compose_types::Service {
    compose::services(file)
        .find(|(name, _)| *name == "grafana")
        .map(|(_, service)| service)
        .expect("a grafana service")
}

/// The Grafana containers of one Kubernetes manifest.
fn grafana_containers(
    manifest: &dojo_deploy_tests::kube::Manifest,
) -> impl Iterator<Item = &k8s_openapi::api::core::v1::Container> {
    manifest.containers().iter().filter(|container| {
        container
            .image
            .as_deref()
            .is_some_and(|image| image.starts_with("grafana/grafana:"))
    })
}
