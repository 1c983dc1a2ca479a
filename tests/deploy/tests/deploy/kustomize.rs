//! The kustomize output itself, built by the real tool where it is installed (`kustomize`, or
//! `kubectl kustomize`) from a scratch copy of `k8s/` with secrets made by `make-secrets.sh`.
//! Without the tool these tests print why they checked nothing and pass on a developer's
//! machine (the files they would render are still checked one by one in `kubernetes`); under
//! `CI=true` a missing tool is a failure.

use std::collections::BTreeSet;

use dojo_deploy_tests::kube::{Manifest, Object};

fn build(root: &str) -> Option<Vec<Manifest>> {
    crate::support::rendered(root)
}

#[test]
fn the_base_renders_into_one_namespace_with_every_part_of_the_lab() {
    let Some(manifests) = build("k8s/base") else {
        return;
    };
    let namespaces: BTreeSet<_> = manifests
        .iter()
        .filter_map(|m| m.namespace.clone())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["tracing-dojo".to_owned()]));
    for name in [
        "frontend",
        "api",
        "payments",
        "loadgen",
        "dojo",
        "otel-gateway",
        "prometheus",
        "grafana",
    ] {
        assert!(
            manifests
                .iter()
                .any(|m| m.kind == "Deployment" && m.name == name),
            "no Deployment {name}"
        );
    }
    for (kind, name) in [
        ("DaemonSet", "otel-agent"),
        ("StatefulSet", "tempo"),
        ("StatefulSet", "postgres"),
    ] {
        assert!(
            manifests.iter().any(|m| m.kind == kind && m.name == name),
            "no {kind} {name}"
        );
    }
}

#[test]
fn the_workshop_renders_a_namespace_per_learner_and_one_shared_stack() {
    let Some(manifests) = build("k8s/overlays/workshop") else {
        return;
    };
    let namespaces: BTreeSet<_> = manifests
        .iter()
        .filter(|m| m.kind == "Namespace")
        .map(|m| m.name.clone())
        .collect();
    let expected: BTreeSet<String> = ["observability", "learner-1", "learner-2", "learner-3"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(namespaces, expected);
    for learner in ["learner-1", "learner-2", "learner-3"] {
        for name in ["frontend", "api", "payments", "dojo"] {
            assert!(
                manifests.iter().any(|m| m.kind == "Deployment"
                    && m.name == name
                    && m.namespace.as_deref() == Some(learner)),
                "{learner} has no {name}"
            );
        }
    }
    let tempos: Vec<_> = manifests
        .iter()
        .filter(|m| m.name == "tempo" && m.kind == "StatefulSet")
        .collect();
    assert_eq!(tempos.len(), 1, "one shared Tempo");
    assert_eq!(tempos[0].namespace.as_deref(), Some("observability"));
}

#[test]
fn each_learner_grader_reads_its_own_tenant() {
    let Some(manifests) = build("k8s/overlays/workshop") else {
        return;
    };
    for manifest in &manifests {
        let Object::ConfigMap(map) = &manifest.object else {
            continue;
        };
        if !manifest.name.starts_with("sample-app-env") {
            continue;
        }
        let namespace = manifest.namespace.clone().unwrap_or_default();
        let data = map.data.clone().unwrap_or_default();
        assert_eq!(
            data.get(dojo_defaults::env::TEMPO_TENANT),
            Some(&namespace),
            "{namespace}: TEMPO_TENANT must be the learner's own tenant"
        );
        let endpoint = data
            .get(dojo_defaults::env::OTEL_EXPORTER_OTLP_ENDPOINT)
            .cloned()
            .unwrap_or_default();
        assert!(
            endpoint.contains("otel-agent.observability"),
            "{namespace}: {endpoint}"
        );
    }
}

#[test]
fn cluster_role_bindings_bind_service_accounts_that_are_deployed() {
    for root in support_roots() {
        let Some(manifests) = build(root) else { return };
        let accounts: BTreeSet<(Option<String>, String)> = manifests
            .iter()
            .filter(|m| m.kind == "ServiceAccount")
            .map(|m| (m.namespace.clone(), m.name.clone()))
            .collect();
        for manifest in &manifests {
            let Object::ClusterRoleBinding(binding) = &manifest.object else {
                continue;
            };
            for subject in binding
                .subjects
                .iter()
                .flatten()
                .filter(|s| s.kind == "ServiceAccount")
            {
                assert!(
                    accounts.contains(&(subject.namespace.clone(), subject.name.clone())),
                    "{root}: {} binds {:?}/{}, which is not deployed",
                    manifest.name,
                    subject.namespace,
                    subject.name
                );
            }
        }
    }
}

fn support_roots() -> &'static [&'static str] {
    crate::support::KUSTOMIZE_ROOTS
}
