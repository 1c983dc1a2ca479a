//! Kubernetes manifests read strictly into the API types of `k8s-openapi`.
//!
//! `k8s-openapi` silently ignores fields it does not know, so `replicaz: 3` or a probe indented
//! one level too deep would pass a plain deserialisation and then be dropped by the API server.
//! Every document here is deserialised through `serde_ignored`, and any ignored field is an error
//! that names its path.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PodSpec, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::de::DeserializeOwned;

use crate::DeployError;

/// One Kubernetes object of a kind this lab deploys.
#[derive(Debug, Clone)]
pub enum Object {
    Namespace(Box<Namespace>),
    Deployment(Box<Deployment>),
    StatefulSet(Box<StatefulSet>),
    DaemonSet(Box<DaemonSet>),
    Service(Box<Service>),
    ConfigMap(Box<ConfigMap>),
    Secret(Box<Secret>),
    ServiceAccount(Box<ServiceAccount>),
    ClusterRole(Box<ClusterRole>),
    ClusterRoleBinding(Box<ClusterRoleBinding>),
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

fn typed(
    place: &str,
    api_version: &str,
    kind: &str,
    value: serde_yaml::Value,
) -> Result<Object, DeployError> {
    Ok(match (api_version, kind) {
        ("v1", "Namespace") => Object::Namespace(strict(place, kind, value)?),
        ("v1", "Service") => Object::Service(strict(place, kind, value)?),
        ("v1", "ConfigMap") => Object::ConfigMap(strict(place, kind, value)?),
        ("v1", "Secret") => Object::Secret(strict(place, kind, value)?),
        ("v1", "ServiceAccount") => Object::ServiceAccount(strict(place, kind, value)?),
        ("apps/v1", "Deployment") => Object::Deployment(strict(place, kind, value)?),
        ("apps/v1", "StatefulSet") => Object::StatefulSet(strict(place, kind, value)?),
        ("apps/v1", "DaemonSet") => Object::DaemonSet(strict(place, kind, value)?),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            Object::ClusterRole(strict(place, kind, value)?)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            Object::ClusterRoleBinding(strict(place, kind, value)?)
        }
        _ => {
            return Err(DeployError::UnsupportedKind {
                place: place.to_owned(),
                kind: kind.to_owned(),
                api_version: api_version.to_owned(),
            });
        }
    })
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
    fn a_kind_the_lab_does_not_deploy_is_refused_by_name() {
        let text = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: x\n";
        let error = parse_documents(text, "test.yaml").expect_err("CronJob is not deployed");
        assert!(error.to_string().contains("CronJob"), "{error}");
    }
}
