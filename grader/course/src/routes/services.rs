//! The services page: the service graph and the RED charts of every service, computed from
//! the recent traces the store holds.

use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::{Extension, Router, routing::get};

use super::layout::Layout;
use crate::error::CourseError;
use crate::pictures::service_graph::Edge;
use crate::pictures::{format_duration, red, service_graph};
use crate::session::Visitor;
use crate::state::CourseState;

/// Points per RED chart.
const BUCKETS: usize = 15;

pub fn router() -> Router<CourseState> {
    Router::new().route("/services", get(services))
}

#[derive(Template, WebTemplate)]
#[template(path = "services.html")]
struct ServicesPage {
    layout: Layout,
    window: String,
    trace_count: usize,
    graph_svg: String,
    edges: Vec<Edge>,
    /// (service, RED charts SVG)
    charts: Vec<(String, String)>,
}

async fn services(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<ServicesPage, CourseError> {
    let settings = &state.inner.settings;
    let traces = state
        .inner
        .traces
        .recent(settings.window, settings.recent_traces)
        .await
        .map_err(|error| CourseError::Unavailable(error.to_string()))?;
    let graph = service_graph::compute(&traces);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let charts = red::compute(&traces, now, settings.window.as_nanos() as u64, BUCKETS)
        .iter()
        .map(|series| (series.service.clone(), red::svg(series)))
        .collect();
    Ok(ServicesPage {
        layout: Layout::new(&state, &visitor, "Services"),
        window: format_duration(settings.window.as_nanos() as u64),
        trace_count: traces.len(),
        graph_svg: service_graph::svg(&graph),
        edges: graph.edges,
        charts,
    })
}
