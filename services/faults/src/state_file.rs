//! The fault state file itself: the active faults written as a scenario file, whole or not at
//! all. [`crate::registry::Faults`] writes it on every change; [`crate::state`] explains why.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::active::ActiveFault;

/// Why the state could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the fault state {path}")]
pub struct StateError {
    path: String,
    #[source]
    pub source: std::io::Error,
}

/// The file as written: the scenario format, so [`crate::scenario::apply_file`] reads it back.
#[derive(Serialize)]
struct StateFile<'a> {
    faults: &'a [ActiveFault],
}

/// The active faults as scenario text (JSON, which is also YAML).
pub fn render(active: &[ActiveFault]) -> String {
    serde_json::to_string_pretty(&StateFile { faults: active })
        .unwrap_or_else(|_| "{\"faults\": []}".to_owned())
}

/// Writes the active faults to `path` whole or not at all (a temporary file renamed over it),
/// so a new instance never reads half a state.
pub fn write(path: &Path, active: &[ActiveFault]) -> Result<(), StateError> {
    let fail = |source| StateError {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut temporary = PathBuf::from(path);
    temporary.set_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, render(active)).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}

/// Whether a state file has been written at `path` (by this instance or an earlier one).
pub fn exists(path: &Path) -> bool {
    path.is_file()
}
