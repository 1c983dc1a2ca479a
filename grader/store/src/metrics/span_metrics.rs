//! Span metrics: calls, errors and a latency histogram per service, span name, kind and status,
//! named and labelled like Tempo's `traces_spanmetrics_*` series.

use std::sync::Arc;

use dojo_traceql::model::{Span, SpanKind, StatusCode, TraceId, Value, attribute};
use rustc_hash::FxHashMap;

use super::MetricsConfig;
use super::histogram::{Exemplar, Histogram};

/// The labels of one series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub service: Arc<str>,
    pub span_name: Arc<str>,
    pub kind: SpanKindLabel,
    pub status: StatusLabel,
}

/// The span kind as Tempo writes it in labels (`SPAN_KIND_SERVER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanKindLabel(pub u8);

/// The status code as Tempo writes it in labels (`STATUS_CODE_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusLabel(pub u8);

impl SpanKindLabel {
    pub fn from_kind(kind: SpanKind) -> Self {
        SpanKindLabel(kind as u8)
    }

    pub fn as_str(self) -> &'static str {
        SpanKind::from_otlp_number(self.0.into()).otlp_name()
    }
}

impl StatusLabel {
    pub fn from_status(status: StatusCode) -> Self {
        StatusLabel(status as u8)
    }

    pub fn as_str(self) -> &'static str {
        match self.0 {
            1 => "STATUS_CODE_OK",
            2 => "STATUS_CODE_ERROR",
            _ => "STATUS_CODE_UNSET",
        }
    }
}

/// One series' values.
#[derive(Debug, Clone)]
pub struct SpanSeries {
    pub calls: u64,
    pub latency: Histogram,
    /// The latest trace counted, for the calls counter's exemplar.
    pub last: Exemplar,
}

/// All span-metric series of a tenant.
#[derive(Debug, Clone)]
pub struct SpanMetrics {
    bounds: Vec<f64>,
    max_series: usize,
    series: FxHashMap<SeriesKey, SpanSeries>,
    /// Spans not counted because `max_series` was reached.
    pub dropped_spans: u64,
}

/// The `service.name` of a span as a shared string, `unknown_service` without one.
pub fn service_of(span: &Span) -> Arc<str> {
    match attribute(&span.resource.attributes, "service.name") {
        Some(Value::Str(s)) => s.clone(),
        _ => Arc::from("unknown_service"),
    }
}

impl SpanMetrics {
    pub fn new(config: &MetricsConfig) -> Self {
        SpanMetrics {
            bounds: config.histogram_buckets.clone(),
            max_series: config.max_series,
            series: FxHashMap::default(),
            dropped_spans: 0,
        }
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Counts one span of the given service.
    pub fn observe(&mut self, trace_id: &TraceId, span: &Span, service: &Arc<str>) {
        let key = SeriesKey {
            service: service.clone(),
            span_name: span.name.clone(),
            kind: SpanKindLabel::from_kind(span.kind),
            status: StatusLabel::from_status(span.status),
        };
        let seconds = span.duration_nanos() as f64 / 1e9;
        let exemplar = Exemplar {
            trace_id: *trace_id,
            value: seconds,
            timestamp_ms: span.end_unix_nanos / 1_000_000,
        };
        let at_limit = self.series.len() >= self.max_series;
        let bounds = &self.bounds;
        let series = match self.series.get_mut(&key) {
            Some(series) => series,
            None if at_limit => {
                self.dropped_spans += 1;
                return;
            }
            None => self.series.entry(key).or_insert_with(|| SpanSeries {
                calls: 0,
                latency: Histogram::new(bounds.len()),
                last: exemplar,
            }),
        };
        series.calls += 1;
        series.last = exemplar;
        series.latency.observe(bounds, seconds, exemplar);
    }

    /// Every series, sorted by labels so output is stable.
    pub fn series(&self) -> Vec<(&SeriesKey, &SpanSeries)> {
        let mut all: Vec<_> = self.series.iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_traceql::model::{KeyValue, Resource};

    fn span(service: &str, name: &str, status: StatusCode, millis: u64) -> Span {
        Span {
            name: Arc::from(name),
            kind: SpanKind::Server,
            status,
            start_unix_nanos: 0,
            end_unix_nanos: millis * 1_000_000,
            resource: Arc::new(Resource {
                attributes: vec![KeyValue::new("service.name", Value::str(service))],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn calls_are_counted_per_service_operation_and_status() {
        let mut metrics = SpanMetrics::new(&MetricsConfig::default());
        let id = TraceId([1; 16]);
        {
            let s = span("api", "GET /cart", StatusCode::Ok, 3);
            metrics.observe(&id, &s, &service_of(&s));
        }
        {
            let s = span("api", "GET /cart", StatusCode::Ok, 5);
            metrics.observe(&id, &s, &service_of(&s));
        }
        {
            let s = span("api", "GET /cart", StatusCode::Error, 900);
            metrics.observe(&id, &s, &service_of(&s));
        }
        let series = metrics.series();
        assert_eq!(series.len(), 2);
        let ok = series
            .iter()
            .find(|(k, _)| k.status.as_str() == "STATUS_CODE_OK")
            .unwrap();
        assert_eq!(ok.1.calls, 2);
        assert_eq!(ok.0.kind.as_str(), "SPAN_KIND_SERVER");
        let error = series
            .iter()
            .find(|(k, _)| k.status.as_str() == "STATUS_CODE_ERROR")
            .unwrap();
        assert_eq!(error.1.latency.count(), 1);
        assert!((error.1.latency.sum() - 0.9).abs() < 1e-9);
    }

    #[test]
    fn new_series_stop_at_the_limit_and_the_spans_are_counted_as_dropped() {
        let config = MetricsConfig {
            max_series: 1,
            ..MetricsConfig::default()
        };
        let mut metrics = SpanMetrics::new(&config);
        let id = TraceId([1; 16]);
        {
            let s = span("a", "x", StatusCode::Ok, 1);
            metrics.observe(&id, &s, &service_of(&s));
        }
        {
            let s = span("b", "y", StatusCode::Ok, 1);
            metrics.observe(&id, &s, &service_of(&s));
        }
        assert_eq!(metrics.series().len(), 1);
        assert_eq!(metrics.dropped_spans, 1);
    }
}
