//! Lab 2's alert exercise, the whole path on a real `dojo up`: a learner saves a rule on the
//! Alerts page and picks it on the lab page; the grading runs as a job that the page follows
//! ("grading… phase 2 (fault on), 20 s left") while the grader switches `payments_slow` off and
//! on through the services' admin APIs; submitting again meanwhile starts nothing; the page
//! then shows the verdict once and records one attempt. `dojo grade --rule` grades a rule
//! with the condition the wrong way round from the terminal, printing the phases as they
//! pass, and refuses it in phase 1. The fault is off again afterwards. The phases run at half
//! length (`DOJO_ALERT_TIME_SCALE`).

use std::time::Duration;

use crate::helpers::{Lab, repo_root};
use crate::incidents::{get, join, post};

const LAB_PAGE: &str = "/labs/traceql-querying";
const SUBMIT: &str = "/labs/traceql-querying/payments-latency-alert/submit";
const ADMIN_TOKEN: &str = "e2e-alert-admin-token";
const P95: &str = r#"{ resource.service.name = "api" && name = "payments.charge" } | quantile_over_time(duration, .95)"#;

/// The id of the learner's first saved rule, from the lab page's rule picker.
fn rule_id(html: &str) -> Option<String> {
    let picker = html.split("name=\"rule\"").nth(1)?;
    let value = picker.split("<option value=\"").nth(1)?;
    value.split('"').next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_rule_is_graded_as_a_job_the_lab_page_follows_and_from_the_terminal() {
    let lab = Lab::start_with_env(
        &[
            "--lab",
            "traceql-querying",
            "--learner",
            "Al Ert",
            "--load-rate",
            "5",
            "--admin-token",
            ADMIN_TOKEN,
        ],
        &[("DOJO_ALERT_TIME_SCALE", "0.5")],
    )
    .await;
    let session = join(&lab, "Al Ert", None).await;
    let (status, page) = post(
        &lab,
        &session,
        "/alerts/rules",
        &[
            ("name", "Slow payments"),
            ("query", P95),
            ("condition", "above"),
            ("threshold", "0.8"),
            ("for", "15s"),
            ("severity", "warning"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let (_, html) = get(&lab, &session, LAB_PAGE).await;
    let rule = rule_id(&html).unwrap_or_else(|| panic!("the lab page offers the rule: {html}"));

    // Submitted until the window holds the shop's traffic (the first grading may say it is
    // not ready yet); each time the page follows the job until it is done.
    let mut saw_phase_two = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(400);
    let verdict = 'graded: loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the alert was not graded in time"
        );
        let (_, started) = post(&lab, &session, SUBMIT, &[("rule", &rule)]).await;
        if started.contains("none of your traffic") {
            // Graded at once as not ready (no traffic in the window yet): submit again.
            tokio::time::sleep(Duration::from_secs(3)).await;
            continue;
        }
        assert!(
            started.contains("Grading your rule “Slow payments”"),
            "the page shows the job: {started}"
        );
        // A second submit while it runs starts nothing: still the one job.
        let (_, again) = post(&lab, &session, SUBMIT, &[("rule", &rule)]).await;
        assert!(again.contains("Grading your rule"), "{again}");
        loop {
            let (_, html) = get(&lab, &session, LAB_PAGE).await;
            if !html.contains("http-equiv=\"refresh\"") {
                break 'graded html;
            }
            saw_phase_two |= html.contains("phase 2 (fault on)") && html.contains(" s left");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    };
    assert!(saw_phase_two, "the page said where the grading stood");
    assert!(
        verdict.contains("stayed quiet with payments_slow off"),
        "the reference rule passes: {verdict}"
    );
    assert!(
        verdict.contains("Phase 2 — fault on"),
        "both phases shown: {verdict}"
    );
    assert!(
        verdict.contains("Your attempts (1)"),
        "one grading, one attempt recorded: {verdict}"
    );

    // From the terminal: the condition the wrong way round fires in phase 1.
    let file = lab.data_dir.join("inverted-rule.yaml");
    std::fs::write(
        &file,
        format!("query: '{P95}'\ncondition: below\nthreshold: 0.8\nfor: 15s\n"),
    )
    .expect("the data dir is writable");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo"))
        .args(["grade", "--lab", "traceql-querying"])
        .args([
            "--exercise",
            "payments-latency-alert",
            "--learner",
            "Al Ert",
        ])
        .args(["--admin-token", ADMIN_TOKEN, "--json", "--rule"])
        .arg(&file)
        .arg("--labs")
        .arg(repo_root().join("labs"))
        .arg("--data-dir")
        .arg(&lab.data_dir)
        .env("DOJO_ALERT_TIME_SCALE", "0.5")
        .output()
        .await
        .expect("running dojo grade");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    let feedback: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|_| panic!("dojo grade: no feedback: {stdout}{stderr}"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        feedback["headline"]
            .as_str()
            .is_some_and(|h| h.starts_with("Fired without the fault: your rule fired in phase 1")),
        "{feedback}"
    );
    assert!(
        stderr.contains("grading… phase 1 (fault off)") && stderr.contains("phase 2 (fault on)"),
        "the phases are printed as they pass: {stderr}"
    );

    // Nothing left on.
    let faults = lab
        .shop_faults(ADMIN_TOKEN)
        .await
        .expect("the admin APIs list faults");
    let slow = faults
        .iter()
        .find(|f| f["id"] == "payments_slow")
        .expect("payments lists payments_slow");
    assert!(
        slow["active"].is_null(),
        "payments_slow was left on: {slow}"
    );
    assert!(lab.stop().await.success());
}
