//! In a workshop, each learner's pipeline traces are their own: the seeded change history of
//! each learner who joins is routed to their tenant (it carries their `learner.id`), a deploy
//! made for a learner (`dojo deploy --learner`) too, and each learner's Delivery page reads
//! only their own.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::helpers::Lab;

/// The deployments (service, version, trace id) the learner's Delivery page lists.
async fn deployments(lab: &Lab, cookie: &str) -> BTreeSet<String> {
    let page = lab
        .http
        .get(lab.url(lab.ports.dojo, "/delivery"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("the Delivery page answers")
        .text()
        .await
        .unwrap_or_default();
    page.split("<tr class=\"deployment\" ")
        .skip(1)
        .filter_map(|row| {
            let version = row.split("data-version=\"").nth(1)?.split('"').next()?;
            let trace = row.split("/traces/").nth(1)?.split('"').next()?;
            Some(format!("{version} {trace}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_workshop_learner_reads_their_own_change_history_and_deploys() {
    let lab = Lab::start(&["--load-rate", "0", "--workshop-code", "owl"]).await;
    let ada = lab.join("Ada", "owl").await;
    let bob = lab.join("Bob", "owl").await;
    let (ada_history, bob_history) = lab
        .eventually(
            "both learners' histories on their Delivery pages",
            Duration::from_secs(30),
            || async {
                let (a, b) = (deployments(&lab, &ada).await, deployments(&lab, &bob).await);
                (a.len() >= 20 && b.len() >= 20).then_some((a, b))
            },
        )
        .await;
    assert!(
        ada_history.is_disjoint(&bob_history),
        "each learner's history is their own: {ada_history:?} / {bob_history:?}"
    );

    let output = lab
        .deploy(&[
            "--service",
            "frontend",
            "--version",
            "9.0.0",
            "--learner",
            "Ada",
        ])
        .await;
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    lab.eventually(
        "Ada's deploy on her Delivery page",
        Duration::from_secs(30),
        || async {
            deployments(&lab, &ada)
                .await
                .iter()
                .any(|row| row.starts_with("9.0.0 "))
                .then_some(())
        },
    )
    .await;
    assert!(
        !deployments(&lab, &bob)
            .await
            .iter()
            .any(|row| row.starts_with("9.0.0 ")),
        "Ada's deploy is not on Bob's page"
    );
    lab.stop().await;
}
