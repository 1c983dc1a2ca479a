//! The one error type of the Tempo API and its one mapping to HTTP.
//!
//! Tempo answers errors in plain text, not JSON, and Grafana shows that text to the user, so
//! the messages are written for a learner reading them in Grafana or in the course console.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::queries::QueryError;
use crate::storage::TenantError;

/// Everything a Tempo API request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is missing, malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// The TraceQL query does not parse or validate; the text is the engine's message.
    #[error("invalid TraceQL query: {0}")]
    InvalidQuery(String),
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// A trace that is not stored (Tempo answers 404 with an empty body).
    #[error("trace not found")]
    TraceNotFound,
    /// A bug or a crashed worker; the cause goes to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<QueryError> for ApiError {
    /// An invalid query is Tempo's `invalid TraceQL query: …`; a query too long, over budget or
    /// on the wrong endpoint is a plain 400 with the reason.
    fn from(error: QueryError) -> Self {
        if error.is_invalid_query() {
            ApiError::InvalidQuery(error.to_string())
        } else {
            ApiError::BadRequest(error.to_string())
        }
    }
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidQuery(_) | ApiError::Tenant(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::TraceNotFound => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::TraceNotFound => String::new(),
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "Tempo API request failed");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// Runs CPU-heavy work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("a query worker stopped: {e}")))?
}
