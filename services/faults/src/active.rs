//! A fault once switched on: its validated parameters, its share of requests and the learners
//! it is scoped to. The registry keeps these; activation makes them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::catalogue::{FaultId, ParamValue};

/// A validated, active fault with all its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveFault {
    pub id: FaultId,
    /// Share of eligible requests hit.
    pub fraction: f64,
    /// Seed of the hit/miss sequence.
    pub seed: u64,
    /// When set, only these learners' requests are hit.
    pub learners: Option<BTreeSet<String>>,
    /// When set, only a service running this release is hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Every parameter of the fault, given or defaulted.
    pub params: BTreeMap<&'static str, ParamValue>,
}

impl ActiveFault {
    /// A whole-number parameter (milliseconds, ids); 0 if the fault has no such parameter.
    pub fn integer(&self, name: &str) -> i64 {
        match self.params.get(name) {
            Some(ParamValue::Integer(value)) => *value,
            _ => 0,
        }
    }

    /// A millisecond parameter as a duration.
    pub fn millis(&self, name: &str) -> Duration {
        Duration::from_millis(u64::try_from(self.integer(name)).unwrap_or(0))
    }

    /// A ratio parameter; 0 if the fault has no such parameter.
    pub fn number(&self, name: &str) -> f64 {
        match self.params.get(name) {
            Some(ParamValue::Number(value)) => *value,
            Some(ParamValue::Integer(value)) => *value as f64,
            _ => 0.0,
        }
    }

    /// A choice parameter; empty if the fault has no such parameter.
    pub fn choice(&self, name: &str) -> &'static str {
        match self.params.get(name) {
            Some(ParamValue::Choice(value)) => value,
            _ => "",
        }
    }

    pub(crate) fn applies_to(&self, learner: Option<&str>) -> bool {
        match (&self.learners, learner) {
            (None, _) => true,
            (Some(allowed), Some(learner)) => allowed.contains(learner),
            (Some(_), None) => false,
        }
    }
}
