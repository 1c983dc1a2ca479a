//! `dojo loadgen` walks whole journeys, tags every request with the learner, and prints a
//! summary with percentiles per step.

use std::process::Stdio;

use crate::helpers::{Shop, ShopOptions, learner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_runs_journeys_as_the_learner_and_summarises_them() {
    let shop = Shop::start(ShopOptions::default()).await;
    let who = learner("load");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo"))
        .args([
            "loadgen",
            "--target",
            &shop.frontend.url,
            "--rate",
            "5",
            "--duration",
            "2s",
            "--learner",
            &who,
            "--quiet",
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("running dojo loadgen");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "loadgen failed: {summary} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for step in [
        "browse", "product", "cart", "add_item", "checkout", "p50", "p95", "p99",
    ] {
        assert!(summary.contains(step), "summary lacks {step}: {summary}");
    }
    let traces = shop.traces_of(&who).await;
    let checkouts = traces
        .values()
        .flatten()
        .filter(|s| s.service == "frontend" && s.name == "POST /api/checkout")
        .count();
    assert!(
        checkouts >= 3,
        "about ten journeys in 2 s at 5/s, got {checkouts} checkouts"
    );
    let users: std::collections::BTreeSet<_> = traces
        .values()
        .flatten()
        .filter_map(|s| s.attr_str("user.id"))
        .collect();
    assert!(
        users.len() > 1,
        "each journey is its own shopper: {users:?}"
    );
}
