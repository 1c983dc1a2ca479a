//! A span exporter wrapper that reports a failing collector once, not once per batch.
//!
//! With no collector listening, the OTLP exporter fails every few seconds. The services must
//! keep serving at full speed (export runs on the batch processor's own thread) and say so
//! once, clearly; when the collector comes back, they say that once too.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Wraps an exporter and logs the first failure and the first success after it.
#[derive(Debug)]
pub struct ReportOnce<E> {
    inner: E,
    /// Where spans go, for the message.
    endpoint: String,
    /// True while the collector is failing and that has been reported.
    failing: AtomicBool,
}

impl<E> ReportOnce<E> {
    /// Wraps `inner`, which sends to `endpoint`.
    pub fn new(inner: E, endpoint: String) -> ReportOnce<E> {
        ReportOnce {
            inner,
            endpoint,
            failing: AtomicBool::new(false),
        }
    }

    fn record(&self, result: &OTelSdkResult, spans: usize) {
        match result {
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "dojo_telemetry::export",
                        endpoint = %self.endpoint,
                        error = %error,
                        dropped_spans = spans,
                        "cannot export spans to the trace collector; requests are unaffected and \
                         spans are dropped until it is reachable (reported once)"
                    );
                }
            }
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        target: "dojo_telemetry::export",
                        endpoint = %self.endpoint,
                        "spans are reaching the trace collector again"
                    );
                }
            }
        }
    }
}

impl<E: SpanExporter> SpanExporter for ReportOnce<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.record(&result, spans);
        result
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
