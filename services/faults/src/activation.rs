//! A fault activation as a client sends it (JSON in the admin API, YAML in a scenario file),
//! and its validation into an [`ActiveFault`] with every parameter checked and defaulted.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::active::ActiveFault;
use crate::catalogue::{FaultId, ParamKind, ParamValue};
use crate::error::FaultError;
use crate::release::ReleaseVersion;

/// What a client may send to switch a fault on; every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequest {
    /// Share of eligible requests hit, 0 to 1 (the fault's default when absent).
    pub fraction: Option<f64>,
    /// Seed of the hit/miss sequence, so a run can be repeated (random when absent).
    pub seed: Option<u64>,
    /// Only requests whose `learner.id` baggage is in this list are hit (all when absent).
    pub learners: Option<Vec<String>>,
    /// Only a service running this release (`service.version`) is hit: a fault that comes
    /// with a deploy (all releases when absent).
    pub version: Option<String>,
    /// The fault's own parameters by name.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

impl ActivationRequest {
    /// Checks everything against the catalogue entry of `id`.
    pub fn validate(self, id: FaultId) -> Result<ActiveFault, FaultError> {
        let spec = id.spec();
        let fraction = self.fraction.unwrap_or(spec.default_fraction);
        if !(0.0..=1.0).contains(&fraction) || fraction.is_nan() {
            return Err(FaultError::InvalidFraction(fraction));
        }
        let learners = match self.learners {
            None => None,
            Some(list) => {
                let mut set = BTreeSet::new();
                for learner in list {
                    if !dojo_telemetry::propagation::is_valid_id(&learner) {
                        return Err(FaultError::InvalidLearner(learner));
                    }
                    set.insert(learner);
                }
                Some(set)
            }
        };
        let known = || {
            spec.params
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        for name in self.params.keys() {
            if !spec.params.iter().any(|param| param.name == name) {
                let known = if spec.params.is_empty() {
                    "(none)".to_owned()
                } else {
                    known()
                };
                return Err(FaultError::UnknownParameter {
                    id,
                    name: name.clone(),
                    known,
                });
            }
        }
        let mut params = BTreeMap::new();
        for param in spec.params {
            let value = match self.params.get(param.name) {
                None => param.default,
                Some(raw) => {
                    parse_value(param.kind, raw).map_err(|reason| FaultError::InvalidParameter {
                        id,
                        name: param.name.to_owned(),
                        reason,
                    })?
                }
            };
            params.insert(param.name, value);
        }
        // Kept in its canonical form (`v2.0.0` is `2.0.0`), the form the process's own
        // release is compared in.
        let version = match self.version {
            Some(version) => match ReleaseVersion::parse(&version) {
                Ok(parsed) => Some(parsed.to_string()),
                Err(_) => return Err(FaultError::InvalidVersion(version)),
            },
            None => None,
        };
        let seed = self.seed.unwrap_or_else(rand::random);
        Ok(ActiveFault {
            id,
            fraction,
            seed,
            learners,
            version,
            params,
        })
    }
}

fn parse_value(kind: ParamKind, raw: &serde_json::Value) -> Result<ParamValue, String> {
    match kind {
        ParamKind::Integer { min, max } => match raw.as_i64() {
            Some(value) if (min..=max).contains(&value) => Ok(ParamValue::Integer(value)),
            _ => Err(format!(
                "must be a whole number from {min} to {max}, got {raw}"
            )),
        },
        ParamKind::Number { min, max } => match raw.as_f64() {
            Some(value) if (min..=max).contains(&value) => Ok(ParamValue::Number(value)),
            _ => Err(format!("must be a number from {min} to {max}, got {raw}")),
        },
        ParamKind::Choice { choices } => raw
            .as_str()
            .and_then(|text| choices.iter().find(|choice| **choice == text))
            .map(|choice| ParamValue::Choice(choice))
            .ok_or_else(|| format!("must be one of {}, got {raw}", choices.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: serde_json::Value) -> ActivationRequest {
        serde_json::from_value(body).expect("well-formed request")
    }

    #[test]
    fn an_empty_request_takes_every_default() {
        let fault = ActivationRequest::default()
            .validate(FaultId::SlowQuery)
            .expect("valid");
        assert_eq!(fault.fraction, 1.0);
        assert_eq!(
            fault.params.get("delay_ms"),
            Some(&ParamValue::Integer(800))
        );
        assert!(fault.learners.is_none());
    }

    #[test]
    fn given_values_are_kept() {
        let fault = request(json!({"fraction": 0.25, "seed": 9, "learners": ["ada"], "params": {"route": "/orders"}}))
            .validate(FaultId::ErrorRate)
            .expect("valid");
        assert_eq!((fault.fraction, fault.seed), (0.25, 9));
        assert_eq!(
            fault.params.get("route"),
            Some(&ParamValue::Choice("/orders"))
        );
        assert!(fault.learners.expect("scoped").contains("ada"));
    }

    #[test]
    fn bad_requests_are_rejected_with_a_specific_error() {
        let cases = [
            (
                "fraction above one",
                FaultId::SlowQuery,
                json!({"fraction": 1.5}),
                "invalid_fraction",
            ),
            (
                "unknown parameter",
                FaultId::SlowQuery,
                json!({"params": {"delay": 5}}),
                "unknown_parameter",
            ),
            (
                "negative delay",
                FaultId::SlowQuery,
                json!({"params": {"delay_ms": -5}}),
                "invalid_parameter",
            ),
            (
                "delay as text",
                FaultId::PaymentsSlow,
                json!({"params": {"delay_ms": "slow"}}),
                "invalid_parameter",
            ),
            (
                "unknown choice",
                FaultId::PaymentsFailing,
                json!({"params": {"mode": "explode"}}),
                "invalid_parameter",
            ),
            (
                "ratio above one",
                FaultId::SamplingMisconfig,
                json!({"params": {"ratio": 2}}),
                "invalid_parameter",
            ),
            (
                "learner with spaces",
                FaultId::SlowQuery,
                json!({"learners": ["a b"]}),
                "invalid_learner",
            ),
            (
                "a version that is not a release",
                FaultId::SlowQuery,
                json!({"version": "latest"}),
                "invalid_version",
            ),
        ];
        for (description, id, body, code) in cases {
            let error = request(body).validate(id).expect_err(description);
            assert_eq!(error.code(), code, "{description}: {error}");
        }
    }

    #[test]
    fn unknown_top_level_fields_are_rejected() {
        let error = serde_json::from_value::<ActivationRequest>(json!({"delay_ms": 5}))
            .expect_err("delay_ms belongs under params");
        assert!(error.to_string().contains("delay_ms"), "{error}");
    }
}
