//! A rollout keeps the shop broken the way it was: faults switched on (or off) at run time,
//! with their learner scope and parameters, are carried over to the new version's process.

use std::time::Duration;

use crate::helpers::{Lab, lab_children};

const ADMIN_TOKEN: &str = "e2e-rollout-faults-admin-token";

/// The pid of the running `dojo service api` process(es).
fn api_pids(lab: &Lab) -> Vec<i32> {
    lab_children(lab)
        .into_iter()
        .filter(|(_, cmdline)| cmdline.contains("service api"))
        .map(|(pid, _)| pid)
        .collect()
}

/// The api's fault listing, read through its public port (the relay).
async fn api_faults(lab: &Lab) -> Vec<serde_json::Value> {
    let response = lab
        .http
        .get(lab.url(lab.ports.api, "/admin/faults"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("the api answers");
    assert!(response.status().is_success(), "{}", response.status());
    let listing: serde_json::Value = response.json().await.expect("a listing");
    listing["faults"].as_array().expect("faults").clone()
}

fn active<'a>(faults: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    &faults
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} is listed"))["active"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollout_carries_the_faults_switched_at_run_time_over_to_the_new_version() {
    let scenario = std::env::temp_dir().join(format!(
        "dojo-e2e-rollout-faults-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&scenario, "faults:\n  - id: n_plus_one\n").expect("a scenario file");
    let lab = Lab::start(&[
        "--load-rate",
        "0",
        "--admin-token",
        ADMIN_TOKEN,
        "--scenario",
        scenario.to_str().expect("a UTF-8 path"),
    ])
    .await;
    let before = api_pids(&lab);
    assert_eq!(before.len(), 1, "one api process: {before:?}");

    // At run time: a learner-scoped fault on, the scenario's fault off.
    let response = lab
        .http
        .post(lab.url(lab.ports.api, "/admin/faults/slow_query"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"fraction":0.5,"seed":7,"learners":["ada-0badc0de"],"params":{"delay_ms":650}}"#)
        .send()
        .await
        .expect("the api answers");
    assert!(response.status().is_success(), "{}", response.status());
    let response = lab
        .http
        .delete(lab.url(lab.ports.api, "/admin/faults/n_plus_one"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("the api answers");
    assert!(response.status().is_success(), "{}", response.status());
    let switched = active(&api_faults(&lab).await, "slow_query").clone();
    assert!(switched.is_object(), "{switched}");

    let output = lab
        .deploy(&["--service", "api", "--version", "7.3.0"])
        .await;
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // A new process answers now, with the same faults.
    let after = lab
        .eventually(
            "the old api process gone",
            Duration::from_secs(30),
            || async {
                let pids = api_pids(&lab);
                (pids.len() == 1 && pids != before).then_some(pids)
            },
        )
        .await;
    assert_ne!(after, before, "the rollout started a new api process");
    let faults = api_faults(&lab).await;
    let carried = active(&faults, "slow_query");
    assert_eq!(
        carried, &switched,
        "the fault switched on at run time, with its fraction, seed, learners and parameters"
    );
    assert_eq!(carried["learners"], serde_json::json!(["ada-0badc0de"]));
    assert!(
        active(&faults, "n_plus_one").is_null(),
        "the scenario's fault switched off at run time stays off"
    );
    let _ = std::fs::remove_file(&scenario);
    lab.stop().await;
}
