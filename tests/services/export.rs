//! Spans leave by OTLP over HTTP with protobuf by default; `OTEL_EXPORTER_OTLP_PROTOCOL`
//! switches to JSON, and the same tree arrives.

use crate::helpers::{Shop, ShopOptions, learner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_over_otlp_http_json_too() {
    let shop = Shop::start(ShopOptions {
        env: vec![("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/json".into())],
        ..ShopOptions::default()
    })
    .await;
    let who = learner("json");
    let (status, order) = shop.checkout(&who, "4242424242424242").await;
    assert_eq!(status, 201, "{order}");
    let traces = shop.traces_of(&who).await;
    let services: std::collections::BTreeSet<&str> = traces
        .values()
        .flatten()
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["api", "frontend", "payments"]
    );
}
