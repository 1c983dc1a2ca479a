//! `dojo deploy` against a running `dojo up`: refusals that restart nothing, a rollout of a
//! new api version while the shop is under load, the pipeline's trace with the CI/CD
//! attributes, the new version's spans, TraceQL from the deploy to the service, and a failed
//! rollout that rolls back.

use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use dojo_testkit::tempo_json::{attribute, spans_by_service};

use crate::helpers::{Lab, search_trace_ids, urlencode};

/// How many times the api has started (each start prints where it listens into its log).
fn api_starts(lab: &Lab) -> usize {
    std::fs::read_to_string(lab.data_dir.join("logs/api.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("listening on "))
        .count()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The trace id `dojo deploy` printed.
fn printed_trace(output: &Output) -> String {
    let stdout = text(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.split("Its trace: ").nth(1))
        .unwrap_or_else(|| panic!("no trace id in:\n{stdout}"))
        .trim()
        .to_owned()
}

/// Every span of a trace from the Tempo API: (service.name, span) pairs.
async fn trace_spans(lab: &Lab, trace_id: &str) -> Option<Vec<(String, serde_json::Value)>> {
    let url = lab.url(lab.ports.tempo, &format!("/api/traces/{trace_id}"));
    let (status, body) = lab.try_get(&url).await?;
    if status != 200 {
        return None;
    }
    spans_by_service(&serde_json::from_str(&body).ok()?)
}

/// Trace ids a TraceQL search finds.
async fn search(lab: &Lab, query: &str) -> Vec<String> {
    let url = lab.url(
        lab.ports.tempo,
        &format!("/api/search?q={}&limit=50&spss=50", urlencode(query)),
    );
    let Some((200, body)) = lab.try_get(&url).await else {
        return Vec::new();
    };
    search_trace_ids(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploying_a_new_api_version_keeps_the_shop_answering_and_is_traced_end_to_end() {
    let lab = Lab::start(&["--load-rate", "0"]).await;
    let starts_at_first = api_starts(&lab);
    assert_eq!(starts_at_first, 1, "the api started once");

    // Bad input: one line, exit 2, nothing restarted.
    let refusals = [
        (
            vec!["--service", "db", "--version", "7.0.0"],
            "no service called",
        ),
        (
            vec!["--service", "payments", "--version", "7.0.0"],
            "external payment provider",
        ),
        (
            vec!["--service", "api", "--version", "1.4"],
            "MAJOR.MINOR.PATCH",
        ),
        (
            vec!["--service", "api", "--version", "latest"],
            "not a release version",
        ),
        (
            vec![
                "--service",
                "api",
                "--version",
                "7.0.0",
                "--environment",
                "prod; drop",
            ],
            "--environment (or TRACE_ENVIRONMENT) takes a name",
        ),
    ];
    for (flags, said) in &refusals {
        let output = lab.deploy(flags).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{flags:?}: {stderr}");
        assert!(
            stderr.contains(said),
            "{flags:?} should say {said:?}: {stderr}"
        );
    }
    // Another deploy of the api holds its lock: this one is refused.
    let lock = std::fs::File::create(lab.data_dir.join("deploy-api.lock")).expect("lock file");
    lock.try_lock().expect("the lock is free");
    let output = lab
        .deploy(&["--service", "api", "--version", "7.0.0"])
        .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("another deploy of api is running"),
        "{stderr}"
    );
    drop(lock);
    assert_eq!(
        api_starts(&lab),
        starts_at_first,
        "a refusal restarts nothing"
    );

    // Shoppers keep coming while the api is rolled out.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut shoppers = Vec::new();
    for _ in 0..2 {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        let (client, url) = (
            lab.http.clone(),
            lab.url(lab.ports.frontend, "/api/products"),
        );
        shoppers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {}
                    Ok(response) => failures.push(response.status().to_string()),
                    Err(error) => failures.push(error.to_string()),
                }
                failed.store(failures.len(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            failures
        }));
    }
    let output = lab
        .deploy(&[
            "--service",
            "api",
            "--version",
            "7.0.0",
            "--change",
            "Faster product search",
        ])
        .await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("Deployed api 7.0.0"), "{stdout}");
    let deployed_trace = printed_trace(&output);

    // A broken release: the rollout fails, rolls back, and 7.0.0 keeps serving.
    let broken = lab
        .deploy(&[
            "--service",
            "api",
            "--version",
            "7.1.0",
            "--fail-at",
            "rollout",
        ])
        .await;
    let broken_stdout = text(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{broken_stdout}");
    assert!(
        broken_stdout.contains("rollback api keeps serving 7.0.0"),
        "{broken_stdout}"
    );
    let broken_trace = printed_trace(&broken);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for shopper in shoppers {
        failures.extend(shopper.await.expect("a shopper"));
    }
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent > 20, "only {sent} requests were sent");
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed during the rollouts: {failures:?}",
        failures.len()
    );

    // The new version's spans carry it.
    lab.find_trace(
        "a server span of api 7.0.0",
        r#"{ resource.service.name = "api" && resource.service.version = "7.0.0" && kind = server }"#,
        Duration::from_secs(30),
    )
    .await;

    // The pipeline's trace: every stage, with the CI/CD and VCS attributes.
    let spans = lab
        .eventually(
            "the deploy's trace with the api's startup span",
            Duration::from_secs(30),
            || async {
                let spans = trace_spans(&lab, &deployed_trace).await?;
                spans.iter().any(|(s, _)| s == "api").then_some(spans)
            },
        )
        .await;
    let pipeline: Vec<&serde_json::Value> = spans
        .iter()
        .filter(|(s, _)| s == "delivery-pipeline")
        .map(|(_, span)| span)
        .collect();
    let root = pipeline
        .iter()
        .find(|s| s["name"] == "RUN deploy-api")
        .expect("the run's span");
    for (key, expected) in [
        ("cicd.pipeline.name", Some("deploy-api")),
        ("cicd.pipeline.result", Some("success")),
        ("vcs.repository.url.full", None),
        ("deployment.environment.name", Some("lab")),
        ("vcs.change.title", Some("Faster product search")),
        ("cicd.pipeline.run.id", None),
        ("deployment.id", None),
    ] {
        let value = attribute(root, key).unwrap_or_else(|| panic!("the run has no {key}"));
        if let Some(expected) = expected {
            assert_eq!(value, expected, "{key}");
        }
    }
    let revision = attribute(root, "vcs.ref.head.revision").expect("a revision");
    assert!(
        revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()),
        "{revision}"
    );
    let deployment_id = attribute(root, "deployment.id").expect("a deployment id");
    for stage in ["commit", "build", "test", "publish", "sync", "rollout"] {
        let span = pipeline
            .iter()
            .find(|s| s["name"] == stage)
            .unwrap_or_else(|| panic!("no {stage} span"));
        assert_eq!(
            attribute(span, "cicd.pipeline.task.name").as_deref(),
            Some(stage)
        );
        assert!(
            attribute(span, "cicd.pipeline.task.run.id").is_some(),
            "{stage}"
        );
        assert_eq!(
            attribute(span, "cicd.pipeline.task.run.result").as_deref(),
            Some("success"),
            "{stage}"
        );
        assert_eq!(
            span["parentSpanId"], root["spanId"],
            "{stage} is a child of the run"
        );
    }
    let commit = pipeline
        .iter()
        .find(|s| s["name"] == "commit")
        .expect("commit");
    assert_eq!(
        commit["startTimeUnixNano"], root["startTimeUnixNano"],
        "the run starts at the commit"
    );

    // TraceQL walks from the deploy to the service it started.
    let linked = format!(
        r#"{{ name = "rollout" && span.deployment.id = "{deployment_id}" }} >> {{ resource.service.name = "api" && resource.service.version = "7.0.0" }}"#
    );
    let found = search(&lab, &linked).await;
    assert_eq!(found, vec![deployed_trace.clone()], "{linked}");
    let tagged = format!(
        r#"{{ resource.service.name = "api" && resource.deployment.id = "{deployment_id}" }}"#
    );
    assert!(
        search(&lab, &tagged).await.len() > 1,
        "the new version's traces carry its deployment id: {tagged}"
    );

    // The failed rollout: its span failed, a rollback beneath it, the run failed.
    let spans = lab
        .eventually(
            "the broken deploy's trace",
            Duration::from_secs(30),
            || async {
                let spans = trace_spans(&lab, &broken_trace).await?;
                spans
                    .iter()
                    .any(|(_, s)| s["name"] == "rollback")
                    .then_some(spans)
            },
        )
        .await;
    let find = |name: &str| {
        spans
            .iter()
            .find(|(_, s)| s["name"] == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no {name} span in the broken deploy"))
    };
    assert_eq!(
        attribute(&find("RUN deploy-api"), "cicd.pipeline.result").as_deref(),
        Some("failure")
    );
    assert_eq!(
        attribute(&find("rollout"), "cicd.pipeline.task.run.result").as_deref(),
        Some("failure")
    );
    assert_eq!(
        attribute(&find("rollback"), "deployment.version").as_deref(),
        Some("7.0.0")
    );
    lab.stop().await;
}
