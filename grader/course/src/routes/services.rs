//! The services page: the service graph and the RED charts of every service, computed from
//! the recent traces the store holds.

use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::{Extension, Router, routing::get};

use super::layout::Layout;
use crate::error::CourseError;
use crate::pictures::service_graph::{Edge, NodeKind};
use crate::pictures::{format_duration, red, requests, service_graph};
use crate::session::Visitor;
use crate::state::CourseState;

/// Points per RED chart.
const BUCKETS: usize = 15;
/// The shortest time a RED chart spans, in nanoseconds.
const MIN_CHART_WINDOW: u64 = 30_000_000_000;

pub fn router() -> Router<CourseState> {
    Router::new().route("/services", get(services))
}

#[derive(Template, WebTemplate)]
#[template(path = "services.html")]
struct ServicesPage {
    layout: Layout,
    /// In a workshop: the learner id whose traffic alone this page reads.
    own_traffic: Option<String>,
    window: String,
    trace_count: usize,
    /// Whether the traces read were cut to the newest `recent_traces`, so older ones in the
    /// window are left out.
    truncated: bool,
    /// How far back the traces read reach (from now to the oldest one's start), whole seconds.
    covered: String,
    /// Client calls on no edge because their callee could not be told: (requests, errors).
    unattributed: (u64, u64),
    /// What the RED charts span: the window, or less when the data is younger.
    chart_window: String,
    buckets: usize,
    graph_svg: String,
    edges: Vec<Edge>,
    /// (service, RED charts SVG)
    charts: Vec<(String, String)>,
    /// What each node of the graph is.
    kinds: std::collections::BTreeMap<String, NodeKind>,
}

impl ServicesPage {
    /// "database" or "external" beside a chart's name; nothing for one of our services.
    fn kind_label(&self, node: &str) -> Option<&'static str> {
        match self.kinds.get(node) {
            Some(NodeKind::Service) | None => None,
            Some(kind) => Some(kind.label()),
        }
    }
}

async fn services(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<ServicesPage, CourseError> {
    let settings = &state.inner.settings;
    // The course's bound, or the source's own when lower (a remote Tempo fetches fewer).
    let source = state.traces_for(&visitor);
    let bound = settings.recent_traces.min(source.recent_cap());
    let mut traces = source
        .recent(settings.window, bound.saturating_add(1))
        .await
        .map_err(|error| CourseError::Unavailable(error.to_string()))?;
    // One more than the bound was asked for, to tell "cut" from "exactly the bound".
    let truncated = traces.len() > bound;
    traces.truncate(bound);
    let requests = requests::collect(&traces);
    let graph = service_graph::from_requests(&requests, dojo_defaults::EXTERNAL_SERVICES);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // A lab that started a minute ago would squeeze all its points into the last interval of
    // a 15-minute chart: chart only the time the data covers (at least 30 s).
    let window = settings.window.as_nanos() as u64;
    let covered = traces
        .iter()
        .map(|t| t.start_unix_nanos())
        .min()
        .map(|oldest| now.saturating_sub(oldest))
        .unwrap_or(window);
    let chart_window =
        (covered + covered / BUCKETS as u64).clamp(MIN_CHART_WINDOW, window.max(MIN_CHART_WINDOW));
    let charts = red::compute(&requests, now, chart_window, BUCKETS)
        .iter()
        .map(|series| (series.service.clone(), red::svg(series)))
        .collect();
    Ok(ServicesPage {
        own_traffic: state.own_traffic_only(&visitor),
        layout: Layout::new(&state, &visitor, "Services"),
        window: format_duration(settings.window.as_nanos() as u64),
        chart_window: format_duration(chart_window),
        buckets: BUCKETS,
        trace_count: traces.len(),
        truncated,
        covered: whole_seconds(covered.min(window)),
        unattributed: graph.unattributed,
        graph_svg: service_graph::svg(&graph),
        edges: graph.edges,
        kinds: graph.kinds,
        charts,
    })
}

/// A span of time in whole seconds, as `42 s` or `3 min 5 s`.
fn whole_seconds(nanos: u64) -> String {
    let secs = (nanos / 1_000_000_000).max(1);
    if secs < 60 {
        format!("{secs} s")
    } else {
        format_duration(secs * 1_000_000_000)
    }
}
