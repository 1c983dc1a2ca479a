//! The store's configuration: limits, the ingest pipeline and the metrics generator.
//!
//! Every field has a default, so an empty YAML file (or none) gives a working store; a file
//! only names what it changes. Unknown keys are refused, so a typo such as `max_span:` is an
//! error instead of a silently ignored setting.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bounds::{Budget, QueryLimits, SpanLimits};
use crate::metrics::MetricsConfig;
use crate::pipeline::PipelineConfig;
use crate::storage::wal::WalConfig;

/// Everything the store can be told.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// How much each tenant may keep and how big a request may be.
    pub limits: Limits,
    /// What one span and one trace may carry (enforced at ingest and by trace by id).
    pub span_limits: SpanLimits,
    /// What the store keeps over all tenants together.
    pub budget: Budget,
    /// How much one search may ask for.
    pub query: QueryLimits,
    /// The processors every span passes through before it is stored.
    pub pipeline: PipelineConfig,
    /// Span metrics and the service graph.
    pub metrics: MetricsConfig,
    /// What each of the three ports accepts and how long it waits.
    pub listeners: Listeners,
    /// How the write-ahead log is written and how much of it is kept (used when the store
    /// has a data directory: `dojo up`, `dojo serve`, `dojo store --data-dir`).
    pub wal: WalConfig,
}

/// Connection limits and timeouts of the Tempo API and the two OTLP receivers, so that idle
/// or stalled clients cannot hold the ports (see `dojo_listen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listeners {
    /// Open connections per port; more are refused (503 with Retry-After).
    pub max_connections_per_port: usize,
    /// Time for a request's headers to arrive.
    #[serde(with = "crate::duration::serde_go")]
    pub header_read_timeout: Duration,
    /// A connection with nothing in flight and no bytes moving is closed after this.
    #[serde(with = "crate::duration::serde_go")]
    pub idle_timeout: Duration,
    /// A request body that sends nothing for this long is abandoned (OTLP/HTTP answers 408).
    #[serde(with = "crate::duration::serde_go")]
    pub body_stall_timeout: Duration,
    /// Bytes of OTLP/HTTP request bodies being received at once, over all clients; a body
    /// that would go beyond it gets 503 with Retry-After. Ingest slots are taken only once a
    /// body is complete, so slow uploads cost this budget, never other clients' slots.
    pub max_body_bytes_in_flight: usize,
}

impl Default for Listeners {
    fn default() -> Self {
        let port = dojo_listen::Limits::default();
        Listeners {
            max_connections_per_port: port.max_connections,
            header_read_timeout: port.header_read_timeout,
            idle_timeout: port.idle_timeout,
            body_stall_timeout: port.body_stall_timeout,
            max_body_bytes_in_flight: 256 << 20,
        }
    }
}

impl Listeners {
    /// The limits of one port.
    pub fn port_limits(&self) -> dojo_listen::Limits {
        dojo_listen::Limits {
            max_connections: self.max_connections_per_port,
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            body_stall_timeout: self.body_stall_timeout,
        }
    }
}

/// Bounds that keep one laptop (or one noisy tenant) from running out of memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Spans kept per tenant; the oldest traces are evicted beyond it.
    pub max_spans_per_tenant: usize,
    /// Estimated bytes kept per tenant; the oldest traces are evicted beyond it.
    pub max_bytes_per_tenant: u64,
    /// Traces first received longer ago than this are evicted.
    #[serde(with = "crate::duration::serde_go")]
    pub retention: Duration,
    /// The largest OTLP request body accepted on the wire (compressed size); larger ones get 413.
    pub max_body_bytes: usize,
    /// The largest body after gzip decompression; guards against gzip bombs.
    pub max_decompressed_bytes: usize,
    /// Ingest requests processed at the same time; more get 429 with Retry-After.
    pub max_concurrent_ingests: usize,
    /// Spans waiting for a tail-sampling decision, over all tenants; more get 503 with Retry-After.
    pub max_pending_spans: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_spans_per_tenant: 1_000_000,
            max_bytes_per_tenant: 1 << 30,
            retention: Duration::from_secs(24 * 3600),
            max_body_bytes: 8 << 20,
            max_decompressed_bytes: 64 << 20,
            max_concurrent_ingests: 64,
            max_pending_spans: 200_000,
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the store configuration {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the store configuration is not valid YAML for this store: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("the store configuration is invalid: {0}")]
    Invalid(String),
}

impl StoreConfig {
    /// Reads a configuration from YAML text; absent keys keep their defaults.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let config: StoreConfig = if text.trim().is_empty() {
            StoreConfig::default()
        } else {
            serde_yaml::from_str(text)?
        };
        config.validate()?;
        Ok(config)
    }

    /// The configuration as YAML, every default written out (what `dojo store --print-config` shows).
    pub fn to_yaml(&self) -> Result<String, ConfigError> {
        Ok(serde_yaml::to_string(self)?)
    }

    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Checks what serde cannot: regexes compile, percentages are in range, limits are positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        if l.max_spans_per_tenant == 0 || l.max_bytes_per_tenant == 0 {
            return Err(ConfigError::Invalid(
                "limits.max_spans_per_tenant and limits.max_bytes_per_tenant must be positive"
                    .into(),
            ));
        }
        if l.max_body_bytes == 0 || l.max_decompressed_bytes < l.max_body_bytes {
            return Err(ConfigError::Invalid(
                "limits.max_body_bytes must be positive and limits.max_decompressed_bytes at least as large".into(),
            ));
        }
        if l.max_concurrent_ingests == 0 {
            return Err(ConfigError::Invalid(
                "limits.max_concurrent_ingests must be positive".into(),
            ));
        }
        self.span_limits
            .validate()
            .and_then(|()| self.budget.validate())
            .and_then(|()| self.query.validate())
            .and_then(|()| self.wal.validate())
            .map_err(ConfigError::Invalid)?;
        let n = &self.listeners;
        if n.max_connections_per_port == 0
            || n.max_body_bytes_in_flight == 0
            || [n.header_read_timeout, n.idle_timeout, n.body_stall_timeout]
                .contains(&Duration::ZERO)
        {
            return Err(ConfigError::Invalid(
                "listeners: the connection cap, the body budget and every timeout must be positive"
                    .into(),
            ));
        }
        if n.max_body_bytes_in_flight < l.max_body_bytes {
            return Err(ConfigError::Invalid(
                "listeners.max_body_bytes_in_flight must be at least limits.max_body_bytes".into(),
            ));
        }
        crate::pipeline::Pipeline::new(&self.pipeline)
            .map(|_| ())
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        assert_eq!(StoreConfig::from_yaml("").unwrap(), StoreConfig::default());
    }

    #[test]
    fn a_file_changes_only_what_it_names() {
        let config =
            StoreConfig::from_yaml("limits:\n  max_spans_per_tenant: 10\n  retention: 5m\n")
                .unwrap();
        assert_eq!(config.limits.max_spans_per_tenant, 10);
        assert_eq!(config.limits.retention, Duration::from_secs(300));
        assert_eq!(
            config.limits.max_body_bytes,
            Limits::default().max_body_bytes
        );
    }

    #[test]
    fn a_misspelt_key_is_an_error_not_ignored() {
        let error = StoreConfig::from_yaml("limits:\n  max_span: 10\n").unwrap_err();
        assert!(error.to_string().contains("max_span"), "{error}");
    }

    #[test]
    fn the_printed_configuration_reads_back_the_same() {
        let config = StoreConfig::default();
        assert_eq!(
            StoreConfig::from_yaml(&config.to_yaml().unwrap()).unwrap(),
            config
        );
    }

    #[test]
    fn the_example_configuration_loads() {
        let config = StoreConfig::from_yaml(include_str!("../config/store.example.yaml")).unwrap();
        assert_eq!(config.pipeline.attributes.len(), 5);
        assert!(config.pipeline.tail_sampling.is_some());
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.span_limits, crate::SpanLimits::default());
        assert_eq!(config.budget, crate::Budget::default());
        assert_eq!(config.query, crate::QueryLimits::default());
        assert_eq!(config.listeners, Listeners::default());
        assert_eq!(config.wal, WalConfig::default());
    }

    #[test]
    fn zero_limits_are_refused() {
        assert!(StoreConfig::from_yaml("limits:\n  max_spans_per_tenant: 0\n").is_err());
        assert!(StoreConfig::from_yaml("listeners:\n  idle_timeout: 0\n").is_err());
        assert!(StoreConfig::from_yaml("listeners:\n  max_connections_per_port: 0\n").is_err());
        assert!(
            StoreConfig::from_yaml("listeners:\n  max_body_bytes_in_flight: 1000\n").is_err(),
            "the receiving budget must hold at least one whole body"
        );
    }
}
