//! Every alert exercise on the live shop, as a workshop grades it: each learner's traffic goes
//! to their own tenant, and the grader switches the exercise's fault off and on for that
//! learner only, through the services' real admin APIs. The reference rule passes; each
//! `must_refuse` rule is refused, naming the way it failed and the phase; and afterwards no
//! fault the gradings switched is left on. Every rule is graded at once, each as its own
//! learner, so the gradings also show that one learner's fault never reaches another's rule.
//!
//! Two more learners show the fault is always put back: one whose own incident had the fault
//! on (the grading waits for their window to clear first, and switches it back on for them
//! after), and one whose grading is dropped halfway through.
//!
//! The phases are shortened through the exercises' own settings (a 20 s window, 15 s off,
//! 60 s on), so the whole test takes about two minutes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dojo_grader::alerting::Phase;
use dojo_grader::check::alert;
use dojo_grader::check::feedback::Feedback;
use dojo_grader::check::feedback::{ItemStatus, Verdict};
use dojo_grader::fault_switch::{Activation, FaultSwitch, ServiceFaultSwitch};
use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::{fault_plan, scenario_yaml};
use dojo_grader::service::{Grader, GraderError, Submission, TenantPolicy};
use dojo_grader::spec::duration::SpecDuration;
use dojo_grader::spec::types::{Check, RuleSpec};
use dojo_grader::spec::{LabSet, load_dir};

use crate::shop::{ADMIN_TOKEN, Shop, labs_dir};

const LAB: &str = "traceql-querying";

/// The lab with every alert exercise's phases shortened for the test.
fn short_phases(labs: &LabSet) -> LabSet {
    let mut lab = labs.get(LAB).expect("Lab 2 exists").as_ref().clone();
    for exercise in &mut lab.exercises {
        if let Check::Alert(check) = &mut exercise.check {
            let secs = |s| SpecDuration(Duration::from_secs(s));
            check.lookback = secs(20);
            check.settle = secs(5);
            check.interval = secs(3);
            check.off_phase = secs(15);
            check.on_phase = secs(60);
            check.deadline = secs(50);
        }
    }
    LabSet::from_labs([lab])
}

/// What a rule's grading must say: `None` for a pass, else the start of the headline.
fn expected(exercise: &str, rule: &RuleSpec, reference: &RuleSpec) -> Option<&'static str> {
    if rule == reference {
        None
    } else if rule.condition != reference.condition {
        Some("Fired without the fault: your rule fired in phase 1")
    } else {
        let _ = exercise;
        Some("Never fired: your rule stayed quiet in phase 2")
    }
}

/// Grades `rule`, again while the grader is not ready: until the window (ending 5 s ago)
/// holds the learner's first traffic it says so, and switches nothing.
async fn grade_when_ready(
    grader: &Grader,
    who: &LearnerId,
    exercise: &str,
    rule: &RuleSpec,
    progress: &(dyn Fn(alert::Progress) + Send + Sync),
) -> Result<Feedback, GraderError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let submission = Submission::Rule(rule.clone());
    loop {
        let feedback = grader
            .grade_reporting(who, LAB, exercise, &submission, progress)
            .await;
        match &feedback {
            Ok(f) if f.verdict == Verdict::NotReady && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            _ => return feedback,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_exercise_passes_its_reference_rule_and_refuses_its_near_misses() {
    let all = load_dir(&labs_dir()).unwrap_or_else(|e| panic!("{e}"));
    let labs = short_phases(&all);
    let lab = labs.get(LAB).expect("Lab 2 exists").clone();

    // One learner per rule graded, each with Lab 2's own variant switched on for them.
    let mut cases: Vec<(String, RuleSpec, Option<&'static str>, LearnerId)> = Vec::new();
    for exercise in &lab.exercises {
        let Check::Alert(check) = &exercise.check else {
            continue;
        };
        assert!(
            check.must_refuse.len() >= 2,
            "{}: near misses to refuse",
            exercise.id
        );
        for rule in std::iter::once(&check.reference).chain(&check.must_refuse) {
            let who = LearnerId::parse(&format!("alert-{}", cases.len())).expect("a valid id");
            cases.push((
                exercise.id.clone(),
                rule.clone(),
                expected(&exercise.id, rule, &check.reference),
                who,
            ));
        }
    }
    assert!(cases.len() >= 7, "two alert exercises with near misses");
    // Two more learners graded on the latency reference: one whose own incident already had
    // the fault on (it must be put back for them afterwards), and one whose grading is dropped
    // halfway (the fault must go off all the same).
    let had = LearnerId::parse("alert-had").expect("a valid id");
    let dropped = LearnerId::parse("alert-dropped").expect("a valid id");
    let mut learners: Vec<LearnerId> = cases.iter().map(|c| c.3.clone()).collect();
    learners.extend([had.clone(), dropped.clone()]);
    let plan = fault_plan(&lab, &learners, true);
    let shop = Shop::start(&scenario_yaml(&plan).expect("the plan serializes")).await;
    shop.store.route_by_learner();

    let mut loads = Vec::new();
    for (i, who) in learners.iter().enumerate() {
        loads.push(shop.load_at(who.as_str(), "170s", i as u64 + 1, "2").await);
    }
    for who in &learners {
        shop.wait_for_tenant(
            &format!("learner-{who}"),
            r#"{ resource.service.name = "api" && name = "payments.charge" }"#,
            5,
            Duration::from_secs(60),
        )
        .await;
    }

    let switch: Arc<dyn FaultSwitch> = Arc::new(ServiceFaultSwitch::new(
        shop.services(),
        Some(ADMIN_TOKEN.to_string()),
    ));
    let grader = Grader::new(labs.clone(), shop.backend(), None)
        .with_tenants(TenantPolicy::Routed)
        .with_fault_switch(switch.clone());
    let latency = lab
        .exercises
        .iter()
        .find_map(|e| match &e.check {
            Check::Alert(c) if e.id == "payments-latency-alert" => Some(c.clone()),
            _ => None,
        })
        .expect("the latency exercise exists");
    let had_before = Activation::asked(
        "payments_slow",
        &latency.fault.params,
        latency.fault.fraction,
        Some(vec![had.to_string()]),
    );
    switch
        .write("payments_slow", Some(&had_before))
        .await
        .expect("the admin API switches the fault on");

    let mut gradings = tokio::task::JoinSet::new();
    let cleared = Arc::new(AtomicBool::new(false));
    {
        let (grader, cleared, had, rule) = (
            grader.clone(),
            cleared.clone(),
            had.clone(),
            latency.reference.clone(),
        );
        gradings.spawn(async move {
            let saw_clearing = move |step: alert::Progress| {
                if matches!(step, alert::Progress::Clearing { .. }) {
                    cleared.store(true, Ordering::SeqCst);
                }
            };
            let feedback = grade_when_ready(
                &grader,
                &had,
                "payments-latency-alert",
                &rule,
                &saw_clearing,
            )
            .await;
            ("payments-latency-alert".to_string(), rule, None, feedback)
        });
    }
    let (phases_tx, mut phases) = tokio::sync::mpsc::unbounded_channel();
    let dropped_grading = {
        let (grader, who, rule) = (grader.clone(), dropped.clone(), latency.reference.clone());
        tokio::spawn(async move {
            let report = move |step: alert::Progress| {
                let _ = phases_tx.send(step);
            };
            let _ = grade_when_ready(&grader, &who, "payments-latency-alert", &rule, &report).await;
        })
    };
    for (exercise, rule, expect, who) in cases.clone() {
        let grader = grader.clone();
        gradings.spawn(async move {
            let feedback = grade_when_ready(&grader, &who, &exercise, &rule, &|_| {}).await;
            (exercise, rule, expect, feedback)
        });
    }
    // The dropped grading: once its fault is on, the grading is cancelled, and the fault goes
    // off for that learner without anyone asking.
    loop {
        let step = tokio::time::timeout(Duration::from_secs(90), phases.recv())
            .await
            .expect("the grading reports its phases")
            .expect("the grading runs until the fault is on");
        if matches!(
            step,
            alert::Progress::Watching {
                phase: Phase::FaultOn,
                ..
            }
        ) {
            break;
        }
    }
    let hit = |state: Option<Activation>| state.is_some_and(|a| a.hits(dropped.as_str()));
    assert!(
        hit(switch.read("payments_slow").await.expect("readable")),
        "the fault is on for the learner in phase 2"
    );
    dropped_grading.abort();
    let deadline = Instant::now() + Duration::from_secs(20);
    while hit(switch.read("payments_slow").await.expect("readable")) {
        assert!(
            Instant::now() < deadline,
            "a dropped grading left the fault on for its learner"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut wrong = Vec::new();
    while let Some(joined) = gradings.join_next().await {
        let (exercise, rule, expect, feedback) = joined.expect("a grading does not panic");
        let feedback = feedback.unwrap_or_else(|e| panic!("{exercise}: {e}"));
        let text = feedback.to_text();
        let what = format!(
            "{exercise}: `{}` {} {}",
            rule.query, rule.condition, rule.threshold
        );
        println!("---- {what}\n{text}");
        match expect {
            None if feedback.verdict != Verdict::Pass => {
                wrong.push(format!("{what}: the reference should pass:\n{text}"));
            }
            None => {}
            Some(headline) => {
                let failed: Vec<_> = feedback
                    .items
                    .iter()
                    .filter(|i| i.status == ItemStatus::Fail)
                    .collect();
                if feedback.verdict != Verdict::Fail || !feedback.headline.starts_with(headline) {
                    wrong.push(format!("{what}: expected “{headline}…”:\n{text}"));
                } else {
                    // The headline's phase is among the failing ones, with the reason.
                    let phase = if headline.contains("phase 1") {
                        "Phase 1"
                    } else {
                        "Phase 2"
                    };
                    if !failed.iter().any(|i| i.title.starts_with(phase)) {
                        wrong.push(format!("{what}: {phase} should be marked failed:\n{text}"));
                    }
                }
            }
        }
        let reference = lab
            .exercises
            .iter()
            .find_map(|e| match &e.check {
                Check::Alert(c) if e.id == exercise => Some(c.reference.query.clone()),
                _ => None,
            })
            .expect("the exercise exists");
        if rule.query != reference && text.contains(&reference) {
            wrong.push(format!(
                "{what}: the feedback prints the reference rule:\n{text}"
            ));
        }
    }

    // Every fault the gradings switched is as it was: off, but for the learner who had it.
    assert_eq!(
        switch.read("payments_failing").await.expect("readable"),
        None,
        "payments_failing was left on"
    );
    let slow = switch
        .read("payments_slow")
        .await
        .expect("readable")
        .expect("payments_slow is back on for the learner who had it");
    assert_eq!(slow.learners, Some(vec![had.to_string()]), "{slow:?}");
    assert!(slow.same_effect(&had_before), "{slow:?}");
    assert!(
        cleared.load(Ordering::SeqCst),
        "the grading waited for the window to clear of the learner's own fault"
    );
    for mut load in loads {
        let _ = load.start_kill();
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
