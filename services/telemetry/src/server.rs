//! The SERVER span of every inbound request, as axum middleware: the caller's context and
//! baggage are extracted, the span is named from the route template (`GET /products/{id}`),
//! and the HTTP semantic-convention attributes are recorded. Mount it with `Router::layer` so
//! the matched route is known; keep `/health` outside it.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::propagation::{Caller, extract};

/// Axum middleware: wraps the request in a SERVER span and puts the [`Caller`] into the
/// request's extensions for handlers (fault scoping) to read.
pub async fn trace_requests(mut request: Request, next: Next) -> Response {
    let parent = extract(request.headers());
    let caller = Caller::from_context(&parent);
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let (address, port) = host_and_port(request.headers());
    let span = tracing::info_span!(
        "http.server",
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %method,
        http.route = route.as_deref(),
        url.path = %request.uri().path(),
        url.scheme = "http",
        server.address = address.as_deref(),
        server.port = port.map(i64::from),
        http.response.status_code = Empty,
        error.type = Empty,
        learner.id = caller.learner_id.as_deref(),
        user.id = caller.user_id.as_deref(),
    );
    // A parent that is not a valid span context leaves this span a root; that is fine.
    let _ = span.set_parent(parent);
    request.extensions_mut().insert(caller);
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("error.type", status.as_str());
        span.set_status(opentelemetry::trace::Status::error(
            status.canonical_reason().unwrap_or("server error"),
        ));
    }
    response
}

/// `server.address` and `server.port` from the `Host` header the client used.
fn host_and_port(headers: &http::HeaderMap) -> (Option<String>, Option<u16>) {
    let Some(host) = headers
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
    else {
        return (None, None);
    };
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => {
            (Some(name.to_owned()), port.parse().ok())
        }
        _ => (Some(host.to_owned()), None),
    }
}

/// Marks the current span as failed with an exception event, as the semantic conventions
/// ask: `exception.type` names the kind of failure, `exception.message` says what happened.
/// The message is redacted.
pub fn record_exception(span: &tracing::Span, kind: &str, message: &str) {
    let message = crate::redact::redact_value(message).into_owned();
    span.add_event(
        "exception",
        vec![
            opentelemetry::KeyValue::new("exception.type", kind.to_owned()),
            opentelemetry::KeyValue::new("exception.message", message.clone()),
        ],
    );
    span.set_status(opentelemetry::trace::Status::error(message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_gives_address_and_port() {
        let cases = [
            ("127.0.0.1:8082", Some("127.0.0.1"), Some(8082)),
            ("shop.example", Some("shop.example"), None),
            ("[::1]:8081", Some("[::1]"), Some(8081)),
        ];
        for (host, address, port) in cases {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::HOST, host.parse().expect("ascii"));
            let (got_address, got_port) = host_and_port(&headers);
            assert_eq!(got_address.as_deref(), address, "{host}");
            assert_eq!(got_port, port, "{host}");
        }
    }
}
