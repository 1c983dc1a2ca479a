//! The console, the waterfall and the services page, over the shelf's traces (or, where a
//! page's behaviour needs other traces, over traces built for the test by [`spawn_holding`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dojo_course::content::Course;
use dojo_course::traces::Traces;
use dojo_course::{CourseSettings, CourseState};
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_traceql::model::{
    KeyValue, Resource, Span, SpanId, SpanKind, StatusCode, Trace, TraceId, Value,
};

use crate::support::shelf::{FAILED, FAILED_PAYMENT_SPAN, SLOW, SPLIT};
use crate::support::{
    Classroom, Shelf, ShelfLogs, Switchboard, TestApp, content_dir, serve_course, store_holding,
};

/// Starts the course over a real embedded store holding `traces` (instead of the shelf's),
/// with `settings`; answers the server's address.
pub async fn spawn_holding(traces: Vec<Trace>, settings: CourseSettings) -> SocketAddr {
    let store = store_holding(&traces);
    let state = CourseState::new(
        Course::load(&content_dir()).expect("the repository's content loads"),
        Traces::new(Arc::new(EmbeddedBackend::new(store)), None),
        Arc::new(ShelfLogs),
        Arc::new(Classroom::new(Arc::new(Shelf::sample()))),
        Arc::new(Switchboard::default()),
        settings,
    );
    serve_course(state).await
}

pub async fn get(address: SocketAddr, path: &str) -> String {
    let response = reqwest::get(format!("http://{address}{path}"))
        .await
        .expect("the course answers");
    assert_eq!(response.status(), 200, "GET {path}");
    response.text().await.expect("a body")
}

/// A span of trace `trace` in `service`, started `seconds_ago`, lasting `ms`.
pub fn span_of(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    service: &str,
    seconds_ago: u64,
    ms: u64,
) -> Span {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64;
    let start = now - seconds_ago * 1_000_000_000;
    let sid = |n: u8| SpanId([trace, 0, 0, 0, 0, 0, 0, n]);
    Span {
        span_id: sid(id),
        parent_span_id: parent.map(sid),
        name: format!("op {id}").into(),
        start_unix_nanos: start,
        end_unix_nanos: start + ms * 1_000_000,
        resource: Arc::new(Resource {
            attributes: vec![KeyValue::new("service.name", Value::str(service))],
        }),
        ..Span::default()
    }
}

/// The shop's checkout call from api to payments, `seconds_ago`: api's client span carries
/// the address as the shop's HTTP client records it; `answered` puts payments' server span
/// under it, `failed` marks api's client span as an error (a timeout).
fn charge(trace: u8, seconds_ago: u64, answered: bool, failed: bool) -> Trace {
    let mut spans = vec![span_of(trace, 1, None, "api", seconds_ago, 900)];
    let mut call = span_of(trace, 2, Some(1), "api", seconds_ago, 750);
    call.name = "POST /charge".into();
    call.kind = SpanKind::Client;
    call.attributes = vec![
        KeyValue::new("url.full", Value::str("http://127.0.0.1:8083/charge")),
        KeyValue::new("server.address", Value::str("127.0.0.1")),
        KeyValue::new("server.port", Value::Int(8083)),
    ];
    if failed {
        call.status = StatusCode::Error;
    }
    spans.push(call);
    if answered {
        let mut server = span_of(trace, 3, Some(2), "payments", seconds_ago, 1200);
        server.kind = SpanKind::Server;
        spans.push(server);
    }
    Trace {
        trace_id: TraceId([trace; 16]),
        spans,
    }
}

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
    assert!(page.body.contains("id=\"waterfall\""), "a waterfall");
    assert!(
        page.body.contains("class=\"wf-bar error\""),
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

#[tokio::test]
async fn the_service_graph_counts_calls_the_caller_saw_time_out_as_errors_on_the_edge() {
    // Arrange: payments is slow; api gave up on two calls. One answer came later (payments'
    // server span ended well), one never came (no server span at all); one call went fine.
    let traces = vec![
        charge(1, 30, true, false),
        charge(2, 20, true, true),
        charge(3, 10, false, true),
    ];
    let address = spawn_holding(traces, CourseSettings::default()).await;

    // Act
    let page = get(address, "/services").await;

    // Assert
    assert!(
        page.contains("<td>api</td><td>payments</td><td>3</td><td>2 (66.7%)</td>"),
        "three requests on api → payments, two failed: {page}"
    );
    assert!(page.contains("3 req · 66.7% err"), "{page}");
}

#[tokio::test]
async fn the_services_page_says_how_far_back_its_traces_reach_when_the_bound_cut_them() {
    let traces = (1..=6)
        .map(|n| charge(n, 200 - u64::from(n) * 10, true, false))
        .collect();
    let settings = CourseSettings {
        recent_traces: 3,
        ..CourseSettings::default()
    };
    let address = spawn_holding(traces, settings).await;

    let page = get(address, "/services").await;

    // The newest three started 160, 150 and 140 s ago: they cover the last 2 min 40 s.
    assert!(
        page.contains(
            "the newest 3 traces, which cover only the last 2 min 40 s of the 15 min window"
        ),
        "{page}"
    );
    assert!(!page.contains("3 traces of the last 15 min"), "{page}");
}

#[tokio::test]
async fn the_services_page_does_not_say_traces_were_cut_when_the_window_holds_exactly_the_bound() {
    let traces = (1..=3)
        .map(|n| charge(n, 60 - u64::from(n) * 10, true, false))
        .collect();
    let settings = CourseSettings {
        recent_traces: 3,
        ..CourseSettings::default()
    };
    let address = spawn_holding(traces, settings).await;

    let page = get(address, "/services").await;

    assert!(
        page.contains("Computed from the 3 traces of the last 15 min."),
        "{page}"
    );
}

#[tokio::test]
async fn the_services_page_says_it_read_every_trace_of_the_window_when_none_was_cut() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/services").await;
    assert!(
        page.body
            .contains("Computed from the 4 traces of the last 15 min."),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_span_panel_goes_under_the_waterfall_unless_the_screen_has_room_for_both() {
    let app = TestApp::spawn().await;
    let css = app.client().get("/static/course.css").await;
    // At 1280 px a side panel squeezed the waterfall's text: it sits below unless the screen
    // is wide enough for both.
    assert!(
        css.body
            .contains(".trace-view { display: flex; flex-direction: column;"),
        "{}",
        css.body
    );
    assert!(
        css.body
            .contains("@media (min-width: 1600px) { .trace-view { flex-direction: row;"),
        "{}",
        css.body
    );
}

#[tokio::test]
async fn the_waterfall_collapses_by_subtree_marks_the_critical_path_and_finds_spans() {
    let app = TestApp::spawn().await;
    let mut client = app.client();

    let page = client.get(&format!("/traces/{FAILED}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.matches("<details open>").count() >= 3,
        "frontend, api and the client call each open a collapsible subtree: {}",
        page.body
    );
    assert!(page.body.contains("wf-row critical"), "{}", page.body);

    let page = client.get(&format!("/traces/{FAILED}?find=charge")).await;
    assert!(
        page.body
            .contains("id=\"found\" class=\"small\">1 span matches"),
        "{}",
        page.body
    );
    assert_eq!(
        page.body.matches(" match\" style=").count(),
        1,
        "{}",
        page.body
    );
    assert!(page.body.contains(" dim\" style="), "the others are dimmed");
}

#[tokio::test]
async fn a_slow_trace_is_compared_with_a_typical_one_and_the_slow_span_is_named() {
    // Arrange: three product pages; in the slow one the database call took 800 ms.
    let page_view = |trace: u8, seconds_ago: u64, db_ms: u64| {
        let mut root = span_of(trace, 1, None, "frontend", seconds_ago, db_ms + 100);
        root.name = "GET /products/{id}".into();
        let api = span_of(trace, 2, Some(1), "api", seconds_ago, db_ms + 80);
        let mut db = span_of(trace, 3, Some(2), "api", seconds_ago, db_ms);
        db.name = "SELECT products".into();
        Trace {
            trace_id: TraceId([trace; 16]),
            spans: vec![root, api, db],
        }
    };
    let slow = TraceId([2; 16]);
    let address = spawn_holding(
        vec![
            page_view(1, 50, 10),
            page_view(2, 40, 800),
            page_view(3, 30, 12),
        ],
        CourseSettings::default(),
    )
    .await;

    // The trace page offers a typical trace of the same operation to compare with.
    let page = get(address, &format!("/traces/{slow}")).await;
    let link = page
        .split("id=\"compare-typical\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a link to compare: {page}"))
        .replace("&amp;", "&");
    assert!(
        link.starts_with(&format!("/traces/compare?a={slow}&b=")),
        "{link}"
    );

    let page = get(address, &link).await;
    assert_eq!(
        page.matches("<tr class=\"slower\">").count(),
        3,
        "the root, api and the query are slower: {page}"
    );
    let findings = page
        .split("id=\"findings\"")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap_or_default();
    assert!(findings.contains("longer than trace b"), "{findings}");
    assert!(
        findings.contains("<code>api: SELECT products</code> spent +"),
        "the query is where the time went: {findings}"
    );

    let response = reqwest::get(format!("http://{address}/traces/compare?a=zz&b="))
        .await
        .expect("the course answers");
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap_or_default()
            .contains("is not a trace id")
    );
}

/// `(key, value)` of every `data-…` attribute on the elements of `page` whose tag starts with
/// `opening` (such as `<tr class="edge-row"`), one map per element.
fn data_attributes(page: &str, opening: &str) -> Vec<std::collections::HashMap<String, String>> {
    page.match_indices(opening)
        .map(|(at, _)| {
            let tag = &page[at..at + page[at..].find('>').expect("the tag ends")];
            tag.split(" data-")
                .skip(1)
                .filter_map(|pair| {
                    let (key, rest) = pair.split_once("=\"")?;
                    Some((key.to_string(), rest.split('"').next()?.to_string()))
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_service_graph_its_table_and_the_red_charts_give_the_same_error_counts() {
    // Arrange: calls that failed on the callee's side, on the caller's side only (a timeout
    // answered later), and unanswered; plus calls that went well.
    let traces = vec![
        charge(1, 30, true, false),
        charge(2, 25, true, true),
        charge(3, 20, false, true),
        charge(4, 15, true, false),
    ];
    let address = spawn_holding(traces, CourseSettings::default()).await;

    // Act
    let page = get(address, "/services").await;

    // Assert: per callee, the table's rows into it add up to its RED totals, and the graph's
    // label says the same.
    let rows = data_attributes(&page, "<tr class=\"edge-row\"");
    let charts = data_attributes(&page, "<div class=\"red-charts\"");
    assert!(!rows.is_empty() && !charts.is_empty(), "{page}");
    let number = |map: &std::collections::HashMap<String, String>, key: &str| -> u64 {
        map[key].parse().expect("a number")
    };
    let payments = charts
        .iter()
        .find(|c| c["service"] == "payments")
        .expect("payments has RED charts");
    let into_payments: Vec<_> = rows.iter().filter(|r| r["to"] == "payments").collect();
    assert_eq!(
        (
            into_payments
                .iter()
                .map(|r| number(r, "requests"))
                .sum::<u64>(),
            into_payments
                .iter()
                .map(|r| number(r, "errors"))
                .sum::<u64>()
        ),
        (number(payments, "requests"), number(payments, "errors")),
        "table and charts agree on payments: {rows:?} {charts:?}"
    );
    assert_eq!(
        (number(payments, "requests"), number(payments, "errors")),
        (4, 2),
        "four calls, two the caller saw fail"
    );
    assert!(
        page.contains("4 req · 50.0% err"),
        "the graph agrees: {page}"
    );
    assert!(
        page.contains("<g class=\"node external\" data-node=\"payments\">"),
        "payments is drawn as the external dependency it stands in for: {page}"
    );
}
