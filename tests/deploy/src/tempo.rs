//! Grafana Tempo configurations (monolithic mode, as pinned: Tempo 2.10): the top-level blocks
//! and metrics-generator processors that exist, and the ports the lab relies on.

use serde_yaml::Value;

use crate::DeployError;

/// Top-level blocks of a Tempo 2.x configuration file.
pub const KNOWN_BLOCKS: &[&str] = &[
    "target",
    "http_api_prefix",
    "multitenancy_enabled",
    "stream_over_http_enabled",
    "server",
    "internal_server",
    "distributor",
    "ingester_client",
    "metrics_generator_client",
    "querier",
    "query_frontend",
    "frontend_worker",
    "compactor",
    "ingester",
    "metrics_generator",
    "storage",
    "overrides",
    "memberlist",
    "usage_report",
    "cache",
    "backend_scheduler",
    "backend_worker",
];

/// The metrics-generator processors of Tempo 2.x (`local-blocks` is gone in Tempo 3).
pub const KNOWN_PROCESSORS: &[&str] = &["service-graphs", "span-metrics", "local-blocks"];

/// The recorded configuration keys of the pinned Tempo (see the file's header for the source).
pub const KEYS_FILE: &str = "tests/deploy/data/tempo-2.10.4-keys.yaml";

/// A parsed Tempo configuration.
#[derive(Debug, Clone)]
pub struct Config(pub Value);

/// Parses a Tempo configuration.
pub fn parse(text: &str, place: &str) -> Result<Config, DeployError> {
    serde_yaml::from_str(text)
        .map(Config)
        .map_err(|source| DeployError::Yaml {
            place: place.to_owned(),
            what: "a Tempo configuration",
            source,
        })
}

fn path<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .try_fold(value, |current, key| current.get(*key))
}

impl Config {
    /// Unknown blocks and processors, and a metrics-generator with no processor switched on.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.0.as_mapping() {
            Some(top) => {
                for key in top.keys() {
                    let key = key.as_str().unwrap_or("<not a string>");
                    if !KNOWN_BLOCKS.contains(&key) {
                        problems.push(format!("`{key}` is not a Tempo configuration block"));
                    }
                }
            }
            None => problems.push("the configuration is not a mapping".to_owned()),
        }
        let processors = self.generator_processors();
        if processors.is_empty() {
            problems.push(
                "overrides.defaults.metrics_generator.processors is empty: no service graph or span metrics"
                    .to_owned(),
            );
        }
        for processor in &processors {
            if !KNOWN_PROCESSORS.contains(&processor.as_str()) {
                problems.push(format!(
                    "`{processor}` is not a metrics-generator processor"
                ));
            }
        }
        problems
    }

    /// Keys the pinned Tempo does not have, at any depth, as messages.
    pub fn key_problems(&self, schema: &Value) -> Vec<String> {
        crate::keys::unknown_keys(&self.0, schema, "")
            .into_iter()
            .map(|path| format!("`{path}` is not a Tempo 2.10.4 configuration key (a typo?)"))
            .collect()
    }

    /// `storage.trace.block.version`: the block format new blocks are written in (Tempo 2.10
    /// writes vParquet4 when unset).
    pub fn block_version(&self) -> Option<&str> {
        path(&self.0, &["storage", "trace", "block", "version"]).and_then(Value::as_str)
    }

    /// `overrides.defaults.metrics_generator.processors`.
    pub fn generator_processors(&self) -> Vec<String> {
        path(
            &self.0,
            &["overrides", "defaults", "metrics_generator", "processors"],
        )
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
    }

    /// `server.http_listen_port` (Tempo's default is 3200 when unset).
    pub fn http_port(&self) -> Option<u64> {
        path(&self.0, &["server", "http_listen_port"]).and_then(Value::as_u64)
    }

    /// The OTLP receiver endpoints of the distributor, as `(protocol, endpoint)`.
    pub fn otlp_endpoints(&self) -> Vec<(String, String)> {
        path(&self.0, &["distributor", "receivers", "otlp", "protocols"])
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(protocol, settings)| {
                Some((
                    protocol.as_str()?.to_owned(),
                    settings.get("endpoint")?.as_str()?.to_owned(),
                ))
            })
            .collect()
    }

    /// The metrics-generator's remote-write URLs.
    pub fn remote_write_urls(&self) -> Vec<String> {
        path(&self.0, &["metrics_generator", "storage", "remote_write"])
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|target| target.get("url")?.as_str().map(str::to_owned))
            .collect()
    }

    /// `multitenancy_enabled` (false when unset).
    pub fn multitenant(&self) -> bool {
        self.0
            .get("multitenancy_enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}
