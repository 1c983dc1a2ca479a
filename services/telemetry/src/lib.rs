//! OpenTelemetry setup shared by the sample services: OTLP export, W3C propagation, JSON logs with trace ids.
