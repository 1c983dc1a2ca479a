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
    // The one exception: the collector agent reads the kubelet's log files, which only root
    // may read; it keeps no capability and mounts them read-only.
    let mut root = Vec::new();
    for manifest in support::manifests() {
        if manifest.kind == "DaemonSet" && manifest.name == "otel-agent" {
            let container = &manifest.containers()[0];
            let security = container.security_context.clone().unwrap_or_default();
            assert_eq!(security.read_only_root_filesystem, Some(true), "otel-agent");
            assert_eq!(
                security.allow_privilege_escalation,
                Some(false),
                "otel-agent"
            );
            let dropped = security
                .capabilities
                .and_then(|c| c.drop)
                .unwrap_or_default();
            assert_eq!(dropped, ["ALL"], "otel-agent keeps no capability");
            let logs = container
                .volume_mounts
                .iter()
                .flatten()
                .find(|m| m.mount_path == "/var/log/pods")
                .expect("otel-agent mounts the pod logs");
            assert_eq!(
                logs.read_only,
                Some(true),
                "the pod logs are mounted read-only"
            );
            continue;
        }
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

/// Secret and ConfigMap references that name nothing in the same namespace of the rendered
/// output, as `namespace/workload VAR: what`.
fn dangling_references(manifests: &[kube::Manifest]) -> Vec<String> {
    let keys_of = |kind: &str, namespace: &Option<String>, name: &str| {
        manifests
            .iter()
            .find(|m| m.kind == kind && &m.namespace == namespace && m.name == name)
            .map(|m| match &m.object {
                Object::Secret(secret) => secret
                    .data
                    .iter()
                    .flat_map(|d| d.keys().cloned())
                    .chain(secret.string_data.iter().flat_map(|d| d.keys().cloned()))
                    .collect(),
                Object::ConfigMap(map) => map.data.iter().flat_map(|d| d.keys().cloned()).collect(),
                _ => BTreeSet::new(),
            })
    };
    let mut dangling = Vec::new();
    for manifest in manifests {
        let Some(spec) = manifest.pod_spec() else {
            continue;
        };
        let place = format!(
            "{}/{}",
            manifest.namespace.as_deref().unwrap_or("-"),
            manifest.name
        );
        for container in &spec.containers {
            for var in container.env.iter().flatten() {
                let Some(key_ref) = var
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                else {
                    continue;
                };
                let found = keys_of("Secret", &manifest.namespace, &key_ref.name)
                    .is_some_and(|keys| keys.contains(&key_ref.key));
                if !found {
                    let secret = key_ref.name.rsplit_once('-').map_or("", |(name, _)| name);
                    dangling.push(format!(
                        "{place} {}: secret {secret}/{}",
                        var.name, key_ref.key
                    ));
                }
            }
            for source in container.env_from.iter().flatten() {
                if let Some(name) = source.config_map_ref.as_ref().map(|r| &r.name)
                    && keys_of("ConfigMap", &manifest.namespace, name).is_none()
                {
                    dangling.push(format!("{place}: configMap {name}"));
                }
            }
        }
        for volume in spec.volumes.iter().flatten() {
            if let Some(name) = volume.config_map.as_ref().map(|c| &c.name)
                && keys_of("ConfigMap", &manifest.namespace, name).is_none()
            {
                dangling.push(format!("{place}: volume configMap {name}"));
            }
        }
    }
    dangling
}

#[test]
fn every_secret_and_config_map_a_pod_refers_to_is_rendered_in_its_namespace() {
    for root in support::KUSTOMIZE_ROOTS {
        let Some(manifests) = support::rendered(root) else {
            return;
        };
        let dangling = dangling_references(&manifests);
        assert!(dangling.is_empty(), "{root}: {dangling:#?}");
    }
}

#[test]
fn a_secret_key_the_secrets_script_does_not_write_is_caught() {
    let Some(mut manifests) = support::rendered("k8s/base") else {
        return;
    };
    for manifest in &mut manifests {
        if manifest.name != "dojo" {
            continue;
        }
        if let Object::Deployment(deployment) = &mut manifest.object
            && let Some(spec) = deployment.spec.template.spec.as_mut()
        {
            for var in spec.containers[0].env.iter_mut().flatten() {
                if let Some(key_ref) = var
                    .value_from
                    .as_mut()
                    .and_then(|v| v.secret_key_ref.as_mut())
                {
                    key_ref.key = format!("{}-typo", key_ref.key);
                }
            }
        }
    }
    let dangling = dangling_references(&manifests);
    assert!(
        dangling
            .iter()
            .any(|d| d.contains("DOJO_ADMIN_TOKEN: secret dojo-secrets/admin-token-typo")),
        "{dangling:#?}"
    );
}

#[test]
fn no_secret_value_is_committed_and_every_learner_gets_their_own() {
    let manifests = support::manifests();
    let committed: Vec<&str> = manifests
        .iter()
        .filter(|m| m.kind == "Secret")
        .map(|m| m.place.as_str())
        .collect();
    assert!(
        committed.is_empty(),
        "Secrets written in the repository: {committed:?}"
    );
    let ignored = support::read(".gitignore");
    assert!(
        ignored.lines().any(|line| line.trim() == "secrets.env"),
        ".gitignore must keep every secrets.env out of git"
    );
    for (dir, kustomization) in support::kustomizations() {
        for generator in &kustomization.secret_generator {
            assert_eq!(
                generator.envs,
                ["secrets.env"],
                "{}: secret {} must come from the git-ignored secrets.env only",
                repo::display(&dir),
                generator.name
            );
            assert!(generator.literals.is_empty() && generator.files.is_empty());
        }
    }
    // Rendered, the workshop has one dojo-secrets per learner, each with its own values.
    let Some(rendered) = support::rendered("k8s/overlays/workshop") else {
        return;
    };
    let mut tokens = BTreeSet::new();
    let mut learners = 0;
    for manifest in &rendered {
        if let Object::Secret(secret) = &manifest.object
            && manifest.name.starts_with("dojo-secrets")
        {
            learners += 1;
            let token = secret
                .data
                .as_ref()
                .and_then(|d| d.get("instructor-token"))
                .map(|b| b.0.clone())
                .unwrap_or_else(|| panic!("{:?}: no instructor-token", manifest.namespace));
            tokens.insert(token);
        }
    }
    assert_eq!(learners, 3, "one dojo-secrets per learner namespace");
    assert_eq!(tokens.len(), 3, "no two learners share an instructor token");
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
