//! The OTLP receivers: HTTP (`POST /v1/traces`, protobuf or JSON, optionally gzip) and gRPC
//! (`TraceService/Export`). Both decode, convert to the trace model and hand the spans to the
//! store; neither panics on any input.
//!
//! Responses follow the OTLP specification: success, partial success (rejected span count and
//! a message), 400 for a malformed body, 413 for an oversized one, 429/503 with Retry-After
//! under overload.

pub mod body;
pub mod convert;
pub mod encode;
pub mod grpc;
pub mod http;
pub mod http_error;
