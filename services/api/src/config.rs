//! The api's configuration: defaults, then environment variables (names in
//! `dojo_defaults::env`).

use std::time::Duration;

use dojo_defaults::{PAYMENTS_PORT, env};
use dojo_faults::FaultConfig;

/// Everything the api needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite:` (default, a file under `.dojo/`) or `postgres://`.
    pub database_url: String,
    /// Connections in the pool; small on purpose, so `pool_exhaustion` bites.
    pub pool_size: u32,
    /// Base URL of the payments provider.
    pub payments_url: String,
    /// How long one charge attempt may take before the api gives up on it.
    pub payments_timeout: Duration,
    /// Attempts per charge (the first try plus retries).
    pub payments_attempts: u32,
    /// Admin token and start-up scenario.
    pub faults: FaultConfig,
    /// A canary of payments (another release) and the percent of charges it takes.
    pub payments_canary: Option<(String, u32)>,
}

/// A setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            database_url: "sqlite://.dojo/shop.db?mode=rwc".to_owned(),
            pool_size: 4,
            payments_url: format!("http://127.0.0.1:{PAYMENTS_PORT}"),
            payments_timeout: Duration::from_millis(2000),
            payments_attempts: 3,
            faults: FaultConfig::default(),
            payments_canary: None,
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads the configuration from any source of variables.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let number = |name: &'static str,
                      min: u64,
                      max: u64,
                      expected: &'static str|
         -> Result<Option<u64>, ConfigError> {
            match get(name) {
                None => Ok(None),
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(ConfigError {
                        name,
                        value,
                        expected,
                    }),
                },
            }
        };
        let defaults = Config::default();
        Ok(Config {
            database_url: get(env::DATABASE_URL).unwrap_or(defaults.database_url),
            pool_size: number(env::DB_POOL_SIZE, 1, 100, "a pool size from 1 to 100")?
                .map_or(defaults.pool_size, |n| n as u32),
            payments_url: get(env::PAYMENTS_URL)
                .map(|url| url.trim_end_matches('/').to_owned())
                .unwrap_or(defaults.payments_url),
            payments_timeout: number(
                env::PAYMENTS_TIMEOUT_MS,
                50,
                60_000,
                "milliseconds from 50 to 60000",
            )?
            .map_or(defaults.payments_timeout, Duration::from_millis),
            payments_attempts: number(env::PAYMENTS_ATTEMPTS, 1, 10, "a count from 1 to 10")?
                .map_or(defaults.payments_attempts, |n| n as u32),
            faults: FaultConfig::from_lookup(lookup),
            payments_canary: match get(env::PAYMENTS_CANARY_URL) {
                None => None,
                Some(url) => Some((
                    url.trim_end_matches('/').to_owned(),
                    number(
                        env::PAYMENTS_CANARY_PERCENT,
                        0,
                        100,
                        "a percent from 0 to 100",
                    )?
                    .map_or(20, |n| n as u32),
                )),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults_and_bad_values_are_named() {
        let config = Config::from_lookup(&|name| match name {
            "DATABASE_URL" => Some("postgres://db/shop".to_owned()),
            "DOJO_PAYMENTS_TIMEOUT_MS" => Some("750".to_owned()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(config.database_url, "postgres://db/shop");
        assert_eq!(config.payments_timeout, Duration::from_millis(750));
        assert_eq!(config.pool_size, 4);
        let error =
            Config::from_lookup(&|name| (name == "DOJO_DB_POOL_SIZE").then(|| "0".to_owned()))
                .expect_err("zero connections");
        assert!(error.to_string().contains("DOJO_DB_POOL_SIZE"), "{error}");
    }
}
