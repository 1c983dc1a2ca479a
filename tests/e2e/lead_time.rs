//! Lab 5's numeric exercise, the lead time of a named change, on the live lab: the change the
//! learner is asked about is read from the course page, its lead time is computed here from its
//! whole pipeline trace, and then `dojo grade --number` and the course form are answered with
//! it in several units (passes), off by more than the tolerance, with each typical mistake (the
//! wait before the build, the pipeline's own duration, another change's lead time) and with
//! text that is not a duration — each refused with feedback that names what was wrong.

use std::collections::HashMap;
use std::time::Duration;

use dojo_grader::check::numeric::clock_duration;

use crate::helpers::{Lab, search_trace_ids, urlencode};
use crate::incidents::{join, page, post};

const EXERCISE: &str = "change-lead-time";

/// `dojo grade --json --number <answer>` as `learner`; the feedback.
async fn grade(lab: &Lab, learner: &str, answer: &str) -> serde_json::Value {
    lab.grade_json(&[
        "--lab",
        "delivery-pipeline",
        "--exercise",
        EXERCISE,
        "--learner",
        learner,
        "--number",
        answer,
    ])
    .await
}

/// (start, end) in unix nanoseconds of each span of a trace, by span name.
async fn span_times(lab: &Lab, trace_id: &str) -> HashMap<String, (u64, u64)> {
    let url = lab.url(lab.ports.tempo, &format!("/api/traces/{trace_id}"));
    let (status, body) = lab.get(&url).await;
    assert_eq!(status, 200, "{url}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a trace");
    let nanos = |span: &serde_json::Value, key: &str| -> u64 {
        span[key]
            .as_str()
            .and_then(|n| n.parse().ok())
            .or_else(|| span[key].as_u64())
            .unwrap_or_else(|| panic!("{key} in {span}"))
    };
    json["resourceSpans"]
        .as_array()
        .expect("resourceSpans")
        .iter()
        .flat_map(|batch| batch["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|scope| scope["spans"].as_array().into_iter().flatten())
        .map(|span| {
            (
                span["name"].as_str().unwrap_or_default().to_owned(),
                (
                    nanos(span, "startTimeUnixNano"),
                    nanos(span, "endTimeUnixNano"),
                ),
            )
        })
        .collect()
}

/// The moments of one successful run: commit start, build start, rollout end (seconds).
struct Run {
    commit: f64,
    build: f64,
    rollout_start: f64,
    rollout_end: f64,
}

impl Run {
    fn lead_time(&self) -> f64 {
        self.rollout_end - self.commit
    }
}

async fn successful_runs(lab: &Lab, extra: &str) -> Vec<Run> {
    let query = format!(
        r#"{{ resource.service.name = "delivery-pipeline" && name = "rollout" && span.cicd.pipeline.task.run.result = "success"{extra} }}"#
    );
    let search = lab.url(
        lab.ports.tempo,
        &format!("/api/search?q={}&limit=1000", urlencode(&query)),
    );
    let (status, body) = lab.get(&search).await;
    assert_eq!(status, 200, "{body}");
    let mut runs = Vec::new();
    for id in search_trace_ids(&body) {
        let spans = span_times(lab, &id).await;
        let commit = spans.get("commit").expect("a commit span");
        let build = spans.get("build").expect("a build span");
        let rollout = spans.get("rollout").expect("a rollout span");
        runs.push(Run {
            commit: commit.0 as f64 / 1e9,
            build: build.0 as f64 / 1e9,
            rollout_start: rollout.0 as f64 / 1e9,
            rollout_end: rollout.1 as f64 / 1e9,
        });
    }
    runs
}

fn item_messages(feedback: &serde_json::Value) -> String {
    feedback["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["message"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `3 h 20 min 5 s` style, to the minute: what a learner reading a waterfall might type.
fn hours_minutes(seconds: f64) -> String {
    let minutes = (seconds / 60.0).round() as u64;
    format!("{}h {}m", minutes / 60, minutes % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_time_of_the_named_change_is_graded_against_its_trace() {
    // Lab 5 has a scenario (a bad deploy), so it is graded only on a lab started for it.
    let lab = Lab::start(&[
        "--lab",
        "delivery-pipeline",
        "--learner",
        "Ada Lead",
        "--load-rate",
        "1",
    ])
    .await;

    // The question, on Ada's lab page: her change, by service and version.
    let session = join(&lab, "Ada Lead", None).await;
    let question = lab
        .eventually(
            "the lab page names Ada's change",
            Duration::from_secs(60),
            || async {
                let (status, html) = page(&lab, &session, "/labs/delivery-pipeline").await;
                let start = html.find("<strong>Your change:</strong>")?;
                (status == 200).then(|| html[start..start + 400].to_string())
            },
        )
        .await;
    let code = |html: &str, nth: usize| -> String {
        html.split("<code>")
            .nth(nth)
            .and_then(|rest| rest.split("</code>").next())
            .unwrap_or_else(|| panic!("no <code> #{nth} in {html}"))
            .to_owned()
    };
    let (service, version) = (code(&question, 1), code(&question, 2));
    assert!(
        ["api", "frontend"].contains(&service.as_str()),
        "{question}"
    );

    // The expected value, computed here from the change's whole trace.
    let mine = successful_runs(
        &lab,
        &format!(
            r#" && span.deployment.name = "{service}" && span.deployment.version = "{version}""#
        ),
    )
    .await;
    assert_eq!(mine.len(), 1, "one run deployed {service} {version}");
    let run = &mine[0];
    let lead = run.lead_time();
    let tolerance = (lead * 0.02).max(60.0);

    // The right answer, in several units.
    for answer in [
        format!("{lead:.0} s"),
        format!("{:.1} min", lead / 60.0),
        format!("{:.4} hours", lead / 3600.0),
        hours_minutes(lead),
    ] {
        let feedback = grade(&lab, "Ada Lead", &answer).await;
        assert_eq!(feedback["verdict"], "pass", "{answer}: {feedback}");
    }

    // Off by more than the tolerance, either way: told which way.
    for (answer, way) in [
        (lead + 3.0 * tolerance, "too high"),
        (lead - 3.0 * tolerance, "too low"),
    ] {
        let feedback = grade(&lab, "Ada Lead", &format!("{answer:.0}s")).await;
        assert_eq!(feedback["verdict"], "fail", "{answer}: {feedback}");
        let headline = feedback["headline"].as_str().unwrap_or_default();
        assert!(headline.contains(way), "{answer}: {headline}");
        assert!(
            !headline.contains(&clock_duration(lead)),
            "the number is not given away: {headline}"
        );
    }

    // The typical mistakes, each named.
    let others = successful_runs(&lab, "").await;
    let other = others
        .iter()
        .filter(|r| (r.lead_time() - lead).abs() > 3.0 * tolerance)
        .filter(|r| (r.lead_time() - (run.build - run.commit)).abs() > 2.0 * tolerance)
        .filter(|r| (r.lead_time() - (run.rollout_end - run.build)).abs() > 2.0 * tolerance)
        .filter(|r| (r.lead_time() - (run.rollout_start - run.commit)).abs() > 2.0 * tolerance)
        .map(Run::lead_time)
        .next()
        .expect("another change with another lead time");
    for (answer, mistake) in [
        (run.build - run.commit, "waited for review"),
        (run.rollout_end - run.build, "how long the pipeline ran"),
        (other, "another change"),
    ] {
        let feedback = grade(&lab, "Ada Lead", &format!("{answer:.0} s")).await;
        assert_eq!(feedback["verdict"], "fail", "{mistake}: {feedback}");
        let said = item_messages(&feedback);
        assert!(said.contains(mistake), "{mistake}: {said}");
        assert!(
            said.contains("commit") && said.contains(&version),
            "teaches lead time and where to look: {said}"
        );
    }

    // Text that is not a duration: said why, nothing graded.
    for (answer, why) in [
        ("200", "has no unit"),
        ("about three hours", "not a number"),
        ("3 fortnights", "not a unit of time"),
    ] {
        let feedback = grade(&lab, "Ada Lead", answer).await;
        assert_eq!(feedback["verdict"], "not_ready", "{answer}: {feedback}");
        let headline = feedback["headline"].as_str().unwrap_or_default();
        assert!(headline.contains(why), "{answer}: {headline}");
    }

    // The course form: garbage is told and not recorded; the right answer passes and is.
    let submit = format!("/labs/delivery-pipeline/{EXERCISE}/submit");
    let (_, verdict) = post(&lab, &session, &submit, &[("answer", "soon")]).await;
    assert!(verdict.contains("is not a number"), "{verdict}");
    assert!(
        !verdict.contains("Your attempts"),
        "not recorded: {verdict}"
    );
    let (_, verdict) = post(&lab, &session, &submit, &[("answer", &hours_minutes(lead))]).await;
    assert!(verdict.contains("Correct!"), "{verdict}");
    assert!(verdict.contains("Your attempts (1)"), "recorded: {verdict}");

    assert!(lab.stop().await.success());
}
