//! The web course: lessons, lab pages, the TraceQL console and trace pictures.
//!
//! Everything is server-rendered HTML that works without JavaScript. Start reading at
//! [`router`] and [`CourseState`]; the lessons come from [`content`], rendered by the
//! [`markdown`] pipeline; traces come through the grader's trace backend ([`traces`]), and the
//! rest of the live data through the traits in [`backend`], which the `dojo` command fills
//! with the grader, the fault toggles and the services' logs.
//!
//! The course sits on top of the grader and uses its trace types directly (search hits,
//! metrics series, the backend's errors): it reads traces exactly as the grader does, through
//! the same [`dojo_grader::backend::TraceBackend`], so a console query and a graded answer can
//! never see different data. It does not depend on the trace store; only its tests hold traces
//! in one.

pub mod adapters;
pub mod alert_board;
pub mod alert_evaluation;
pub mod alert_export;
pub mod alert_grading;
pub mod alerts;
pub mod backend;
pub mod content;
pub mod dashboards;
pub mod error;
pub mod grafana_export;
pub mod markdown;
pub mod pictures;
pub mod routes;
pub mod search;
pub mod secrets;
pub mod session;
pub mod session_middleware;
pub mod state;
pub mod throttle;
pub mod traces;

pub use state::{CourseSettings, CourseState, Secret};

use axum::Router;
use axum::extract::DefaultBodyLimit;

/// The browser-side defences every page carries: no framing (clickjacking), no content
/// sniffing, no referrer leaving the site, and a content security policy that allows only the
/// course's own scripts (inline styles stay allowed: the SVG pictures and the editor use them).
const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
];

/// Largest form body accepted: a root-cause report with its explanation fits many times over.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The whole course site. Every request gets a session (see [`session`]) before its handler
/// runs, and every form handler checks that session's CSRF token.
pub fn router(state: CourseState) -> Router {
    Router::new()
        .merge(routes::lessons::router())
        .merge(routes::console::router())
        .merge(routes::traces::router())
        .merge(routes::services::router())
        .merge(routes::dashboards::router())
        .merge(routes::alerts::router())
        .merge(routes::delivery::router())
        .merge(routes::labs::router())
        .merge(routes::learners::router())
        .merge(routes::instructor::router())
        .merge(routes::answers::router())
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session_middleware::middleware,
        ))
        .layer(axum::middleware::map_response(explain_too_large))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(add_security_headers))
        .with_state(state)
}

/// The body-size limit answers 413 in plain text; the learner gets the course's error page.
async fn explain_too_large(response: axum::response::Response) -> axum::response::Response {
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && plain {
        use axum::response::IntoResponse;
        return error::CourseError::TooLarge(MAX_BODY_BYTES / 1024).into_response();
    }
    response
}

async fn add_security_headers(mut response: axum::response::Response) -> axum::response::Response {
    for (name, value) in SECURITY_HEADERS {
        response.headers_mut().insert(
            axum::http::HeaderName::from_static(name),
            axum::http::HeaderValue::from_static(value),
        );
    }
    response
}

/// A form's address opened as a page (a bookmark, a reload): a friendly page, not a blank 405.
async fn not_allowed(uri: axum::http::Uri) -> error::CourseError {
    error::CourseError::NotAllowed(format!(
        "{} is where a form on the course sends its answer; it is not a page to open. Go back to \
         the page with the form, or start from the labs at /labs.",
        uri.path()
    ))
}

async fn not_found(uri: axum::http::Uri) -> error::CourseError {
    error::CourseError::NotFound(format!("There is no page at {}.", uri.path()))
}
