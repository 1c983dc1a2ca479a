//! OTLP/HTTP: `POST /v1/traces` with `application/x-protobuf` or `application/json` bodies,
//! `Content-Encoding: gzip` optional.
//!
//! The body is received whole before an ingest slot is taken ([`super::body`]), with a size cap
//! (413 beyond it), and when gzipped, inflated with a second
//! cap so a small "gzip bomb" cannot expand into gigabytes. Decoding and conversion run under
//! `spawn_blocking`, off the async threads. Errors answer with a `google.rpc.Status` body in
//! the request's own encoding, as the specification asks.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::body::{BodyBudget, receive};
use crate::storage::{IngestError, IngestOutcome, Store, TenantError, TenantId};

/// The request body encodings OTLP/HTTP allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }

    fn from_headers(headers: &HeaderMap) -> Result<Format, String> {
        let value = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Format::Protobuf),
            "application/json" => Ok(Format::Json),
            _ => Err(value.to_string()),
        }
    }
}

/// Everything that can go wrong with one OTLP/HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum OtlpHttpError {
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error("unsupported Content-Type {0:?}: send application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    #[error("unsupported Content-Encoding {0:?}: send gzip or no encoding")]
    UnsupportedEncoding(String),
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body inflates to more than the limit of {limit} bytes")]
    InflatesTooLarge { limit: usize },
    #[error("the request body is not valid gzip: {0}")]
    BadGzip(String),
    #[error("the request body could not be read: {0}")]
    BodyRead(String),
    #[error("{0}")]
    Stalled(String),
    #[error(
        "the trace store is receiving too many request bodies at once (over {limit} bytes); retry shortly"
    )]
    ReceivingTooMuch { limit: usize },
    #[error("the request body is not a valid OTLP ExportTraceServiceRequest in protobuf: {0}")]
    BadProtobuf(String),
    #[error("the request body is not a valid OTLP ExportTraceServiceRequest in JSON: {0}")]
    BadJson(String),
    #[error(transparent)]
    Overloaded(#[from] IngestError),
    #[error("the trace store failed while ingesting: {0}")]
    Internal(String),
}

impl OtlpHttpError {
    fn status(&self) -> StatusCode {
        use OtlpHttpError as E;
        match self {
            E::Tenant(_) | E::BadGzip(_) | E::BodyRead(_) | E::BadProtobuf(_) | E::BadJson(_) => {
                StatusCode::BAD_REQUEST
            }
            E::UnsupportedMediaType(_) | E::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            E::TooLarge { .. } | E::InflatesTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            E::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
            E::ReceivingTooMuch { .. } => StatusCode::SERVICE_UNAVAILABLE,
            E::Overloaded(
                IngestError::TooManyRequests { .. } | IngestError::TooManyTenants { .. },
            ) => StatusCode::TOO_MANY_REQUESTS,
            E::Overloaded(IngestError::Unavailable { .. } | IngestError::NotDurable { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC code that goes into the `google.rpc.Status` body.
    fn rpc_code(&self) -> i32 {
        match self.status() {
            StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                tonic::Code::InvalidArgument as i32
            }
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => {
                tonic::Code::ResourceExhausted as i32
            }
            StatusCode::SERVICE_UNAVAILABLE => tonic::Code::Unavailable as i32,
            StatusCode::REQUEST_TIMEOUT => tonic::Code::DeadlineExceeded as i32,
            _ => tonic::Code::Internal as i32,
        }
    }

    /// Answers in the request's encoding (protobuf when it could not be told).
    pub fn into_response_as(self, format: Format) -> Response {
        let status = self.status();
        let message = self.to_string();
        let body = match format {
            Format::Protobuf => RpcStatus {
                code: self.rpc_code(),
                message,
            }
            .encode_to_vec(),
            Format::Json => serde_json::json!({"code": self.rpc_code(), "message": message})
                .to_string()
                .into_bytes(),
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, format.content_type())],
            body,
        )
            .into_response();
        let retry_after = match &self {
            OtlpHttpError::Overloaded(error) => Some(error.retry_after().as_secs()),
            OtlpHttpError::ReceivingTooMuch { .. } => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// `google.rpc.Status`, the body of OTLP error responses (only the fields we fill).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// What the receiver's handler needs: the store, and the budget of bytes being received.
#[derive(Clone)]
struct Receiver {
    store: Store,
    receiving: Arc<BodyBudget>,
}

/// The router with `POST /v1/traces`.
pub fn router(store: Store) -> Router {
    let receiving = BodyBudget::new(store.config().listeners.max_body_bytes_in_flight);
    Router::new()
        .route("/v1/traces", post(export))
        .with_state(Receiver { store, receiving })
}

async fn export(
    State(Receiver { store, receiving }): State<Receiver>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = match Format::from_headers(&headers) {
        Ok(format) => format,
        Err(found) => {
            return OtlpHttpError::UnsupportedMediaType(found).into_response_as(Format::Protobuf);
        }
    };
    match export_inner(store, &receiving, &headers, body, format).await {
        Ok(outcome) => success_response(outcome, format),
        Err(error) => {
            if error.status().is_server_error() {
                tracing::warn!(error = %error, "OTLP/HTTP export failed");
            }
            error.into_response_as(format)
        }
    }
}

async fn export_inner(
    store: Store,
    receiving: &BodyBudget,
    headers: &HeaderMap,
    body: Body,
    format: Format,
) -> Result<IngestOutcome, OtlpHttpError> {
    let tenant = TenantId::from_header_bytes(
        headers
            .get(dojo_defaults::TENANT_HEADER)
            .map(HeaderValue::as_bytes),
    )?;
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        None | Some("") | Some("identity") => false,
        Some(e) if e.eq_ignore_ascii_case("gzip") => true,
        Some(other) => return Err(OtlpHttpError::UnsupportedEncoding(other.to_string())),
    };
    let limits = store.config().limits.clone();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(OtlpHttpError::TooLarge {
            limit: limits.max_body_bytes,
        });
    }
    // The slot is taken once the body is here: a stalled upload holds none.
    let bytes = receive(body, limits.max_body_bytes, receiving).await?;
    let _permit = store.try_begin_ingest(&tenant)?;
    tokio::task::spawn_blocking(move || {
        let raw = if gzip {
            inflate(&bytes, limits.max_decompressed_bytes)?
        } else {
            bytes.to_vec()
        };
        drop(bytes);
        // Held until the decoded request has been converted and dropped.
        let _decoding = store.try_reserve_decoding(raw.len())?;
        let request = decode(&raw, format)?;
        drop(raw);
        Ok(store.ingest(&tenant, request)?)
    })
    .await
    .map_err(|e| OtlpHttpError::Internal(e.to_string()))?
}

/// Inflates gzip, refusing to produce more than `limit` bytes.
pub fn inflate(compressed: &[u8], limit: usize) -> Result<Vec<u8>, OtlpHttpError> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    let mut decoder = flate2::read::GzDecoder::new(compressed).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| OtlpHttpError::BadGzip(e.to_string()))?;
    if out.len() > limit {
        return Err(OtlpHttpError::InflatesTooLarge { limit });
    }
    Ok(out)
}

/// Decodes an export request in either encoding.
pub fn decode(raw: &[u8], format: Format) -> Result<ExportTraceServiceRequest, OtlpHttpError> {
    match format {
        Format::Protobuf => ExportTraceServiceRequest::decode(raw)
            .map_err(|e| OtlpHttpError::BadProtobuf(e.to_string())),
        Format::Json => {
            // serde reads a struct from a JSON array too (`[]` would be an empty export).
            if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(OtlpHttpError::BadJson(
                    "an export request is a JSON object such as {\"resourceSpans\": [...]}".into(),
                ));
            }
            serde_json::from_slice(raw).map_err(|e| OtlpHttpError::BadJson(e.to_string()))
        }
    }
}

fn success_response(outcome: IngestOutcome, format: Format) -> Response {
    // A message with no rejected spans is OTLP's way to warn (here: spans that were cut).
    let partial = outcome
        .message
        .is_some()
        .then(|| ExportTracePartialSuccess {
            rejected_spans: outcome.rejected as i64,
            error_message: outcome.message.clone().unwrap_or_default(),
        });
    let body = match format {
        Format::Protobuf => ExportTraceServiceResponse { partial_success: partial }.encode_to_vec(),
        Format::Json => match partial {
            Some(p) => serde_json::json!({
                "partialSuccess": {"rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message}
            }),
            None => serde_json::json!({}),
        }
        .to_string()
        .into_bytes(),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_gzip_bomb_is_stopped_at_the_inflate_limit() {
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(
            bomb.len() < 64 << 10,
            "the bomb is small on the wire: {}",
            bomb.len()
        );
        let error = inflate(&bomb, 1 << 20).unwrap_err();
        assert!(matches!(error, OtlpHttpError::InflatesTooLarge { limit } if limit == 1 << 20));
    }

    #[test]
    fn gzip_within_the_limit_inflates() {
        assert_eq!(inflate(&gzip(b"hello"), 5).unwrap(), b"hello");
    }

    #[test]
    fn truncated_gzip_is_a_bad_request() {
        let whole = gzip(&[7u8; 1000]);
        let error = inflate(&whole[..whole.len() / 2], 1 << 20).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }
}
