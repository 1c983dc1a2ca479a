//! The one error type of this crate: a file that could not be read or does not parse.
//!
//! Problems found in a file that *does* parse (an unknown collector component, a port that
//! disagrees) are not errors: the checks return them as lists of findings, so a test can show
//! all of them at once.

use std::path::PathBuf;

/// Why a deployment file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{place} is not valid YAML for {what}: {source}")]
    Yaml {
        place: String,
        what: &'static str,
        source: serde_yaml::Error,
    },
    #[error("{place} is not valid JSON for {what}: {source}")]
    Json {
        place: String,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("{place}: a {kind} with fields Kubernetes does not know (a typo?): {}", fields.join(", "))]
    UnknownFields {
        place: String,
        kind: String,
        fields: Vec<String>,
    },
    #[error(
        "{place}: kind {kind} (apiVersion {api_version}) is not one this lab deploys; add it to the kinds! list in kube.rs if Kubernetes has it"
    )]
    UnsupportedKind {
        place: String,
        kind: String,
        api_version: String,
    },
    #[error("Dockerfile: {message}")]
    Dockerfile { message: String },
    #[error("{place}: {message}")]
    Interpolation { place: String, message: String },
    #[error("{place}: a document without apiVersion and kind")]
    MissingTypeMeta { place: String },
    #[error("running {tool} failed: {message}")]
    Tool { tool: String, message: String },
}
