//! What an OTLP/HTTP exchange is made of besides the spans: the body encodings a request may
//! use, and every way a request can fail, each with its HTTP status, its gRPC code and the
//! `google.rpc.Status` body the specification asks for. Below both the receiver and the body
//! reader, which report through it.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;

use crate::storage::{IngestError, TenantError};

/// The request body encodings OTLP/HTTP allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }

    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Format, String> {
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
    pub(crate) fn status(&self) -> StatusCode {
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
