//! The Dashboards page: a learner's panels, each a TraceQL metrics query run over the live
//! window and drawn as a chart with its legend and a plain table; a form to add a panel; a
//! button to move each one up or down and one to delete it. Everything works without script.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::labs::{Fields, field, require_learner};
use super::layout::Layout;
use dojo_grader::backend::{BackendError, MetricsAnswer};

use crate::backend::LearnerId;
use crate::dashboards::{
    FieldError, MAX_PANELS, Panel, PanelDraft, PanelStore, Unit, query_field_error,
};
use crate::error::CourseError;
use crate::pictures::format_duration;
use crate::pictures::timeseries::{self, point_time, series_colours, series_name};
use crate::session::Visitor;
use crate::state::CourseState;
use dojo_grader::check::describe::clock_utc;

/// Rows of a panel's table: the newest intervals.
const TABLE_ROWS: usize = 20;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/dashboards", get(dashboards))
        .route("/dashboards/panels", post(add_panel))
        .route("/dashboards/grafana.json", get(grafana_json))
        .route("/dashboards/panels/{id}/delete", post(delete_panel))
        .route("/dashboards/panels/{id}/move", post(move_panel))
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboards.html")]
struct DashboardsPage {
    layout: Layout,
    /// Whether this lab keeps dashboards at all.
    enabled: bool,
    joined: bool,
    window: String,
    panels: Vec<PanelView>,
    max_panels: usize,
    units: Vec<(&'static str, &'static str)>,
    /// The add form as submitted (shown again with its errors).
    form_title: String,
    form_query: String,
    form_unit: String,
    errors: Vec<FieldError>,
    /// Why the form was refused as a whole (the cap).
    refused: Option<String>,
}

impl DashboardsPage {
    fn error_of(&self, field: &str) -> Option<&FieldError> {
        self.errors.iter().find(|e| e.field == field)
    }
}

/// One panel as drawn.
struct PanelView {
    id: i64,
    title: String,
    query: String,
    unit: &'static str,
    first: bool,
    last: bool,
    chart: Option<String>,
    legend: Vec<LegendEntry>,
    /// Header of the table: a time column, then one per series.
    table_times: Vec<(String, Vec<String>)>,
    /// The query could not run: message, caret, hint.
    error: Option<FieldError>,
    /// The query runs elsewhere (a remote Tempo): where.
    note: Option<String>,
}

struct LegendEntry {
    name: String,
    colour: &'static str,
    last: String,
}

fn page(state: &CourseState, visitor: &Visitor) -> DashboardsPage {
    DashboardsPage {
        layout: Layout::new(state, visitor, "Dashboards"),
        enabled: state.inner.panels.get().is_some(),
        joined: visitor.learner.is_some(),
        window: format_duration(state.inner.settings.window.as_nanos() as u64),
        panels: Vec::new(),
        max_panels: MAX_PANELS,
        units: Unit::ALL.iter().map(|u| (u.name(), u.label())).collect(),
        form_title: String::new(),
        form_query: String::new(),
        form_unit: Unit::PerSecond.name().to_string(),
        errors: Vec::new(),
        refused: None,
    }
}

fn store(state: &CourseState) -> Result<&dyn PanelStore, CourseError> {
    state
        .inner
        .panels
        .get()
        .map(|p| p.as_ref())
        .ok_or_else(|| CourseError::NotFound("Dashboards are not kept in this lab setup.".into()))
}

fn unavailable(error: impl std::fmt::Display) -> CourseError {
    CourseError::Unavailable(error.to_string())
}

/// Fills the page with the learner's panels, each run over the live window.
async fn fill(
    state: &CourseState,
    learner: &LearnerId,
    page: &mut DashboardsPage,
) -> Result<(), CourseError> {
    let panels = store(state)?.panels(learner).await.map_err(unavailable)?;
    let count = panels.len();
    for (i, panel) in panels.into_iter().enumerate() {
        let view = panel_view(state, learner, panel, i == 0, i + 1 == count).await?;
        page.panels.push(view);
    }
    Ok(())
}

async fn panel_view(
    state: &CourseState,
    learner: &LearnerId,
    panel: Panel,
    first: bool,
    last: bool,
) -> Result<PanelView, CourseError> {
    let mut view = PanelView {
        id: panel.id,
        title: panel.title,
        query: panel.query,
        unit: panel.unit.short(),
        first,
        last,
        chart: None,
        legend: Vec::new(),
        table_times: Vec::new(),
        error: None,
        note: None,
    };
    let window = state.inner.settings.window;
    match state.traces_of(learner).metrics(&view.query, window).await {
        Ok(answer) => {
            view.chart = Some(timeseries::draw(&answer, panel.unit, &view.query));
            view.legend = legend(&answer, panel.unit, &view.query);
            view.table_times = table(&answer, panel.unit);
        }
        Err(error @ BackendError::InvalidQuery { .. }) => {
            view.error = Some(query_field_error(&error, &view.query))
        }
        Err(error) => return Err(unavailable(error)),
    }
    Ok(view)
}

fn legend(answer: &MetricsAnswer, unit: Unit, query: &str) -> Vec<LegendEntry> {
    answer
        .series
        .iter()
        .zip(series_colours(answer))
        .map(|(s, colour)| LegendEntry {
            name: series_name(&s.labels_text(), query),
            colour,
            last: s
                .values
                .iter()
                .rev()
                .find(|v| v.is_finite())
                .map_or_else(|| "–".to_string(), |v| unit.format(*v)),
        })
        .collect()
}

/// The newest intervals that have a value, newest first: (clock time, value per series).
fn table(answer: &MetricsAnswer, unit: Unit) -> Vec<(String, Vec<String>)> {
    let intervals = answer
        .series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0);
    (0..intervals)
        .rev()
        .filter(|i| {
            answer
                .series
                .iter()
                .any(|s| s.values.get(*i).is_some_and(|v| v.is_finite()))
        })
        .take(TABLE_ROWS)
        .map(|i| {
            let values = answer
                .series
                .iter()
                .map(|s| unit.format(s.values.get(i).copied().unwrap_or(f64::NAN)))
                .collect();
            (clock_utc(point_time(answer, i)), values)
        })
        .collect()
}

async fn dashboards(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<DashboardsPage, CourseError> {
    let mut page = page(&state, &visitor);
    if let (true, Some((learner, _))) = (page.enabled, &visitor.learner) {
        fill(&state, learner, &mut page).await?;
    }
    Ok(page)
}

async fn add_panel(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Form(fields): Form<Fields>,
) -> Result<Response, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    let panels = store(&state)?;
    let (title, query, unit) = (
        field(&fields, "title"),
        field(&fields, "query"),
        field(&fields, "unit"),
    );
    let refusal = match PanelDraft::check(title, query, unit) {
        Ok(draft) => match panels
            .add(&learner, &draft, MAX_PANELS)
            .await
            .map_err(unavailable)?
        {
            Some(panel) => {
                return Ok(Redirect::to(&format!("/dashboards#panel-{}", panel.id)).into_response());
            }
            None => (
                Vec::new(),
                Some(format!(
                    "Your dashboard already has {MAX_PANELS} panels, the most it keeps: delete one to add another."
                )),
            ),
        },
        Err(errors) => (errors, None),
    };
    let mut page = page(&state, &visitor);
    page.form_title = title.to_string();
    page.form_query = query.to_string();
    page.form_unit = unit.to_string();
    (page.errors, page.refused) = refusal;
    fill(&state, &learner, &mut page).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// The learner's dashboard as Grafana dashboard JSON, as a download.
async fn grafana_json(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Response, CourseError> {
    let Some((learner, name)) = &visitor.learner else {
        return Err(CourseError::Forbidden(
            "Join the class first: the export is of your own dashboard.".into(),
        ));
    };
    let panels = store(&state)?.panels(learner).await.map_err(unavailable)?;
    let json = crate::grafana_export::dashboard(name, learner.as_str(), &panels);
    let uid = crate::grafana_export::dashboard_uid(learner.as_str());
    Ok((
        [(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{uid}.json\""),
        )],
        axum::Json(json),
    )
        .into_response())
}

async fn delete_panel(
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
            "You have no such panel (it may have been deleted already).".into(),
        ));
    }
    Ok(Redirect::to("/dashboards"))
}

async fn move_panel(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, CourseError> {
    let learner = require_learner(&visitor, &fields)?;
    let up = match field(&fields, "direction") {
        "up" => true,
        "down" => false,
        other => {
            return Err(CourseError::BadRequest(format!(
                "direction must be up or down, not {other:?}."
            )));
        }
    };
    // A panel already at the top (or bottom) stays where it is.
    store(&state)?
        .move_panel(&learner, id, up)
        .await
        .map_err(unavailable)?;
    Ok(Redirect::to(&format!("/dashboards#panel-{id}")))
}
