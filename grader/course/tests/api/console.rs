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
    // interval (the traces start 10 s apart): last value 0 (nothing in the newest interval),
    // largest value 1.
    for service in ["api", "frontend", "payments"] {
        assert!(
            page.body.contains(&format!(
                "<code>resource.service.name=&#34;{service}&#34;</code></td><td>0</td><td>1</td>"
            )),
            "a series for {service} (via Tempo: {via_tempo_api}): {}",
            page.body
        );
    }
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
