//! Every Kubernetes manifest deserialises into the API types with no unknown field, and the
//! workloads meet the lab's bar: probes, requests and limits, non-root, pinned images, secrets
//! from Secrets.

use std::collections::BTreeSet;

use dojo_deploy_tests::kube::{self, Object};
use dojo_deploy_tests::{kustomize, repo};

use crate::support;

#[test]
fn every_yaml_file_under_k8s_is_a_kustomization_a_resource_or_generator_data() {
    let kustomizations = support::kustomizations();
    let mut accounted = BTreeSet::new();
    for (dir, kustomization) in &kustomizations {
        accounted.insert(dir.join("kustomization.yaml"));
        for resource in &kustomization.resources {
            accounted.insert(dir.join(resource));
        }
        for generator in &kustomization.config_map_generator {
            for file in generator.file_paths() {
                accounted.insert(dir.join(file));
            }
        }
    }
    let accounted: BTreeSet<_> = accounted
        .into_iter()
        .filter_map(|path| path.canonicalize().ok())
        .collect();
    let files = repo::files_under(&repo::path("k8s"), &[".yaml", ".yml", ".json"])
        .expect("k8s/ is readable");
    let orphans: Vec<String> = files
        .iter()
        .filter(|file| !accounted.contains(&file.canonicalize().unwrap_or((*file).clone())))
        .map(|file| repo::display(file))
        .collect();
    assert!(
        orphans.is_empty(),
        "files no kustomization uses: {orphans:?}"
    );
}

#[test]
fn every_manifest_deserialises_into_kubernetes_types_with_no_unknown_fields() {
    // support::manifests() panics with the file, document and field on the first problem.
    let manifests = support::manifests();
    assert!(
        manifests.len() >= 20,
        "only {} manifests found",
        manifests.len()
    );
}

#[test]
fn every_container_has_cpu_and_memory_requests_and_limits() {
    let mut missing = Vec::new();
    for manifest in support::manifests() {
        for container in manifest.containers() {
            let resources = container.resources.as_ref();
            for (what, map) in [
                ("requests", resources.and_then(|r| r.requests.as_ref())),
                ("limits", resources.and_then(|r| r.limits.as_ref())),
            ] {
                for key in ["cpu", "memory"] {
                    if !map.is_some_and(|m| m.contains_key(key)) {
                        missing.push(format!(
                            "{} {}: {what}.{key}",
                            manifest.place, container.name
                        ));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn every_container_that_listens_has_a_readiness_probe() {
    let missing: Vec<String> = support::manifests()
        .iter()
        .flat_map(|manifest| {
            manifest
                .containers()
                .iter()
                .filter(|c| c.ports.as_ref().is_some_and(|p| !p.is_empty()))
                .filter(|c| c.readiness_probe.is_none())
                .map(move |c| format!("{} {}", manifest.place, c.name))
        })
        .collect();
    assert!(missing.is_empty(), "no readiness probe: {missing:?}");
}

#[test]
fn every_pod_runs_as_a_non_root_user() {
    let mut root = Vec::new();
    for manifest in support::manifests() {
        if let Some(spec) = manifest.pod_spec() {
            let non_root = spec
                .security_context
                .as_ref()
                .and_then(|s| s.run_as_non_root)
                .unwrap_or(false);
            if !non_root {
                root.push(manifest.place.clone());
            }
        }
    }
    assert!(root.is_empty(), "pods without runAsNonRoot: {root:?}");
}

#[test]
fn every_image_is_pinned_to_a_version() {
    let unpinned: Vec<String> = support::manifests()
        .iter()
        .flat_map(|m| m.containers().iter().map(move |c| (m, c)))
        .filter_map(|(m, c)| {
            let image = c.image.as_deref().unwrap_or("");
            let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
            (tag.is_empty() || tag == "latest").then(|| format!("{} {image:?}", m.place))
        })
        .collect();
    assert!(unpinned.is_empty(), "{unpinned:?}");
}

#[test]
fn every_secret_and_config_map_a_pod_refers_to_is_defined() {
    let manifests = support::manifests();
    let secrets: Vec<(String, BTreeSet<String>)> = manifests
        .iter()
        .filter_map(|m| match &m.object {
            Object::Secret(secret) => Some((
                m.name.clone(),
                secret
                    .string_data
                    .iter()
                    .flat_map(|d| d.keys().cloned())
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    let config_maps: BTreeSet<String> = support::kustomizations()
        .iter()
        .flat_map(|(_, k)| k.config_map_generator.iter().map(|g| g.name.clone()))
        .collect();
    let mut dangling = Vec::new();
    for manifest in &manifests {
        let Some(spec) = manifest.pod_spec() else {
            continue;
        };
        for container in &spec.containers {
            for var in container.env.iter().flatten() {
                let Some(key_ref) = var
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                else {
                    continue;
                };
                let found = secrets
                    .iter()
                    .any(|(name, keys)| *name == key_ref.name && keys.contains(&key_ref.key));
                if !found {
                    dangling.push(format!(
                        "{} {}: secret {}/{}",
                        manifest.place, var.name, key_ref.name, key_ref.key
                    ));
                }
            }
            for source in container.env_from.iter().flatten() {
                if let Some(name) = source.config_map_ref.as_ref().map(|r| &r.name)
                    && !config_maps.contains(name)
                {
                    dangling.push(format!("{}: configMap {name}", manifest.place));
                }
            }
        }
        for volume in spec.volumes.iter().flatten() {
            if let Some(name) = volume.config_map.as_ref().map(|c| &c.name)
                && !config_maps.contains(name)
            {
                dangling.push(format!("{}: volume configMap {name}", manifest.place));
            }
        }
    }
    assert!(dangling.is_empty(), "{dangling:#?}");
}

#[test]
fn the_instructor_token_comes_from_a_secret_that_holds_only_placeholders() {
    let manifests = support::base_manifests();
    let dojo = manifests
        .iter()
        .find(|m| m.kind == "Deployment" && m.name == "dojo")
        .expect("a dojo Deployment");
    let container = &dojo.containers()[0];
    let token = container
        .env
        .iter()
        .flatten()
        .find(|v| v.name == dojo_defaults::env::INSTRUCTOR_TOKEN)
        .expect("DOJO_INSTRUCTOR_TOKEN is set");
    assert!(
        token.value.is_none(),
        "the token must not be written in the manifest"
    );
    assert!(
        token
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .is_some(),
        "the token comes from a Secret"
    );
    for manifest in &manifests {
        if let Object::Secret(secret) = &manifest.object {
            for (key, value) in secret.string_data.iter().flatten() {
                assert!(
                    value.to_ascii_lowercase().starts_with("change"),
                    "{} {key}: a committed Secret may hold only a change-me placeholder",
                    manifest.place
                );
            }
            assert!(
                secret.data.is_none(),
                "{}: no base64 data in a committed Secret",
                manifest.place
            );
        }
    }
}

#[test]
fn the_collector_agent_is_a_daemonset_whose_account_may_read_pods() {
    let manifests = support::base_manifests();
    let agent = manifests
        .iter()
        .find(|m| m.kind == "DaemonSet" && m.name == "otel-agent")
        .expect("the collector agent is a DaemonSet");
    let account = agent
        .pod_spec()
        .and_then(|s| s.service_account_name.clone())
        .expect("the agent has its own service account");
    assert!(
        manifests
            .iter()
            .any(|m| m.kind == "ServiceAccount" && m.name == account)
    );
    let binding = manifests
        .iter()
        .find_map(|m| match &m.object {
            Object::ClusterRoleBinding(b)
                if b.subjects
                    .iter()
                    .flatten()
                    .any(|s| s.kind == "ServiceAccount" && s.name == account) =>
            {
                Some(b.clone())
            }
            _ => None,
        })
        .expect("a ClusterRoleBinding for the agent's account");
    let role = manifests
        .iter()
        .find_map(|m| match &m.object {
            Object::ClusterRole(r) if m.name == binding.role_ref.name => Some(r.clone()),
            _ => None,
        })
        .expect("the bound ClusterRole exists");
    for resource in ["pods", "namespaces"] {
        let granted = role.rules.iter().flatten().any(|rule| {
            rule.resources.iter().flatten().any(|r| r == resource)
                && ["get", "list", "watch"]
                    .iter()
                    .all(|verb| rule.verbs.iter().any(|v| v == verb))
        });
        assert!(granted, "k8sattributes needs get/list/watch on {resource}");
    }
    let node_env = agent.containers()[0]
        .env
        .iter()
        .flatten()
        .find(|v| v.name == "K8S_NODE_NAME")
        .and_then(|v| {
            v.value_from
                .as_ref()?
                .field_ref
                .as_ref()
                .map(|f| f.field_path.clone())
        });
    assert_eq!(
        node_env.as_deref(),
        Some("spec.nodeName"),
        "the agent's node filter needs K8S_NODE_NAME"
    );
    let config = support::collector_config("k8s/base/observability/config/otel-agent.yaml");
    assert!(
        config
            .service
            .pipelines
            .values()
            .any(|p| p.processors.iter().any(|id| id == "k8sattributes")),
        "the agent runs k8sattributes"
    );
}

#[test]
fn a_strict_parse_of_a_real_manifest_with_one_typo_names_the_field() {
    let text =
        support::read("k8s/base/app/api.yaml").replacen("readinessProbe:", "readinesProbe:", 1);
    let error = kube::parse_documents(&text, "api.yaml").expect_err("the typo must be caught");
    assert!(error.to_string().contains("readinesProbe"), "{error}");
}

#[test]
fn every_kustomization_names_only_files_that_exist() {
    let missing: Vec<String> = support::kustomizations()
        .iter()
        .flat_map(|(dir, k)| kustomize::missing_references(dir, k))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}
