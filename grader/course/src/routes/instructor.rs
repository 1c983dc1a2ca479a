//! The instructor's pages: closed unless the lab was started with an instructor token and the
//! visitor gave it. Inside: a live progress table of every learner (the page refreshes itself),
//! the fault toggles, and a reset button per learner.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Router, routing::get, routing::post};
use serde::Deserialize;

use super::layout::Layout;
use crate::backend::{FaultState, LearnerId};
use crate::error::CourseError;
use crate::session::{Visitor, csrf_matches, instructor_cookie};
use crate::state::CourseState;
use crate::throttle::{Client, say_wait};

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/instructor", get(dashboard))
        .route("/instructor/login", post(login))
        .route("/instructor/faults", post(toggle_fault))
        .route("/instructor/reset", post(reset))
}

#[derive(Template, WebTemplate)]
#[template(path = "instructor_login.html")]
struct LoginPage {
    layout: Layout,
    enabled: bool,
    error: Option<String>,
}

pub(crate) struct Cell {
    pub class: &'static str,
    pub text: String,
    pub title: String,
}

pub(crate) struct LearnerRow {
    pub id: String,
    pub name: String,
    pub cells: Vec<Cell>,
    pub passed: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "instructor.html")]
struct Dashboard {
    layout: Layout,
    message: Option<String>,
    columns: Vec<String>,
    rows: Vec<LearnerRow>,
    faults: Vec<FaultState>,
    faults_error: Option<String>,
}

fn login_page(state: &CourseState, visitor: &Visitor, error: Option<String>) -> LoginPage {
    LoginPage {
        layout: Layout::new(state, visitor, "Instructor"),
        enabled: state.inner.settings.instructor_token.is_some(),
        error,
    }
}

/// What a visitor without the instructor token gets on an instructor page: a 403 with the
/// sign-in form.
pub(crate) fn refused(state: &CourseState, visitor: &Visitor) -> Response {
    (
        axum::http::StatusCode::FORBIDDEN,
        login_page(state, visitor, None),
    )
        .into_response()
}

async fn dashboard(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Response, CourseError> {
    if !visitor.instructor {
        return Ok(refused(&state, &visitor));
    }
    Ok(dashboard_page(&state, &visitor, None)
        .await?
        .into_response())
}

async fn dashboard_page(
    state: &CourseState,
    visitor: &Visitor,
    message: Option<String>,
) -> Result<Dashboard, CourseError> {
    let class = state
        .inner
        .grading
        .class_progress()
        .await
        .map_err(|error| CourseError::Unavailable(error.to_string()))?;
    // One column per exercise, in course order.
    let mut columns: Vec<(String, String)> = Vec::new();
    for lab in super::labs::labs_in_course_order(state) {
        if let Some(detail) = state.inner.grading.lab(&lab.id, None) {
            for exercise in detail.exercises {
                let column = (lab.id.clone(), exercise.id);
                if !columns.contains(&column) {
                    columns.push(column);
                }
            }
        }
    }
    let rows = class
        .into_iter()
        .map(|learner| {
            let cells: Vec<Cell> = columns
                .iter()
                .map(|(lab, exercise)| {
                    match learner
                        .exercises
                        .iter()
                        .find(|p| &p.lab == lab && &p.exercise == exercise)
                    {
                        Some(p) if p.passed => Cell {
                            class: "pass",
                            text: "✓".into(),
                            title: format!(
                                "passed, best {} / 100, {} attempt(s)",
                                p.best_score, p.attempts
                            ),
                        },
                        Some(p) => Cell {
                            class: "fail",
                            text: p.attempts.to_string(),
                            title: format!(
                                "not yet: {} attempt(s), best {} / 100",
                                p.attempts, p.best_score
                            ),
                        },
                        None => Cell {
                            class: "none",
                            text: "·".into(),
                            title: "not attempted".into(),
                        },
                    }
                })
                .collect();
            LearnerRow {
                id: learner.learner.to_string(),
                name: learner.name,
                passed: cells.iter().filter(|c| c.class == "pass").count(),
                cells,
            }
        })
        .collect();
    let (faults, faults_error) = match state.inner.faults.faults().await {
        Ok(faults) => (faults, None),
        Err(error) => (
            Vec::new(),
            Some(format!("The fault toggles are not answering: {error}")),
        ),
    };
    Ok(Dashboard {
        layout: Layout::new(state, visitor, "Instructor"),
        message,
        columns: columns
            .into_iter()
            .map(|(lab, ex)| format!("{lab} / {ex}"))
            .collect(),
        rows,
        faults,
        faults_error,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

async fn login(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    client: Client,
    Form(form): Form<LoginForm>,
) -> Result<Response, CourseError> {
    if !csrf_matches(&visitor, &form.csrf) {
        return Err(CourseError::Csrf);
    }
    let Some(token) = &state.inner.settings.instructor_token else {
        return Err(CourseError::Forbidden(
            "The instructor pages are closed on this lab.".into(),
        ));
    };
    // Wrong tokens are counted per address: after five, one more try a minute, right or wrong.
    let failures = &state.inner.instructor_failures;
    let wait = failures.wait(client);
    if !wait.is_zero() {
        tracing::warn!("an instructor login was refused: too many wrong tokens from one address");
        let message = format!(
            "Too many wrong tokens from your network. Please wait {} and try again.",
            say_wait(wait)
        );
        let page = login_page(&state, &visitor, Some(message));
        return Ok(super::learners::with_retry_after(
            (axum::http::StatusCode::TOO_MANY_REQUESTS, page).into_response(),
            wait,
        ));
    }
    if !token.matches(form.token.trim()) {
        let _ = failures.spend(client);
        tracing::warn!("an instructor login was refused");
        let page = login_page(&state, &visitor, Some("That token is not right.".into()));
        return Ok((axum::http::StatusCode::FORBIDDEN, page).into_response());
    }
    let rotated = state.sessions.rotate(&visitor.id, |v| v.instructor = true);
    let mut response = super::learners::with_session_cookie(
        Redirect::to("/instructor").into_response(),
        rotated.as_ref(),
    );
    // Signed in across browser restarts too, until the course runs with another token.
    if let Some(cookie) = instructor_cookie(token) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Checks the form token and the instructor flag.
fn require_instructor(visitor: &Visitor, csrf: &str) -> Result<(), CourseError> {
    if !csrf_matches(visitor, csrf) {
        return Err(CourseError::Csrf);
    }
    if !visitor.instructor {
        return Err(CourseError::Forbidden(
            "Only the instructor can do this. Sign in at /instructor.".into(),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct FaultForm {
    #[serde(default)]
    csrf: String,
    fault: String,
    enabled: bool,
}

async fn toggle_fault(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<FaultForm>,
) -> Result<Dashboard, CourseError> {
    require_instructor(&visitor, &form.csrf)?;
    let message = match state.inner.faults.set(&form.fault, form.enabled).await {
        Ok(()) => format!(
            "Fault {} is now {}.",
            form.fault,
            if form.enabled { "on" } else { "off" }
        ),
        Err(error) => format!("Fault {} could not be switched: {error}", form.fault),
    };
    dashboard_page(&state, &visitor, Some(message)).await
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    csrf: String,
    learner: String,
    /// Set by the confirmation page's button; without it the page asks first.
    #[serde(default)]
    confirm: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "reset.html")]
struct ResetConfirm {
    layout: Layout,
    learner_id: String,
    name: String,
}

async fn reset(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<ResetForm>,
) -> Result<Response, CourseError> {
    require_instructor(&visitor, &form.csrf)?;
    let learner = LearnerId::parse(form.learner.trim()).map_err(|error| {
        CourseError::BadRequest(format!(
            "{:?} is not a learner id ({error}): pick the learner from the class table.",
            form.learner
        ))
    })?;
    let class = state
        .inner
        .grading
        .class_progress()
        .await
        .map_err(|error| CourseError::Unavailable(error.to_string()))?;
    let Some(name) = class
        .iter()
        .find(|l| l.learner == learner)
        .map(|l| l.name.clone())
    else {
        return Err(CourseError::BadRequest(format!(
            "There is no learner {} to reset (perhaps they were reset already).",
            learner
        )));
    };
    if !form.confirm {
        return Ok(ResetConfirm {
            layout: Layout::new(&state, &visitor, "Reset a learner"),
            learner_id: learner.to_string(),
            name,
        }
        .into_response());
    }
    state
        .inner
        .grading
        .reset_learner(&learner)
        .await
        .map_err(|error| {
            CourseError::BadRequest(format!("Learner {} could not be reset: {error}.", learner))
        })?;
    state.sessions.sign_out(&learner);
    Ok(dashboard_page(
        &state,
        &visitor,
        Some(format!(
            "{name} ({}) was reset: their attempts and hints are gone, they are signed out and no longer listed, their faults are switched off (within a few seconds in a workshop), and their name is free to join again from any browser.",
            learner
        )),
    )
    .await?
    .into_response())
}
