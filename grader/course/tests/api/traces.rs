//! The console, the waterfall and the services page, over the shelf's traces.

use crate::support::TestApp;
use crate::support::shelf::{FAILED, FAILED_PAYMENT_SPAN, SLOW, SPLIT};

#[tokio::test]
async fn the_console_lists_matching_traces_with_their_spans() {
    let app = TestApp::spawn().await;
    let page = app
        .client()
        .get("/console?q=%7B+status+%3D+error+%7D")
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("href=\"/traces/{FAILED}\"")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&format!("href=\"/traces/{SLOW}\"")),
        "only failed traces"
    );
    assert!(
        page.body.contains("5 matched"),
        "the failed checkout has five error spans: {}",
        page.body
    );
}

#[tokio::test]
async fn a_query_that_does_not_parse_shows_the_message_and_a_caret() {
    let app = TestApp::spawn().await;
    let page = app
        .client()
        .get("/console?q=%7B+status+%3D%3D+error+%7D")
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("class=\"query-error\""), "{}", page.body);
    assert!(
        page.body
            .contains("<pre class=\"caret\">{ status == error }\n"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_query_that_matches_nothing_says_so() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/console?q=%7B+duration+%3E+1h+%7D").await;
    assert!(page.body.contains("id=\"no-results\""), "{}", page.body);
}

#[tokio::test]
async fn the_waterfall_shows_the_selected_span_with_attributes_events_and_logs() {
    let app = TestApp::spawn().await;
    let page = app
        .client()
        .get(&format!("/traces/{FAILED}?span={FAILED_PAYMENT_SPAN}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg"), "a waterfall picture");
    assert!(
        page.body.contains("class=\"bar error\""),
        "errors are marked"
    );
    assert!(
        page.body.contains("<h2>POST /charge</h2>"),
        "the side panel names the span"
    );
    assert!(
        page.body.contains("http.response.status_code"),
        "attributes"
    );
    assert!(page.body.contains("<strong>exception</strong>"), "events");
    assert!(
        page.body.contains("charge refused: provider unavailable"),
        "the span's own log line"
    );
    let panel = page
        .body
        .split("id=\"span-panel\"")
        .nth(1)
        .unwrap_or_default()
        .split("</aside>")
        .next()
        .unwrap_or_default();
    assert!(
        !panel.contains("payment failed, answering 502"),
        "another span's log line is not in the panel"
    );
}

#[tokio::test]
async fn a_split_trace_and_unknown_ids_are_explained() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let page = client.get(&format!("/traces/{SPLIT}")).await;
    assert_eq!(page.status, 200);
    let page = client.get("/traces/not-hex").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("is not a trace id"));
    let page = client.get("/traces/0123456789abcdef0123456789abcdef").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("has no trace"));
}

#[tokio::test]
async fn the_services_page_draws_the_graph_and_red_charts_linking_to_exemplars() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/services").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("class=\"service-graph\""));
    assert!(page.body.contains("api → payments"), "{}", page.body);
    assert!(
        page.body.contains("class=\"exemplar\" href=\"/traces/"),
        "RED points link to traces"
    );
}

#[tokio::test]
async fn a_valid_but_suspicious_query_gets_a_warning() {
    let app = TestApp::spawn().await;
    // A duration compared with a bare number: 100 nanoseconds, almost certainly not meant.
    let page = app
        .client()
        .get("/console?q=%7B+duration+%3E+100+%7D")
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("class=\"query-warning\""),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_console_is_a_plain_form_that_the_editor_script_only_enhances() {
    let app = TestApp::spawn().await;
    let page = app
        .client()
        .get("/console?q=%7B+status+%3D+error+%7D")
        .await;

    // Without JavaScript the query is a textarea in a GET form, holding the query that ran.
    assert!(
        page.body
            .contains(r#"<form method="get" action="/console" class="console">"#)
            && page.body.contains(
                r#"<textarea id="q" name="q" rows="3" spellcheck="false" class="traceql-input">{ status = error }</textarea>"#
            ),
        "{}",
        page.body
    );
    // The editor is a deferred script of this page, not of every page.
    let tag = r#"<script src="/static/editor.js" defer></script>"#;
    assert!(page.body.contains(tag), "{}", page.body);
    let lesson = app.client().get("/learn/tracing/propagation").await;
    assert!(!lesson.body.contains(tag), "lessons have no TraceQL box");

    let script = reqwest::get(app.url("/static/editor.js"))
        .await
        .expect("GET answers");
    assert_eq!(script.status(), 200);
    let header = |name| {
        script
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header(reqwest::header::CONTENT_TYPE).as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        header(reqwest::header::CACHE_CONTROL).as_deref(),
        Some("max-age=300")
    );
    let body = script.text().await.expect("a body");
    assert!(
        body.starts_with("/*! Tracing Dojo course: the TraceQL editor"),
        "the bundle says what it is: {}",
        &body[..200.min(body.len())]
    );
}
