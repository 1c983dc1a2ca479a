//! Two releases of payments serve at once under `dojo up`: the api sends a share of its
//! charges to a canary of the next release, which breaks the way the stable release does
//! (it follows its faults, toggles included). Lab 2's deployment-version exercise needs both.

use std::time::Duration;

use crate::helpers::Lab;

const ADMIN_TOKEN: &str = "e2e-canary-admin-token";

/// Where the canary listens, from the first line of its log.
fn canary_url(lab: &Lab) -> Option<String> {
    std::fs::read_to_string(lab.data_dir.join("logs/payments-canary.log"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
}

/// Whether the payments process at `base` lists `fault` as on.
async fn is_on(lab: &Lab, base: &str, fault: &str) -> Option<bool> {
    let listing: serde_json::Value = lab
        .http
        .get(format!("{base}/admin/faults"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let entry = listing["faults"]
        .as_array()?
        .iter()
        .find(|f| f["id"] == fault)?;
    Some(entry["active"].is_object())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payments_canary_serves_a_share_of_the_charges_and_follows_the_stable_faults() {
    let lab = Lab::start(&["--load-rate", "5", "--admin-token", ADMIN_TOKEN]).await;
    for version in ["0.1.0", "0.2.0"] {
        lab.find_trace(
            &format!("a charge served by payments {version}"),
            &format!(
                r#"{{ resource.service.name = "payments" && resource.service.version = "{version}" && kind = server }}"#
            ),
            Duration::from_secs(60),
        )
        .await;
    }
    let canary = canary_url(&lab).expect("the canary says where it listens");
    assert_eq!(is_on(&lab, &canary, "payments_slow").await, Some(false));
    let stable = lab.url(lab.ports.payments, "");
    let response = lab
        .http
        .post(format!("{stable}/admin/faults/payments_slow"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("payments answers");
    assert!(response.status().is_success(), "{}", response.status());
    lab.eventually(
        "the canary following the stable release's toggle",
        Duration::from_secs(10),
        || async { is_on(&lab, &canary, "payments_slow").await.filter(|on| *on) },
    )
    .await;
    lab.stop().await;
}
