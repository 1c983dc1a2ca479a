//! The frontend's one error type: what the learner's browser or the load generator sees
//! when something below failed. JSON routes answer JSON; pages render the error template.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api_client::ApiCallError;

/// A failed frontend request.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error(transparent)]
    Api(#[from] ApiCallError),
    #[error("{0}")]
    BadRequest(String),
}

impl FrontendError {
    /// The status the frontend answers with: the api's 4xx pass through; anything the api
    /// could not do becomes 502, because from the browser's side the frontend's upstream failed.
    pub fn status(&self) -> StatusCode {
        match self {
            FrontendError::BadRequest(_) => StatusCode::BAD_REQUEST,
            FrontendError::Api(ApiCallError::Answered { status, .. })
                if (400..500).contains(status) =>
            {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            FrontendError::Api(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A stable code for JSON bodies.
    pub fn code(&self) -> String {
        match self {
            FrontendError::BadRequest(_) => "bad_request".to_owned(),
            FrontendError::Api(ApiCallError::Answered { code, .. }) => code.clone(),
            FrontendError::Api(ApiCallError::Unreachable(_)) => "api_unreachable".to_owned(),
        }
    }

    /// What a shopper is told.
    pub fn message(&self) -> String {
        match self {
            FrontendError::BadRequest(message) => message.clone(),
            FrontendError::Api(ApiCallError::Answered { message, .. }) => message.clone(),
            FrontendError::Api(ApiCallError::Unreachable(_)) => {
                "the shop's back office is not answering; try again in a moment".to_owned()
            }
        }
    }

    /// Records 5xx outcomes on the current span and in the log.
    pub fn record(&self) {
        if self.status().is_server_error() {
            let span = tracing::Span::current();
            dojo_telemetry::server::record_exception(&span, "UpstreamError", &self.to_string());
            tracing::error!(error = %self, "request failed");
        }
    }
}

impl IntoResponse for FrontendError {
    fn into_response(self) -> Response {
        self.record();
        (
            self.status(),
            Json(json!({ "error": self.code(), "message": self.message() })),
        )
            .into_response()
    }
}
