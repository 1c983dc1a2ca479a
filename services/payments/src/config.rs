//! The payments service's configuration, from defaults then environment variables.

use dojo_faults::FaultConfig;

/// Everything payments needs to start.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Admin token and start-up scenario.
    pub faults: FaultConfig,
    /// The port of the network proxy in front of payments (0: any free port), as written in
    /// the environment (checked when payments starts); none when unset.
    pub proxy_port: Option<String>,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Config {
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads the configuration from any source of variables.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Config {
        Config {
            faults: FaultConfig::from_lookup(lookup),
            proxy_port: lookup(dojo_defaults::env::PAYMENTS_PROXY_PORT),
        }
    }
}
