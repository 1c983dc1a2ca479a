//! Root-cause reports of a regression brought by a deploy: the report names the deployment
//! (its `deployment.id` or its version) and cites traces from both sides of it. Real traces in
//! the embedded store — pipeline runs and shop requests of two api releases — through both
//! backends.

use std::sync::Arc;

use dojo_grader::check::feedback::{Feedback, ItemStatus, Verdict};
use dojo_grader::check::root_cause::Report;
use dojo_grader::progress::LearnerId;
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::load_dir;
use dojo_store::Store;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::helpers::{Attr, TempDir, TestSpan, backends, ingest, store, trace_hex};

const LAB: &str = r#"
id: bad-deploy
title: A bad deploy
summary: One deploy made the product page slow.
estimated_minutes: 10
scenario:
  variants:
    - id: slow-release
      faults:
        - fault: slow_query
          version: 2.0.0
      deploy:
        service: api
        version: 2.0.0
        change: Cache product queries
        after: 30s
      truth:
        service: api
        operation: SELECT products
        fault: slow_query
        evidence: '{ resource.service.name = "api" && name = "SELECT products" && duration > 500ms }'
        deployment:
          version: 2.0.0
exercises:
  - id: which-deploy
    title: Which deploy?
    prompt: Which deployment made the product page slow?
    check:
      kind: root_cause
"#;

/// A pipeline run's root span: `deployment.id` rolled `service` out at `version`.
fn pipeline_run(
    trace: u32,
    id: &'static str,
    service: &'static str,
    version: &'static str,
    result: &'static str,
) -> TestSpan {
    TestSpan::new(trace, 1, None, "delivery-pipeline", "RUN deploy")
        .kind(SpanKind::Server)
        .attr("deployment.id", Attr::S(id))
        .attr("deployment.name", Attr::S(service))
        .attr("deployment.version", Attr::S(version))
        .attr("cicd.pipeline.result", Attr::S(result))
}

/// A product page served by api `version`, its query taking `db_ms`.
fn product_page(trace: u32, version: &'static str, db_ms: u64) -> Vec<TestSpan> {
    vec![
        TestSpan::new(trace, 1, None, "frontend", "GET /products/{id}")
            .kind(SpanKind::Server)
            .version("1.2.0")
            .timing(0, db_ms + 20),
        TestSpan::new(trace, 2, Some(1), "api", "GET /products/{id}")
            .kind(SpanKind::Server)
            .version(version)
            .timing(5, db_ms + 10),
        TestSpan::new(trace, 3, Some(2), "api", "SELECT products")
            .kind(SpanKind::Client)
            .version(version)
            .timing(8, db_ms)
            .attr("db.system", Attr::S("sqlite")),
    ]
}

/// Traces 1–3: api 1.4.2, healthy; 4–6: api 2.0.0, slow; 7: api 2.0.0, fast. Runs 100–103.
fn shop() -> Store {
    let store = store();
    let mut spans = vec![
        pipeline_run(100, "dep-good", "api", "2.0.0", "success"),
        pipeline_run(101, "dep-prev", "api", "1.4.2", "success"),
        pipeline_run(102, "dep-front", "frontend", "2.0.0", "success"),
        pipeline_run(103, "dep-failed", "api", "2.1.0", "failure"),
    ];
    for t in 1..=3 {
        spans.extend(product_page(t, "1.4.2", 15));
    }
    for t in 4..=6 {
        spans.extend(product_page(t, "2.0.0", 800));
    }
    spans.extend(product_page(7, "2.0.0", 15));
    ingest(&store, &spans, 60_000);
    store
}

fn report(deployment: &str, evidence: &[u32]) -> Submission {
    Submission::Report(Report {
        service: "api".into(),
        operation: "SELECT products".into(),
        fault: "slow_query".into(),
        evidence: evidence.iter().map(|&t| trace_hex(t)).collect(),
        explanation: "Since api 2.0.0 the SELECT on products takes 800 ms under every product \
                      page; with 1.4.2 the same query took 15 ms."
            .into(),
        deployment: deployment.into(),
    })
}

async fn grade_all(store: &Store, submission: Submission) -> Vec<(&'static str, Feedback)> {
    let dir = TempDir::new("regression");
    std::fs::create_dir_all(dir.0.join("bad-deploy")).expect("a lab folder");
    std::fs::write(dir.0.join("bad-deploy/lab.yaml"), LAB).expect("the lab file");
    let labs = load_dir(&dir.0).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for (name, backend) in backends(store).await {
        let grader = Grader::new(labs.clone(), Arc::clone(&backend), None);
        let feedback = grader
            .grade(
                &LearnerId::parse("ada").expect("a learner id"),
                "bad-deploy",
                "which-deploy",
                &submission,
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, feedback));
    }
    out
}

fn item<'a>(feedback: &'a Feedback, title: &str) -> &'a dojo_grader::check::feedback::Item {
    feedback
        .items
        .iter()
        .find(|i| i.title == title)
        .unwrap_or_else(|| panic!("no {title:?} item in {}", feedback.to_text()))
}

#[tokio::test]
async fn naming_the_deploy_by_its_id_or_version_with_traces_from_both_sides_passes() {
    let store = shop();
    for named in ["dep-good", "2.0.0", "v2.0.0"] {
        for (name, feedback) in grade_all(&store, report(named, &[1, 4, 5])).await {
            assert_eq!(
                feedback.verdict,
                Verdict::Pass,
                "{name}, {named}: {}",
                feedback.to_text()
            );
            assert!(
                feedback.headline.contains("release 2.0.0"),
                "{name}: {}",
                feedback.headline
            );
            let before = item(&feedback, &format!("Evidence trace `{}`", trace_hex(1)));
            assert_eq!(
                before.status,
                ItemStatus::Pass,
                "{name}: {}",
                before.message
            );
            assert!(before.message.contains("before the deploy"), "{name}");
        }
    }
}

#[tokio::test]
async fn naming_the_wrong_deploy_is_refused_with_what_that_deploy_rolled_out() {
    let store = shop();
    let cases = [
        (
            "the previous deploy",
            "dep-prev",
            "earlier release of `api`",
        ),
        ("an earlier version", "1.4.2", "earlier release of `api`"),
        ("a later version", "2.1.0", "came after the regression"),
        (
            "another service's deploy",
            "dep-front",
            "rolled out `frontend`",
        ),
        ("a deploy that failed", "dep-failed", "never served traffic"),
        ("an unknown id", "dep-nope", "No pipeline run in the traces"),
        ("nothing", "", "Name the deployment"),
        (
            "not an id",
            "the one on tuesday",
            "neither a `deployment.id`",
        ),
    ];
    for (what, named, said) in cases {
        for (name, feedback) in grade_all(&store, report(named, &[1, 4, 5])).await {
            assert_eq!(feedback.verdict, Verdict::Fail, "{name}, {what}");
            let deployment = item(&feedback, "Deployment");
            assert_eq!(deployment.status, ItemStatus::Fail, "{name}, {what}");
            assert!(
                deployment.message.contains(said),
                "{name}, {what}: {}",
                deployment.message
            );
            assert!(
                feedback.headline.contains("deployment"),
                "{name}, {what}: {}",
                feedback.headline
            );
            assert_eq!(
                item(&feedback, "Both sides of the deploy").status,
                ItemStatus::Pass,
                "{name}, {what}"
            );
        }
    }
}

#[tokio::test]
async fn evidence_from_one_side_of_the_deploy_is_refused_saying_which_side_is_missing() {
    let store = shop();
    let cases = [
        (
            "only after",
            vec![4, 5],
            "from after the deploy. Also cite one from before",
        ),
        (
            "only before",
            vec![1, 2],
            "No trace you cite is from after the deploy",
        ),
        (
            "after, and a healthy trace of the new release",
            vec![4, 5, 7],
            "from after the deploy. Also cite one from before",
        ),
    ];
    for (what, evidence, said) in cases {
        for (name, feedback) in grade_all(&store, report("dep-good", &evidence)).await {
            assert_eq!(feedback.verdict, Verdict::Fail, "{name}, {what}");
            let sides = item(&feedback, "Both sides of the deploy");
            assert_eq!(sides.status, ItemStatus::Fail, "{name}, {what}");
            assert!(
                sides.message.contains(said),
                "{name}, {what}: {}",
                sides.message
            );
            assert_eq!(item(&feedback, "Deployment").status, ItemStatus::Pass);
        }
    }
}
