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

#[tokio::test]
async fn a_remote_tempo_lists_one_trace_more_than_its_cap_so_a_cut_list_is_told() {
    use std::sync::Arc;

    use dojo_course::traces::Traces;
    use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
    use dojo_traceql::model::TraceId;

    // 210 recent traces: copies of the shelf's first one under new ids.
    let template = crate::support::Shelf::sample().traces[0].clone();
    let traces: Vec<_> = (0..210u32)
        .map(|i| {
            let mut trace = template.clone();
            let mut id = [7u8; 16];
            id[12..].copy_from_slice(&i.to_be_bytes());
            trace.trace_id = TraceId(id);
            trace
        })
        .collect();
    let store = crate::support::store_holding(&traces);
    let url = crate::support::serve_tempo_api(store).await;
    let tempo = TempoBackend::new(TempoConfig::new(url)).expect("a Tempo client");
    let source = Traces::new(Arc::new(tempo), None);
    let cap = source.recent_cap();
    assert!(cap < 210, "the remote source has a cap of its own: {cap}");
    let listed = source
        .recent(std::time::Duration::from_secs(900), 10_001)
        .await
        .expect("Tempo answers");
    assert_eq!(
        listed.len(),
        cap + 1,
        "one more than the cap tells the page it was cut"
    );
}
