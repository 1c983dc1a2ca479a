//! Lab pages: the list of labs, and one page per lab with its fault scenario, the exercises,
//! a submission form per kind of check, the grader's feedback inline after a submission,
//! hints revealed on request, and the learner's own attempts and progress.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, State};
use axum::{Extension, Router, routing::get, routing::post};

use super::layout::Layout;
use crate::backend::{
    CheckKind, ExerciseProgress, Feedback, GradingError, LabDetail, LearnerId, QuizQuestion,
    Submission,
};
use crate::error::CourseError;
use crate::markdown::render_untrusted;
use crate::session::{Visitor, csrf_matches};
use crate::state::CourseState;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/labs", get(labs))
        .route("/labs/{lab}", get(lab))
        .route("/labs/{lab}/{exercise}/submit", post(submit))
        .route("/labs/{lab}/{exercise}/hint", post(hint))
}

pub(crate) struct LabRow {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub minutes: u32,
    pub passed: usize,
    pub total: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "labs.html")]
struct LabsPage {
    layout: Layout,
    labs: Vec<LabRow>,
    /// The signed-in learner's rejoin code, for another browser.
    rejoin_code: Option<String>,
}

async fn labs(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<LabsPage, CourseError> {
    let progress = match &visitor.learner {
        Some((id, _)) => state
            .inner
            .grading
            .progress(id)
            .await
            .map_err(grading_error)?,
        None => Vec::new(),
    };
    let labs = state
        .inner
        .grading
        .labs()
        .into_iter()
        .map(|lab| {
            let total = state
                .inner
                .grading
                .lab(&lab.id)
                .map(|d| d.exercises.len())
                .unwrap_or(0);
            let passed = progress
                .iter()
                .filter(|p| p.lab == lab.id && p.passed)
                .count();
            LabRow {
                id: lab.id,
                title: lab.title,
                summary: lab.summary,
                minutes: lab.estimated_minutes,
                passed,
                total,
            }
        })
        .collect();
    Ok(LabsPage {
        layout: Layout::new(&state, &visitor, "Labs"),
        labs,
        rejoin_code: visitor
            .learner
            .as_ref()
            .and(visitor.key.as_ref())
            .map(|key| key.rejoin_code()),
    })
}

/// Which form an exercise shows.
pub(crate) enum FormKind {
    TraceQl,
    Instrumentation(Vec<String>),
    RootCause(Vec<String>, Vec<String>),
    Quiz(Vec<QuizQuestion>),
}

pub(crate) struct AttemptView {
    pub passed: bool,
    pub at: String,
    pub answer: String,
    /// The learner's explanation, rendered and sanitized.
    pub explanation_html: Option<String>,
}

pub(crate) struct ExerciseView {
    pub id: String,
    pub title: String,
    pub prompt_html: String,
    pub form: FormKind,
    pub passed: bool,
    pub feedback: Option<Feedback>,
    pub hints: Vec<String>,
    pub hint_count: usize,
    pub attempts: Vec<AttemptView>,
    /// The last TraceQL query tried, to edit rather than retype.
    pub last_query: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "lab.html")]
struct LabPage {
    layout: Layout,
    lab_id: String,
    title: String,
    summary: String,
    scenario: String,
    instructions: Option<String>,
    passed: usize,
    exercises: Vec<ExerciseView>,
}

fn grading_error(error: GradingError) -> CourseError {
    match error {
        GradingError::UnknownLab(_) | GradingError::UnknownExercise { .. } => {
            CourseError::NotFound(error.to_string())
        }
        GradingError::WrongKind(_) | GradingError::Invalid(_) => {
            CourseError::BadRequest(error.to_string())
        }
        GradingError::Unavailable(_) => CourseError::Unavailable(error.to_string()),
    }
}

fn find_lab(state: &CourseState, lab: &str) -> Result<LabDetail, CourseError> {
    state.inner.grading.lab(lab).ok_or_else(|| {
        CourseError::NotFound(format!(
            "There is no lab called {lab:?}. The labs are listed at /labs."
        ))
    })
}

/// Builds the lab page; `fresh` is the feedback of a submission just made (exercise id, verdict).
async fn lab_page(
    state: &CourseState,
    visitor: &Visitor,
    lab_id: &str,
    fresh: Option<(String, Feedback)>,
) -> Result<LabPage, CourseError> {
    let lab = find_lab(state, lab_id)?;
    let (progress, attempts): (Vec<ExerciseProgress>, _) = match &visitor.learner {
        Some((id, _)) => (
            state
                .inner
                .grading
                .progress(id)
                .await
                .map_err(grading_error)?,
            state
                .inner
                .grading
                .attempts(id, lab_id)
                .await
                .map_err(grading_error)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let exercises: Vec<ExerciseView> = lab
        .exercises
        .iter()
        .map(|exercise| {
            let mine: Vec<_> = attempts
                .iter()
                .filter(|a| a.exercise == exercise.id)
                .collect();
            let passed = progress
                .iter()
                .any(|p| p.lab == lab_id && p.exercise == exercise.id && p.passed);
            ExerciseView {
                id: exercise.id.clone(),
                title: exercise.title.clone(),
                prompt_html: render_untrusted(&exercise.prompt_markdown),
                form: match &exercise.kind {
                    CheckKind::TraceQl => FormKind::TraceQl,
                    CheckKind::Instrumentation { services } => {
                        FormKind::Instrumentation(services.clone())
                    }
                    CheckKind::RootCause {
                        services,
                        fault_kinds,
                    } => FormKind::RootCause(services.clone(), fault_kinds.clone()),
                    CheckKind::Quiz { questions } => FormKind::Quiz(questions.clone()),
                },
                passed,
                feedback: fresh
                    .as_ref()
                    .filter(|(id, _)| *id == exercise.id)
                    .map(|(_, feedback)| feedback.clone()),
                hints: visitor
                    .hints
                    .get(&(lab_id.to_string(), exercise.id.clone()))
                    .cloned()
                    .unwrap_or_default(),
                hint_count: exercise.hint_count,
                last_query: mine
                    .first()
                    .filter(|_| matches!(exercise.kind, CheckKind::TraceQl))
                    .map(|a| a.answer.clone())
                    .unwrap_or_default(),
                attempts: mine
                    .iter()
                    .map(|a| AttemptView {
                        passed: a.feedback.passed,
                        at: a.at.clone(),
                        answer: a.answer.clone(),
                        explanation_html: a.explanation_markdown.as_deref().map(render_untrusted),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(LabPage {
        layout: Layout::new(state, visitor, lab.summary.title.clone()),
        lab_id: lab_id.to_string(),
        title: lab.summary.title,
        summary: lab.summary.summary,
        scenario: lab.scenario,
        instructions: state
            .inner
            .course
            .lesson_for_lab(lab_id)
            .map(|l| l.chapter.slug().to_string()),
        passed: exercises.iter().filter(|e| e.passed).count(),
        exercises,
    })
}

async fn lab(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(lab): Path<String>,
) -> Result<LabPage, CourseError> {
    lab_page(&state, &visitor, &lab, None).await
}

/// The fields of a submitted form, in order.
type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Checks the form's CSRF token and that the visitor joined; returns the learner.
pub(crate) fn require_learner(
    visitor: &Visitor,
    fields: &Fields,
) -> Result<LearnerId, CourseError> {
    if !csrf_matches(visitor, field(fields, "csrf")) {
        return Err(CourseError::Csrf);
    }
    visitor
        .learner
        .as_ref()
        .map(|(id, _)| id.clone())
        .ok_or_else(|| {
            CourseError::Forbidden(
                "Join the class first (top right) so your answers can be saved.".into(),
            )
        })
}

/// Maximum size of any one answer field.
const MAX_FIELD: usize = 16 * 1024;

async fn submit(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path((lab_id, exercise_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Result<LabPage, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    if let Some((name, _)) = fields.iter().find(|(_, v)| v.len() > MAX_FIELD) {
        return Err(CourseError::BadRequest(format!(
            "The field {name:?} is longer than {MAX_FIELD} bytes."
        )));
    }
    let lab = find_lab(&state, &lab_id)?;
    let exercise = lab
        .exercises
        .iter()
        .find(|e| e.id == exercise_id)
        .ok_or_else(|| {
            CourseError::NotFound(format!("Lab {lab_id:?} has no exercise {exercise_id:?}."))
        })?;
    let submission = match &exercise.kind {
        CheckKind::TraceQl => Submission::TraceQl {
            query: field(&fields, "query").to_string(),
        },
        CheckKind::Instrumentation { .. } => Submission::Instrumentation {
            service: field(&fields, "service").to_string(),
        },
        CheckKind::RootCause { .. } => Submission::RootCause {
            service: field(&fields, "service").to_string(),
            operation: field(&fields, "operation").trim().to_string(),
            fault_kind: field(&fields, "fault_kind").to_string(),
            trace_ids: field(&fields, "trace_ids")
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            explanation_markdown: field(&fields, "explanation").to_string(),
        },
        CheckKind::Quiz { questions } => Submission::Quiz {
            answers: questions
                .iter()
                .filter_map(|q| {
                    let choice = field(&fields, &format!("q.{}", q.id))
                        .parse::<usize>()
                        .ok()?;
                    Some((q.id.clone(), choice))
                })
                .collect(),
        },
    };
    let feedback = state
        .inner
        .grading
        .submit(&learner, &lab_id, &exercise_id, submission)
        .await
        .map_err(grading_error)?;
    lab_page(&state, &visitor, &lab_id, Some((exercise_id, feedback))).await
}

async fn hint(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path((lab_id, exercise_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Result<LabPage, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    let key = (lab_id.clone(), exercise_id.clone());
    let shown = visitor.hints.get(&key).map(Vec::len).unwrap_or(0);
    let text = state
        .inner
        .grading
        .hint(&learner, &lab_id, &exercise_id, shown)
        .await
        .map_err(grading_error)?;
    let visitor = state
        .sessions
        .update(&visitor.id, |v| v.hints.entry(key).or_default().push(text))
        .unwrap_or(visitor);
    lab_page(&state, &visitor, &lab_id, None).await
}
