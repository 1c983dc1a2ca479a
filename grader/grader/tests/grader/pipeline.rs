//! The sampling and scrubbing exercise against a real store with its maintenance running:
//! each learner's settings become their tenant's pipeline, the probe goes through it, and the
//! verdict follows from what was stored. The reference passes; settings that drop errors, drop
//! slow traces, keep everything else or keep a secret are refused with the item that shows it;
//! unusable YAML is refused naming the field. Nobody else's tenant is touched.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dojo_grader::backend::TraceBackend;
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::check::feedback::{Feedback, ItemStatus, Verdict};
use dojo_grader::progress::LearnerId;
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::load_dir;
use dojo_grader::spec::types::Check;

use crate::helpers::{TestSpan, ingest, store};

const REFERENCE_WAIT: &str = "decision_wait: 5s";

fn reference() -> String {
    let labs = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, exercise) = labs
        .exercise("sampling", "pipeline-settings")
        .expect("the sampling exercise");
    match &exercise.check {
        Check::Pipeline(check) => check.reference.clone(),
        _ => panic!("the sampling exercise is a pipeline check"),
    }
}

fn item<'a>(feedback: &'a Feedback, title_start: &str) -> &'a dojo_grader::check::feedback::Item {
    feedback
        .items
        .iter()
        .find(|i| i.title.starts_with(title_start))
        .unwrap_or_else(|| panic!("no item {title_start}: {}", feedback.to_text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_and_each_way_of_missing_the_brief_is_refused_with_what_shows_it() {
    let store = store();
    tokio::spawn(
        store
            .clone()
            .maintenance_loop(Duration::from_millis(200), std::future::pending()),
    );
    let labs = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs"))
        .unwrap_or_else(|e| panic!("{e}"));
    let backend: Arc<dyn TraceBackend> = Arc::new(EmbeddedBackend::new(store.clone()));
    let grader = Grader::new(labs, backend, None);
    // The tests use a short decision wait; the reference keeps its own.
    let fast = reference().replace(REFERENCE_WAIT, "decision_wait: 1s");
    assert_ne!(
        fast,
        reference(),
        "the reference has a decision wait to shorten"
    );
    let head_sampled = fast.replace(
        "  tail_sampling:",
        "  probabilistic_sampler: {sampling_percentage: 10}\n  tail_sampling:",
    );
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        ("the reference", reference(), None, ""),
        (
            "a head sampler before the tail policies",
            head_sampled,
            Some("Every error is kept"),
            "status_code",
        ),
        (
            "a latency threshold of 3 s",
            fast.replace("threshold_ms: 1000", "threshold_ms: 3000"),
            Some("Every trace slower than 1 s is kept"),
            "threshold_ms",
        ),
        (
            "keeping all of the rest",
            fast.replace("sampling_percentage: 10}", "sampling_percentage: 100}"),
            Some("About 10 % of the other traces are kept"),
            "300 of 300",
        ),
        (
            "the store's default actions only (the API key stays)",
            fast.replace(
                "  attributes:\n    - action: delete\n      pattern: '(?i)^http\\.request\\.header\\.(authorization|proxy-authorization|x-api-key|cookie)$'\n",
                "",
            ),
            Some("No authentication header or card number is stored"),
            "http.request.header.x-api-key",
        ),
    ];
    let mut running = Vec::new();
    for (n, (what, settings, failing, says)) in cases.into_iter().enumerate() {
        let grader = grader.clone();
        running.push(tokio::spawn(async move {
            let learner = LearnerId::parse(&format!("learner-{n}")).expect("a valid id");
            let feedback = grader
                .grade(
                    &learner,
                    "sampling",
                    "pipeline-settings",
                    &Submission::Settings(settings.clone()),
                )
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            (what, settings, failing, says, feedback)
        }));
    }
    let mut done = Vec::new();
    for handle in running {
        done.push(handle.await.expect("the grading ran"));
    }
    for (what, settings, failing, says, feedback) in done {
        match failing {
            None => assert_eq!(
                feedback.verdict,
                Verdict::Pass,
                "{what}:\n{settings}\n{}",
                feedback.to_text()
            ),
            Some(title) => {
                assert_eq!(
                    feedback.verdict,
                    Verdict::Fail,
                    "{what}: {}",
                    feedback.to_text()
                );
                let item = item(&feedback, title);
                assert_eq!(
                    item.status,
                    ItemStatus::Fail,
                    "{what}: {}",
                    feedback.to_text()
                );
                let shown = format!(
                    "{} {}",
                    item.message,
                    item.evidence
                        .iter()
                        .map(|e| e.why.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                assert!(shown.contains(says), "{what}: {says:?} in {shown}");
                let failed = feedback
                    .items
                    .iter()
                    .filter(|i| i.status == ItemStatus::Fail)
                    .count();
                // A head sampler drops slow traces as well as errors; the others miss one part.
                if !what.starts_with("a head sampler") {
                    assert_eq!(
                        failed,
                        1,
                        "{what}: only that part fails: {}",
                        feedback.to_text()
                    );
                }
                if !title.starts_with("About") {
                    assert!(!item.evidence.is_empty(), "{what}: the traces are shown");
                }
            }
        }
    }

    // Nobody else's tenant changed: the shared tenant still keeps every trace.
    let spans: Vec<TestSpan> = (1..=20)
        .map(|t| TestSpan::new(t, 1, None, "frontend", "GET /cart"))
        .collect();
    ingest(&store, &spans, 1_000);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let shared = store.snapshot(&dojo_store::TenantId::default_tenant());
    assert_eq!(shared.len(), 20, "the shared tenant keeps all 20 traces");
}

#[tokio::test]
async fn settings_that_cannot_be_used_are_refused_naming_the_field_and_change_nothing() {
    let store = store();
    let backend: Arc<dyn TraceBackend> = Arc::new(EmbeddedBackend::new(store.clone()));
    let labs = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs"))
        .unwrap_or_else(|e| panic!("{e}"));
    let grader = Grader::new(labs, backend, None);
    let ada = LearnerId::parse("ada").expect("valid");
    let feedback = grader
        .grade(
            &ada,
            "sampling",
            "pipeline-settings",
            &Submission::Settings(
                "pipeline:\n  tail_sampling:\n    policies:\n      - {name: slow, type: latency, latency: {threshold: 1000}}\n".into(),
            ),
        )
        .await
        .expect("graded");
    assert_eq!(feedback.verdict, Verdict::Fail);
    assert!(
        feedback
            .headline
            .contains("pipeline.tail_sampling.policies[0]")
            && feedback.headline.contains("threshold")
            && feedback.headline.contains("Nothing was changed"),
        "{}",
        feedback.to_text()
    );
    assert!(
        store.status().is_empty(),
        "no tenant was created or fed: {:?}",
        store.status()
    );
}
