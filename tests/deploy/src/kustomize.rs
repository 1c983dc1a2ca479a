//! kustomize files: a strict model of the fields this repository uses, the files they point at,
//! and running a real `kustomize build` when the tool is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::DeployError;

/// The fields of `kustomization.yaml` the lab uses. Anything else is refused, so a misspelt
/// `resource:` is caught here rather than silently dropped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub labels: Vec<LabelSet>,
    #[serde(default)]
    pub config_map_generator: Vec<Generator>,
    /// Secrets come only from git-ignored env files (`k8s/make-secrets.sh` writes them).
    #[serde(default)]
    pub secret_generator: Vec<Generator>,
}

/// One entry of `labels:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSet {
    pub pairs: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: Option<bool>,
}

/// One entry of `configMapGenerator:` or `secretGenerator:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub name: String,
    #[serde(default)]
    pub behavior: Option<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub literals: Vec<String>,
    /// `KEY=value` files (a secretGenerator's git-ignored `secrets.env`).
    #[serde(default)]
    pub envs: Vec<String>,
}

impl Generator {
    /// The local files of `files:` entries (`key=path` or `path`).
    pub fn file_paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|entry| {
            entry
                .split_once('=')
                .map_or(entry.as_str(), |(_, path)| path)
        })
    }

    /// `KEY=value` literals as pairs.
    pub fn literal_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.literals
            .iter()
            .filter_map(|entry| entry.split_once('='))
    }
}

/// Loads `dir/kustomization.yaml`.
pub fn load(dir: &Path) -> Result<Kustomization, DeployError> {
    let path = dir.join("kustomization.yaml");
    let text = crate::repo::read_path(&path)?;
    let kustomization: Kustomization =
        serde_yaml::from_str(&text).map_err(|source| DeployError::Yaml {
            place: crate::repo::display(&path),
            what: "a kustomization",
            source,
        })?;
    Ok(kustomization)
}

/// Every kustomization directory reachable from `dir` through `resources:` (including `dir`).
pub fn tree(dir: &Path) -> Result<Vec<(PathBuf, Kustomization)>, DeployError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let kustomization = load(&current)?;
        for resource in &kustomization.resources {
            let target = current.join(resource);
            if target.join("kustomization.yaml").is_file() {
                pending.push(target);
            }
        }
        found.push((current, kustomization));
    }
    Ok(found)
}

/// The files and directories a kustomization names that do not exist.
pub fn missing_references(dir: &Path, kustomization: &Kustomization) -> Vec<String> {
    let resources = kustomization
        .resources
        .iter()
        .map(String::as_str)
        .filter(|resource| {
            let target = dir.join(resource);
            !(target.is_file() || target.join("kustomization.yaml").is_file())
        });
    let files = kustomization
        .config_map_generator
        .iter()
        .flat_map(Generator::file_paths)
        .filter(|file| !dir.join(file).is_file());
    // A secretGenerator's env files are made by k8s/make-secrets.sh and never committed.
    resources
        .chain(files)
        .map(|missing| format!("{}: {missing}", crate::repo::display(dir)))
        .collect()
}

/// How to run `kustomize build` on this machine, if at all.
#[derive(Debug, Clone)]
pub enum Tool {
    Kustomize(PathBuf),
    Kubectl(PathBuf),
}

impl Tool {
    /// Finds `kustomize`, or else `kubectl` (whose `kustomize` subcommand is the same tool).
    pub fn find() -> Option<Tool> {
        let path = std::env::var_os("PATH")?;
        let find = |name: &str| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        };
        find("kustomize")
            .map(Tool::Kustomize)
            .or_else(|| find("kubectl").map(Tool::Kubectl))
    }

    /// Renders the kustomization in `dir` to multi-document YAML.
    pub fn build(&self, dir: &Path) -> Result<String, DeployError> {
        let mut command = match self {
            Tool::Kustomize(path) => {
                let mut command = Command::new(path);
                command.arg("build");
                command
            }
            Tool::Kubectl(path) => {
                let mut command = Command::new(path);
                command.arg("kustomize");
                command
            }
        };
        let name = format!("{self:?}");
        let output = command
            .arg(dir)
            .output()
            .map_err(|error| DeployError::Tool {
                tool: name.clone(),
                message: error.to_string(),
            })?;
        if !output.status.success() {
            return Err(DeployError::Tool {
                tool: name,
                message: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        String::from_utf8(output.stdout).map_err(|error| DeployError::Tool {
            tool: name,
            message: format!("output is not UTF-8: {error}"),
        })
    }
}

/// The script that writes the git-ignored `secrets.env` files the secretGenerators read.
pub const MAKE_SECRETS: &str = "k8s/make-secrets.sh";

/// Renders `root` (a folder under `k8s/`, e.g. `k8s/base`) the way an instructor would: a copy
/// of `k8s/` in a scratch folder, `make-secrets.sh` run in it, then `kustomize build`. The
/// repository's own folder is not touched (its `secrets.env` files are the instructor's).
pub fn render_with_secrets(tool: &Tool, root: &str) -> Result<String, DeployError> {
    let failed = |message: String| DeployError::Tool {
        tool: MAKE_SECRETS.to_owned(),
        message,
    };
    let scratch = crate::scratch::TempDir::new("k8s-render").map_err(|e| failed(e.to_string()))?;
    let copy = scratch.path().join("k8s");
    crate::scratch::copy_tree(&crate::repo::path("k8s"), &copy)
        .map_err(|e| failed(format!("copying k8s/: {e}")))?;
    for stale in crate::repo::files_under(&copy, &["secrets.env"])? {
        std::fs::remove_file(&stale).map_err(|e| failed(e.to_string()))?;
    }
    let output = Command::new("sh")
        .arg(copy.join("make-secrets.sh"))
        .arg(&copy)
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let relative = root.strip_prefix("k8s/").unwrap_or(root);
    tool.build(&copy.join(relative))
}
