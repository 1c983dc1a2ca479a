//! The record a running `dojo up` keeps in its data directory (`lab.json`): where its trace
//! store answers and whose scenario variant it switched on, so `dojo grade` grades against
//! *this* lab — not whatever happens to listen on the default port — and refuses a learner
//! whose variant is not the one running.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file name inside the data directory.
const FILE: &str = "lab.json";

/// What `dojo up` records about itself while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningLab {
    /// The Tempo HTTP API the lab's traces are read from.
    pub tempo_url: String,
    /// The course site.
    pub course_url: String,
    /// The lab whose fault scenario is switched on, if any.
    pub lab: Option<String>,
    /// The learner whose variant is switched on: the name given to `--learner` and the id
    /// derived from it. `None` in a workshop, where every learner who joins gets their own.
    pub learner: Option<RunningLearner>,
    /// The process id of `dojo up`, to tell a record left by a crash from a live one.
    pub pid: u32,
    /// The control API `dojo deploy` asks for rollouts (guarded by the token in
    /// `control.token`); absent in records written before it existed.
    #[serde(default)]
    pub control_url: Option<String>,
    /// Where the lab's services send OTLP/HTTP, so the pipeline's traces go there too.
    #[serde(default)]
    pub otlp_http_url: Option<String>,
    /// `(name, base URL)` of the shop's services, whose fault admin APIs `dojo grade` uses
    /// to switch a fault for an alert exercise; empty in records written before it existed.
    #[serde(default)]
    pub services: Vec<(String, String)>,
}

/// The learner whose scenario variant a single-learner lab runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningLearner {
    pub name: String,
    pub id: String,
}

impl RunningLab {
    /// Where the record of a lab with this data directory lives.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE)
    }

    /// Writes the record (replacing any older one).
    pub fn write(&self, data_dir: &Path) -> anyhow::Result<PathBuf> {
        let path = Self::path(data_dir);
        let text = serde_json::to_string_pretty(self).context("encoding the lab record")?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Reads the record of the lab using `data_dir`; `Ok(None)` when there is none.
    pub fn read(data_dir: &Path) -> anyhow::Result<Option<RunningLab>> {
        let path = Self::path(data_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("reading {}", path.display()));
            }
        };
        serde_json::from_str(&text).map(Some).with_context(|| {
            format!(
                "{} is not a lab record written by `dojo up`; delete it and start the lab again",
                path.display()
            )
        })
    }

    /// Whether the `dojo up` that wrote the record still runs (a record left by a crash or a
    /// kill is not). Where `/proc` is missing, a record is taken at its word.
    pub fn is_alive(&self) -> bool {
        let proc = Path::new("/proc");
        !proc.is_dir() || proc.join(self.pid.to_string()).exists()
    }

    /// Removes the record when the lab stops.
    pub fn remove(data_dir: &Path) {
        let _ = std::fs::remove_file(Self::path(data_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_missing_one_is_none() {
        let dir = std::env::temp_dir().join(format!("dojo-running-lab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        RunningLab::remove(&dir);
        assert_eq!(RunningLab::read(&dir).expect("readable"), None);
        let lab = RunningLab {
            tempo_url: "http://127.0.0.1:3200".into(),
            course_url: "http://127.0.0.1:8080".into(),
            lab: Some("intermittent-slowness".into()),
            learner: Some(RunningLearner {
                name: "Ada".into(),
                id: "ada-12345678".into(),
            }),
            pid: 42,
            control_url: Some("http://127.0.0.1:40000".into()),
            otlp_http_url: Some("http://127.0.0.1:4318".into()),
            services: vec![("api".into(), "http://127.0.0.1:8082".into())],
        };
        lab.write(&dir).expect("writable");
        assert_eq!(RunningLab::read(&dir).expect("readable"), Some(lab));
        std::fs::write(RunningLab::path(&dir), "not json").expect("writable");
        let error = RunningLab::read(&dir).expect_err("garbage is refused");
        assert!(
            format!("{error:#}").contains("not a lab record"),
            "{error:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
