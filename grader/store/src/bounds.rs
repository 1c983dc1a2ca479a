//! The bounds that keep one request, one trace or a crowd of tenants from taking the machine:
//! what a span may carry, how big a trace may grow, how much the whole store may keep, and how
//! much one search may ask for.
//!
//! Three sections of the store configuration, beside `limits` (which bounds each tenant and
//! each request body): `span_limits` is enforced at ingest (cut or refused, counted, and said
//! in the OTLP partial-success answer), `budget` across all tenants by the store, and `query`
//! by the Tempo API's search parameters, as Tempo's query frontend caps them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one span and one trace may carry. Names follow Tempo's overrides where Tempo has one
/// (`max_bytes_per_trace`, `max_attribute_bytes`) and the OpenTelemetry SDKs' span limits
/// otherwise (128 attributes, events and links).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpanLimits {
    /// Attributes kept per span (also per resource, scope, event and link); the rest are cut.
    pub max_attributes_per_span: usize,
    /// The longest attribute value kept, in bytes; longer strings are cut at this length and
    /// arrays lose their last items.
    pub max_attribute_value_bytes: usize,
    /// Events kept per span; the rest are cut.
    pub max_events_per_span: usize,
    /// Links kept per span; the rest are cut.
    pub max_links_per_span: usize,
    /// Spans stored per trace; later spans of a fuller trace are refused.
    pub max_spans_per_trace: usize,
    /// Estimated bytes stored per trace (Tempo's `max_bytes_per_trace`); later spans of a
    /// bigger trace are refused, and trace by id answers at most this much, marked partial.
    pub max_bytes_per_trace: u64,
    /// How far past the store's clock a span may end; spans further in the future are refused.
    #[serde(with = "crate::duration::serde_go")]
    pub max_future_skew: Duration,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes_per_span: 128,
            max_attribute_value_bytes: 4096,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_spans_per_trace: 20_000,
            max_bytes_per_trace: 5_000_000,
            max_future_skew: Duration::from_secs(3600),
        }
    }
}

/// What the store keeps over all tenants together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Estimated bytes kept over all tenants; beyond it the oldest traces go first, whichever
    /// tenant they belong to. The default suits a laptop (about 1.2 million lab spans).
    pub max_bytes_total: u64,
    /// Tenants kept at once; a new tenant's spans are refused beyond it. A tenant with no
    /// traces left and no request for the retention period is dropped, freeing its place.
    pub max_tenants: usize,
    /// Request bytes (after gzip) being decoded at once, over both receivers. A decoded
    /// request takes several times its size on the wire (a million tiny attributes in 20 MB
    /// become a few hundred MB of structs), so this bounds the memory of bursts of large
    /// uploads; a request that does not fit gets 429 (gRPC UNAVAILABLE) with Retry-After. One
    /// request is always let through when none is being decoded.
    pub max_decoding_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_bytes_total: 512 << 20,
            max_tenants: 1000,
            max_decoding_bytes: 32 << 20,
        }
    }
}

/// How much one search may ask for (Tempo's `query_frontend.search` settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryLimits {
    /// Traces a search returns when it does not say (`limit`).
    pub default_result_limit: usize,
    /// The most traces a search returns; a larger `limit` is lowered to it, as Tempo does.
    pub max_result_limit: usize,
    /// The most spans per spanset (`spss`); a larger one is refused with 400, as Tempo does.
    pub max_spans_per_span_set: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            default_result_limit: 20,
            max_result_limit: 10_000,
            max_spans_per_span_set: 100,
        }
    }
}

impl SpanLimits {
    /// Checks that every bound is positive.
    pub fn validate(&self) -> Result<(), String> {
        let zero = [
            ("max_attributes_per_span", self.max_attributes_per_span == 0),
            (
                "max_attribute_value_bytes",
                self.max_attribute_value_bytes == 0,
            ),
            ("max_spans_per_trace", self.max_spans_per_trace == 0),
            ("max_bytes_per_trace", self.max_bytes_per_trace == 0),
        ];
        match zero.iter().find(|(_, is_zero)| *is_zero) {
            Some((name, _)) => Err(format!("span_limits.{name} must be positive")),
            None => Ok(()),
        }
    }
}

impl Budget {
    /// Checks that every bound is positive.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes_total == 0 || self.max_tenants == 0 || self.max_decoding_bytes == 0 {
            return Err("budget.max_bytes_total, budget.max_tenants and budget.max_decoding_bytes must be positive".into());
        }
        Ok(())
    }
}

impl QueryLimits {
    /// Checks that the limits are positive and the default within the maximum.
    pub fn validate(&self) -> Result<(), String> {
        if self.default_result_limit == 0
            || self.max_result_limit < self.default_result_limit
            || self.max_spans_per_span_set == 0
        {
            return Err("query.default_result_limit and query.max_spans_per_span_set must be positive, and query.max_result_limit at least query.default_result_limit".into());
        }
        Ok(())
    }
}
