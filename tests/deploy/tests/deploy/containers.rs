//! Every container of our image can start as configured: its data directory lies under a
//! writable mount (the root filesystem is read-only in compose and Kubernetes), the course gets
//! the shop's URLs and the services' admin token, and no token is a placeholder. The stack test
//! (`tests/stack`) then starts them for real.

use dojo_defaults::env;
use dojo_deploy_tests::container::{self, Container};

use crate::support;

fn image() -> container::Image {
    container::image(&support::read("Dockerfile")).unwrap_or_else(|e| panic!("{e}"))
}

fn compose_containers(text: &str) -> Vec<Container> {
    container::from_compose(&support::parse_compose(text), &image())
}

fn kube_containers(root: &str) -> Option<Vec<Container>> {
    let manifests = support::rendered(root)?;
    Some(container::from_kube(&manifests, &image(), root).unwrap_or_else(|e| panic!("{e}")))
}

fn all_containers() -> Vec<Container> {
    let mut all = compose_containers(&support::read(support::COMPOSE));
    for root in support::KUSTOMIZE_ROOTS {
        all.extend(kube_containers(root).unwrap_or_default());
    }
    all
}

#[test]
fn every_dojo_container_has_a_writable_data_dir_and_a_read_only_root() {
    let containers = all_containers();
    assert!(
        containers.iter().filter(|c| c.name == "dojo").count() >= 2,
        "{containers:#?}"
    );
    for container in &containers {
        assert!(
            container.read_only_root,
            "{}: the root filesystem should be read-only",
            container.origin
        );
        assert_eq!(container.data_dir_problem(), None);
        assert_ne!(container.uid, 0, "{} runs as root", container.origin);
    }
}

#[test]
fn a_dojo_container_without_a_writable_data_dir_is_caught() {
    let text = support::read(support::COMPOSE).replace("      - dojo-data:/var/lib/dojo\n", "");
    let dojo = compose_containers(&text)
        .into_iter()
        .find(|c| c.name == "dojo")
        .expect("compose runs dojo");
    let problem = dojo.data_dir_problem().expect("no volume, no data dir");
    assert!(
        problem.contains("/var/lib/dojo is not under a writable path"),
        "{problem}"
    );

    // The image's own default (the working directory's .dojo) fails the same way.
    let mut without_env = dojo.clone();
    without_env.env.remove(env::DATA_DIR);
    without_env.writable.push("/var/lib/dojo".to_owned());
    let problem = without_env
        .data_dir_problem()
        .expect(".dojo in a read-only workdir");
    assert!(problem.contains("/opt/dojo/.dojo"), "{problem}");
}

#[test]
fn a_kubernetes_dojo_without_its_empty_dir_is_caught() {
    let Some(containers) = kube_containers("k8s/base") else {
        return;
    };
    let mut dojo = containers
        .into_iter()
        .find(|c| c.name == "dojo")
        .expect("k8s/base runs dojo");
    dojo.writable.retain(|path| path != "/var/lib/dojo");
    assert!(dojo.data_dir_problem().is_some(), "{dojo:#?}");
}

#[test]
fn the_course_gets_the_shops_urls_and_the_services_admin_token() {
    for container in all_containers() {
        let admin = container.env(env::ADMIN_TOKEN);
        match container.name.as_str() {
            "dojo" => {
                for (var, service) in [
                    (env::FRONTEND_URL, "frontend"),
                    (env::API_URL, "api"),
                    (env::PAYMENTS_URL, "payments"),
                ] {
                    let url = container.env(var).unwrap_or_default();
                    assert!(
                        url.starts_with(&format!("http://{service}:")),
                        "{}: {var}={url:?}",
                        container.origin
                    );
                }
                assert!(
                    admin.is_some_and(|t| !t.is_empty()),
                    "{}: no {}",
                    container.origin,
                    env::ADMIN_TOKEN
                );
            }
            "frontend" | "api" | "payments" => {
                assert!(admin.is_some_and(|t| !t.is_empty()), "{}", container.origin);
            }
            _ => {}
        }
    }
}

#[test]
fn every_admin_token_in_one_namespace_is_the_same() {
    let containers = all_containers();
    for origin_prefix in ["compose", "k8s/base", "k8s/overlays/workshop"] {
        let mut tokens: Vec<(String, &str)> = containers
            .iter()
            .filter(|c| c.origin.starts_with(origin_prefix))
            .filter_map(|c| {
                let namespace = c.origin.split(' ').nth(2).and_then(|p| p.split('/').next());
                Some((namespace.unwrap_or("").to_owned(), c.env(env::ADMIN_TOKEN)?))
            })
            .collect();
        tokens.sort();
        tokens.dedup();
        let namespaces: std::collections::BTreeSet<&String> =
            tokens.iter().map(|(n, _)| n).collect();
        assert_eq!(
            tokens.len(),
            namespaces.len(),
            "{origin_prefix}: one admin token per namespace: {tokens:?}"
        );
    }
}
