//! The workshop isolates learners: each learner namespace is fenced by NetworkPolicies that let
//! in and out only its own pods, DNS, the shared collector and Tempo, and the ingress controller
//! (never another learner), has a ResourceQuota, a LimitRange and an Ingress host of its own; the
//! shared parts have disruption budgets; the dashboard can show one learner at a time.

use std::collections::BTreeSet;

use dojo_deploy_tests::grafana;
use dojo_deploy_tests::kube::{Manifest, Object};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::support;

/// Namespaces a learner's pods may talk to besides their own.
const ALLOWED_NAMESPACES: &[&str] = &["kube-system", "observability", "ingress-nginx"];

fn learners(manifests: &[Manifest]) -> Vec<String> {
    manifests
        .iter()
        .filter(|m| m.kind == "Namespace" && m.name.starts_with("learner-"))
        .map(|m| m.name.clone())
        .collect()
}

/// Why a peer of a learner's NetworkPolicy lets in or out more than it may.
fn peer_problem(peer: &NetworkPolicyPeer) -> Option<String> {
    if peer.ip_block.is_some() {
        return Some("an ipBlock peer".to_owned());
    }
    let Some(selector) = &peer.namespace_selector else {
        // A podSelector alone means pods of the policy's own namespace.
        return None;
    };
    let named = selector
        .match_labels
        .as_ref()
        .and_then(|labels| labels.get("kubernetes.io/metadata.name"));
    match named {
        Some(namespace) if ALLOWED_NAMESPACES.contains(&namespace.as_str()) => None,
        Some(namespace) => Some(format!("namespace {namespace}")),
        None => Some("a namespaceSelector that is not one named namespace".to_owned()),
    }
}

fn policy_problems(policy: &NetworkPolicy) -> Vec<String> {
    let spec = policy.spec.clone().unwrap_or_default();
    let from = spec
        .ingress
        .iter()
        .flatten()
        .flat_map(|r| r.from.iter().flatten());
    let to = spec
        .egress
        .iter()
        .flatten()
        .flat_map(|r| r.to.iter().flatten());
    from.chain(to).filter_map(peer_problem).collect()
}

fn is_default_deny(policy: &NetworkPolicy) -> bool {
    let Some(spec) = &policy.spec else {
        return false;
    };
    let types: BTreeSet<&str> = spec
        .policy_types
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let selects_all = spec
        .pod_selector
        .as_ref()
        .is_none_or(|s| s.match_labels.is_none() && s.match_expressions.is_none());
    selects_all
        && types == BTreeSet::from(["Ingress", "Egress"])
        && spec.ingress.is_none()
        && spec.egress.is_none()
}

fn in_namespace<'a>(manifests: &'a [Manifest], namespace: &str, kind: &str) -> Vec<&'a Manifest> {
    manifests
        .iter()
        .filter(|m| m.kind == kind && m.namespace.as_deref() == Some(namespace))
        .collect()
}

#[test]
fn each_learner_namespace_is_fenced_and_has_its_own_quota_limits_and_host() {
    let Some(manifests) = support::rendered("k8s/overlays/workshop") else {
        return;
    };
    let learners = learners(&manifests);
    assert_eq!(learners.len(), 3, "{learners:?}");
    let mut hosts = BTreeSet::new();
    for learner in &learners {
        let policies: Vec<&NetworkPolicy> = in_namespace(&manifests, learner, "NetworkPolicy")
            .into_iter()
            .filter_map(|m| match &m.object {
                Object::NetworkPolicy(p) => Some(p.as_ref()),
                _ => None,
            })
            .collect();
        assert!(
            policies.iter().any(|p| is_default_deny(p)),
            "{learner}: no default-deny NetworkPolicy"
        );
        for policy in &policies {
            let problems = policy_problems(policy);
            assert!(
                problems.is_empty(),
                "{learner}/{:?} lets through {problems:?}",
                policy.metadata.name
            );
        }
        let quota = in_namespace(&manifests, learner, "ResourceQuota");
        let Some(Object::ResourceQuota(quota)) = quota.first().map(|m| &m.object) else {
            panic!("{learner}: no ResourceQuota");
        };
        let hard = quota
            .spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .unwrap_or_default();
        for key in [
            "requests.cpu",
            "requests.memory",
            "limits.cpu",
            "limits.memory",
            "pods",
        ] {
            assert!(hard.contains_key(key), "{learner}: quota lacks {key}");
        }
        assert_eq!(
            in_namespace(&manifests, learner, "LimitRange").len(),
            1,
            "{learner}"
        );
        for ingress in in_namespace(&manifests, learner, "Ingress") {
            let Object::Ingress(ingress) = &ingress.object else {
                continue;
            };
            for rule in ingress.spec.iter().flat_map(|s| s.rules.iter().flatten()) {
                let host = rule.host.clone().unwrap_or_default();
                assert!(host.contains(learner.as_str()), "{learner}: host {host}");
                assert!(hosts.insert(host.clone()), "host {host} is used twice");
            }
        }
    }
    assert!(hosts.len() >= learners.len(), "{hosts:?}");
}

#[test]
fn a_policy_that_opens_a_learner_to_other_namespaces_is_caught() {
    let Some(manifests) = support::rendered("k8s/overlays/workshop") else {
        return;
    };
    let mut policy = manifests
        .iter()
        .find_map(|m| match &m.object {
            Object::NetworkPolicy(p) if m.name == "allow-own-namespace" => Some(p.as_ref().clone()),
            _ => None,
        })
        .expect("allow-own-namespace is rendered");
    let set_peer = |policy: &mut NetworkPolicy, selector: LabelSelector| {
        let spec = policy.spec.as_mut().expect("a spec");
        let rules = spec.ingress.as_mut().expect("ingress rules");
        rules[0].from.as_mut().expect("peers")[0].namespace_selector = Some(selector);
    };
    set_peer(&mut policy, LabelSelector::default());
    assert_eq!(
        policy_problems(&policy),
        ["a namespaceSelector that is not one named namespace"]
    );
    set_peer(
        &mut policy,
        LabelSelector {
            match_labels: Some(
                [(
                    "kubernetes.io/metadata.name".to_owned(),
                    "learner-2".to_owned(),
                )]
                .into(),
            ),
            ..Default::default()
        },
    );
    assert_eq!(policy_problems(&policy), ["namespace learner-2"]);
}

#[test]
fn the_shared_parts_have_disruption_budgets_that_select_them() {
    let Some(manifests) = support::rendered("k8s/overlays/workshop") else {
        return;
    };
    for part in ["otel-gateway", "tempo", "loki", "prometheus", "grafana"] {
        let budget = manifests
            .iter()
            .find_map(|m| match &m.object {
                Object::PodDisruptionBudget(b) if m.name == part => Some(b),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no PodDisruptionBudget for {part}"));
        let selector = budget
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default();
        let selects = manifests.iter().any(|m| {
            m.namespace.as_deref() == Some("observability")
                && m.pod_spec().is_some()
                && match &m.object {
                    Object::Deployment(d) => d.spec.template.metadata.as_ref(),
                    Object::StatefulSet(s) => s.spec.template.metadata.as_ref(),
                    _ => None,
                }
                .and_then(|meta| meta.labels.as_ref())
                .is_some_and(|labels| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
        });
        assert!(selects, "the budget for {part} selects no workload");
    }
}

#[test]
fn the_dashboard_shows_one_learner_at_a_time() {
    let file = "compose/grafana/dashboards/tracing-dojo-overview.json";
    let dashboard =
        grafana::parse_dashboard(&support::read(file), file).unwrap_or_else(|e| panic!("{e}"));
    let variable = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "namespace")
        .expect("a namespace variable");
    assert!(
        variable["query"]["query"]
            .as_str()
            .is_some_and(|q| q.contains("k8s_namespace_name")),
        "{variable}"
    );
    for expr in grafana::dashboard_exprs(&dashboard) {
        assert!(
            expr.contains("=~\"$namespace\""),
            "{expr} ignores the learner"
        );
    }
}
