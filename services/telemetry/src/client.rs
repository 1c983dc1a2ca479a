//! The CLIENT span of every outbound call, as reqwest middleware, with the context injected
//! into the request's headers.
//!
//! This replaces `reqwest-tracing`, whose current release compiles against OpenTelemetry 0.33
//! but silently sends no `traceparent`. Callers can name the span from a route template with
//! [`UrlTemplate`], and can leave the trace context out with [`OmitTraceContext`] (the
//! `broken_propagation` fault; baggage is still sent).

use std::future::Future;
use std::pin::Pin;

use http::Extensions;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Next};
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::propagation::{inject, inject_baggage_only};
use crate::server::record_exception;

/// The route template of an outbound request (`/products/{id}`), for a low-cardinality
/// span name. Attach with `RequestBuilder::with_extension`.
#[derive(Debug, Clone, Copy)]
pub struct UrlTemplate(pub &'static str);

/// Asks the middleware not to send `traceparent`/`tracestate` on this request.
#[derive(Debug, Clone, Copy)]
pub struct OmitTraceContext;

/// A reqwest client whose every request gets a CLIENT span and propagated context.
pub fn traced_client(client: reqwest::Client) -> ClientWithMiddleware {
    ClientBuilder::new(client).with(trace_outbound).build()
}

type Outcome<'a> =
    Pin<Box<dyn Future<Output = reqwest_middleware::Result<reqwest::Response>> + Send + 'a>>;

fn trace_outbound<'a>(
    request: reqwest::Request,
    extensions: &'a mut Extensions,
    next: Next<'a>,
) -> Outcome<'a> {
    Box::pin(async move {
        let method = request.method().as_str().to_owned();
        let template = extensions.get::<UrlTemplate>().map(|template| template.0);
        let name = match template {
            Some(template) => format!("{method} {template}"),
            None => method.clone(),
        };
        let url = request.url();
        let span = tracing::info_span!(
            "http.client",
            otel.name = %name,
            otel.kind = "client",
            http.request.method = %method,
            url.full = %without_query(url),
            url.template = template,
            server.address = url.host_str(),
            server.port = url.port_or_known_default().map(i64::from),
            http.response.status_code = Empty,
            error.type = Empty,
        );
        let mut request = request;
        let cx = span.context();
        if extensions.get::<OmitTraceContext>().is_some() {
            inject_baggage_only(&cx, request.headers_mut());
        } else {
            inject(&cx, request.headers_mut());
        }
        let result = next.run(request, extensions).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                span.record("http.response.status_code", i64::from(status.as_u16()));
                if status.is_client_error() || status.is_server_error() {
                    span.record("error.type", status.as_str());
                    span.set_status(opentelemetry::trace::Status::error(
                        status.canonical_reason().unwrap_or("error status"),
                    ));
                }
            }
            Err(error) => {
                let kind = error_kind(error);
                span.record("error.type", kind);
                record_exception(&span, kind, &error.to_string());
            }
        }
        result
    })
}

/// `error.type` for a failed call: the semantic conventions' short names.
fn error_kind(error: &reqwest_middleware::Error) -> &'static str {
    match error {
        reqwest_middleware::Error::Reqwest(error) if error.is_timeout() => "timeout",
        reqwest_middleware::Error::Reqwest(error) if error.is_connect() => "connection_refused",
        reqwest_middleware::Error::Reqwest(_) => "request_error",
        reqwest_middleware::Error::Middleware(_) => "middleware_error",
    }
}

/// The URL without its query string, which may carry user input.
fn without_query(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url.to_string()
}
