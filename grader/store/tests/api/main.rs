//! Integration tests of the trace store: real sockets on port 0, real HTTP and gRPC clients,
//! and a real OpenTelemetry SDK (Python's) that nobody here wrote.
//!
//! Start at `helpers` (how a store is started and spans are built), then one module per
//! behaviour: receiving OTLP, reading through the Tempo API, the pipeline, limits and counters,
//! metrics from traces, and the Python SDK round trip.

mod bounds;
mod connections;
mod helpers;
mod input_validation;
mod limits;
mod metrics;
mod metrics_queries;
mod otlp_grpc;
mod otlp_http;
mod pipeline;
mod python_sdk;
mod routing;
mod tempo_api;
mod tenants;
mod wal;
