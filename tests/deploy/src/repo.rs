//! Where the repository's files are, independent of the directory the tests run from.

use std::path::{Path, PathBuf};

use crate::DeployError;

/// The repository root (this crate lives at `tests/deploy`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        // The manifest directory exists while its tests run, so canonicalising it cannot fail
        // in practice; fall back to the uncanonicalised path rather than panic.
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A path relative to the repository root.
pub fn path(relative: &str) -> PathBuf {
    root().join(relative)
}

/// Reads a file relative to the repository root.
pub fn read(relative: &str) -> Result<String, DeployError> {
    read_path(&path(relative))
}

/// Reads a file at an absolute path.
pub fn read_path(path: &Path) -> Result<String, DeployError> {
    std::fs::read_to_string(path).map_err(|source| DeployError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every file under `dir` (recursively) whose name ends with one of `extensions`, sorted.
pub fn files_under(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, DeployError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|source| DeployError::Read {
            path: current.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| DeployError::Read {
                path: current.clone(),
                source,
            })?;
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| extensions.iter().any(|ext| name.ends_with(ext)))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A path shown relative to the repository root, for messages.
pub fn display(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}
