//! One error type for the grader's HTTP API and its one mapping to a status and a stable
//! JSON body: `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::check::GradeError;
use crate::progress::ProgressError;
use crate::service::GraderError;

/// What a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// The request is malformed (bad JSON, a bad learner id).
    BadRequest(String),
    NotFound(String),
    Grader(GraderError),
}

impl From<GraderError> for ApiError {
    fn from(e: GraderError) -> Self {
        ApiError::Grader(e)
    }
}

impl From<ProgressError> for ApiError {
    fn from(e: ProgressError) -> Self {
        ApiError::Grader(GraderError::Progress(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::Grader(e) => match e {
                GraderError::UnknownLab(_) | GraderError::UnknownExercise { .. } => {
                    (StatusCode::NOT_FOUND, "not_found", e.to_string())
                }
                GraderError::WrongSubmission { .. } => {
                    (StatusCode::BAD_REQUEST, "wrong_submission", e.to_string())
                }
                GraderError::Grade(GradeError::Input(_)) => {
                    (StatusCode::BAD_REQUEST, "bad_submission", e.to_string())
                }
                GraderError::Progress(ProgressError::UnknownLearner(_)) => {
                    (StatusCode::FORBIDDEN, "unknown_learner", e.to_string())
                }
                GraderError::Grade(GradeError::Backend(_)) => {
                    tracing::warn!(error = %e, "the trace backend failed while grading");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "trace_store_unavailable",
                        "The trace store could not answer just now; please submit again in a moment.".to_string(),
                    )
                }
                GraderError::NoGroundTruth { .. }
                | GraderError::Grade(GradeError::Spec(_))
                | GraderError::Progress(_) => {
                    tracing::error!(error = %e, "grading failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "The grader failed; the instructor can see why in its log.".to_string(),
                    )
                }
            },
        };
        (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response()
    }
}
