//! The frontend's configuration: defaults, then environment variables.

use dojo_defaults::{API_PORT, env};
use dojo_faults::FaultConfig;

/// Everything the frontend needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of the api tier.
    pub api_url: String,
    /// Admin token and start-up scenario.
    pub faults: FaultConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            api_url: format!("http://127.0.0.1:{API_PORT}"),
            faults: FaultConfig::default(),
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Config {
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads the configuration from any source of variables.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Config {
        let api_url = lookup(env::API_URL)
            .filter(|url| !url.trim().is_empty())
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| Config::default().api_url);
        Config {
            api_url,
            faults: FaultConfig::from_lookup(lookup),
        }
    }
}
