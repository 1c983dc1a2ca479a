//! Lab 5's bad deploy on the real shop: `dojo up --lab delivery-pipeline` rolls the learner's
//! variant's release out through `dojo deploy` shortly after it starts, the variant's fault is
//! on for that release only, and `dojo grade` grades reports of "which deployment introduced
//! the regression": the right one passes; the previous deploy, the right service at the wrong
//! version, and evidence from one side of the deploy are refused naming the mistake.

use std::time::Duration;

use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::variant_for;

use crate::helpers::{Lab, repo_root, search_trace_ids, urlencode};

/// A learner name whose Lab 5 variant is `variant`.
fn learner_with(variant: &str) -> String {
    let labs = dojo_grader::spec::load_dir(&repo_root().join("labs")).expect("the labs load");
    let lab = labs.get("delivery-pipeline").expect("Lab 5 exists");
    (0..500)
        .map(|i| format!("learner-{i}"))
        .find(|name| variant_for(lab, &LearnerId::for_name(name)).is_some_and(|v| v.id == variant))
        .unwrap_or_else(|| panic!("no learner gets the {variant} variant"))
}

/// Trace ids a TraceQL search finds (the last 20 minutes).
async fn search(lab: &Lab, query: &str) -> Vec<String> {
    let url = lab.url(
        lab.ports.tempo,
        &format!("/api/search?q={}&limit=20&spss=5", urlencode(query)),
    );
    match lab.try_get(&url).await {
        Some((200, body)) => search_trace_ids(&body),
        _ => Vec::new(),
    }
}

/// `resource.<key>` of the api's spans in a trace.
async fn api_resource(lab: &Lab, trace_id: &str, key: &str) -> Option<String> {
    let (status, body) = lab
        .try_get(&lab.url(lab.ports.tempo, &format!("/api/traces/{trace_id}")))
        .await?;
    if status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["resourceSpans"].as_array()?.iter().find_map(|batch| {
        let attributes = batch["resource"]["attributes"].as_array()?;
        let value = |k: &str| {
            attributes
                .iter()
                .find(|a| a["key"] == k)
                .and_then(|a| a["value"]["stringValue"].as_str())
                .map(str::to_owned)
        };
        (value("service.name").as_deref() == Some("api"))
            .then(|| value(key))
            .flatten()
    })
}

/// `dojo grade` of a report; the feedback as JSON.
async fn grade(lab: &Lab, learner: &str, report: &serde_json::Value) -> serde_json::Value {
    let path = lab.data_dir.join(format!("report-{}.json", uuid_like()));
    std::fs::write(&path, report.to_string()).expect("a report file");
    let path = path.to_str().expect("a UTF-8 data directory");
    lab.grade_json(&[
        "--lab",
        "delivery-pipeline",
        "--exercise",
        "bad-deploy",
        "--report",
        path,
        "--learner",
        learner,
    ])
    .await
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// The message of the feedback item titled `title`, and whether it passed.
fn item(feedback: &serde_json::Value, title: &str) -> (bool, String) {
    let found = feedback["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["title"] == title))
        .unwrap_or_else(|| panic!("no {title:?} item: {feedback}"));
    (
        found["status"] == "pass",
        found["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bad_deploy_is_found_by_naming_it_with_traces_from_both_sides() {
    let learner = learner_with("slow-release");
    let lab = Lab::start(&[
        "--lab",
        "delivery-pipeline",
        "--learner",
        &learner,
        "--load-rate",
        "5",
    ])
    .await;
    let slow = r#"{ resource.service.name = "api" && span.db.collection.name = "products" && duration > 500ms }"#;
    let healthy = r#"{ resource.service.name = "api" && span.db.collection.name = "products" && duration < 100ms }"#;
    // Before the deploy: the products query is fast.
    let before = lab
        .eventually(
            "a healthy products query",
            Duration::from_secs(60),
            || async { search(&lab, healthy).await.into_iter().next() },
        )
        .await;
    assert!(
        search(&lab, slow).await.is_empty(),
        "no slow products query before the deploy"
    );
    let previous_version = api_resource(&lab, &before, "service.version")
        .await
        .expect("the api's release before the deploy");
    let previous_deploy = api_resource(&lab, &before, "deployment.id")
        .await
        .expect("the api's deployment before the deploy");
    // The scripted deploy brings api 2.0.0, and with it the slow query.
    let after = lab
        .eventually(
            "slow products queries of the new release",
            Duration::from_secs(150),
            || async {
                let found = search(&lab, slow).await;
                (found.len() >= 2).then_some(found)
            },
        )
        .await;
    assert_eq!(
        api_resource(&lab, &after[0], "service.version")
            .await
            .as_deref(),
        Some("2.0.0")
    );
    let bad_deploy = api_resource(&lab, &after[0], "deployment.id")
        .await
        .expect("the new release's deployment id");
    assert_ne!(bad_deploy, previous_deploy);
    let log = std::fs::read_to_string(lab.data_dir.join("logs/scripted-deploy.log"))
        .expect("the scripted deploy's log");
    assert!(
        log.contains(&bad_deploy),
        "the deploy ran through dojo deploy: {log}"
    );

    let report = |deployment: &str, evidence: Vec<&String>| {
        serde_json::json!({
            "service": "api",
            "operation": "SELECT products",
            "fault": "slow query",
            "deployment": deployment,
            "evidence": evidence,
            "explanation": "Since api 2.0.0 rolled out, every product page waits almost a second \
                            in the SELECT on products; with the release before, the same query \
                            took a few milliseconds.",
        })
    };
    let both_sides = vec![&before, &after[0], &after[1]];

    for named in [bad_deploy.as_str(), "2.0.0"] {
        let feedback = grade(&lab, &learner, &report(named, both_sides.clone())).await;
        assert_eq!(feedback["verdict"], "pass", "naming {named}: {feedback}");
    }
    let cases = [
        (
            "the previous deploy",
            report(&previous_deploy, both_sides.clone()),
            "Deployment",
            "earlier release of `api`",
        ),
        (
            "the right service at the wrong version",
            report(&previous_version, both_sides.clone()),
            "Deployment",
            "earlier release of `api`",
        ),
        (
            "evidence from after the deploy only",
            report(&bad_deploy, vec![&after[0], &after[1]]),
            "Both sides of the deploy",
            "Also cite one from before",
        ),
    ];
    for (what, answer, title, said) in cases {
        let feedback = grade(&lab, &learner, &answer).await;
        assert_eq!(feedback["verdict"], "fail", "{what}: {feedback}");
        let (passed, message) = item(&feedback, title);
        assert!(!passed, "{what}: {message}");
        assert!(message.contains(said), "{what}: {message}");
    }
    lab.stop().await;
}
