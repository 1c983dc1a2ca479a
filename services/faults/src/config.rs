//! The fault settings every service reads at start: the admin token and the scenario file.

use std::path::PathBuf;

use dojo_defaults::env;

use crate::admin::AdminToken;
use crate::catalogue::Service;
use crate::registry::Faults;
use crate::scenario::{ScenarioError, apply_file};

/// Fault settings of one service.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    /// Guards `/admin/faults` when set (`DOJO_ADMIN_TOKEN`).
    pub admin_token: Option<AdminToken>,
    /// Faults to switch on at start (`DOJO_FAULT_SCENARIO`).
    pub scenario: Option<PathBuf>,
}

impl FaultConfig {
    /// Reads the settings from any source of variables.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> FaultConfig {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        FaultConfig {
            admin_token: get(env::ADMIN_TOKEN).map(AdminToken::new),
            scenario: get(env::FAULT_SCENARIO).map(PathBuf::from),
        }
    }

    /// The service's fault registry with the scenario applied.
    pub fn start(&self, service: Service) -> Result<Faults, ScenarioError> {
        let faults = Faults::new(service);
        if let Some(path) = &self.scenario {
            for fault in apply_file(&faults, path)? {
                tracing::info!(fault = %fault.id, scenario = %path.display(), "fault on from the scenario");
            }
        }
        Ok(faults)
    }
}
