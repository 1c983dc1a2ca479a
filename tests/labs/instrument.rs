//! Lab 1 end to end: the starter code and the reference solution of the stock service run as
//! real processes beside the live shop; the solution passes every assertion and the starter
//! fails each one it breaks, with the lab's message — even beside an unmarked correct run of
//! the same name, since only spans of the learner's own run count. The practical's dashboard
//! of the learner's own run passes with the asked panels and refuses their near misses.

use std::process::Stdio;
use std::time::Duration;

use dojo_grader::check::dashboard::{DashboardAnswer, SubmittedPanel};
use dojo_grader::check::feedback::{ItemStatus, Verdict};
use dojo_grader::progress::LearnerId;
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::load_dir;
use dojo_grader::spec::types::Check;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::shop::{Shop, labs_dir};

const VARIANT: &str = "DOJO_LAB_STOCK_VARIANT";

/// The child half: runs one variant of the stock service in this process (its own telemetry,
/// its own service name) until killed. Ignored in normal runs; the parent runs it.
#[test]
#[ignore = "a child process of the stock service test"]
fn child_runs_a_stock_service() {
    let variant = std::env::var(VARIANT).expect("run by the parent, which names the variant");
    let api_url = std::env::var("API_URL").expect("run by the parent, which gives the api");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port 0");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("bound")
        );
        let mut config =
            dojo_telemetry::TelemetryConfig::from_env("stock").expect("telemetry settings");
        config.resource_attributes.push((
            "service.instance.id".into(),
            format!("{variant}-{}", std::process::id()),
        ));
        let _telemetry = dojo_telemetry::init(&config).expect("telemetry starts");
        let router = match variant.as_str() {
            "starter" => dojo_lab_stock_starter::router(api_url),
            _ => dojo_lab_stock_solution::router(api_url),
        };
        axum::serve(listener, router).await.expect("serving");
    });
}

async fn start_stock(
    variant: &str,
    service_name: &str,
    shop: &Shop,
    api_url: &str,
    learner: Option<&str>,
) -> (Child, String) {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    // What the lab page tells the learner to set: it marks the run as theirs.
    if let Some(learner) = learner {
        command.env("OTEL_RESOURCE_ATTRIBUTES", format!("learner.id={learner}"));
    }
    let mut child = command
        .args([
            "instrument::child_runs_a_stock_service",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(VARIANT, variant)
        .env("API_URL", api_url)
        .env("OTEL_SERVICE_NAME", service_name)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", shop.otlp_endpoint())
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the stock service starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the stock service prints its address")
            .expect("readable output")
            .expect("the stock service keeps running");
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_solution_passes_and_the_starter_code_fails_each_assertion_it_breaks() {
    let labs = load_dir(&labs_dir()).unwrap_or_else(|e| panic!("{e}"));
    let shop = Shop::start("faults: []\n").await;
    let api_url = shop.api_url.clone();
    let ada = Some("ada");
    let (_starter, starter_url) =
        start_stock("starter", "stock-starter", &shop, &api_url, ada).await;
    let (_solution, solution_url) =
        start_stock("solution", "stock-solution", &shop, &api_url, ada).await;
    // Someone else's run of a correct service: not Ada's work.
    let (_theirs, theirs_url) =
        start_stock("solution", "stock-theirs", &shop, &api_url, None).await;
    // … and an unmarked correct run under the very name of Ada's starter: its spans must not
    // pass an assertion for her.
    let (_twin, twin_url) = start_stock("solution", "stock-starter", &shop, &api_url, None).await;

    let http = reqwest::Client::new();
    for round in 0..3 {
        for product in 1..=12 {
            for base in [&starter_url, &solution_url, &theirs_url, &twin_url] {
                let response = http
                    .get(format!("{base}/stock/{product}"))
                    .header("x-api-key", format!("sk-live-{round}"))
                    .send()
                    .await
                    .expect("the stock service answers");
                let expected = if product <= 10 { 200 } else { 500 };
                assert_eq!(
                    response.status().as_u16(),
                    expected,
                    "{base}/stock/{product}"
                );
            }
        }
    }
    shop.wait_for(
        r#"{ resource.service.name = "stock-solution" && kind = server && status = error }"#,
        2,
        Duration::from_secs(30),
    )
    .await;
    shop.wait_for(
        r#"{ resource.service.name = "stock-starter" }"#,
        30,
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let grader = Grader::new(labs, shop.backend(), None);
    let ada = LearnerId::parse("ada").expect("valid");
    let grade = |service: &str| {
        let grader = grader.clone();
        let ada = ada.clone();
        let service = service.to_string();
        async move {
            grader
                .grade(
                    &ada,
                    "instrument-a-service",
                    "instrument-stock",
                    &Submission::Service(service),
                )
                .await
                .expect("gradable")
        }
    };

    let solution = grade("stock-solution").await;
    assert_eq!(
        solution.verdict,
        Verdict::Pass,
        "the reference solution passes:\n{}",
        solution.to_text()
    );

    // The practical's dashboard of Ada's own run of her service: the asked panels pass, each
    // near miss is refused naming its panel.
    crate::dashboards::every_dashboard_near_miss_is_refused(
        grader.labs(),
        shop.backend(),
        &[("instrument-a-service", &ada, "stock-solution")],
    )
    .await;
    // The same panels about a run that is not Ada's (no learner id) never pass for her.
    let labs = grader.labs().clone();
    let check = match &labs
        .exercise("instrument-a-service", "stock-dashboard")
        .expect("Lab 1 has a dashboard exercise")
        .1
        .check
    {
        Check::Dashboard(check) => check.clone(),
        _ => panic!("stock-dashboard is a dashboard exercise"),
    };
    let theirs_panels = DashboardAnswer {
        service: "stock-theirs".into(),
        panels: check
            .panels
            .iter()
            .map(|p| SubmittedPanel {
                title: p.id.clone(),
                query: p.reference.replace("$service", "stock-theirs"),
            })
            .collect(),
    };
    let feedback = grader
        .grade(
            &ada,
            "instrument-a-service",
            "stock-dashboard",
            &Submission::Panels(theirs_panels),
        )
        .await
        .expect("gradable");
    assert_ne!(
        feedback.verdict,
        Verdict::Pass,
        "another learner's run is not Ada's dashboard:\n{}",
        feedback.to_text()
    );

    let starter = grade("stock-starter").await;
    assert_eq!(starter.verdict, Verdict::Fail, "{}", starter.to_text());
    let failed: Vec<&str> = starter
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Fail)
        .map(|i| i.title.as_str())
        .collect();
    for broken in [
        "Server spans are named after the route template, not the concrete URL.",
        "Every server span has http.route and http.response.status_code.",
        "The call to the api carries the trace context, so the api's span joins your trace.",
        "A failed request is marked as an error, with an exception event.",
        "No credential (API key, token, password) or card number in any attribute.",
    ] {
        assert!(
            failed.contains(&broken),
            "the starter fails {broken:?}; it failed {failed:?}\n{}",
            starter.to_text()
        );
    }
    // The shop's own services are instrumented already: refused, kindly, whatever they show.
    for shop_service in ["frontend", "api", "payments"] {
        let feedback = grade(shop_service).await;
        assert_eq!(feedback.verdict, Verdict::Fail, "{}", feedback.to_text());
        assert!(
            feedback.headline.contains("one of the shop's own services")
                && feedback.headline.contains("`stock` unless you changed it"),
            "{}",
            feedback.to_text()
        );
    }
    // A service whose traces do not carry Ada's id is not her run: she is told how to mark it.
    let theirs = grade("stock-theirs").await;
    assert_eq!(theirs.verdict, Verdict::NotReady, "{}", theirs.to_text());
    assert!(
        theirs
            .headline
            .contains("OTEL_RESOURCE_ATTRIBUTES=learner.id=ada"),
        "{}",
        theirs.to_text()
    );

    let secret = starter
        .items
        .iter()
        .find(|i| i.title.starts_with("No credential"))
        .expect("the secret item");
    assert!(
        !secret.evidence.is_empty(),
        "the offending traces are shown"
    );
}
