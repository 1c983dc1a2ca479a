//! How the generated metrics leave the store: OpenMetrics text for `/metrics` (Prometheus
//! scrapes it; exemplars carry `trace_id` so Grafana links a point to a trace) and JSON for
//! the course's pictures.
//!
//! Series names and labels follow Tempo's metrics generator (`traces_spanmetrics_*`,
//! `traces_service_graph_*`), plus a `tenant` label, plus the store's own counters
//! (`dojo_store_*`).

use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use super::TenantMetrics;
use super::histogram::{Exemplar, Histogram};
use super::service_graph::Edge;
use crate::storage::{TenantId, TenantStatus};

/// The content type of [`openmetrics_text`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Escapes a label value as the exposition format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{value}")
    }
}

fn exemplar_suffix(exemplar: Option<Exemplar>) -> String {
    match exemplar {
        Some(e) => format!(
            " # {{trace_id=\"{}\"}} {} {}",
            e.trace_id,
            number(e.value),
            number(e.timestamp_ms as f64 / 1000.0)
        ),
        None => String::new(),
    }
}

fn histogram_lines(
    out: &mut String,
    name: &str,
    base: &[(&str, &str)],
    h: &Histogram,
    bounds: &[f64],
) {
    for (bound, count, exemplar) in h.cumulative(bounds) {
        let le = number(bound);
        let mut pairs = base.to_vec();
        pairs.push(("le", &le));
        let _ = writeln!(
            out,
            "{name}_bucket{} {count}{}",
            labels(&pairs),
            exemplar_suffix(exemplar)
        );
    }
    let _ = writeln!(out, "{name}_sum{} {}", labels(base), number(h.sum()));
    let _ = writeln!(out, "{name}_count{} {}", labels(base), h.count());
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "# HELP {name} {help}");
}

/// A family name, its help text, and how to read it from a tenant's status.
type StatusFigure = (&'static str, &'static str, fn(&TenantStatus) -> u64);

/// Store-wide gauges without tenant names: what anyone may see of the other tenants.
pub fn store_totals_text(tenants: usize, bytes: u64, budget_bytes: u64) -> String {
    let mut out = String::new();
    for (name, help, value) in [
        (
            "dojo_store_tenants",
            "Tenants the store keeps now.",
            tenants as u64,
        ),
        (
            "dojo_store_bytes_all_tenants",
            "Estimated bytes stored now over all tenants.",
            bytes,
        ),
        (
            "dojo_store_budget_bytes",
            "The most estimated bytes the store keeps over all tenants.",
            budget_bytes,
        ),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

/// The whole `/metrics` page.
pub fn openmetrics_text(status: &[TenantStatus], metrics: &[(TenantId, &TenantMetrics)]) -> String {
    let mut out = String::new();
    let store_counters: [StatusFigure; 7] = [
        (
            "dojo_store_spans_received",
            "Spans received, valid or not.",
            |s| s.received_spans,
        ),
        (
            "dojo_store_spans_refused",
            "Spans refused as invalid OTLP.",
            |s| s.refused_spans,
        ),
        (
            "dojo_store_spans_sampled_out",
            "Spans dropped by probabilistic or tail sampling.",
            |s| s.sampled_out_spans,
        ),
        (
            "dojo_store_spans_evicted",
            "Spans evicted by a limit or the retention window.",
            |s| s.evicted_spans,
        ),
        (
            "dojo_store_traces_evicted",
            "Traces evicted by a limit or the retention window.",
            |s| s.evicted_traces,
        ),
        (
            "dojo_store_spans_truncated",
            "Spans stored cut down to the span limits (attributes, values, events, links).",
            |s| s.truncated_spans,
        ),
        (
            "dojo_store_requests_refused",
            "Ingest requests refused because the store was overloaded.",
            |s| s.refused_requests,
        ),
    ];
    for (name, help, get) in store_counters {
        family(&mut out, name, "counter", help);
        for s in status {
            let _ = writeln!(
                out,
                "{name}_total{} {}",
                labels(&[("tenant", &s.tenant)]),
                get(s)
            );
        }
    }
    let store_gauges: [StatusFigure; 4] = [
        ("dojo_store_spans", "Spans stored now.", |s| s.spans as u64),
        ("dojo_store_traces", "Traces stored now.", |s| {
            s.traces as u64
        }),
        ("dojo_store_bytes", "Estimated bytes stored now.", |s| {
            s.bytes
        }),
        (
            "dojo_store_pending_spans",
            "Spans waiting for a tail-sampling decision.",
            |s| s.pending_spans as u64,
        ),
    ];
    for (name, help, get) in store_gauges {
        family(&mut out, name, "gauge", help);
        for s in status {
            let _ = writeln!(out, "{name}{} {}", labels(&[("tenant", &s.tenant)]), get(s));
        }
    }

    family(
        &mut out,
        "traces_spanmetrics_calls",
        "counter",
        "Spans counted per service, span name, kind and status.",
    );
    for (tenant, m) in metrics {
        for (key, series) in m.span_metrics.series() {
            let base = [
                ("tenant", tenant.as_str()),
                ("service", &*key.service),
                ("span_name", &*key.span_name),
                ("span_kind", key.kind.as_str()),
                ("status_code", key.status.as_str()),
            ];
            let mut last = series.last;
            last.value = 1.0;
            let _ = writeln!(
                out,
                "traces_spanmetrics_calls_total{} {}{}",
                labels(&base),
                series.calls,
                exemplar_suffix(Some(last))
            );
        }
    }
    family(
        &mut out,
        "traces_spanmetrics_latency",
        "histogram",
        "Span durations in seconds.",
    );
    for (tenant, m) in metrics {
        for (key, series) in m.span_metrics.series() {
            let base = [
                ("tenant", tenant.as_str()),
                ("service", &*key.service),
                ("span_name", &*key.span_name),
                ("span_kind", key.kind.as_str()),
                ("status_code", key.status.as_str()),
            ];
            histogram_lines(
                &mut out,
                "traces_spanmetrics_latency",
                &base,
                &series.latency,
                m.span_metrics.bounds(),
            );
        }
    }

    /// A counter family of the service graph: name, help, and the edge's count.
    type EdgeCounter = (&'static str, &'static str, fn(&Edge) -> u64);
    let counters: [EdgeCounter; 2] = [
        (
            "traces_service_graph_request",
            "Requests between two services.",
            |e| e.requests,
        ),
        (
            "traces_service_graph_request_failed",
            "Failed requests between two services.",
            |e| e.failed,
        ),
    ];
    for (name, help, value) in counters {
        family(&mut out, name, "counter", help);
        for (tenant, m) in metrics {
            for ((client, server), edge) in m.service_graph.edges() {
                let base = [
                    ("tenant", tenant.as_str()),
                    ("client", &**client),
                    ("server", &**server),
                    ("connection_type", edge.connection_type),
                ];
                let _ = writeln!(out, "{name}_total{} {}", labels(&base), value(edge));
            }
        }
    }
    for (name, help, server_side) in [
        (
            "traces_service_graph_request_server_seconds",
            "Request durations seen by the server, in seconds.",
            true,
        ),
        (
            "traces_service_graph_request_client_seconds",
            "Request durations seen by the client, in seconds.",
            false,
        ),
    ] {
        family(&mut out, name, "histogram", help);
        for (tenant, m) in metrics {
            for ((client, server), edge) in m.service_graph.edges() {
                let base = [
                    ("tenant", tenant.as_str()),
                    ("client", &**client),
                    ("server", &**server),
                    ("connection_type", edge.connection_type),
                ];
                let h = if server_side {
                    &edge.server_latency
                } else {
                    &edge.client_latency
                };
                histogram_lines(&mut out, name, &base, h, m.service_graph.bounds());
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The service graph as nodes and edges, for the course's picture.
pub fn service_graph_json(metrics: Option<&TenantMetrics>) -> Json {
    let mut nodes = std::collections::BTreeMap::<String, (u64, u64)>::new();
    let mut edges = Vec::new();
    if let Some(m) = metrics {
        let bounds = m.service_graph.bounds();
        for ((client, server), edge) in m.service_graph.edges() {
            nodes.entry(client.to_string()).or_default();
            let node = nodes.entry(server.to_string()).or_default();
            node.0 += edge.requests;
            node.1 += edge.failed;
            let mean = if edge.server_latency.count() > 0 {
                edge.server_latency.sum() / edge.server_latency.count() as f64
            } else {
                0.0
            };
            edges.push(json!({
                "client": client.as_ref(),
                "server": server.as_ref(),
                "connectionType": edge.connection_type,
                "requests": edge.requests,
                "failed": edge.failed,
                "meanServerSeconds": mean,
                "p95ServerSeconds": edge.server_latency.quantile(bounds, 0.95),
            }));
        }
    }
    let nodes: Vec<Json> = nodes
        .into_iter()
        .map(|(id, (requests, failed))| json!({"id": id, "requests": requests, "failed": failed}))
        .collect();
    json!({"nodes": nodes, "edges": edges})
}

/// The span metrics as a list of series, for the course's RED charts.
pub fn span_metrics_json(metrics: Option<&TenantMetrics>) -> Json {
    let mut series = Vec::new();
    if let Some(m) = metrics {
        let bounds = m.span_metrics.bounds();
        for (key, s) in m.span_metrics.series() {
            let buckets: Vec<Json> = s
                .latency
                .cumulative(bounds)
                .map(|(le, count, _)| json!({"le": number(le), "count": count}))
                .collect();
            series.push(json!({
                "service": key.service.as_ref(),
                "spanName": key.span_name.as_ref(),
                "spanKind": key.kind.as_str(),
                "statusCode": key.status.as_str(),
                "calls": s.calls,
                "errors": if key.status.as_str() == "STATUS_CODE_ERROR" { s.calls } else { 0 },
                "durationSecondsSum": s.latency.sum(),
                "p50Seconds": s.latency.quantile(bounds, 0.5),
                "p95Seconds": s.latency.quantile(bounds, 0.95),
                "buckets": buckets,
                "exemplarTraceId": s.last.trace_id.to_string(),
            }));
        }
    }
    json!({"series": series})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(labels(&[("a", "x\"y\\z\n")]), "{a=\"x\\\"y\\\\z\\n\"}");
    }

    #[test]
    fn an_empty_store_still_ends_with_eof() {
        let text = openmetrics_text(&[], &[]);
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE traces_spanmetrics_calls counter"));
    }
}
