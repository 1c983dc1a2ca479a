//! Reading the course: lessons, navigation, search.

use crate::support::TestApp;

#[tokio::test]
async fn the_home_page_opens_the_first_lesson() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let page = client.get("/").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/learn/index"));
}

#[tokio::test]
async fn a_lesson_has_the_sidebar_anchors_highlighting_and_prev_next_links() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let page = client.get("/learn/tracing/sampling").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<h1 id=\"sampling\">"),
        "title with anchor"
    );
    assert!(
        page.body
            .contains("<li class=\"current\"><a href=\"/learn/tracing/sampling\">Sampling</a>"),
        "sidebar marks the lesson"
    );
    assert!(
        page.body
            .contains("rel=\"prev\" href=\"/learn/tracing/opentelemetry\""),
        "previous lesson"
    );
    assert!(
        page.body
            .contains("rel=\"next\" href=\"/learn/tracing/correlation\""),
        "next lesson"
    );
    assert!(
        page.body.contains("<span class=\"hl-fn\">export</span>"),
        "shell is highlighted on the server"
    );
    assert!(
        page.body.contains("class=\"admonition warning\""),
        "admonitions are boxes"
    );
}

#[tokio::test]
async fn traceql_examples_link_to_the_console() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/learn/traceql/first-query").await;
    assert!(
        page.body
            .contains("href=\"/console?q=%7B+resource.service.name+%3D+%22payments%22+%7D\""),
        "run link"
    );
}

#[tokio::test]
async fn a_missing_lesson_is_a_friendly_404() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/learn/nope/nothing").await;
    assert_eq!(page.status, 404);
    assert!(
        page.body
            .contains("There is no lesson at /learn/nope/nothing."),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn search_finds_sections_and_says_so_when_nothing_matches() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let page = client.get("/search?q=tail+sampling").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("href=\"/learn/tracing/sampling#tail-sampling\""),
        "{}",
        page.body
    );
    let page = client.get("/search?q=zzzqqq").await;
    assert!(
        page.body.contains("No lesson mentions all of"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_lessons_fault_commands_use_the_running_labs_own_addresses() {
    // The course attached to a shop on other ports (a second lab on the same machine).
    let settings = dojo_course::CourseSettings {
        shop: vec![
            ("frontend".into(), "http://127.0.0.1:9181".into()),
            ("api".into(), "http://127.0.0.1:9182".into()),
            ("payments".into(), "http://127.0.0.1:9183".into()),
        ],
        ..dojo_course::CourseSettings::default()
    };
    let address = crate::traces::spawn_holding(Vec::new(), settings).await;
    let page = crate::traces::get(address, "/learn/traceql/attributes").await;
    assert!(
        page.contains("curl -X POST http://127.0.0.1:9183/admin/faults/payments_slow"),
        "{page}"
    );
    assert!(!page.contains(":8083/"), "no default port left: {page}");
    assert!(!page.contains("dojo-shop-address"), "no placeholder left");

    // A course without a shop attached shows the default local addresses.
    let app = TestApp::spawn().await;
    let page = app.client().get("/learn/traceql/attributes").await;
    assert!(
        page.body
            .contains("curl -X POST http://localhost:8083/admin/faults/payments_slow"),
        "{}",
        page.body
    );
}
