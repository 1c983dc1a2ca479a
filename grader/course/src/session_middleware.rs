//! The layer that gives every visitor a session before any handler runs (so even the join
//! form has a CSRF token), signs returning learners and instructors back in from their
//! long-lived cookies, and marks cookies `Secure` behind HTTPS. Apart from [`crate::session`]
//! because it needs the whole course state, which itself holds the session table.

use axum::extract::{Request, State};
use axum::http::header::SET_COOKIE;
use axum::middleware::Next;
use axum::response::Response;

use crate::session::{
    COOKIE_NAME, INSTRUCTOR_COOKIE, cookie, cookie_for, instructor_proof, learner_key_cookie,
    mark_cookies_secure, served_over_https,
};
use crate::state::CourseState;

/// Finds or starts the visitor's session, makes it available to handlers as an extension,
/// and sets the cookie on the response when the session is new. A new session that brings a
/// learner cookie whose key still holds a name is signed in as that learner (the course was
/// restarted, or the session was forgotten).
pub async fn middleware(
    State(state): State<CourseState>,
    mut request: Request,
    next: Next,
) -> Response {
    let sessions = &state.sessions;
    let existing = cookie(request.headers(), COOKIE_NAME).and_then(|id| sessions.get(&id));
    let (visitor, is_new) = match existing {
        Some(visitor) => (visitor, false),
        None => {
            let mut visitor = sessions.create();
            if let (Some(token), Some(proof)) = (
                &state.inner.settings.instructor_token,
                cookie(request.headers(), INSTRUCTOR_COOKIE),
            ) && instructor_proof(token) == proof
            {
                visitor = sessions
                    .update(&visitor.id, |v| v.instructor = true)
                    .unwrap_or(visitor);
            }
            if let Some(key) = learner_key_cookie(request.headers()) {
                match state.inner.grading.rejoin(&key).await {
                    Ok(Some(learner)) => {
                        visitor = sessions
                            .update(&visitor.id, |v| {
                                v.learner = Some(learner);
                                v.key = Some(key);
                            })
                            .unwrap_or(visitor);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(%error, "could not look up a returning learner");
                    }
                }
            }
            (visitor, true)
        }
    };
    let id = visitor.id.clone();
    let https = state.inner.settings.https || served_over_https(request.headers());
    request.extensions_mut().insert(visitor);
    let mut response = next.run(request).await;
    // A handler that rotated the session has set the cookie itself.
    if is_new
        && !response.headers().contains_key(SET_COOKIE)
        && let Some(value) = cookie_for(&id)
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    if https {
        mark_cookies_secure(response.headers_mut());
    }
    response
}
