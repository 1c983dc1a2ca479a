//! Scenario files: the faults to switch on at start, in YAML, shared by all three services
//! (each takes the entries it injects). Example:
//!
//! ```yaml
//! faults:
//!   - id: slow_query
//!     params: { delay_ms: 900 }
//!   - id: payments_failing
//!     fraction: 0.5
//!     seed: 7
//!     learners: [ada]
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::activation::ActivationRequest;
use crate::active::ActiveFault;
use crate::catalogue::FaultId;
use crate::error::FaultError;
use crate::registry::Faults;

/// Why a scenario could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read the fault scenario {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the fault scenario {path} is not valid YAML of the form `faults: [{{id: ..., ...}}]`")]
    Parse {
        path: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("in the fault scenario {path}, entry {index} ({id}): {problem}")]
    Fault {
        path: String,
        index: usize,
        id: String,
        problem: FaultError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[serde(default)]
    faults: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    id: String,
    #[serde(flatten)]
    activation: ActivationRequest,
}

/// Reads `path` and switches on this service's faults from it. Every entry is validated, also
/// those of other services, so a typo anywhere stops every service with the same message.
pub fn apply_file(faults: &Faults, path: &Path) -> Result<Vec<ActiveFault>, ScenarioError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: shown.clone(),
        source,
    })?;
    apply_str(faults, &text, &shown)
}

/// As [`apply_file`], from text.
pub fn apply_str(
    faults: &Faults,
    text: &str,
    path: &str,
) -> Result<Vec<ActiveFault>, ScenarioError> {
    let scenario: Scenario = serde_yaml::from_str(text).map_err(|source| ScenarioError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let mut enabled = Vec::new();
    for (index, entry) in scenario.faults.into_iter().enumerate() {
        let fail = |problem| ScenarioError::Fault {
            path: path.to_owned(),
            index: index + 1,
            id: entry.id.clone(),
            problem,
        };
        let id = FaultId::parse(&entry.id).ok_or_else(|| fail(FaultError::unknown(&entry.id)))?;
        if id.spec().service != faults.service() {
            entry.activation.clone().validate(id).map_err(fail)?;
            continue;
        }
        enabled.push(faults.enable(id, entry.activation.clone()).map_err(fail)?);
    }
    Ok(enabled)
}

#[cfg(test)]
mod tests {
    use crate::catalogue::Service;

    use super::*;

    const SCENARIO: &str = "faults:\n  - id: slow_query\n    params: { delay_ms: 900 }\n  - id: payments_slow\n    fraction: 0.5\n    seed: 3\n";

    #[test]
    fn each_service_takes_only_its_own_faults() {
        let api = Faults::new(Service::Api);
        let enabled = apply_str(&api, SCENARIO, "test.yaml").expect("valid scenario");
        assert_eq!(enabled.len(), 1);
        assert_eq!(enabled[0].integer("delay_ms"), 900);
        let payments = Faults::new(Service::Payments);
        let enabled = apply_str(&payments, SCENARIO, "test.yaml").expect("valid scenario");
        assert_eq!((enabled[0].id, enabled[0].seed), (FaultId::PaymentsSlow, 3));
    }

    #[test]
    fn a_typo_names_the_file_entry_and_known_faults() {
        let api = Faults::new(Service::Api);
        let error = apply_str(&api, "faults:\n  - id: slow_qurey\n", "lab.yaml").expect_err("typo");
        let message = error.to_string();
        assert!(
            message.contains("lab.yaml")
                && message.contains("slow_qurey")
                && message.contains("slow_query"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_parameter_of_another_service_is_still_reported() {
        let api = Faults::new(Service::Api);
        let error = apply_str(
            &api,
            "faults:\n  - id: payments_slow\n    params: { delay_ms: -1 }\n",
            "lab.yaml",
        )
        .expect_err("negative delay");
        assert!(error.to_string().contains("delay_ms"), "{error}");
    }
}
