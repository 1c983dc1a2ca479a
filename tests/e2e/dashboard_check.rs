//! Lab 2's dashboard exercise, the whole path on a real `dojo up`: a learner saves panels on
//! the Dashboards page and submits the exercise on the lab page, which grades the panels they
//! saved; `dojo grade --panel` grades the same panels from the terminal through the store's
//! Tempo API. A dashboard missing the p95 panel is refused naming it; the full one passes.

use std::time::Duration;

use crate::helpers::Lab;
use crate::incidents::{join, post};

const REQUESTS: &str = "{ kind = server } | rate() by (resource.service.name)";
const P95: &str =
    "{ kind = server } | quantile_over_time(duration, .95) by (resource.service.name)";
const AVERAGE: &str = "{ kind = server } | avg_over_time(duration) by (resource.service.name)";
const SUBMIT: &str = "/labs/traceql-querying/red-dashboard/submit";

async fn dojo_grade(lab: &Lab, panels: &[&str]) -> serde_json::Value {
    let mut flags = vec![
        "--lab",
        "traceql-querying",
        "--exercise",
        "red-dashboard",
        "--learner",
        "Dash Board",
    ];
    for panel in panels {
        flags.extend(["--panel", panel]);
    }
    lab.grade_json(&flags).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_saved_in_the_course_is_graded_panel_by_panel() {
    let lab = Lab::start(&[
        "--lab",
        "traceql-querying",
        "--learner",
        "Dash Board",
        "--load-rate",
        "5",
    ])
    .await;
    let session = join(&lab, "Dash Board", None).await;

    // Two panels: requests, and an average where the p95 is asked.
    for (title, query, unit) in [
        ("Requests", REQUESTS, "per_second"),
        ("Latency", AVERAGE, "seconds"),
    ] {
        let (status, page) = post(
            &lab,
            &session,
            "/dashboards/panels",
            &[("title", title), ("query", query), ("unit", unit)],
        )
        .await;
        assert_eq!(status, 200, "{page}");
    }

    // Graded on the lab page from the saved panels, once the traffic tells panels apart.
    let verdict = lab
        .eventually(
            "the dashboard is graded",
            Duration::from_secs(90),
            || async {
                let (_, html) = post(&lab, &session, SUBMIT, &[]).await;
                html.contains("Your attempts").then_some(html)
            },
        )
        .await;
    assert!(verdict.contains("Not yet."), "{verdict}");
    assert!(
        verdict.contains("p95 latency, per service") && verdict.contains("“Latency”"),
        "names the missing panel and the closest one: {verdict}"
    );
    assert!(
        !verdict.contains("quantile_over_time"),
        "no reference: {verdict}"
    );

    // The same from the terminal, with the p95 panel: it passes.
    let feedback = lab
        .eventually(
            "dojo grade judges the dashboard",
            Duration::from_secs(60),
            || async {
                let feedback = dojo_grade(&lab, &[REQUESTS, P95]).await;
                (feedback["verdict"] != "not_ready").then_some(feedback)
            },
        )
        .await;
    assert_eq!(feedback["verdict"], "pass", "{feedback}");

    // And on the course, once the p95 panel is saved.
    let (status, page) = post(
        &lab,
        &session,
        "/dashboards/panels",
        &[("title", "p95"), ("query", P95), ("unit", "seconds")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let verdict = lab
        .eventually(
            "the full dashboard is graded",
            Duration::from_secs(60),
            || async {
                let (_, html) = post(&lab, &session, SUBMIT, &[]).await;
                html.contains("Correct!").then_some(html)
            },
        )
        .await;
    assert!(verdict.contains("every panel asked for"), "{verdict}");

    assert!(lab.stop().await.success());
}
