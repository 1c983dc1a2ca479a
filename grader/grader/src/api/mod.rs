//! The grader's JSON HTTP API, under `/api/grader/`. The course and `dojo up` mount
//! [`router`]; handlers only convert between HTTP and [`crate::service::Grader`].
//!
//! | route | what |
//! |---|---|
//! | `GET /api/grader/labs` | every lab, with its exercises (no answers) |
//! | `GET /api/grader/labs/{lab}?learner=` | one lab, with prompts, check kinds and quiz questions (with `learner`, each question's choices in that learner's order, the order quiz answers are graded in) |
//! | `POST /api/grader/learners` | `{id, display_name}`: join (or rename) |
//! | `POST /api/grader/submit` | `{learner, lab, exercise, submission}` → `{attempt_id, feedback}` |
//! | `GET /api/grader/feedback/{attempt}?learner=` | a past attempt with its feedback (own only) |
//! | `GET /api/grader/progress/{learner}` | the learner's scores |
//! | `POST /api/grader/hints` | `{learner, lab, exercise, count}` → the first `count` hints |
//!
//! The learner id in a request is trusted: the course in front of this router is what knows
//! who is signed in, and must pass only that learner's id.

mod error;
mod views;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub use error::ApiError;

use crate::progress::LearnerId;
use crate::service::{Graded, Grader, Submission};

/// The router, with the grader as its state.
pub fn router(grader: Grader) -> Router {
    Router::new()
        .route("/api/grader/labs", get(labs))
        .route("/api/grader/labs/{lab}", get(lab))
        .route("/api/grader/learners", post(join))
        .route("/api/grader/submit", post(submit))
        .route("/api/grader/feedback/{attempt}", get(feedback))
        .route("/api/grader/progress/{learner}", get(progress))
        .route("/api/grader/hints", post(hints))
        .with_state(grader)
}

fn learner_id(text: &str) -> Result<LearnerId, ApiError> {
    LearnerId::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn body<T>(body: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

async fn labs(State(grader): State<Grader>) -> Json<Vec<views::LabSummary>> {
    Json(
        grader
            .labs()
            .iter()
            .map(|l| views::LabSummary::from(l.as_ref()))
            .collect(),
    )
}

#[derive(Deserialize)]
struct LabQuery {
    learner: Option<String>,
}

async fn lab(
    State(grader): State<Grader>,
    Path(id): Path<String>,
    Query(query): Query<LabQuery>,
) -> Result<Json<views::LabDetail>, ApiError> {
    let lab = grader
        .labs()
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no lab `{id}`")))?;
    let mut detail = views::LabDetail::from(lab.as_ref());
    if let Some(learner) = &query.learner {
        let learner = learner_id(learner)?;
        for exercise in &mut detail.exercises {
            let Some(layout) = grader.quiz_layout(&learner, &id, &exercise.id) else {
                continue;
            };
            for (question, order) in exercise.questions.iter_mut().zip(layout) {
                let spec_order = std::mem::take(&mut question.choices);
                question.choices = order
                    .iter()
                    .filter_map(|&c| spec_order.get(c).cloned())
                    .collect();
            }
        }
    }
    Ok(Json(detail))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinRequest {
    id: String,
    display_name: String,
}

async fn join(
    State(grader): State<Grader>,
    request: Result<Json<JoinRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::progress::Learner>, ApiError> {
    let request = body(request)?;
    let id = learner_id(&request.id)?;
    let name = request.display_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "display_name must be 1 to 100 characters".into(),
        ));
    }
    let progress = grader
        .progress()
        .ok_or_else(|| ApiError::NotFound("this grader keeps no progress".into()))?;
    Ok(Json(progress.join(&id, name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    learner: String,
    lab: String,
    exercise: String,
    submission: Submission,
}

async fn submit(
    State(grader): State<Grader>,
    request: Result<Json<SubmitRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Graded>, ApiError> {
    let request = body(request)?;
    let learner = learner_id(&request.learner)?;
    Ok(Json(
        grader
            .submit(
                &learner,
                &request.lab,
                &request.exercise,
                &request.submission,
            )
            .await?,
    ))
}

#[derive(Deserialize)]
struct LearnerParam {
    learner: String,
}

async fn feedback(
    State(grader): State<Grader>,
    Path(attempt): Path<i64>,
    Query(who): Query<LearnerParam>,
) -> Result<Json<crate::progress::Attempt>, ApiError> {
    let learner = learner_id(&who.learner)?;
    let progress = grader
        .progress()
        .ok_or_else(|| ApiError::NotFound("this grader keeps no progress".into()))?;
    match progress.attempt(attempt).await? {
        Some(found) if found.learner == learner => Ok(Json(found)),
        _ => Err(ApiError::NotFound(format!(
            "learner `{learner}` has no attempt {attempt}"
        ))),
    }
}

async fn progress(
    State(grader): State<Grader>,
    Path(learner): Path<String>,
) -> Result<Json<views::ProgressView>, ApiError> {
    let learner = learner_id(&learner)?;
    let progress = grader
        .progress()
        .ok_or_else(|| ApiError::NotFound("this grader keeps no progress".into()))?;
    let scores = progress.scores(&learner).await?;
    Ok(Json(views::ProgressView::new(
        grader.labs(),
        learner,
        scores,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HintsRequest {
    learner: String,
    lab: String,
    exercise: String,
    count: usize,
}

async fn hints(
    State(grader): State<Grader>,
    request: Result<Json<HintsRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<views::HintsView>, ApiError> {
    let request = body(request)?;
    let learner = learner_id(&request.learner)?;
    let (_, exercise) = grader.exercise(&request.lab, &request.exercise)?;
    let total = exercise.hints.len();
    let hints = grader
        .hints(&learner, &request.lab, &request.exercise, request.count)
        .await?;
    Ok(Json(views::HintsView { hints, total }))
}
