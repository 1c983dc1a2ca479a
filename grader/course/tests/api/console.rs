//! The console's answers beyond a plain list: a list cut at its limit, and metrics queries.

use dojo_course::CourseSettings;

use crate::support::{Options, TestApp};
use crate::traces::{get, span_of, spawn_holding};
use dojo_traceql::model::{Trace, TraceId};

/// `{ }` URL-encoded.
const ANY: &str = "%7B+%7D";

#[tokio::test]
async fn a_list_cut_at_the_limit_says_there_may_be_more() {
    // Arrange: 55 traces, more than the console's 50 rows.
    let traces = (1..=55)
        .map(|n| Trace {
            trace_id: TraceId([n; 16]),
            spans: vec![span_of(n, 1, None, "api", 60 + u64::from(n), 10)],
        })
        .collect();
    let address = spawn_holding(traces, CourseSettings::default()).await;

    // Act
    let page = get(address, &format!("/console?q={ANY}")).await;

    // Assert
    assert!(
        page.contains("The newest 50 matching traces (there may be more"),
        "{page}"
    );
    assert!(!page.contains("50 traces."), "{page}");
}

#[tokio::test]
async fn a_list_shorter_than_the_limit_gives_its_count() {
    let app = TestApp::spawn().await;
    let page = app.client().get(&format!("/console?q={ANY}")).await;
    assert!(page.body.contains("4 traces."), "{}", page.body);
    assert!(!page.body.contains("there may be more"), "{}", page.body);
}

#[tokio::test]
async fn a_metrics_query_shows_its_series_and_what_it_computes() {
    for via_tempo_api in [false, true] {
        let app = TestApp::spawn_with(Options {
            via_tempo_api,
            ..Options::default()
        })
        .await;
        series_are_shown(&app, via_tempo_api).await;
    }
}

/// Embedded, or against a Tempo over its HTTP API (`query_range`), the same table.
async fn series_are_shown(app: &TestApp, via_tempo_api: bool) {
    // { kind = server } | count_over_time() by (resource.service.name)
    let page = app
        .client()
        .get("/console?q=%7B+kind+%3D+server+%7D+%7C+count_over_time%28%29+by+%28resource.service.name%29")
        .await;

    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("It computes the number of matching spans in each interval of the window, one series per group"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("id=\"series\""),
        "a table (via Tempo: {via_tempo_api}): {}",
        page.body
    );
    // One series per service with server spans, each span of the shelf alone in its
    // interval (the traces start 10 s apart): largest value 1. The latest settled value is
    // 0 or 1 depending on where the clock cuts the shelf (the cut itself is unit-tested in
    // `routes::console`), so it is only checked to be one of the two.
    for service in ["api", "frontend", "payments"] {
        let cells = series_row(
            &page.body,
            &format!("resource.service.name=&#34;{service}&#34;"),
        )
        .unwrap_or_else(|| {
            panic!(
                "a series for {service} (via Tempo: {via_tempo_api}): {}",
                page.body
            )
        });
        let [last, largest, points] = cells.as_slice() else {
            panic!("three cells after the labels for {service}: {cells:?}");
        };
        assert_eq!(
            largest, "1",
            "largest for {service} (via Tempo: {via_tempo_api})"
        );
        assert!(
            last == "0" || last == "1",
            "latest settled value for {service}: {last}"
        );
        let points: usize = points.parse().expect("a point count");
        assert!(
            points >= 2,
            "a series over the window for {service}: {points} points"
        );
    }
}

/// The cells after the labels cell of the series table's row for `labels` (escaped as
/// the page writes them).
fn series_row(page: &str, labels: &str) -> Option<Vec<String>> {
    let start = page.find(&format!("<td><code>{labels}</code></td>"))?;
    let row = &page[start..start + page[start..].find("</tr>")?];
    Some(
        row.split("<td>")
            .skip(2)
            .map(|cell| cell.trim_end_matches("</td>").to_string())
            .collect(),
    )
}

/// The `<pre class="caret">` block of a page, unescaped enough to compare columns.
fn caret_block(page: &str) -> Option<String> {
    let start = page.find("<pre class=\"caret\">")? + "<pre class=\"caret\">".len();
    let end = start + page[start..].find("</pre>")?;
    Some(
        page[start..end]
            .replace("&#34;", "\"")
            .replace("&#39;", "'"),
    )
}

#[tokio::test]
async fn a_metrics_query_with_a_missing_parenthesis_gets_a_caret_at_its_end() {
    for via_tempo_api in [false, true] {
        let app = TestApp::spawn_with(Options {
            via_tempo_api,
            ..Options::default()
        })
        .await;
        missing_parenthesis_gets_a_caret(&app, via_tempo_api).await;
    }
}

/// Embedded or against a Tempo over HTTP, the caret is the same.
async fn missing_parenthesis_gets_a_caret(app: &TestApp, via_tempo_api: bool) {
    // { } | rate() by (resource.service.name      ← the closing parenthesis is missing
    let page = app
        .client()
        .get("/console?q=%7B+%7D+%7C+rate%28%29+by+%28resource.service.name")
        .await;

    assert_eq!(page.status, 200);
    let caret = caret_block(&page.body).unwrap_or_else(|| panic!("a caret: {}", page.body));
    let query = "{ } | rate() by (resource.service.name";
    assert_eq!(
        caret,
        format!("{query}\n{}^", " ".repeat(query.len())),
        "the caret sits just past the end, where `)` is expected (via Tempo: {via_tempo_api})"
    );
}

#[tokio::test]
async fn a_metrics_query_the_store_cannot_run_gets_a_caret_under_the_function() {
    let app = TestApp::spawn().await;

    // { } | compare({ status = error }) parses, and the store refuses to evaluate it.
    let page = app
        .client()
        .get("/console?q=%7B+%7D+%7C+compare%28%7B+status+%3D+error+%7D%29")
        .await;

    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("compare() is not supported"),
        "{}",
        page.body
    );
    let caret = caret_block(&page.body).unwrap_or_else(|| panic!("a caret: {}", page.body));
    let lines: Vec<&str> = caret.lines().collect();
    assert_eq!(lines[0], "{ } | compare({ status = error })");
    let column = lines[1].find('^').expect("a caret character");
    assert_eq!(
        Some(column),
        lines[0].find("compare"),
        "the caret points at the function: {caret}"
    );
}
