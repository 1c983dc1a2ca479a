//! One live shop serves three learners, each with their own fault (scoped by `learner.id`
//! baggage), as a workshop would; every exercise is then solved and mis-solved.

use std::collections::BTreeMap;
use std::time::Duration;

use dojo_grader::check::feedback::{Feedback, ItemStatus, Verdict};
use dojo_grader::check::root_cause::Report;
use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::{PlannedFault, fault_plan, merge_plans, scenario_yaml, variant_for};
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::types::Check;
use dojo_grader::spec::{LabSet, load_dir};

use crate::shop::{Shop, labs_dir};

fn learner(id: &str) -> LearnerId {
    LearnerId::parse(id).expect("test ids are valid")
}

/// The first learner id with this prefix whose variant of `lab` is `variant`.
fn learner_with(labs: &LabSet, lab: &str, variant: &str, prefix: &str) -> LearnerId {
    let lab = labs.get(lab).expect("the lab exists");
    (0..500)
        .map(|i| learner(&format!("{prefix}-{i}")))
        .find(|l| variant_for(lab, l).is_some_and(|v| v.id == variant))
        .unwrap_or_else(|| panic!("no learner gets variant {variant}"))
}

async fn grade(
    grader: &Grader,
    who: &LearnerId,
    lab: &str,
    exercise: &str,
    submission: Submission,
) -> Feedback {
    grader
        .grade(who, lab, exercise, &submission)
        .await
        .unwrap_or_else(|e| panic!("{lab}/{exercise}: {e}"))
}

#[track_caller]
fn passes(what: &str, feedback: &Feedback) {
    assert_eq!(
        feedback.verdict,
        Verdict::Pass,
        "{what} should pass:\n{}",
        feedback.to_text()
    );
}

/// Refused, with a failing item or a syntax error whose text contains `names`.
#[track_caller]
fn refused(what: &str, feedback: &Feedback, names: &str) {
    assert_eq!(
        feedback.verdict,
        Verdict::Fail,
        "{what} should be refused:\n{}",
        feedback.to_text()
    );
    let mut texts = vec![feedback.headline.clone()];
    texts.extend(
        feedback
            .items
            .iter()
            .filter(|i| i.status == ItemStatus::Fail)
            .map(|i| {
                format!(
                    "{} {} {}",
                    i.title,
                    i.message,
                    i.evidence
                        .iter()
                        .map(|e| e.why.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }),
    );
    if let Some(s) = &feedback.syntax_error {
        texts.push(format!("{} column {}", s.message, s.column));
    }
    assert!(
        texts.iter().any(|t| t.contains(names)),
        "{what}: the feedback should name the mistake ({names:?}):\n{}",
        feedback.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exercise_is_solved_by_its_reference_and_typical_wrong_answers_are_refused() {
    let labs = load_dir(&labs_dir()).unwrap_or_else(|e| panic!("{e}"));
    let querier = learner("querier");
    let splitter = learner("splitter");
    // One learner per slowness variant that can share an app (pool exhaustion starves the
    // shared pool for everyone, so it is left to its own app).
    let slowness: Vec<LearnerId> = [
        "payments-slow",
        "slow-query",
        "cpu-heavy",
        "network-latency",
    ]
    .iter()
    .map(|variant| learner_with(&labs, "intermittent-slowness", variant, variant))
    .collect();

    // Each learner's variant, switched on for that learner only, on one app.
    let mut plans: Vec<Vec<PlannedFault>> = Vec::new();
    let mut assignments: Vec<(&str, &LearnerId)> =
        vec![("traceql-querying", &querier), ("broken-trace", &splitter)];
    assignments.extend(slowness.iter().map(|l| ("intermittent-slowness", l)));
    for (lab, who) in &assignments {
        plans.push(fault_plan(
            labs.get(lab).expect("the lab exists"),
            std::slice::from_ref(*who),
            true,
        ));
    }
    let plan = merge_plans(plans).expect("the labs' faults fit on one app");
    let yaml = scenario_yaml(&plan).expect("the plan serializes");
    let shop = Shop::start(&yaml).await;

    let mut loads = Vec::new();
    for (seed, (_, who)) in assignments.iter().enumerate() {
        loads.push(shop.load(who.as_str(), "25s", seed as u64 + 1).await);
    }
    for load in &mut loads {
        let status = load.wait().await.expect("the load generator runs");
        assert!(status.success(), "the load generator failed: {status}");
    }
    // Wait for the last batches to arrive and for the window's settle time to pass.
    shop.wait_for(
        r#"{ resource.service.name = "frontend" && kind = server }"#,
        20,
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(12)).await;

    let grader = Grader::new(labs.clone(), shop.backend(), None);

    // ---- Every TraceQL exercise: its reference passes and each `must_refuse` is refused.
    crate::near_misses::every_near_miss_is_refused(
        &labs,
        shop.backend(),
        &[("traceql-querying", &querier), ("broken-trace", &splitter)],
    )
    .await;
    // ---- Every dashboard exercise: its reference panels pass and each near miss is refused.
    crate::dashboards::every_dashboard_near_miss_is_refused(
        &labs,
        shop.backend(),
        &[("traceql-querying", &querier, "")],
    )
    .await;

    // ---- The independent corpus: every answer gets the verdict a teacher would give.
    let variants = [
        "payments-slow",
        "slow-query",
        "cpu-heavy",
        "network-latency",
    ];
    crate::corpus::every_corpus_answer_gets_the_teachers_verdict(
        &labs,
        &shop,
        &crate::corpus::Learners {
            by_lab: [
                ("traceql-querying", &querier),
                ("broken-trace", &splitter),
                ("quiz", &querier),
            ]
            .into_iter()
            .collect(),
            by_variant: variants.into_iter().zip(slowness.iter()).collect(),
            classmate: &querier,
            other_classmate: &splitter,
        },
    )
    .await;

    // ---- Lab 2: TraceQL querying.
    let q = |exercise: &str, query: &str| {
        let grader = grader.clone();
        let querier = querier.clone();
        let (exercise, query) = (exercise.to_string(), query.to_string());
        async move {
            grade(
                &grader,
                &querier,
                "traceql-querying",
                &exercise,
                Submission::Query(query),
            )
            .await
        }
    };
    let lab = labs.get("traceql-querying").expect("the lab exists");
    for exercise in &lab.exercises {
        let Check::Traceql(check) = &exercise.check else {
            continue;
        };
        passes(
            &format!("the reference of {}", exercise.id),
            &q(&exercise.id, &check.reference).await,
        );
    }
    passes(
        "an equivalent answer to failed-api-requests",
        &q(
            "failed-api-requests",
            r#"{ kind = server && span.error.type != nil && resource.service.name = "api" }"#,
        )
        .await,
    );
    refused(
        "a query with `==`",
        &q(
            "failed-api-requests",
            r#"{ resource.service.name == "api" }"#,
        )
        .await,
        "column 25",
    );
    refused(
        "slow spans that are not database queries",
        &q("slow-db-queries", "{ duration > 500ms }").await,
        "you returned",
    );
    refused(
        "a child operator where a descendant is needed",
        &q("errors-under-checkout", r#"{ resource.service.name = "frontend" && kind = server } > { resource.service.name = "api" && status = error }"#).await,
        "`>` only reaches a direct child",
    );
    refused(
        "a span attribute looked up as a resource attribute",
        &q("user-journey", r#"{ resource.user.id = "u-7" }"#).await,
        "no span meets `resource.user.id = \"u-7\"`",
    );
    refused(
        "the version looked up as a span attribute",
        &q(
            "deployment-version",
            r#"{ resource.service.name = "payments" && span.service.version = "0.1.0" }"#,
        )
        .await,
        "no span meets `span.service.version = \"0.1.0\"`",
    );
    // (Not `GET /orders`: the mobile app sends it, and the api answers 405.)
    refused(
        "a route with a method it never serves",
        &q("checkout-route", r#"{ resource.service.name = "api" && kind = server && span.http.route = "/catalogue" && span.http.request.method = "POST" }"#).await,
        "no span meets `span.http.route = \"/catalogue\"` and `span.http.request.method = \"POST\"` together",
    );

    // ---- Lab 3: intermittent slowness, each learner graded against their own variant.
    let report = |service: &str, operation: &str, fault: &str, evidence: Vec<String>| {
        Submission::Report(Report {
            service: service.into(),
            operation: operation.into(),
            fault: fault.into(),
            evidence,
            explanation: "The slow requests all spend their extra time in one span, which is \
                          fast in the healthy requests; only a fraction of requests is hit, so \
                          the slowness comes and goes."
                .into(),
            deployment: String::new(),
        })
    };
    for who in &slowness {
        // A fast request of this learner's own traffic (another learner's would be refused as
        // such, not as healthy).
        let healthy = shop
            .find(
                &format!(
                    r#"{{ resource.service.name = "frontend" && kind = server && duration < 100ms && span.learner.id = "{who}" }}"#
                ),
                1,
            )
            .await;
        let variant =
            variant_for(labs.get("intermittent-slowness").expect("lab"), who).expect("a variant");
        let truth = variant
            .truth
            .clone()
            .expect("the variant has a ground truth");
        // Traces of this learner's own traffic: a neighbour with the same variant shows the
        // same fault, but their traces are not this learner's evidence.
        let evidence = shop
            .find(
                &format!(r#"({}) && {{ span.learner.id = "{who}" }}"#, truth.evidence),
                2,
            )
            .await;
        assert_eq!(
            evidence.len(),
            2,
            "the live shop shows {} ({})",
            variant.id,
            truth.evidence
        );
        passes(
            &format!("the reference report for {}", variant.id),
            &grade(
                &grader,
                who,
                "intermittent-slowness",
                "root-cause",
                report(
                    &truth.service,
                    &truth.operation,
                    &truth.fault,
                    evidence.clone(),
                ),
            )
            .await,
        );
        let blamed = if truth.service == "frontend" {
            "api"
        } else {
            "frontend"
        };
        refused(
            &format!("blaming {blamed} for {}", variant.id),
            &grade(
                &grader,
                who,
                "intermittent-slowness",
                "root-cause",
                report(blamed, &truth.operation, &truth.fault, evidence.clone()),
            )
            .await,
            &format!("`{blamed}` is not where the fault is"),
        );
        refused(
            &format!("the wrong kind of fault for {}", variant.id),
            &grade(
                &grader,
                who,
                "intermittent-slowness",
                "root-cause",
                report(
                    &truth.service,
                    &truth.operation,
                    "n_plus_one",
                    evidence.clone(),
                ),
            )
            .await,
            "does not describe what happens",
        );
        if truth.fault == "payments_network" {
            // The near miss of the network variant: blaming payments' own code, although its
            // server spans are fast and the time is spent on the way to it.
            refused(
                "calling the network fault a slow payments provider",
                &grade(
                    &grader,
                    who,
                    "intermittent-slowness",
                    "root-cause",
                    report(
                        &truth.service,
                        &truth.operation,
                        "payments_slow",
                        evidence.clone(),
                    ),
                )
                .await,
                "does not describe what happens",
            );
        }
        refused(
            &format!("citing a healthy trace for {}", variant.id),
            &grade(
                &grader,
                who,
                "intermittent-slowness",
                "root-cause",
                report(
                    &truth.service,
                    &truth.operation,
                    &truth.fault,
                    healthy.clone(),
                ),
            )
            .await,
            "does not show the fault",
        );
    }

    // ---- Lab 4: the broken trace.
    passes(
        "the reference of orphan-traces",
        &grade(
            &grader,
            &splitter,
            "broken-trace",
            "orphan-traces",
            Submission::Query(r#"{ trace:rootService = "api" }"#.into()),
        )
        .await,
    );
    refused(
        "every api trace instead of the orphaned ones",
        &grade(
            &grader,
            &splitter,
            "broken-trace",
            "orphan-traces",
            Submission::Query(r#"{ resource.service.name = "api" }"#.into()),
        )
        .await,
        "Too broad",
    );
    // The splitter's own orphaned traces (other learners' traffic has some too).
    let split = shop
        .find(
            &format!(r#"{{ trace:rootService = "api" && span.learner.id = "{splitter}" }}"#),
            2,
        )
        .await;
    passes(
        "the reference broken-trace report",
        &grade(
            &grader,
            &splitter,
            "broken-trace",
            "report",
            report(
                "frontend",
                "GET /products/{id}",
                "broken_propagation",
                split.clone(),
            ),
        )
        .await,
    );
    refused(
        "blaming the service that receives the broken context",
        &grade(
            &grader,
            &splitter,
            "broken-trace",
            "report",
            report("api", "GET /products/{id}", "broken_propagation", split),
        )
        .await,
        "`api` is not where the fault is",
    );

    // ---- The quiz.
    let quiz = labs
        .exercise("quiz", "brown-belt-quiz")
        .expect("the quiz exists")
        .1;
    let Check::Quiz(questions) = &quiz.check else {
        panic!("the quiz is a quiz")
    };
    // Answers are positions in the order this learner sees the choices.
    let layout = grader
        .quiz_layout(&querier, "quiz", "brown-belt-quiz")
        .expect("a quiz has a layout");
    let position = |qi: usize, choice: usize| {
        layout[qi]
            .iter()
            .position(|&c| c == choice)
            .expect("every choice is shown")
    };
    let right: BTreeMap<String, usize> = questions
        .questions
        .iter()
        .enumerate()
        .map(|(qi, q)| (q.id.clone(), position(qi, q.answer)))
        .collect();
    let wrong: BTreeMap<String, usize> = questions
        .questions
        .iter()
        .enumerate()
        .map(|(qi, q)| (q.id.clone(), position(qi, (q.answer + 1) % q.choices.len())))
        .collect();
    passes(
        "the right answers",
        &grade(
            &grader,
            &querier,
            "quiz",
            "brown-belt-quiz",
            Submission::Answers(right),
        )
        .await,
    );
    refused(
        "wrong answers",
        &grade(
            &grader,
            &querier,
            "quiz",
            "brown-belt-quiz",
            Submission::Answers(wrong),
        )
        .await,
        "which is not right",
    );
}
