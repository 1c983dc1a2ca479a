//! The `metrics:` section of the store configuration: which span metrics and service-graph
//! edges the store generates, and how. Its own file so every generator reads it from below.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `metrics:` section of the store configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Upper bounds, in seconds, of the latency histogram buckets (Tempo's defaults).
    pub histogram_buckets: Vec<f64>,
    /// How long half of a client/server pair waits for the other half.
    #[serde(with = "crate::duration::serde_go")]
    pub service_graph_wait: Duration,
    /// Unpaired halves kept at most; beyond it new halves are not kept.
    pub service_graph_max_items: usize,
    /// Series kept per tenant and kind of metric; beyond it new series are not created.
    pub max_series: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            histogram_buckets: vec![
                0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
                8.192, 16.384,
            ],
            service_graph_wait: Duration::from_secs(10),
            service_graph_max_items: 10_000,
            max_series: 10_000,
        }
    }
}
