//! Names, ports and environment variables agree across compose, Kubernetes and `dojo-defaults`.

use dojo_deploy_tests::kube::{self, Manifest};
use dojo_deploy_tests::ports::{self, Observation};
use dojo_deploy_tests::{compose, repo};

use crate::support;

/// Every port observation in the repository's deployment files.
fn all_observations(compose_text: &str, manifests: &[Manifest]) -> Vec<Observation> {
    let compose_file = support::parse_compose(compose_text);
    let mut observations = ports::compose_observations(&compose_file);
    observations.extend(ports::kube_observations(manifests));
    for file in support::COLLECTOR_CONFIGS {
        observations.extend(ports::collector_observations(
            file,
            &support::collector_config(file),
        ));
    }
    for file in support::TEMPO_CONFIGS {
        observations.extend(ports::tempo_observations(
            file,
            &support::tempo_config(file),
        ));
    }
    for (dir, kustomization) in support::kustomizations() {
        for generator in &kustomization.config_map_generator {
            let place = format!(
                "{} configMapGenerator {}",
                repo::display(&dir),
                generator.name
            );
            observations.extend(ports::env_observations(
                &place,
                generator.literal_pairs(),
                None,
            ));
        }
    }
    observations
}

#[test]
fn every_port_in_compose_and_kubernetes_is_the_one_in_dojo_defaults() {
    let observations = all_observations(&support::read(support::COMPOSE), &support::manifests());
    assert!(
        observations.len() > 60,
        "only {} places checked",
        observations.len()
    );
    let disagreements = ports::disagreements(&observations);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn a_port_changed_in_one_place_only_is_caught_and_named() {
    let original = support::read(support::COMPOSE);
    let changed = original.replacen(r#""--port", "8082""#, r#""--port", "8092""#, 1);
    assert_ne!(
        original, changed,
        "the api's --port is written as the test expects"
    );
    let disagreements = ports::disagreements(&all_observations(&changed, &support::manifests()));
    assert_eq!(
        disagreements,
        vec!["compose api command --port: 8092, but dojo-defaults says 8082".to_owned()]
    );
}

#[test]
fn a_service_port_changed_in_kubernetes_only_is_caught_and_named() {
    let text = support::read("k8s/base/app/payments.yaml").replace("port: 8083", "port: 8093");
    let mut manifests: Vec<Manifest> = support::manifests()
        .into_iter()
        .filter(|m| !m.place.starts_with("k8s/base/app/payments.yaml"))
        .collect();
    manifests
        .extend(kube::parse_documents(&text, "payments.yaml").unwrap_or_else(|e| panic!("{e}")));
    let disagreements = ports::disagreements(&all_observations(
        &support::read(support::COMPOSE),
        &manifests,
    ));
    assert_eq!(disagreements.len(), 1, "{disagreements:#?}");
    assert!(
        disagreements[0].contains("Service payments port http: 8093"),
        "{disagreements:?}"
    );
}

#[test]
fn every_environment_variable_given_to_the_dojo_image_is_one_the_lab_reads() {
    let known = ports::known_env_names();
    let mut unknown = Vec::new();
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        if service.image.as_deref() != Some("tracing-dojo:local") {
            continue;
        }
        for (var, _) in compose::environment(service) {
            if !known.contains(&var.as_str()) {
                unknown.push(format!("compose {name}: {var}"));
            }
        }
    }
    for manifest in support::manifests() {
        for container in manifest.containers() {
            if !container
                .image
                .as_deref()
                .is_some_and(|i| i.starts_with("tracing-dojo:"))
            {
                continue;
            }
            for var in kube::env_names(container) {
                if !known.contains(&var) {
                    unknown.push(format!("{}: {var}", manifest.place));
                }
            }
        }
    }
    for (dir, kustomization) in support::kustomizations() {
        for generator in kustomization
            .config_map_generator
            .iter()
            .filter(|g| g.name == "sample-app-env")
        {
            for (var, _) in generator.literal_pairs() {
                if !known.contains(&var) {
                    unknown.push(format!("{}: {var}", repo::display(&dir)));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "names dojo-defaults does not know (a typo?): {unknown:#?}"
    );
}

#[test]
fn every_service_reports_traces_under_its_own_name() {
    let file = support::compose_file();
    for (name, service) in compose::services(&file) {
        if let Some(reported) = compose::env(service, dojo_defaults::env::OTEL_SERVICE_NAME) {
            assert_eq!(reported, ports::role_of(name), "compose {name}");
        }
    }
    for manifest in support::manifests() {
        for container in manifest.containers() {
            if let Some(reported) =
                kube::env_value(container, dojo_defaults::env::OTEL_SERVICE_NAME)
            {
                assert_eq!(
                    reported,
                    ports::role_of(&manifest.name),
                    "{}",
                    manifest.place
                );
            }
        }
    }
}

#[test]
fn compose_and_kubernetes_run_the_same_versions_of_the_same_images() {
    let file = support::compose_file();
    let compose_images: Vec<String> = compose::services(&file)
        .filter_map(|(_, service)| service.image.clone())
        .filter(|image| !image.starts_with("tracing-dojo:") && !image.starts_with("debian:"))
        .collect();
    let k8s_images: Vec<String> = support::manifests()
        .iter()
        .flat_map(|m| {
            m.containers()
                .iter()
                .filter_map(|c| c.image.clone())
                .collect::<Vec<_>>()
        })
        .filter(|image| !image.starts_with("tracing-dojo:"))
        .collect();
    let repository = |image: &str| image.rsplit_once(':').map_or(image, |(r, _)| r).to_owned();
    for image in &compose_images {
        let same_repository: Vec<&String> = k8s_images
            .iter()
            .filter(|k| repository(k) == repository(image))
            .collect();
        assert!(
            !same_repository.is_empty(),
            "{image} is in compose but not in k8s"
        );
        for other in same_repository {
            assert_eq!(other, image, "compose and k8s pin different versions");
        }
    }
}

#[test]
fn the_compose_and_kubernetes_collector_pipelines_scrub_and_sample_alike() {
    let compose_config = support::collector_config("compose/otel-collector.yaml");
    let agent = support::collector_config("k8s/base/observability/config/otel-agent.yaml");
    let gateway = support::collector_config("k8s/base/observability/config/otel-gateway.yaml");
    assert_eq!(
        compose_config.attribute_actions(),
        agent.attribute_actions()
    );
    assert_eq!(
        compose_config.tail_sampling_policy_types(),
        gateway.tail_sampling_policy_types()
    );
}
