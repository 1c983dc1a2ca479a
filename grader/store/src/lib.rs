//! The embedded trace store: OTLP in, Grafana Tempo's HTTP API out.
