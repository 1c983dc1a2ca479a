//! Why the course could not be loaded: a file that cannot be read or a table of contents
//! that does not parse, each naming the file.

use std::path::PathBuf;

/// Why the course could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("content/SUMMARY.md: {0}")]
    Summary(String),
}
