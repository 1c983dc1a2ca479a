//! The api's one error type and its one mapping to HTTP. Client errors get a stable JSON
//! body; server errors are recorded on the current span (status error + exception event)
//! and answered with a generic message, their cause kept for the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("the cart is empty; add a product before checking out")]
    EmptyCart,
    #[error("the card was declined")]
    PaymentDeclined { order_id: i64 },
    #[error("the payment provider did not answer after {attempts} attempts")]
    PaymentsUnavailable { order_id: i64, attempts: u32 },
    /// A fault made this request fail; `kind` and `message` read like a real failure.
    #[error("{message}")]
    Injected { kind: &'static str, message: String },
    #[error("the database is busy; try again")]
    DatabaseBusy,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::EmptyCart => (StatusCode::UNPROCESSABLE_ENTITY, "empty_cart"),
            ApiError::PaymentDeclined { .. } => (StatusCode::PAYMENT_REQUIRED, "payment_declined"),
            ApiError::PaymentsUnavailable { .. } => {
                (StatusCode::BAD_GATEWAY, "payments_unavailable")
            }
            ApiError::Injected { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::DatabaseBusy => (StatusCode::SERVICE_UNAVAILABLE, "database_busy"),
            ApiError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        };
        let span = tracing::Span::current();
        if status.is_server_error() {
            let kind = match &self {
                ApiError::Injected { kind, .. } => kind,
                ApiError::Database(_) | ApiError::DatabaseBusy => "DatabaseError",
                _ => "UpstreamError",
            };
            let detail = match &self {
                ApiError::Database(error) => format!("database error: {error}"),
                other => other.to_string(),
            };
            dojo_telemetry::server::record_exception(&span, kind, &detail);
            tracing::error!(error = %detail, "request failed");
        }
        let mut body = json!({ "error": code, "message": self.to_string() });
        if let ApiError::PaymentDeclined { order_id }
        | ApiError::PaymentsUnavailable { order_id, .. } = self
        {
            body["order_id"] = json!(order_id);
        }
        (status, Json(body)).into_response()
    }
}

/// Maps a pool timeout to "busy" and keeps other database errors.
pub fn from_acquire(error: sqlx::Error) -> ApiError {
    match error {
        sqlx::Error::PoolTimedOut => ApiError::DatabaseBusy,
        other => ApiError::Database(other),
    }
}
