//! OpenTelemetry setup shared by the sample services: OTLP export, W3C propagation, JSON logs
//! with trace ids.
//!
//! Start reading at [`setup::init`]: it turns a [`config::TelemetryConfig`] (built from the
//! OpenTelemetry environment variables) into a tracer provider, a `tracing` subscriber and a
//! [`setup::TelemetryGuard`] that flushes spans on exit. The services then use two pieces of
//! middleware so that every hop is traced the same way:
//!
//! - [`server::trace_requests`] (axum) extracts `traceparent` and baggage from every inbound
//!   request and opens the SERVER span;
//! - [`client::TracePropagation`] (reqwest-middleware) opens the CLIENT span of every outbound
//!   call and injects the context into its headers.
//!
//! Everything that reaches an attribute or a log line goes through [`redact`], so credentials,
//! cookies and card numbers never leave the process: log fields as they are written, spans in
//! the exporter ([`scrub`]), whatever recorded them.

pub mod client;
pub mod config;
pub mod export;
pub mod logs;
pub mod propagation;
pub mod redact;
pub mod sampling;
pub mod scrub;
pub mod server;
pub mod setup;

pub use config::TelemetryConfig;
pub use setup::{TelemetryGuard, init};
