//! With no collector listening, the shop keeps answering and each service reports the
//! export failure once, not once per batch. (How much latency that costs is measured by the
//! instrumentation benchmark, not asserted here.)

use std::time::Duration;

use crate::helpers::{Shop, ShopOptions, learner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_collector_requests_succeed_and_the_failure_is_reported_once() {
    // A port that was free a moment ago and that nobody listens on now.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port();
    let shop = Shop::start(ShopOptions {
        otlp_endpoint: Some(format!("http://127.0.0.1:{closed}")),
        ..ShopOptions::default()
    })
    .await;
    let who = learner("down");
    for _ in 0..5 {
        let (status, order) = shop.checkout(&who, "4242424242424242").await;
        assert_eq!(status, 201, "{order}");
        // Spread the journeys over several batch intervals (200 ms in tests).
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for tier in ["frontend", "api", "payments"] {
        let reports = shop
            .tier(tier)
            .lines()
            .iter()
            .filter(|line| line.contains("cannot export spans to the trace collector"))
            .count();
        assert_eq!(
            reports, 1,
            "{tier} reports the unreachable collector exactly once"
        );
    }
    assert!(shop.receiver.spans().is_empty());
}
