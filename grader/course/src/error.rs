//! One error type for every page, and its one mapping to an HTTP response: a friendly page
//! with the status code. Unexpected failures are logged with their cause and shown generically.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Why a page could not be served.
#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A form's address opened with the wrong method.
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("this form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Unavailable(String),
    #[error(
        "this form is larger than the course accepts ({0} KiB); shorten the text and send it again"
    )]
    TooLarge(usize),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: String,
}

impl IntoResponse for CourseError {
    fn into_response(self) -> Response {
        let status = match &self {
            CourseError::NotFound(_) => StatusCode::NOT_FOUND,
            CourseError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CourseError::NotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            CourseError::Forbidden(_) | CourseError::Csrf => StatusCode::FORBIDDEN,
            CourseError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CourseError::Unavailable(cause) => {
                tracing::warn!(%cause, "a part of the lab did not answer");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, "the error page did not render");
                (status, self.to_string()).into_response()
            }
        }
    }
}
