//! The Alerts page: a learner's alert rules, each with its state (normal, pending, firing or
//! paused), the values its evaluations decided on drawn against the threshold, and the history
//! of its transitions with the series that caused each; a form to add a rule, a button to
//! delete one or resume a paused one; downloads for Grafana and Prometheus. Everything works
//! without script. The evaluation itself is `alert_evaluation`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use dojo_grader::alerting::{Condition, Severity};
use dojo_grader::check::describe::clock_utc;

use super::labs::{Fields, field, require_learner};
use super::layout::Layout;
use crate::alert_board::RuleStatus;
use crate::alert_evaluation::LOOKBACK;
use crate::alerts::{AlertStore, MAX_RULES, RuleDraft, RuleForm, SavedRule, format_for};
use crate::backend::LearnerId;
use crate::dashboards::{FieldError, Unit};
use crate::error::CourseError;
use crate::pictures::timeseries::{self, series_name};
use crate::session::Visitor;
use crate::state::CourseState;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/alerts", get(alerts))
        .route("/alerts/rules", post(add_rule))
        .route("/alerts/grafana.yaml", get(grafana_yaml))
        .route("/alerts/rules/{id}/prometheus.yaml", get(prometheus_yaml))
        .route("/alerts/rules/{id}/delete", post(delete_rule))
        .route("/alerts/rules/{id}/resume", post(resume_rule))
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
struct AlertsPage {
    layout: Layout,
    enabled: bool,
    joined: bool,
    interval: String,
    lookback: String,
    rules: Vec<RuleView>,
    max_rules: usize,
    conditions: Vec<&'static str>,
    severities: Vec<&'static str>,
    form_name: String,
    form_query: String,
    form_condition: String,
    form_threshold: String,
    form_for: String,
    form_severity: String,
    errors: Vec<FieldError>,
    refused: Option<String>,
}

impl AlertsPage {
    fn error_of(&self, field: &str) -> Option<&FieldError> {
        self.errors.iter().find(|e| e.field == field)
    }
}

/// One rule as shown.
struct RuleView {
    id: i64,
    name: String,
    query: String,
    summary: String,
    severity: &'static str,
    /// `normal`, `pending`, `firing`, `paused` or `waiting` (not evaluated yet).
    state: &'static str,
    since: Option<String>,
    /// The last evaluation: the deciding series and its value, in words.
    last: Option<String>,
    paused: Option<String>,
    error: Option<String>,
    chart: Option<String>,
    history: Vec<HistoryRow>,
    prometheus: bool,
}

struct HistoryRow {
    at: String,
    from: &'static str,
    to: &'static str,
    series: String,
    value: String,
}

fn ms_to_nanos(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000)
}

fn value_text(value: Option<f64>) -> String {
    value.map_or_else(|| "no data".to_string(), |v| Unit::Count.format(v))
}

fn rule_view(saved: SavedRule, status: Option<RuleStatus>, state: &CourseState) -> RuleView {
    let rule = &saved.rule;
    let mut view = RuleView {
        id: saved.id,
        name: saved.name.clone(),
        query: rule.query.clone(),
        summary: format!(
            "fires when a series is {} {} for {}",
            rule.condition.name(),
            Unit::Count.format(rule.threshold),
            format_for(rule.for_duration)
        ),
        severity: rule.severity.name(),
        state: "waiting",
        since: None,
        last: None,
        paused: None,
        error: None,
        chart: None,
        history: Vec::new(),
        prometheus: crate::alert_export::promql(&rule.query).is_some(),
    };
    let Some(status) = status else {
        return view;
    };
    let evaluation = &status.evaluation;
    view.state = match (&status.paused, evaluation.evaluated_at_ms) {
        (Some(_), _) => "paused",
        (None, None) => "waiting",
        (None, Some(_)) => evaluation.state.name(),
    };
    if evaluation.evaluated_at_ms.is_some() {
        view.since = Some(clock_utc(ms_to_nanos(evaluation.since_ms)));
    }
    view.last = evaluation.last.as_ref().map(|d| match &d.series {
        Some(series) => format!(
            "{} = {}{}",
            series_name(series, &rule.query),
            value_text(d.value),
            if d.breaching { " (breaching)" } else { "" }
        ),
        None => "no series had a value (no data: the rule stays normal)".to_string(),
    });
    view.paused = status.paused.clone();
    view.error = status.error.clone();
    view.chart = status
        .chart_answer(state.inner.settings.alert_interval)
        .map(|answer| {
            timeseries::draw_with_threshold(&answer, Unit::Count, Some(rule.threshold), &rule.query)
        });
    view.history = evaluation
        .history
        .iter()
        .rev()
        .map(|t| HistoryRow {
            at: clock_utc(ms_to_nanos(t.at_ms)),
            from: t.from.name(),
            to: t.to.name(),
            series: t
                .series
                .as_deref()
                .map_or_else(|| "–".to_string(), |s| series_name(s, &rule.query)),
            value: value_text(t.value),
        })
        .collect();
    view
}

fn page(state: &CourseState, visitor: &Visitor) -> AlertsPage {
    AlertsPage {
        layout: Layout::new(state, visitor, "Alerts"),
        enabled: state.inner.alerts.get().is_some(),
        joined: visitor.learner.is_some(),
        interval: format_for(state.inner.settings.alert_interval),
        lookback: format_for(LOOKBACK),
        rules: Vec::new(),
        max_rules: MAX_RULES,
        conditions: Condition::ALL.iter().map(|c| c.name()).collect(),
        severities: Severity::ALL.iter().map(|s| s.name()).collect(),
        form_name: String::new(),
        form_query: String::new(),
        form_condition: Condition::Above.name().to_string(),
        form_threshold: String::new(),
        form_for: format_for(state.inner.settings.alert_interval * 2),
        form_severity: Severity::Warning.name().to_string(),
        errors: Vec::new(),
        refused: None,
    }
}

fn store(state: &CourseState) -> Result<&dyn AlertStore, CourseError> {
    state
        .inner
        .alerts
        .get()
        .map(|s| s.as_ref())
        .ok_or_else(|| CourseError::NotFound("Alert rules are not kept in this lab setup.".into()))
}

fn unavailable(error: impl std::fmt::Display) -> CourseError {
    CourseError::Unavailable(error.to_string())
}

async fn fill(
    state: &CourseState,
    learner: &LearnerId,
    page: &mut AlertsPage,
) -> Result<(), CourseError> {
    let rules = store(state)?.rules(learner).await.map_err(unavailable)?;
    for saved in rules {
        let status = state.inner.alert_board.status(learner, saved.id);
        page.rules.push(rule_view(saved, status, state));
    }
    Ok(())
}

async fn alerts(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<AlertsPage, CourseError> {
    let mut page = page(&state, &visitor);
    if let (true, Some((learner, _))) = (page.enabled, &visitor.learner) {
        fill(&state, learner, &mut page).await?;
    }
    Ok(page)
}

async fn add_rule(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Form(fields): Form<Fields>,
) -> Result<Response, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    let rules = store(&state)?;
    let form = RuleForm {
        name: field(&fields, "name"),
        query: field(&fields, "query"),
        condition: field(&fields, "condition"),
        threshold: field(&fields, "threshold"),
        for_duration: field(&fields, "for"),
        severity: field(&fields, "severity"),
    };
    let refusal = match RuleDraft::check(form, state.inner.settings.alert_interval) {
        Ok(draft) => match rules
            .add(&learner, &draft, MAX_RULES)
            .await
            .map_err(unavailable)?
        {
            Some(saved) => {
                // Evaluate it at once, so the page shows its state without waiting a whole
                // interval; off the request, like every evaluation.
                let evaluating = state.clone();
                let owner = learner.clone();
                tokio::spawn(async move {
                    crate::alert_evaluation::evaluate_rule(&evaluating, &owner, &saved).await;
                });
                return Ok(Redirect::to("/alerts").into_response());
            }
            None => (
                Vec::new(),
                Some(format!(
                    "You already have {MAX_RULES} alert rules, the most the lab evaluates for one learner: delete one to add another."
                )),
            ),
        },
        Err(errors) => (errors, None),
    };
    let mut page = page(&state, &visitor);
    page.form_name = form.name.to_string();
    page.form_query = form.query.to_string();
    page.form_condition = form.condition.to_string();
    page.form_threshold = form.threshold.to_string();
    page.form_for = form.for_duration.to_string();
    page.form_severity = form.severity.to_string();
    (page.errors, page.refused) = refusal;
    fill(&state, &learner, &mut page).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

fn joined(visitor: &Visitor) -> Result<(&LearnerId, &str), CourseError> {
    visitor
        .learner
        .as_ref()
        .map(|(id, name)| (id, name.as_str()))
        .ok_or_else(|| {
            CourseError::Forbidden("Join the class first: the export is of your own rules.".into())
        })
}

fn yaml_download(filename: &str, body: String) -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/yaml; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The learner's rules as Grafana alerting provisioning, as a download.
async fn grafana_yaml(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Response, CourseError> {
    let (learner, name) = joined(&visitor)?;
    let rules = store(&state)?.rules(learner).await.map_err(unavailable)?;
    let yaml = crate::alert_export::grafana_provisioning(
        name,
        learner.as_str(),
        &rules,
        state.inner.settings.alert_interval,
    );
    let uid = crate::grafana_export::dashboard_uid(learner.as_str());
    Ok(yaml_download(&format!("{uid}-alerts.yaml"), yaml))
}

/// One rule as a Prometheus rule file over the span metrics, as a download.
async fn prometheus_yaml(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<i64>,
) -> Result<Response, CourseError> {
    let (learner, _) = joined(&visitor)?;
    let rules = store(&state)?.rules(learner).await.map_err(unavailable)?;
    let saved = rules
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| CourseError::NotFound("You have no such alert rule.".into()))?;
    let yaml = crate::alert_export::prometheus_rule(learner.as_str(), saved).ok_or_else(|| {
        CourseError::NotFound(
            "This rule's query does not map onto the span metrics in Prometheus (only a filter on the service, span name, kind and status, with rate() or one quantile of duration, does): export it for Grafana instead.".into(),
        )
    })?;
    Ok(yaml_download(&format!("dojo-rule-{id}.rules.yaml"), yaml))
}

async fn delete_rule(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    if !store(&state)?
        .delete(&learner, id)
        .await
        .map_err(unavailable)?
    {
        return Err(CourseError::NotFound(
            "You have no such alert rule (it may have been deleted already).".into(),
        ));
    }
    Ok(Redirect::to("/alerts"))
}

async fn resume_rule(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    // Resuming a rule that is not paused (or not the learner's) changes nothing.
    state.inner.alert_board.resume(&learner, id);
    Ok(Redirect::to(&format!("/alerts#rule-{id}")))
}
