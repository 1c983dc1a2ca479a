//! Joining and leaving: a learner joins with a display name (and the workshop code, when the
//! instructor set one); the session then carries their learner id. The first browser to join
//! with a name claims it with a [`LearnerKey`] kept in a cookie; joining with a claimed name
//! from elsewhere needs that key, typed as the rejoin code the labs page shows its holder.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Router, routing::get};
use serde::Deserialize;

use super::layout::Layout;
use crate::error::CourseError;
use crate::session::{
    LearnerKey, Visitor, clear_learner_cookie, cookie_for, csrf_matches, learner_cookie,
    learner_key_cookie,
};
use crate::state::CourseState;
use crate::throttle::{Client, say_wait};

/// Longest display name accepted.
const MAX_NAME: usize = 60;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/join", get(join_form).post(join))
        .route("/leave", get(leave_form).post(leave))
}

#[derive(Template, WebTemplate)]
#[template(path = "leave.html")]
struct LeavePage {
    layout: Layout,
    /// The key's rejoin code, to note down before leaving.
    rejoin_code: Option<String>,
}

/// Asks before leaving, and says how to come back.
async fn leave_form(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Response {
    if visitor.learner.is_none() {
        return Redirect::to("/join").into_response();
    }
    LeavePage {
        layout: Layout::new(&state, &visitor, "Leave the class"),
        rejoin_code: visitor.key.as_ref().map(LearnerKey::rejoin_code),
    }
    .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "join.html")]
struct JoinPage {
    layout: Layout,
    needs_code: bool,
    name: String,
    /// Show the rejoin-code field open: the name was taken.
    ask_for_code: bool,
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
        ask_for_code: false,
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
    /// The rejoin code, when the learner continues from another browser.
    #[serde(default)]
    rejoin_code: String,
}

async fn join(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    client: Client,
    headers: axum::http::HeaderMap,
    Form(form): Form<JoinForm>,
) -> Result<Response, CourseError> {
    if !csrf_matches(&visitor, &form.csrf) {
        return Err(CourseError::Csrf);
    }
    let name = form.name.split_whitespace().collect::<Vec<_>>().join(" ");
    let refuse_page = |status, error: &str, ask_for_code| {
        (
            status,
            JoinPage {
                layout: Layout::new(&state, &visitor, "Join the class"),
                needs_code: state.inner.settings.workshop_code.is_some(),
                name: name.clone(),
                ask_for_code,
                error: Some(error.to_string()),
            },
        )
            .into_response()
    };
    let refuse = |error: &str| refuse_page(axum::http::StatusCode::BAD_REQUEST, error, false);
    // Every attempt counts, right or wrong, so a script can neither fill the class with names
    // nor try workshop codes quickly.
    if let Err(wait) = state.inner.joins.spend(client) {
        let message = format!(
            "Too many joins from your network in a short time. Please wait {} and try again.",
            say_wait(wait)
        );
        return Ok(with_retry_after(
            refuse_page(axum::http::StatusCode::TOO_MANY_REQUESTS, &message, false),
            wait,
        ));
    }
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
    let typed_code = match form.rejoin_code.trim() {
        "" => None,
        code => match LearnerKey::parse(code) {
            Some(key) => Some(key),
            None => {
                return Ok(refuse_page(
                    axum::http::StatusCode::BAD_REQUEST,
                    "That rejoin code is not complete: it is 12 letters and digits, like ABCD-EFGH-JKMN.",
                    true,
                ));
            }
        },
    };
    let browser_key = learner_key_cookie(&headers);
    let grading = &state.inner.grading;
    let unavailable =
        |error: crate::backend::GradingError| CourseError::Unavailable(error.to_string());
    let mut key = typed_code
        .clone()
        .or(browser_key.clone())
        .unwrap_or_else(LearnerKey::generate);
    let mut joined = grading.join(&name, &key).await.map_err(unavailable)?;
    if joined.is_none() && typed_code.is_none() && browser_key.is_some() {
        // This browser's key already holds another name; a new key may claim this one.
        key = LearnerKey::generate();
        joined = grading.join(&name, &key).await.map_err(unavailable)?;
    }
    let Some(learner) = joined else {
        let message = if typed_code.is_some() {
            format!(
                "That rejoin code does not belong to “{name}”. Check it on the Labs page of the browser you joined from, or ask your instructor to reset you."
            )
        } else {
            format!(
                "Someone has already joined as “{name}” from another browser. If that was you, enter the rejoin code shown on the Labs page there; otherwise, please pick another name."
            )
        };
        return Ok(refuse_page(
            axum::http::StatusCode::CONFLICT,
            &message,
            true,
        ));
    };
    let rotated = state.sessions.rotate(&visitor.id, |v| {
        v.learner = Some((learner, name));
        v.key = Some(key.clone());
        v.hints.clear();
    });
    let mut response = with_session_cookie(Redirect::to("/labs").into_response(), rotated.as_ref());
    if let Some(cookie) = learner_cookie(&key) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Adds `Retry-After` (whole seconds, at least 1) to a refusal.
pub(crate) fn with_retry_after(mut response: Response, wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(seconds),
    );
    response
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
struct LeaveForm {
    #[serde(default)]
    csrf: String,
    /// `true` on a shared computer: this browser forgets the learner's key too.
    #[serde(default)]
    forget: bool,
}

async fn leave(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<LeaveForm>,
) -> Result<Response, CourseError> {
    if !csrf_matches(&visitor, &form.csrf) {
        return Err(CourseError::Csrf);
    }
    state.sessions.update(&visitor.id, |v| {
        v.learner = None;
        v.key = None;
        v.hints.clear();
        v.flash = None;
    });
    // The name stays claimed. This browser keeps its key (joining again with the same name
    // here needs nothing more) unless asked to forget it, as on a shared computer; then only
    // the rejoin code opens the name again.
    let mut response = Redirect::to("/").into_response();
    if form.forget {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, clear_learner_cookie());
    }
    Ok(response)
}
