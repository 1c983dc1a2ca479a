//! Reading lab specs from disk: one file, or every `labs/*/lab.yaml` of a repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::types::{Exercise, Lab};
use super::validate::{Problem, SpecError, validate};

/// Every lab found in a folder, by id, each already validated.
#[derive(Debug, Clone, Default)]
pub struct LabSet {
    labs: BTreeMap<String, Arc<Lab>>,
}

impl LabSet {
    /// Builds a set from labs already validated (tests and embedders).
    pub fn from_labs(labs: impl IntoIterator<Item = Lab>) -> Self {
        LabSet {
            labs: labs
                .into_iter()
                .map(|lab| (lab.id.clone(), Arc::new(lab)))
                .collect(),
        }
    }

    /// The lab with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Lab>> {
        self.labs.get(id)
    }

    /// The lab and one of its exercises.
    pub fn exercise(&self, lab: &str, exercise: &str) -> Option<(&Arc<Lab>, &Exercise)> {
        let lab = self.labs.get(lab)?;
        let exercise = lab.exercises.iter().find(|e| e.id == exercise)?;
        Some((lab, exercise))
    }

    /// All labs, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Lab>> {
        self.labs.values()
    }

    pub fn len(&self) -> usize {
        self.labs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labs.is_empty()
    }
}

/// The fault ids a spec may name: the catalogue's.
pub fn fault_ids() -> Vec<&'static str> {
    dojo_faults::FaultId::ALL
        .iter()
        .map(|id| id.as_str())
        .collect()
}

/// Reads and validates one `lab.yaml`.
pub fn load_file(path: &Path) -> Result<Lab, SpecError> {
    let known_faults = fault_ids();
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let lab: Lab = serde_yaml::from_str(&text).map_err(|e| SpecError::Yaml {
        file: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let folder_path = path.parent();
    let folder = folder_path
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    let starter_exists = match (&lab.starter, folder_path) {
        (Some(starter), Some(dir)) => Some(dir.join(starter).is_dir()),
        _ => None,
    };
    let mut problems = validate(&lab, folder, &known_faults, starter_exists);
    if let Some(dir) = folder_path {
        for (i, language) in lab.languages.iter().enumerate() {
            if !dir.join(&language.dir).is_dir() {
                problems.push(Problem {
                    field: format!("languages[{i}].dir"),
                    problem: format!("the folder `{}` does not exist", language.dir),
                    fix: "give a path relative to the lab's folder".into(),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(lab)
    } else {
        Err(SpecError::Invalid {
            file: path.to_path_buf(),
            problems,
        })
    }
}

/// Loads every `<dir>/*/lab.yaml`. Folders without a `lab.yaml` are skipped; the first
/// invalid lab stops the load, since a half-loaded course would confuse learners.
pub fn load_dir(dir: &Path) -> Result<LabSet, SpecError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SpecError::Read {
        file: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("lab.yaml"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut labs: BTreeMap<String, (PathBuf, Arc<Lab>)> = BTreeMap::new();
    for file in files {
        let lab = load_file(&file)?;
        if let Some((other, _)) = labs.get(&lab.id) {
            return Err(SpecError::DuplicateLab {
                file,
                id: lab.id.clone(),
                other: other.clone(),
            });
        }
        labs.insert(lab.id.clone(), (file, Arc::new(lab)));
    }
    Ok(LabSet {
        labs: labs.into_iter().map(|(id, (_, lab))| (id, lab)).collect(),
    })
}
