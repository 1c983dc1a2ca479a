//! Lab pages: the list of labs, and one page per lab with its fault scenario, the exercises,
//! a submission form per kind of check, the grader's feedback inline after a submission,
//! hints revealed on request, and the learner's own attempts and progress.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, State};
use axum::response::Redirect;
use axum::{Extension, Router, routing::get, routing::post};

use super::layout::Layout;
use dojo_grader::spec::duration::SpecDuration;
use dojo_grader::spec::types::RuleSpec;

use crate::alert_grading::{Job, JobState};
use crate::backend::{
    AlertProgress, CheckKind, ExerciseProgress, Feedback, GradingError, LabDetail, LabSummary,
    LearnerId, Submission,
};
use crate::error::CourseError;
use crate::markdown::{render_untrusted, render_untrusted_inline};
use crate::session::{Flash, Visitor, csrf_matches};
use crate::state::CourseState;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/labs", get(labs))
        .route("/labs/{lab}", get(lab))
        .route(
            "/labs/{lab}/{exercise}/submit",
            post(submit).get(back_to_exercise),
        )
        .route(
            "/labs/{lab}/{exercise}/hint",
            post(hint).get(back_to_exercise),
        )
        .route(
            "/labs/{lab}/another-incident",
            post(another_incident).get(back_to_lab),
        )
}

/// Opening the another-incident form's address leads back to the lab.
async fn back_to_lab(Path(lab): Path<String>) -> Redirect {
    Redirect::to(&format!("/labs/{lab}"))
}

/// Where a submission lands: the lab page, scrolled to the exercise's feedback.
fn feedback_anchor(lab: &str, exercise: &str) -> String {
    format!("/labs/{lab}#feedback-{exercise}")
}

/// Opening a form's address (a bookmark, a reload after the redirect) leads back to the
/// exercise instead of an error.
async fn back_to_exercise(Path((lab, exercise)): Path<(String, String)>) -> Redirect {
    Redirect::to(&format!("/labs/{lab}#exercise-{exercise}"))
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
    let labs = labs_in_course_order(&state)
        .into_iter()
        .map(|lab| {
            let total = state
                .inner
                .grading
                .lab(&lab.id, None)
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

/// Every lab in course order: the order of the lessons that carry its `{{#lab id}}` card in
/// `SUMMARY.md`, then labs no lesson introduces, in the grader's order.
pub(crate) fn labs_in_course_order(state: &CourseState) -> Vec<LabSummary> {
    let lessons = &state.inner.course.lessons;
    let position = |lab: &str| {
        lessons
            .iter()
            .enumerate()
            .find_map(|(i, lesson)| {
                let j = lesson.labs.iter().position(|l| l == lab)?;
                Some((i, j))
            })
            .unwrap_or((usize::MAX, usize::MAX))
    };
    let mut labs = state.inner.grading.labs();
    labs.sort_by_key(|lab| position(&lab.id));
    labs
}

/// One multiple-choice question, rendered, with the choice last submitted.
pub(crate) struct QuestionView {
    pub id: String,
    pub prompt_html: String,
    /// Each choice rendered, and whether it was the one submitted.
    pub choices: Vec<(String, bool)>,
}

/// Which form an exercise shows.
pub(crate) enum FormKind {
    TraceQl,
    /// The service name suggested, and the setting that marks the learner's run as theirs
    /// (`None` before they join).
    Instrumentation(String, Option<String>),
    /// The services, the fault kinds, and whether the report names a deployment.
    RootCause(Vec<String>, Vec<String>, bool),
    Quiz(Vec<QuestionView>),
    /// The settings as last submitted (or empty).
    Pipeline(String),
    /// What this learner is asked (rendered; `None` before there is anything to ask), and
    /// the answer as last submitted.
    Numeric(Option<String>, String),
    /// The panels asked for, by what they show; for a dashboard of the learner's own service,
    /// the service suggested and the setting that marks their run (as for instrumentation).
    Dashboard(Vec<String>, Option<(String, Option<String>)>),
    /// An alert exercise: the fault the grader switches, the learner's saved rules (id,
    /// name, the rule in one line), and their grading of this exercise while it runs.
    Alert(String, Vec<(i64, String, String)>, Option<String>),
}

/// One line of feedback, its message rendered.
pub(crate) struct FeedbackItemView {
    pub passed: bool,
    pub message_html: String,
    pub detail: Option<DetailView>,
    pub trace_ids: Vec<String>,
}

/// A feedback line's detail: a picture that needs its columns (a caret under a query, a
/// waterfall sketch) stays preformatted; prose is rendered from its markdown, so backticks
/// become code and long sentences wrap.
pub(crate) enum DetailView {
    Picture(String),
    Prose(String),
}

impl DetailView {
    fn new(detail: &str) -> DetailView {
        let picture = detail.lines().any(|line| {
            let t = line.trim();
            !t.is_empty()
                && t.chars()
                    .all(|c| matches!(c, '^' | '~' | '|' | '─' | '│' | '└' | '├'))
        }) || detail.lines().any(|line| line.starts_with("  "));
        if picture {
            DetailView::Picture(detail.to_string())
        } else if detail.lines().count() > 1 {
            // One finding per line (evidence traces): a list.
            let list: Vec<String> = detail
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("- {}", l.trim()))
                .collect();
            DetailView::Prose(render_untrusted(&list.join("\n")))
        } else {
            DetailView::Prose(render_untrusted(detail))
        }
    }
}

/// The grader's verdict as shown: the verdict word once, then the rest of the summary.
pub(crate) struct FeedbackView {
    pub passed: bool,
    pub score: u8,
    pub summary_html: String,
    pub items: Vec<FeedbackItemView>,
}

/// The summary without a leading verdict word ("Correct: …", "Not yet: …"): the page says
/// "Correct!" or "Not yet." itself.
fn without_verdict(summary: &str) -> &str {
    for word in ["correct", "not yet"] {
        if let Some(head) = summary.get(..word.len())
            && head.eq_ignore_ascii_case(word)
        {
            let rest = &summary[word.len()..];
            if let Some(rest) = rest.strip_prefix([':', '!', '.', ',', ';']) {
                return rest.trim_start();
            }
        }
    }
    summary
}

/// `text` with its first letter upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl FeedbackView {
    fn new(feedback: &Feedback) -> FeedbackView {
        FeedbackView {
            passed: feedback.passed,
            score: feedback.score,
            summary_html: render_untrusted_inline(&capitalized(without_verdict(&feedback.summary))),
            items: feedback
                .items
                .iter()
                .map(|item| FeedbackItemView {
                    passed: item.passed,
                    message_html: render_untrusted_inline(&item.message),
                    detail: item.detail.as_deref().map(DetailView::new),
                    trace_ids: item.trace_ids.clone(),
                })
                .collect(),
        }
    }
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
    pub feedback: Option<FeedbackView>,
    /// The hints revealed so far, rendered.
    pub hints: Vec<String>,
    pub hint_count: usize,
    pub attempts: Vec<AttemptView>,
    /// The last TraceQL query tried, to edit rather than retype.
    pub last_query: String,
    /// The fields of the form just submitted for this exercise, to show them again.
    pub values: Fields,
}

impl ExerciseView {
    /// The submitted value of a field, empty when there is none.
    pub fn value(&self, name: &str) -> &str {
        field(&self.values, name)
    }
}

/// Whether the lab's faults are on, for the lab page.
pub(crate) struct ScenarioView {
    /// `on`, `off`, `none` (a lab without faults) or `unknown` (the toggles do not answer).
    pub state: &'static str,
    /// One or two sentences, rendered from markdown.
    pub html: String,
    /// `dojo loadgen` with the learner's id, when their faults only fire on their own traffic
    /// (a workshop).
    pub loadgen: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "lab.html")]
struct LabPage {
    layout: Layout,
    lab_id: String,
    title: String,
    summary: String,
    scenario: ScenarioView,
    instructions: Option<String>,
    passed: usize,
    exercises: Vec<ExerciseView>,
    /// The "another incident" form, once the learner solved this root-cause lab's incident.
    incident: Option<IncidentView>,
    /// An alert grading runs: the page reloads itself every few seconds to follow it.
    refresh: bool,
}

/// Practising again on another incident of the lab's fault scenario.
pub(crate) struct IncidentView {
    /// What happened to the learner's last request for one.
    pub message: Option<String>,
}

/// The learner's saved alert rules (id, name, the rule in one line), for a lab with an alert
/// exercise; empty otherwise, or when alert rules are not kept.
async fn alert_rules(
    state: &CourseState,
    visitor: &Visitor,
    lab: &LabDetail,
) -> Vec<(i64, String, String)> {
    let asks = lab
        .exercises
        .iter()
        .any(|e| matches!(e.kind, CheckKind::Alert { .. }));
    let (Some((learner, _)), Some(store), true) =
        (&visitor.learner, state.inner.alerts.get(), asks)
    else {
        return Vec::new();
    };
    match store.rules(learner).await {
        Ok(rules) => rules
            .into_iter()
            .map(|saved| {
                let rule = &saved.rule;
                let line = format!(
                    "{} — {} {} for {}",
                    rule.query,
                    rule.condition.name(),
                    rule.threshold,
                    crate::pictures::format_duration(rule.for_duration.as_nanos() as u64)
                );
                (saved.id, saved.name, line)
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "the learner's alert rules could not be read");
            Vec::new()
        }
    }
}

/// A running alert grading in words: `Grading “errors”… phase 2 (fault on), 20 s left. Last
/// evaluation: pending, 0.350.`
fn grading_text(job: &Job) -> String {
    let mut text = format!("Grading your rule “{}”…", job.rule);
    if let JobState::Running(progress) = &job.state {
        text.push_str(&format!(" {}", progress.stage));
        if let Some(until_ms) = progress.until_ms {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let left = ((until_ms - now_ms).max(0) + 999) / 1000;
            text.push_str(&format!(", {left} s left"));
        }
        text.push('.');
        if let Some(last) = &progress.last {
            text.push_str(&format!(" Last evaluation: {last}."));
        }
    } else {
        text.push_str(" checking that the shop has your traffic.");
    }
    text
}

/// Starts grading the learner's saved rule `rule_id` on an alert exercise, as a job the lab
/// page follows; a job of theirs that still runs is left to finish, and nothing starts.
async fn start_alert_grading(
    state: &CourseState,
    learner: &LearnerId,
    lab_id: &str,
    exercise_id: &str,
    rule_id: &str,
) -> Result<(), CourseError> {
    let store = state.inner.alerts.get().ok_or_else(|| {
        CourseError::NotFound("Alert rules are not kept in this lab setup.".into())
    })?;
    let rules = store
        .rules(learner)
        .await
        .map_err(|e| CourseError::Unavailable(e.to_string()))?;
    let saved = rule_id
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| rules.into_iter().find(|r| r.id == id))
        .ok_or_else(|| {
            CourseError::BadRequest(
                "Pick one of your saved rules (save one on the Alerts page first).".into(),
            )
        })?;
    let rule = RuleSpec {
        query: saved.rule.query.clone(),
        condition: saved.rule.condition.name().to_string(),
        threshold: saved.rule.threshold,
        for_duration: SpecDuration(saved.rule.for_duration),
        severity: saved.rule.severity.name().to_string(),
    };
    let job = Job {
        lab: lab_id.to_string(),
        exercise: exercise_id.to_string(),
        rule: saved.name.clone(),
        state: JobState::Starting,
    };
    if !state.inner.alert_gradings.start(learner, job) {
        // One alert grading per learner at a time: the page shows the running one.
        return Ok(());
    }
    let (state, learner) = (state.clone(), learner.clone());
    let (lab_id, exercise_id) = (lab_id.to_string(), exercise_id.to_string());
    tokio::spawn(async move {
        let report: Arc<dyn Fn(AlertProgress) + Send + Sync> = {
            let (state, learner) = (state.clone(), learner.clone());
            Arc::new(move |progress| {
                state
                    .inner
                    .alert_gradings
                    .update(&learner, JobState::Running(progress));
            })
        };
        let outcome = state
            .inner
            .grading
            .grade_alert(&learner, &lab_id, &exercise_id, rule, report)
            .await;
        let done = match outcome {
            Ok(feedback) => JobState::Done(feedback),
            Err(error) => JobState::Failed(error.to_string()),
        };
        state.inner.alert_gradings.update(&learner, done);
    });
    Ok(())
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

fn find_lab(state: &CourseState, visitor: &Visitor, lab: &str) -> Result<LabDetail, CourseError> {
    let learner = visitor.learner.as_ref().map(|(learner, _)| learner);
    state.inner.grading.lab(lab, learner).ok_or_else(|| {
        CourseError::NotFound(format!(
            "There is no lab called {lab:?}. The labs are listed at /labs."
        ))
    })
}

/// What the lab page says about the lab's faults: whether they are on now (for the learner's
/// own variant when one is signed in), how to switch them on, and in a workshop how to send
/// traffic they fire on. The fault is not named when finding it is the exercise.
async fn scenario_view(state: &CourseState, visitor: &Visitor, lab: &LabDetail) -> ScenarioView {
    let id = &lab.summary.id;
    let learner = visitor.learner.as_ref().map(|(learner, _)| learner);
    let variants = state.inner.grading.scenario_variants(id, learner).await;
    if variants.is_empty() {
        return ScenarioView {
            state: "none",
            html: render_untrusted_inline(
                "This lab has no fault scenario: it runs on the healthy shop.",
            ),
            loadgen: None,
        };
    }
    let workshop = state.inner.settings.workshop_code.is_some();
    let loadgen = learner
        .filter(|_| workshop)
        .map(|learner| format!("dojo loadgen --target <shop URL> --learner {}", learner));
    let enabled: Vec<String> = match state.inner.faults.faults().await {
        // In a workshop a fault may be on for other learners' traffic only; it counts when
        // this learner's requests hit it.
        Ok(faults) => faults
            .into_iter()
            .filter(|f| f.is_on_for(learner))
            .map(|f| f.id)
            .collect(),
        Err(error) => {
            return ScenarioView {
                state: "unknown",
                html: render_untrusted_inline(&format!(
                    "The course cannot tell whether this lab's fault scenario is on: the fault \
                     toggles are not answering ({error})."
                )),
                loadgen,
            };
        }
    };
    let on = variants
        .iter()
        .any(|faults| faults.iter().all(|f| enabled.contains(f)));
    let named = if lab.scenario_secret {
        String::new()
    } else {
        let faults: Vec<String> = lab
            .scenario_faults
            .iter()
            .map(|f| format!("`{f}`"))
            .collect();
        format!(" It switches on {}.", faults.join(" and "))
    };
    let text = if on {
        format!("This lab's fault scenario is on.{named}")
    } else if workshop {
        format!(
            "This lab's fault scenario is not switched on{}.{named} Ask your instructor to run \
             the workshop with `--lab {id}`, or to switch it on.",
            if learner.is_some() { " for you" } else { "" }
        )
    } else {
        format!(
            "This lab's fault scenario is not switched on.{named} Start the lab with \
             `dojo up --lab {id} --learner <your name>`, or ask your instructor to switch it on."
        )
    };
    ScenarioView {
        state: if on { "on" } else { "off" },
        html: render_untrusted_inline(&format!("{text} Scenario: {}", lab.scenario)),
        loadgen,
    }
}

/// Builds the lab page; `fresh` is a submission just made: the exercise id, the grader's
/// verdict and the submitted fields (shown again in the form).
async fn lab_page(
    state: &CourseState,
    visitor: &Visitor,
    lab_id: &str,
    fresh: Option<(String, Feedback, Fields)>,
) -> Result<LabPage, CourseError> {
    let lab = find_lab(state, visitor, lab_id)?;
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
    let questions = numeric_questions(state, visitor, lab_id, &lab).await?;
    // An alert grading: while it runs, where it stands (and the page reloads itself); once
    // done, its feedback, shown once like a verdict just given.
    let mut fresh = fresh;
    let mut running = None;
    if let Some((learner, _)) = &visitor.learner
        && let Some(job) = state.inner.alert_gradings.take_for_page(learner, lab_id)
    {
        match job.state {
            JobState::Done(feedback) => fresh = Some((job.exercise, feedback, Vec::new())),
            JobState::Failed(message) => {
                let feedback = Feedback {
                    passed: false,
                    score: 0,
                    summary: format!("Your rule “{}” could not be graded: {message}", job.rule),
                    items: Vec::new(),
                };
                fresh = Some((job.exercise, feedback, Vec::new()));
            }
            JobState::Starting | JobState::Running(_) => running = Some(job),
        }
    }
    let rules = alert_rules(state, visitor, &lab).await;
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
            let values: Fields = fresh
                .as_ref()
                .filter(|(id, _, _)| *id == exercise.id)
                .map(|(_, _, fields)| {
                    fields
                        .iter()
                        .filter(|(name, _)| name != "csrf")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            ExerciseView {
                id: exercise.id.clone(),
                title: exercise.title.clone(),
                prompt_html: render_untrusted(&exercise.prompt_markdown),
                form: match &exercise.kind {
                    CheckKind::TraceQl => FormKind::TraceQl,
                    CheckKind::Instrumentation { services } => FormKind::Instrumentation(
                        match field(&values, "service") {
                            "" => services.first().cloned().unwrap_or_default(),
                            typed => typed.to_string(),
                        },
                        visitor.learner.as_ref().map(|(id, _)| {
                            dojo_grader::check::instrumentation::run_marker(id.as_str())
                        }),
                    ),
                    CheckKind::RootCause {
                        services,
                        fault_kinds,
                        asks_deployment,
                    } => {
                        FormKind::RootCause(services.clone(), fault_kinds.clone(), *asks_deployment)
                    }
                    CheckKind::Pipeline => {
                        FormKind::Pipeline(field(&values, "settings").to_string())
                    }
                    CheckKind::Dashboard { panels, service } => FormKind::Dashboard(
                        panels.clone(),
                        service.as_ref().map(|default| {
                            (
                                match field(&values, "service") {
                                    "" => default.clone(),
                                    typed => typed.to_string(),
                                },
                                visitor.learner.as_ref().map(|(id, _)| {
                                    dojo_grader::check::instrumentation::run_marker(id.as_str())
                                }),
                            )
                        }),
                    ),
                    CheckKind::Alert { fault } => FormKind::Alert(
                        fault.clone(),
                        rules.clone(),
                        running
                            .as_ref()
                            .filter(|job| job.exercise == exercise.id)
                            .map(grading_text),
                    ),
                    CheckKind::Numeric => FormKind::Numeric(
                        questions
                            .get(&exercise.id)
                            .map(|q| render_untrusted_inline(q)),
                        field(&values, "answer").to_string(),
                    ),
                    CheckKind::Quiz { questions } => FormKind::Quiz(
                        questions
                            .iter()
                            .map(|q| QuestionView {
                                id: q.id.clone(),
                                prompt_html: render_untrusted_inline(&q.prompt),
                                choices: {
                                    let chosen = field(&values, &format!("q.{}", q.id))
                                        .parse::<usize>()
                                        .ok();
                                    q.choices
                                        .iter()
                                        .enumerate()
                                        .map(|(i, c)| {
                                            (render_untrusted_inline(c), chosen == Some(i))
                                        })
                                        .collect()
                                },
                            })
                            .collect(),
                    ),
                },
                passed,
                feedback: fresh
                    .as_ref()
                    .filter(|(id, _, _)| *id == exercise.id)
                    .map(|(_, feedback, _)| FeedbackView::new(feedback)),
                hints: visitor
                    .hints
                    .get(&(lab_id.to_string(), exercise.id.clone()))
                    .map(|hints| hints.iter().map(|h| render_untrusted_inline(h)).collect())
                    .unwrap_or_default(),
                hint_count: exercise.hint_count,
                last_query: match values.iter().find(|(name, _)| name == "query") {
                    Some((_, query)) => query.clone(),
                    None => mine
                        .first()
                        .filter(|_| matches!(exercise.kind, CheckKind::TraceQl))
                        .map(|a| a.answer.clone())
                        .unwrap_or_default(),
                },
                values,
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
    let scenario = scenario_view(state, visitor, &lab).await;
    let incident = incident_view(state, visitor, lab_id, &lab, &exercises);
    Ok(LabPage {
        layout: Layout::new(state, visitor, lab.summary.title.clone()),
        lab_id: lab_id.to_string(),
        title: lab.summary.title,
        summary: lab.summary.summary,
        scenario,
        instructions: state
            .inner
            .course
            .lesson_for_lab(lab_id)
            .map(|l| l.chapter.slug().to_string()),
        passed: exercises.iter().filter(|e| e.passed).count(),
        incident,
        exercises,
        refresh: running.is_some(),
    })
}

/// What each numeric exercise asks the joined learner, by exercise id.
async fn numeric_questions(
    state: &CourseState,
    visitor: &Visitor,
    lab_id: &str,
    lab: &LabDetail,
) -> Result<std::collections::HashMap<String, String>, CourseError> {
    let mut questions = std::collections::HashMap::new();
    let Some((learner, _)) = &visitor.learner else {
        return Ok(questions);
    };
    for exercise in &lab.exercises {
        if exercise.kind == CheckKind::Numeric
            && let Some(question) = state
                .inner
                .grading
                .question(learner, lab_id, &exercise.id)
                .await
                .map_err(grading_error)?
        {
            questions.insert(exercise.id.clone(), question);
        }
    }
    Ok(questions)
}

/// The "another incident" form: for a joined learner who passed the lab's root-cause exercise,
/// in a lab with more than one incident.
fn incident_view(
    state: &CourseState,
    visitor: &Visitor,
    lab_id: &str,
    lab: &LabDetail,
    exercises: &[ExerciseView],
) -> Option<IncidentView> {
    let solved = lab.exercises.iter().zip(exercises).any(|(exercise, view)| {
        matches!(exercise.kind, CheckKind::RootCause { .. }) && view.passed
    });
    (visitor.learner.is_some() && solved && state.inner.grading.offers_incidents(lab_id))
        .then_some(IncidentView { message: None })
}

async fn lab(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(lab): Path<String>,
) -> Result<LabPage, CourseError> {
    // A verdict just given for this lab is shown once, then forgotten.
    let fresh = match visitor.flash.as_ref().filter(|f| f.lab == lab) {
        Some(_) => state
            .sessions
            .update(&visitor.id, |v| v.flash = None)
            .and(visitor.flash.clone())
            .map(|f| (f.exercise, f.feedback, f.fields)),
        None => None,
    };
    lab_page(&state, &visitor, &lab, fresh).await
}

/// The fields of a submitted form, in order.
pub(crate) type Fields = Vec<(String, String)>;

pub(crate) fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
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
) -> Result<Redirect, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    if let Some((name, _)) = fields.iter().find(|(_, v)| v.len() > MAX_FIELD) {
        return Err(CourseError::BadRequest(format!(
            "The field {name:?} is longer than {MAX_FIELD} bytes."
        )));
    }
    let lab = find_lab(&state, &visitor, &lab_id)?;
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
        CheckKind::RootCause {
            asks_deployment, ..
        } => Submission::RootCause {
            service: field(&fields, "service").to_string(),
            operation: field(&fields, "operation").trim().to_string(),
            fault_kind: field(&fields, "fault_kind").to_string(),
            trace_ids: field(&fields, "trace_ids")
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            explanation_markdown: field(&fields, "explanation").to_string(),
            deployment: if *asks_deployment {
                field(&fields, "deployment").trim().to_string()
            } else {
                String::new()
            },
        },
        CheckKind::Pipeline => Submission::Pipeline {
            settings: field(&fields, "settings").to_string(),
        },
        CheckKind::Numeric => Submission::Numeric {
            answer: field(&fields, "answer").to_string(),
        },
        // The dashboard is the learner's saved panels, read here, never typed into the form.
        CheckKind::Dashboard { .. } => {
            let store = state.inner.panels.get().ok_or_else(|| {
                CourseError::NotFound("Dashboards are not kept in this lab setup.".into())
            })?;
            let panels = store
                .panels(&learner)
                .await
                .map_err(|e| CourseError::Unavailable(e.to_string()))?;
            Submission::Dashboard {
                service: field(&fields, "service").to_string(),
                panels: panels.into_iter().map(|p| (p.title, p.query)).collect(),
            }
        }
        // Graded as a job the lab page follows: minutes, not a request's worth.
        CheckKind::Alert { .. } => {
            start_alert_grading(
                &state,
                &learner,
                &lab_id,
                &exercise_id,
                field(&fields, "rule"),
            )
            .await?;
            return Ok(Redirect::to(&format!(
                "/labs/{lab_id}#exercise-{exercise_id}"
            )));
        }
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
    let target = feedback_anchor(&lab_id, &exercise_id);
    state.sessions.update(&visitor.id, |v| {
        v.flash = Some(Flash {
            lab: lab_id,
            exercise: exercise_id,
            feedback,
            fields,
        })
    });
    Ok(Redirect::to(&target))
}

async fn hint(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path((lab_id, exercise_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    let key = (lab_id.clone(), exercise_id.clone());
    let shown = visitor.hints.get(&key).map(Vec::len).unwrap_or(0);
    let text = state
        .inner
        .grading
        .hint(&learner, &lab_id, &exercise_id, shown)
        .await
        .map_err(grading_error)?;
    state
        .sessions
        .update(&visitor.id, |v| v.hints.entry(key).or_default().push(text));
    let shown = shown + 1;
    Ok(Redirect::to(&format!(
        "/labs/{lab_id}#hint-{exercise_id}-{shown}"
    )))
}

/// Starts the learner's next incident of the lab and says so on the lab page (or why not).
async fn another_incident(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(lab_id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<axum::response::Response, CourseError> {
    use axum::response::IntoResponse;
    let learner = require_learner(&visitor, &fields)?;
    let (status, message) = match state
        .inner
        .grading
        .another_incident(&learner, &lab_id)
        .await
    {
        Ok(round) => (
            axum::http::StatusCode::OK,
            format!(
                "Incident {} has started: another of this lab's faults is now switched on for \
                 you, not the one you just solved (it reaches the shop within a few seconds). \
                 Find its root cause and submit a new report, graded the same way; your earlier \
                 pass is kept.",
                round + 1
            ),
        ),
        Err(GradingError::Invalid(why)) => (axum::http::StatusCode::CONFLICT, capitalized(&why)),
        Err(error) => return Err(grading_error(error)),
    };
    let mut page = lab_page(&state, &visitor, &lab_id, None).await?;
    page.incident = Some(IncidentView {
        message: Some(message),
    });
    Ok((status, page).into_response())
}

#[cfg(test)]
mod detail_tests {
    use super::DetailView;

    #[test]
    fn a_caret_picture_stays_preformatted_and_prose_is_rendered_with_its_code() {
        let caret = "{ status == error }\n         ^^";
        assert!(matches!(DetailView::new(caret), DetailView::Picture(_)));
        let evidence = "aaaa  frontend: GET /, 12 ms: shows `api › SELECT` (client, 3 ms)\nbbbb  frontend: GET /, 9 ms: healthy";
        match DetailView::new(evidence) {
            DetailView::Prose(html) => {
                assert!(html.contains("<code>api › SELECT</code>"), "{html}");
                assert_eq!(html.matches("<li>").count(), 2, "{html}");
                assert!(!html.contains('`'), "no raw backticks: {html}");
            }
            DetailView::Picture(_) => panic!("evidence is prose"),
        }
    }
}
