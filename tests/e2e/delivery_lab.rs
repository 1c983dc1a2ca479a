//! Lab 5 graded on the live lab through `dojo grade`: for every TraceQL exercise, the
//! reference passes and each near miss the spec lists is refused with feedback that says what
//! it got wrong — over the seeded change history plus a live deploy and a live failed test.

use dojo_grader::spec::types::Check;

use crate::helpers::{Lab, repo_root};

/// `dojo grade --json` for a query; the feedback.
async fn grade(lab: &Lab, exercise: &str, query: &str) -> serde_json::Value {
    lab.grade_json(&[
        "--lab",
        "delivery-pipeline",
        "--exercise",
        exercise,
        "--query",
        query,
    ])
    .await
}

/// The feedback names the mistake — too broad, or what it missed — and shows example traces
/// with the spans the query matched in them.
fn names_the_mistake(feedback: &serde_json::Value) -> bool {
    let headline = feedback["headline"].as_str().unwrap_or_default();
    let named = ["Too broad", "Missed", "matched nothing", "Too narrow"]
        .iter()
        .any(|words| headline.contains(words));
    let shows_examples = feedback["items"].as_array().is_some_and(|items| {
        items.iter().any(|item| {
            item["status"] == "fail" && item["evidence"].as_array().is_some_and(|e| !e.is_empty())
        })
    });
    named && shows_examples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lab5_exercise_passes_its_reference_and_refuses_its_near_misses() {
    // Lab 5 has a scenario (its bad deploy), so it runs with `--lab`, as its lesson says.
    let lab = Lab::start(&["--load-rate", "2", "--lab", "delivery-pipeline"]).await;
    lab.deploy(&["--service", "frontend", "--version", "8.0.0"])
        .await;
    lab.deploy(&[
        "--service",
        "api",
        "--version",
        "8.1.0",
        "--fail-at",
        "test",
    ])
    .await;
    let labs = dojo_grader::spec::load_dir(&repo_root().join("labs")).expect("the labs load");
    let spec = labs.get("delivery-pipeline").expect("Lab 5 exists");
    let mut wrong = Vec::new();
    let mut graded = 0;
    for exercise in &spec.exercises {
        let Check::Traceql(check) = &exercise.check else {
            continue;
        };
        let feedback = grade(&lab, &exercise.id, &check.reference).await;
        if feedback["verdict"] != "pass" {
            wrong.push(format!(
                "{}: the reference did not pass: {feedback}",
                exercise.id
            ));
        }
        assert!(
            check.must_refuse.len() >= 3,
            "{}: three typical mistakes",
            exercise.id
        );
        for near_miss in &check.must_refuse {
            graded += 1;
            let feedback = grade(&lab, &exercise.id, near_miss).await;
            let said = feedback.to_string();
            if feedback["verdict"] != "fail" {
                wrong.push(format!(
                    "{}: {near_miss} was not refused: {said}",
                    exercise.id
                ));
            } else if !names_the_mistake(&feedback) {
                wrong.push(format!(
                    "{}: {near_miss}: the feedback does not say what is wrong: {said}",
                    exercise.id
                ));
            }
        }
    }
    assert!(graded >= 6, "both TraceQL exercises were graded");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    lab.stop().await;
}
