//! The fault admin API as a running service exposes it: token from `DOJO_ADMIN_TOKEN`,
//! scenario from `DOJO_FAULT_SCENARIO`, clear 400s.

use serde_json::Value;

use crate::helpers::{Shop, ShopOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_needs_the_token_and_the_scenario_applies_at_start() {
    let scenario = std::env::temp_dir().join(format!(
        "dojo-scenario-{}.yaml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &scenario,
        "faults:\n  - id: slow_query\n    params: { delay_ms: 250 }\n  - id: payments_slow\n",
    )
    .expect("scenario file");
    let shop = Shop::start(ShopOptions {
        env: vec![
            ("DOJO_ADMIN_TOKEN".into(), "let-me-in".into()),
            ("DOJO_FAULT_SCENARIO".into(), scenario.display().to_string()),
        ],
        ..ShopOptions::default()
    })
    .await;
    let url = format!("{}/admin/faults", shop.api.url);
    let refused = shop.http.get(&url).send().await.expect("answers");
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("JSON error");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Bearer")),
        "{body}"
    );

    let list: Value = shop
        .http
        .get(&url)
        .bearer_auth("let-me-in")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let slow = list["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .find(|f| f["id"] == "slow_query")
        .expect("listed")
        .clone();
    assert_eq!(
        slow["active"]["params"]["delay_ms"], 250,
        "the scenario switched slow_query on: {slow}"
    );
    let payments: Value = shop
        .http
        .get(format!("{}/admin/faults", shop.payments.url))
        .bearer_auth("let-me-in")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert!(
        payments["faults"][0]["active"].is_object() || payments["faults"][1]["active"].is_object(),
        "payments took payments_slow: {payments}"
    );

    let unknown = shop
        .http
        .post(format!("{url}/teleport"))
        .bearer_auth("let-me-in")
        .send()
        .await
        .expect("answers");
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(body["error"], "unknown_fault");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("slow_query")),
        "lists the known faults: {body}"
    );
    let _ = std::fs::remove_file(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_only_ok_and_without_a_token_nobody_reads_the_faults() {
    let shop = Shop::start(ShopOptions::default()).await;
    // A fault is on: its signature query would be a lab's answer.
    shop.enable("api", "slow_query", serde_json::json!({}))
        .await;
    for tier in ["frontend", "api", "payments"] {
        let response = shop
            .http
            .get(format!("{}/health", shop.tier(tier).url))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 200, "{tier}");
        assert_eq!(response.text().await.expect("a body"), "ok", "{tier}");
        let faults = shop
            .http
            .get(format!("{}/admin/faults", shop.tier(tier).url))
            .send()
            .await
            .expect("answers");
        assert_eq!(faults.status(), 403, "{tier}");
        let body = faults.text().await.expect("a body");
        assert!(body.contains("DOJO_ADMIN_TOKEN"), "{tier}: {body}");
        assert!(!body.contains("slow_query"), "{tier}: {body}");
    }
    let who = crate::helpers::learner("health");
    shop.call(&who, reqwest::Method::GET, "/api/products", None)
        .await;
    shop.traces_of(&who).await;
    assert!(
        shop.receiver
            .spans()
            .iter()
            .all(|s| !s.name.contains("/health")),
        "no span for /health"
    );
}
