//! The course reading traces through Tempo's HTTP API (the store's own, spoken to by the
//! grader's Tempo client), as it does beside a real Grafana Tempo.

use crate::support::shelf::{FAILED, SLOW};
use crate::support::{Options, TestApp};

async fn spawn() -> TestApp {
    TestApp::spawn_with(Options {
        via_tempo_api: true,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn the_console_searches_through_the_tempo_api() {
    let app = spawn().await;
    let page = app
        .client()
        .get("/console?q=%7B+status+%3D+error+%7D")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("href=\"/traces/{FAILED}\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&format!("href=\"/traces/{SLOW}\"")));
}

#[tokio::test]
async fn a_broken_query_is_explained_before_it_reaches_tempo() {
    let app = spawn().await;
    let page = app
        .client()
        .get("/console?q=%7B+status+%3D%3D+error+%7D")
        .await;
    assert!(
        page.body
            .contains("<pre class=\"caret\">{ status == error }\n"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_waterfall_and_the_services_page_read_whole_traces_through_the_api() {
    let app = spawn().await;
    let mut client = app.client();
    let page = client.get(&format!("/traces/{FAILED}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("6 spans across api, frontend, payments"),
        "{}",
        page.body
    );
    let page = client.get("/services").await;
    assert!(page.body.contains("api → payments"), "{}", page.body);
}
