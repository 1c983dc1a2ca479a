//! Lab 5's delivery pipeline against the containers' own shop: the `deploy` container (compose's
//! one-shot service, Kubernetes' Job) run with the command it ships with, while shoppers keep
//! coming. The api must keep answering, its new release must serve and carry the version, the
//! pipeline's trace must reach the stand-in collector with every stage, and TraceQL must lead
//! from the deploy to the new release's spans.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dojo_defaults::env;
use dojo_deploy_tests::container::Container;
use dojo_testkit::tempo_json::{attribute, spans_by_service};
use serde_json::Value;

use crate::harness::{Machine, flag};
use crate::{image, named, port_of};

/// The stages of a pipeline run, in order.
const STAGES: [&str; 6] = ["commit", "build", "test", "publish", "sync", "rollout"];

/// Runs the deploy container as shipped and checks what a learner would look at.
pub async fn a_deploy_rolls_out_a_new_release(machine: &mut Machine, containers: &[Container]) {
    let deploy = named(containers, "deploy");
    let service = flag(&deploy.argv, "--service").expect("the deploy names a service");
    let version = flag(&deploy.argv, "--version").expect("the deploy names a version");
    let tempo = machine.url("tempo", 3200);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");

    // Shoppers keep coming through the frontend (which calls the api) during the rollout.
    let frontend = machine.url("frontend", port_of(named(containers, "frontend")));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let shopper = {
        let (stop, sent, http) = (Arc::clone(&stop), Arc::clone(&sent), http.clone());
        let url = format!("{frontend}/api/products");
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                match http.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {}
                    Ok(response) => failures.push(response.status().to_string()),
                    Err(error) => failures.push(error.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            failures
        })
    };
    let process = machine.run(deploy, &image()).await;
    let status = process.wait(Duration::from_secs(180)).await;
    let said = process.output.lock().expect("log lock").join("\n");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let failures = shopper.await.expect("the shopper");
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{} did not deploy:\n{said}\n{}",
        deploy.origin,
        machine.report()
    );
    assert!(
        said.contains(&format!("Deployed {service} {version}")),
        "{said}"
    );
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        sent >= 10,
        "only {sent} requests were sent during the deploy"
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed during the rollout: {failures:?}",
        failures.len()
    );
    let trace_id = said
        .lines()
        .find_map(|l| l.split("Its trace: ").nth(1))
        .unwrap_or_else(|| panic!("no trace id in:\n{said}"))
        .trim()
        .to_owned();

    // The pipeline's trace went through the (stand-in) collector: every stage, and the new
    // release's startup span beneath the rollout.
    let spans = eventually(&format!("the pipeline trace {trace_id}"), || async {
        let spans = trace_spans(&http, &tempo, &trace_id).await?;
        spans.iter().any(|(s, _)| s == service).then_some(spans)
    })
    .await;
    let stage_span = |stage: &str| {
        spans
            .iter()
            .find(|(s, span)| s == "delivery-pipeline" && span["name"] == stage)
            .map(|(_, span)| span)
            .unwrap_or_else(|| panic!("the pipeline trace has no {stage} span"))
    };
    for stage in STAGES {
        let span = stage_span(stage);
        assert_eq!(
            attribute(span, "cicd.pipeline.task.name").as_deref(),
            Some(stage)
        );
        assert_eq!(
            attribute(span, "cicd.pipeline.task.run.result").as_deref(),
            Some("success"),
            "{stage}"
        );
    }
    let deployment_id =
        attribute(stage_span("rollout"), "deployment.id").expect("the rollout's deployment.id");

    // TraceQL leads from the deploy to the service it started, and the new release serves.
    let linked = format!(
        r#"{{ name = "rollout" && span.deployment.id = "{deployment_id}" }} >> {{ resource.service.name = "{service}" && resource.service.version = "{version}" }}"#
    );
    let found = eventually(&linked, || async {
        let ids = search(&http, &tempo, &linked).await?;
        (!ids.is_empty()).then_some(ids)
    })
    .await;
    assert_eq!(found, vec![trace_id.clone()], "{linked}");
    let serving = format!(
        r#"{{ resource.service.name = "{service}" && resource.service.version = "{version}" && resource.deployment.id = "{deployment_id}" && kind = server }}"#
    );
    eventually(&serving, || async {
        let ids = search(&http, &tempo, &serving).await?;
        (!ids.is_empty()).then_some(ids)
    })
    .await;

    // The pipeline names the environment it deployed to as the shop's own spans name it, so
    // `deployment.environment.name` joins the two.
    let root = spans
        .iter()
        .find(|(s, span)| {
            s == "delivery-pipeline"
                && span["parentSpanId"]
                    .as_str()
                    .is_none_or(|parent| parent.is_empty())
        })
        .map(|(_, span)| span)
        .expect("the pipeline trace has a root span");
    let environment = attribute(root, "deployment.environment.name")
        .expect("the pipeline's deployment.environment.name");
    let same_environment = format!(
        r#"{{ resource.service.name = "{service}" && resource.service.version = "{version}" && resource.deployment.environment.name = "{environment}" }}"#
    );
    eventually(&same_environment, || async {
        let ids = search(&http, &tempo, &same_environment).await?;
        (!ids.is_empty()).then_some(ids)
    })
    .await;

    // The operator token is in no output and no span.
    let token = deploy
        .env(env::CONTROL_TOKEN)
        .expect("the deploy has the control token");
    let trace = http
        .get(format!("{tempo}/api/traces/{trace_id}"))
        .send()
        .await
        .expect("the trace")
        .text()
        .await
        .unwrap_or_default();
    assert!(!trace.contains(token), "the control token is in the trace");
    for process in &machine.processes {
        let output = process.output.lock().expect("log lock");
        assert!(
            !output.iter().any(|line| line.contains(token)),
            "{} printed the control token",
            process.name
        );
    }
}

/// Polls `probe` for up to 60 s.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not found within 60 s: {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every span of a trace from the Tempo API, as (service.name, span) pairs.
async fn trace_spans(
    http: &reqwest::Client,
    tempo: &str,
    trace_id: &str,
) -> Option<Vec<(String, Value)>> {
    let response = http
        .get(format!("{tempo}/api/traces/{trace_id}"))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    spans_by_service(&response.json().await.ok()?)
}

/// The trace ids a TraceQL search finds, padded to 32 hex digits as the trace API writes them.
async fn search(http: &reqwest::Client, tempo: &str, query: &str) -> Option<Vec<String>> {
    let json: Value = http
        .get(format!(
            "{tempo}/api/search?q={}&limit=50",
            crate::urlencode(query)
        ))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(
        json["traces"]
            .as_array()?
            .iter()
            .filter_map(|t| t["traceID"].as_str())
            .map(|id| format!("{id:0>32}"))
            .collect(),
    )
}
