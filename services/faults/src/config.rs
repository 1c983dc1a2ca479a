//! The fault settings every service reads at start: the admin token, the scenario file and the
//! state file a previous instance handed its faults on in.

use std::path::PathBuf;

use dojo_defaults::env;

use crate::admin::AdminToken;
use crate::catalogue::Service;
use crate::registry::Faults;
use crate::scenario::{ScenarioError, apply_file};
use crate::{state, state_file};

/// Fault settings of one service.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    /// Guards `/admin/faults` when set (`DOJO_ADMIN_TOKEN`).
    pub admin_token: Option<AdminToken>,
    /// Faults to switch on at start (`DOJO_FAULT_SCENARIO`).
    pub scenario: Option<PathBuf>,
    /// Where the service keeps its current faults for its next instance
    /// (`DOJO_FAULT_STATE`, see [`crate::state`]); when it already exists at start, it is the
    /// state to start from and the scenario is not applied again.
    pub state_file: Option<PathBuf>,
    /// Another instance to follow (`DOJO_FAULT_FOLLOW`, see [`crate::state`]): its state file,
    /// or its base URL (`http://payments:8083`) when it runs in another container; a canary
    /// breaks the way the stable release does, toggles included.
    pub follow: Option<Followed>,
    /// The release this service runs (`service.version` in `OTEL_RESOURCE_ATTRIBUTES`, else
    /// the build's own), for faults bound to a release.
    pub version: String,
}

/// What a follower follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// A state file on the same machine (`dojo up`).
    File(PathBuf),
    /// Another instance's admin API, by its base URL (compose, Kubernetes).
    Service(String),
}

impl Followed {
    /// A URL when the value starts with `http://` or `https://`, else a file path.
    pub fn parse(value: &str) -> Followed {
        let value = value.trim();
        if value.starts_with("http://") || value.starts_with("https://") {
            Followed::Service(value.trim_end_matches('/').to_owned())
        } else {
            Followed::File(PathBuf::from(value))
        }
    }
}

impl FaultConfig {
    /// Reads the settings from any source of variables.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> FaultConfig {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        FaultConfig {
            admin_token: get(env::ADMIN_TOKEN).map(AdminToken::new),
            scenario: get(env::FAULT_SCENARIO).map(PathBuf::from),
            state_file: get(env::FAULT_STATE).map(PathBuf::from),
            follow: get(env::FAULT_FOLLOW).map(|value| Followed::parse(&value)),
            version: get(env::OTEL_RESOURCE_ATTRIBUTES)
                .and_then(|attributes| {
                    attributes.split(',').find_map(|pair| {
                        let (key, value) = pair.split_once('=')?;
                        (key.trim() == "service.version").then(|| value.trim().to_owned())
                    })
                })
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
        }
    }

    /// The service's fault registry with the faults of its previous instance (from the state
    /// file), or else the scenario, applied.
    pub fn start(&self, service: Service) -> Result<Faults, ScenarioError> {
        let faults = Faults::for_release(service, &self.version);
        match &self.follow {
            Some(Followed::File(path)) => {
                state::follow(&faults, path.clone());
                return Ok(faults);
            }
            Some(Followed::Service(url)) => {
                state::follow_service(&faults, url.clone(), self.admin_token.clone());
                return Ok(faults);
            }
            None => {}
        }
        match (&self.state_file, &self.scenario) {
            (Some(state), _) if state_file::exists(state) => {
                for fault in apply_file(&faults, state)? {
                    tracing::info!(fault = %fault.id, state = %state.display(), "fault on, carried over from the previous instance");
                }
            }
            (_, Some(path)) => {
                for fault in apply_file(&faults, path)? {
                    tracing::info!(fault = %fault.id, scenario = %path.display(), "fault on from the scenario");
                }
            }
            _ => {}
        }
        if let Some(state) = &self.state_file {
            faults.persist_to(state.clone());
            state::share(&faults, state.clone());
        }
        Ok(faults)
    }
}
