//! Loading helpers shared by the test modules: the files, parsed, with `expect` messages that
//! name the file. A file that does not parse fails the test that needs it, with the parse error.

use std::path::PathBuf;

use dojo_deploy_tests::kube::Manifest;
use dojo_deploy_tests::kustomize::{self, Kustomization};
use dojo_deploy_tests::{collector, compose, repo, tempo};

pub const COMPOSE: &str = "compose/docker-compose.yaml";
pub const COMPOSE_ENV: &str = "compose/.env";
pub const KUSTOMIZE_ROOTS: &[&str] = &["k8s/base", "k8s/overlays/workshop", "k8s/overlays/deploy"];

/// The collector configurations in the repository.
pub const COLLECTOR_CONFIGS: &[&str] = &[
    "compose/otel-collector.yaml",
    "k8s/base/observability/config/otel-agent.yaml",
    "k8s/base/observability/config/otel-gateway.yaml",
    "k8s/overlays/workshop/shared/otel-gateway.yaml",
];

/// The Tempo configurations in the repository.
pub const TEMPO_CONFIGS: &[&str] = &[
    "compose/tempo.yaml",
    "k8s/base/observability/config/tempo.yaml",
    "k8s/overlays/workshop/shared/tempo.yaml",
];

/// The Grafana datasource files in the repository.
pub const DATASOURCE_FILES: &[&str] = &[
    "compose/grafana/provisioning/datasources/datasources.yaml",
    "k8s/base/observability/grafana/datasources.yaml",
    "k8s/overlays/workshop/shared/datasources.yaml",
];

pub fn read(relative: &str) -> String {
    repo::read(relative).unwrap_or_else(|error| panic!("{error}"))
}

pub fn compose_file() -> docker_compose_types::Compose {
    parse_compose(&read(COMPOSE))
}

/// A compose text (the repository's, or a changed copy) with compose/.env's variables.
pub fn parse_compose(text: &str) -> docker_compose_types::Compose {
    compose::load(text, &read(COMPOSE_ENV), COMPOSE).unwrap_or_else(|error| panic!("{error}"))
}

/// `root` rendered by the real kustomize (or `kubectl kustomize`) with fresh secrets, as an
/// instructor would after `k8s/make-secrets.sh`. Without the tool it says why and returns
/// `None`; under `CI=true` a missing tool is a failure.
pub fn rendered(root: &str) -> Option<Vec<Manifest>> {
    let Some(tool) = kustomize::Tool::find() else {
        let why = format!("neither kustomize nor kubectl is on PATH, so {root} was not rendered");
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{why}; CI needs one of them (`.ci/run` installs kubectl from apt)");
        }
        eprintln!("skipped: {why}");
        return None;
    };
    let text =
        kustomize::render_with_secrets(&tool, root).unwrap_or_else(|e| panic!("{root}: {e}"));
    Some(dojo_deploy_tests::kube::parse_documents(&text, root).unwrap_or_else(|e| panic!("{e}")))
}

pub fn collector_config(relative: &str) -> collector::Config {
    collector::parse(&read(relative), relative).unwrap_or_else(|error| panic!("{error}"))
}

pub fn tempo_config(relative: &str) -> tempo::Config {
    tempo::parse(&read(relative), relative).unwrap_or_else(|error| panic!("{error}"))
}

/// Every kustomization reachable from the two roots, without duplicates.
pub fn kustomizations() -> Vec<(PathBuf, Kustomization)> {
    let mut all: Vec<(PathBuf, Kustomization)> = Vec::new();
    for root in KUSTOMIZE_ROOTS {
        for (dir, kustomization) in
            kustomize::tree(&repo::path(root)).unwrap_or_else(|error| panic!("{error}"))
        {
            let dir = dir.canonicalize().unwrap_or(dir);
            if !all.iter().any(|(seen, _)| *seen == dir) {
                all.push((dir, kustomization));
            }
        }
    }
    all
}

/// Every Kubernetes object written in the repository's resource files (before kustomize).
pub fn manifests() -> Vec<Manifest> {
    let mut manifests = Vec::new();
    for (dir, kustomization) in kustomizations() {
        for resource in &kustomization.resources {
            let path = dir.join(resource);
            if path.is_file() {
                let text = repo::read_path(&path).unwrap_or_else(|error| panic!("{error}"));
                let parsed = dojo_deploy_tests::kube::parse_documents(&text, &repo::display(&path))
                    .unwrap_or_else(|error| panic!("{error}"));
                manifests.extend(parsed);
            }
        }
    }
    manifests
}

/// The manifests of the base only (one copy of each object).
pub fn base_manifests() -> Vec<Manifest> {
    manifests()
        .into_iter()
        .filter(|m| m.place.starts_with("k8s/base/"))
        .collect()
}
