//! Joining and leaving: a learner joins with a display name (and the workshop code, when the
//! instructor set one); the session then carries their learner id.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Router, routing::get, routing::post};
use serde::Deserialize;

use super::layout::Layout;
use crate::error::CourseError;
use crate::session::{Visitor, cookie_for, csrf_matches};
use crate::state::CourseState;

/// Longest display name accepted.
const MAX_NAME: usize = 60;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/join", get(join_form).post(join))
        .route("/leave", post(leave))
}

#[derive(Template, WebTemplate)]
#[template(path = "join.html")]
struct JoinPage {
    layout: Layout,
    needs_code: bool,
    name: String,
    error: Option<String>,
}

async fn join_form(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> JoinPage {
    JoinPage {
        layout: Layout::new(&state, &visitor, "Join the class"),
        needs_code: state.inner.settings.workshop_code.is_some(),
        name: String::new(),
        error: None,
    }
}

#[derive(Deserialize)]
struct JoinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
}

async fn join(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<JoinForm>,
) -> Result<Response, CourseError> {
    if !csrf_matches(&visitor, &form.csrf) {
        return Err(CourseError::Csrf);
    }
    let name = form.name.split_whitespace().collect::<Vec<_>>().join(" ");
    let refuse = |error: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            JoinPage {
                layout: Layout::new(&state, &visitor, "Join the class"),
                needs_code: state.inner.settings.workshop_code.is_some(),
                name: name.clone(),
                error: Some(error.to_string()),
            },
        )
            .into_response()
    };
    if name.is_empty() {
        return Ok(refuse(
            "Please give a name, so the instructor can tell who is who.",
        ));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Ok(refuse(
            "Please use a shorter name (at most 60 characters, no control characters).",
        ));
    }
    if let Some(code) = &state.inner.settings.workshop_code
        && form.code.trim() != code
    {
        return Ok(refuse(
            "That workshop code is not right. Ask your instructor for it.",
        ));
    }
    let learner = state
        .inner
        .grading
        .join(&name)
        .await
        .map_err(|error| CourseError::Unavailable(error.to_string()))?;
    let rotated = state.sessions.rotate(&visitor.id, |v| {
        v.learner = Some((learner, name));
        v.hints.clear();
    });
    Ok(with_session_cookie(
        Redirect::to("/labs").into_response(),
        rotated.as_ref(),
    ))
}

/// Sets the cookie of a rotated session on a response.
pub(crate) fn with_session_cookie(mut response: Response, visitor: Option<&Visitor>) -> Response {
    if let Some(cookie) = visitor.and_then(|v| cookie_for(&v.id)) {
        response
            .headers_mut()
            .insert(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn leave(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<CsrfOnly>,
) -> Result<Redirect, CourseError> {
    if !csrf_matches(&visitor, &form.csrf) {
        return Err(CourseError::Csrf);
    }
    state.sessions.update(&visitor.id, |v| {
        v.learner = None;
        v.hints.clear();
    });
    Ok(Redirect::to("/"))
}
