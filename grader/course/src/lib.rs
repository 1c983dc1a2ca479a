//! The web course: lessons, lab pages, the TraceQL console and trace pictures.
//!
//! Everything is server-rendered HTML that works without JavaScript. Start reading at
//! [`router`] and [`CourseState`]; the lessons come from [`content`], rendered by the
//! [`markdown`] pipeline; live data comes through the traits in [`backend`], which the `dojo`
//! command fills with the trace store, the grader and the services' logs.

pub mod adapters;
pub mod backend;
pub mod content;
pub mod engine;
pub mod error;
pub mod markdown;
pub mod pictures;
pub mod routes;
pub mod search;
pub mod session;
pub mod state;

pub use state::{CourseSettings, CourseState, Secret};

use axum::Router;
use axum::extract::DefaultBodyLimit;

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
        .merge(routes::labs::router())
        .merge(routes::learners::router())
        .merge(routes::instructor::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::middleware,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> error::CourseError {
    error::CourseError::NotFound(format!("There is no page at {}.", uri.path()))
}
