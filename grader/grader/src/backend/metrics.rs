//! TraceQL metrics through a backend: one request over a pinned window at a fixed step, and
//! the series it gives, the same from the embedded store and from Tempo's
//! `/api/metrics/query_range` (read in `tempo_metrics_json.rs`). Points are keyed by the
//! right edge of their interval, as Tempo stamps them, so two queries over the same request
//! line up point by point.

/// One metrics query over a pinned window.
#[derive(Debug, Clone, Copy)]
pub struct MetricsRequest<'a> {
    /// The tenant (`X-Scope-OrgID`); `None` for the backend's default.
    pub tenant: Option<&'a str>,
    pub query: &'a str,
    /// Unix seconds; the window is `(start, end]`, cut into intervals of `step_s`.
    pub start_s: u64,
    pub end_s: u64,
    pub step_s: u64,
}

/// One series of a metrics answer.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSeries {
    /// `(key, value)` with the value printed as text (`nil` when the group had none), sorted.
    pub labels: Vec<(String, String)>,
    /// `(interval end in unix milliseconds, value)`, in time order; intervals without a
    /// point are left out.
    pub points: Vec<(u64, f64)>,
}
