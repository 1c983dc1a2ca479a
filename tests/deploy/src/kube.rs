//! Kubernetes manifests read strictly into the API types of `k8s-openapi`.
//!
//! `k8s-openapi` silently ignores fields it does not know, so `replicaz: 3` or a probe indented
//! one level too deep would pass a plain deserialisation and then be dropped by the API server.
//! Every document here is deserialised through `serde_ignored`, and any ignored field is an error
//! that names its path.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, LimitRange, Namespace, PersistentVolumeClaim, PodSpec, ResourceQuota,
    Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::de::DeserializeOwned;

use crate::DeployError;

/// Declares [`Object`], one variant per Kubernetes kind the lab may deploy, and the dispatch
/// from `(apiVersion, kind)` to its type. The types (and their schema) are `k8s-openapi`'s,
/// generated from the Kubernetes OpenAPI specification and pinned in `Cargo.lock`.
macro_rules! kinds {
    ($($variant:ident: $api_version:literal),* $(,)?) => {
        /// One Kubernetes object of a kind this lab deploys.
        #[derive(Debug, Clone)]
        pub enum Object {
            $($variant(Box<$variant>),)*
        }

        /// The `(apiVersion, kind)` pairs [`parse_documents`] accepts.
        pub const KINDS: &[(&str, &str)] = &[$(($api_version, stringify!($variant)),)*];

        fn typed(
            place: &str,
            api_version: &str,
            kind: &str,
            value: serde_yaml::Value,
        ) -> Result<Object, DeployError> {
            $(
                if api_version == $api_version && kind == stringify!($variant) {
                    return Ok(Object::$variant(strict(place, kind, value)?));
                }
            )*
            Err(DeployError::UnsupportedKind {
                place: place.to_owned(),
                kind: kind.to_owned(),
                api_version: api_version.to_owned(),
            })
        }
    };
}

kinds! {
    Namespace: "v1",
    Service: "v1",
    ConfigMap: "v1",
    Secret: "v1",
    ServiceAccount: "v1",
    PersistentVolumeClaim: "v1",
    ResourceQuota: "v1",
    LimitRange: "v1",
    Deployment: "apps/v1",
    StatefulSet: "apps/v1",
    DaemonSet: "apps/v1",
    Job: "batch/v1",
    CronJob: "batch/v1",
    HorizontalPodAutoscaler: "autoscaling/v2",
    Ingress: "networking.k8s.io/v1",
    NetworkPolicy: "networking.k8s.io/v1",
    PodDisruptionBudget: "policy/v1",
    Role: "rbac.authorization.k8s.io/v1",
    RoleBinding: "rbac.authorization.k8s.io/v1",
    ClusterRole: "rbac.authorization.k8s.io/v1",
    ClusterRoleBinding: "rbac.authorization.k8s.io/v1",
}

/// An object with where it came from.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `file#document-index`, for messages.
    pub place: String,
    pub kind: String,
    pub name: String,
    /// The namespace written in the document, if any (kustomize fills it in later).
    pub namespace: Option<String>,
    pub object: Object,
}

impl Manifest {
    /// The pod template of a workload, `None` for other kinds.
    pub fn pod_spec(&self) -> Option<&PodSpec> {
        match &self.object {
            Object::Deployment(d) => d.spec.template.spec.as_ref(),
            Object::StatefulSet(s) => s.spec.template.spec.as_ref(),
            Object::DaemonSet(d) => d.spec.template.spec.as_ref(),
            Object::Job(j) => j.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            Object::CronJob(c) => c
                .spec
                .job_template
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref()),
            _ => None,
        }
    }

    /// The containers of a workload (empty for other kinds).
    pub fn containers(&self) -> &[Container] {
        self.pod_spec()
            .map_or(&[], |spec| spec.containers.as_slice())
    }
}

/// Is this YAML document a kustomize file rather than a Kubernetes object?
fn is_kustomize(kind: &str) -> bool {
    matches!(kind, "Kustomization" | "Component")
}

/// Parses every document of a multi-document YAML text. Kustomize files are skipped (see
/// [`crate::kustomize`]); empty documents are skipped.
pub fn parse_documents(text: &str, source: &str) -> Result<Vec<Manifest>, DeployError> {
    let mut manifests = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let place = format!("{source}#{index}");
        let value: serde_yaml::Value =
            serde::Deserialize::deserialize(document).map_err(|source| DeployError::Yaml {
                place: place.clone(),
                what: "a Kubernetes manifest",
                source,
            })?;
        if value.is_null() {
            continue;
        }
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            return Err(DeployError::MissingTypeMeta { place });
        };
        if is_kustomize(&kind) {
            continue;
        }
        let metadata = value.get("metadata");
        let name = metadata
            .and_then(|m| m.get("name"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let namespace = metadata
            .and_then(|m| m.get("namespace"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let object = typed(&place, &api_version, &kind, value)?;
        manifests.push(Manifest {
            place,
            kind,
            name,
            namespace,
            object,
        });
    }
    Ok(manifests)
}

/// Deserialises `value` into `T`, failing on any field `T` would have ignored.
pub fn strict<T: DeserializeOwned>(
    place: &str,
    kind: &str,
    value: serde_yaml::Value,
) -> Result<Box<T>, DeployError> {
    let mut unknown = Vec::new();
    // serde_ignored writes an `Option` layer as `?`: drop it so the path reads as in the YAML.
    let parsed: T = serde_ignored::deserialize(value, |path| {
        unknown.push(path.to_string().replace(".?", "").replace("?.", ""));
    })
    .map_err(|source| DeployError::Yaml {
        place: place.to_owned(),
        what: "its Kubernetes kind",
        source,
    })?;
    if unknown.is_empty() {
        Ok(Box::new(parsed))
    } else {
        Err(DeployError::UnknownFields {
            place: place.to_owned(),
            kind: kind.to_owned(),
            fields: unknown,
        })
    }
}

/// The value of an environment variable set literally on a container.
pub fn env_value<'a>(container: &'a Container, name: &str) -> Option<&'a str> {
    container
        .env
        .as_ref()?
        .iter()
        .find(|var| var.name == name)?
        .value
        .as_deref()
}

/// The names of the environment variables set on a container (literal or from a reference).
pub fn env_names(container: &Container) -> Vec<&str> {
    container
        .env
        .iter()
        .flatten()
        .map(|var| var.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_field_is_reported_with_its_path() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicaz: 3\n  selector: {}\n  template: {}\n";
        let error = parse_documents(text, "test.yaml").expect_err("replicaz must be refused");
        match error {
            DeployError::UnknownFields { fields, .. } => {
                assert_eq!(fields, vec!["spec.replicaz".to_owned()]);
            }
            other => panic!("expected UnknownFields, got {other}"),
        }
    }

    #[test]
    fn a_known_manifest_parses_and_keeps_its_name_and_namespace() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  ports:\n    - port: 8082\n---\n";
        let manifests = parse_documents(text, "test.yaml").expect("a valid Service");
        assert_eq!(manifests.len(), 1);
        assert_eq!(manifests[0].name, "api");
        assert_eq!(manifests[0].namespace.as_deref(), Some("shop"));
    }

    #[test]
    fn a_kind_kubernetes_does_not_have_is_refused_by_name() {
        let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicey\nmetadata:\n  name: x\n";
        let error = parse_documents(text, "test.yaml").expect_err("no such kind");
        assert!(error.to_string().contains("NetworkPolicey"), "{error}");
    }

    #[test]
    fn the_kinds_a_workshop_needs_are_accepted_and_checked_strictly() {
        let policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";
        assert_eq!(parse_documents(policy, "t.yaml").expect("valid").len(), 1);
        let typo = policy.replace("policyTypes", "policyType");
        let error = parse_documents(&typo, "t.yaml").expect_err("policyType is not a field");
        assert!(error.to_string().contains("spec.policyType"), "{error}");
    }
}
