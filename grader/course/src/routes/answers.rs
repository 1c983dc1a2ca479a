//! The instructor's answer key (`/instructor/answers`): every lab's reference answers, assertions,
//! quiz answers and fault variants with their ground truth. Behind the instructor token like
//! the rest of the instructor pages; a learner gets the sign-in form and a 403.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router, routing::get};

use super::layout::Layout;
use crate::backend::AnswerKeyLab;
use crate::session::Visitor;
use crate::state::CourseState;

pub fn router() -> Router<CourseState> {
    Router::new().route("/instructor/answers", get(answer_key))
}

#[derive(Template, WebTemplate)]
#[template(path = "instructor_answers.html")]
struct AnswerKeyPage {
    layout: Layout,
    labs: Vec<AnswerKeyLab>,
}

async fn answer_key(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Response {
    if !visitor.instructor {
        return super::instructor::refused(&state, &visitor);
    }
    let order: Vec<String> = super::labs::labs_in_course_order(&state)
        .into_iter()
        .map(|lab| lab.id)
        .collect();
    let mut labs = state.inner.grading.answer_key();
    labs.sort_by_key(|lab| order.iter().position(|id| id == &lab.id));
    AnswerKeyPage {
        layout: Layout::new(&state, &visitor, "Answer key"),
        labs,
    }
    .into_response()
}
