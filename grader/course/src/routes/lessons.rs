//! Lesson pages, the search page, the stylesheet and scripts, and `/` (which opens the first
//! lesson). `static/editor.js` is generated from `editor/` (see `editor/build.mjs`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::{Extension, Router, routing::get};
use serde::Deserialize;

use super::layout::{Layout, TocEntry};
use crate::error::CourseError;
use crate::search::Hit;
use crate::session::Visitor;
use crate::state::CourseState;

pub fn router() -> Router<CourseState> {
    Router::new()
        .route("/", get(home))
        .route("/learn/{*slug}", get(lesson))
        .route("/search", get(search))
        .route("/static/course.css", get(stylesheet))
        .route("/static/course.js", get(script))
        .route("/static/editor.js", get(editor_script))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

async fn home(State(state): State<CourseState>) -> Redirect {
    match state.inner.course.lessons.first() {
        Some(first) => Redirect::to(&format!("/learn/{}", first.chapter.slug())),
        None => Redirect::to("/labs"),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "lesson.html")]
struct LessonPage {
    layout: Layout,
    html: String,
    prev: Option<TocEntry>,
    next: Option<TocEntry>,
}

async fn lesson(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Path(slug): Path<String>,
) -> Result<LessonPage, CourseError> {
    let course = &state.inner.course;
    let slug = slug.trim_end_matches('/').trim_end_matches(".md");
    let (index, lesson) = course
        .lesson(slug)
        .ok_or_else(|| CourseError::NotFound(format!("There is no lesson at /learn/{slug}.")))?;
    let entry = |i: usize| {
        course.lessons.get(i).map(|l| TocEntry {
            title: l.chapter.title.clone(),
            slug: l.chapter.slug().to_string(),
        })
    };
    let mut layout = Layout::new(&state, &visitor, lesson.title.clone());
    layout.current = slug.to_string();
    Ok(LessonPage {
        layout,
        html: crate::content::fill_shop_addresses(&lesson.html, &state.inner.settings.shop),
        prev: index.checked_sub(1).and_then(entry),
        next: entry(index + 1),
    })
}

#[derive(Deserialize)]
struct SearchParams {
    #[serde(default)]
    q: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    query: String,
    hits: Vec<Hit>,
}

async fn search(
    State(state): State<CourseState>,
    Extension(visitor): Extension<Visitor>,
    Query(params): Query<SearchParams>,
) -> SearchPage {
    let query: String = params.q.chars().take(200).collect();
    let hits = state.inner.search.search(&query, 30);
    let mut layout = Layout::new(&state, &visitor, "Search");
    layout.search_query = query.clone();
    SearchPage {
        layout,
        query,
        hits,
    }
}

async fn script() -> impl IntoResponse {
    javascript(include_str!("../../static/course.js"))
}

/// The TraceQL editor, loaded only by pages with a TraceQL text box (console and labs).
async fn editor_script() -> impl IntoResponse {
    javascript(include_str!("../../static/editor.js"))
}

fn javascript(source: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        source,
    )
}

/// The course's icon (browsers also ask for `/favicon.ico` on their own).
async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        include_str!("../../static/favicon.svg"),
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../../static/course.css"),
    )
}
