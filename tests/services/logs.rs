//! Log lines are JSON on stdout and carry the trace and span ids of the span they were
//! written in, so a log line leads to its trace.

use serde_json::Value;

use crate::helpers::{Shop, ShopOptions, learner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_are_json_with_the_trace_id_of_their_request() {
    let shop = Shop::start(ShopOptions::default()).await;
    let who = learner("logs");
    let (status, order) = shop.checkout(&who, "4242424242424242").await;
    assert_eq!(status, 201, "{order}");
    let traces = shop.traces_of(&who).await;
    let order_id = order["order_id"].as_i64().expect("order id");
    let line: Value = shop
        .api
        .lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| {
            line["message"] == "checkout finished" && line["fields"]["order_id"] == order_id
        })
        .expect("the api logs the finished checkout as a JSON line");
    let trace_id = line["trace_id"]
        .as_str()
        .expect("trace_id on a line written inside a span");
    let span_id = line["span_id"].as_str().expect("span_id");
    assert!(
        trace_id.len() == 32 && trace_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{trace_id}"
    );
    assert!(
        span_id.len() == 16 && span_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{span_id}"
    );
    assert_eq!(line["service"], "api");
    let api_span = traces
        .values()
        .flatten()
        .find(|s| s.service == "api" && s.name == "POST /orders")
        .expect("the api's checkout span");
    assert_eq!(
        (trace_id, span_id),
        (api_span.trace_id.as_str(), api_span.span_id.as_str()),
        "the line points at its span"
    );
    for tier in ["frontend", "api", "payments"] {
        for line in shop.tier(tier).lines() {
            assert!(
                serde_json::from_str::<Value>(&line).is_ok(),
                "{tier} printed a non-JSON line: {line}"
            );
        }
    }
}
