//! Every dashboard exercise on the live shop: the reference panels pass, and replacing one
//! asked panel by each of its `must_refuse` near misses is refused — never "not enough
//! traffic" once the shop has warmed up — with feedback that names the asked panel the near
//! miss fails and says what differs, and never prints the reference query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dojo_grader::backend::TraceBackend;
use dojo_grader::check::dashboard::{DashboardAnswer, SubmittedPanel};
use dojo_grader::check::feedback::{ItemStatus, Verdict};
use dojo_grader::progress::LearnerId;
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::LabSet;
use dojo_grader::spec::types::Check;

/// Grades each dashboard exercise of the given labs as `who` with their service (empty: the
/// exercise's default): the reference dashboard — written as a learner would, with the
/// service's name — then one dashboard per near miss, and collects every wrong verdict or
/// silent feedback. The reference is first graded until the window holds the traffic (at
/// most a minute: the last interval closes and settles).
pub async fn every_dashboard_near_miss_is_refused(
    labs: &LabSet,
    backend: Arc<dyn TraceBackend>,
    learners: &[(&str, &LearnerId, &str)],
) {
    let grader = Grader::new(labs.clone(), backend, None);
    let mut wrong = Vec::new();
    let mut refused = 0;
    for (lab_id, who, service) in learners {
        let lab = labs.get(lab_id).expect("the lab exists");
        for exercise in &lab.exercises {
            let Check::Dashboard(check) = &exercise.check else {
                continue;
            };
            let reference: Vec<SubmittedPanel> = check
                .panels
                .iter()
                .map(|p| SubmittedPanel {
                    title: p.id.clone(),
                    query: p.reference.replace("$service", service),
                })
                .collect();
            let grade = |panels: Vec<SubmittedPanel>| {
                let grader = grader.clone();
                let exercise = exercise.id.clone();
                async move {
                    grader
                        .grade(
                            who,
                            lab_id,
                            &exercise,
                            &Submission::Panels(DashboardAnswer {
                                service: service.to_string(),
                                panels,
                            }),
                        )
                        .await
                        .unwrap_or_else(|e| panic!("{lab_id}/{exercise}: {e}"))
                }
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            let feedback = loop {
                let feedback = grade(reference.clone()).await;
                if feedback.verdict != Verdict::NotReady || Instant::now() > deadline {
                    break feedback;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            };
            if feedback.verdict != Verdict::Pass {
                wrong.push(format!(
                    "{lab_id}/{}: the reference dashboard did not pass:\n{}",
                    exercise.id,
                    feedback.to_text()
                ));
            }
            for (i, asked) in check.panels.iter().enumerate() {
                assert!(
                    asked.must_refuse.len() >= 3,
                    "{}: three near misses per asked panel",
                    asked.id
                );
                for near_miss in &asked.must_refuse {
                    let mut panels = reference.clone();
                    panels[i] = SubmittedPanel {
                        title: "my panel".into(),
                        query: near_miss.replace("$service", service),
                    };
                    let feedback = grade(panels).await;
                    refused += 1;
                    let failed: Vec<_> = feedback
                        .items
                        .iter()
                        .filter(|item| item.status == ItemStatus::Fail)
                        .collect();
                    let text = feedback.to_text();
                    if feedback.verdict != Verdict::Fail {
                        wrong.push(format!(
                            "{}: `{near_miss}` was not refused:\n{text}",
                            asked.id
                        ));
                    } else if failed.len() != 1
                        || failed[0].title != asked.describe
                        || !failed[0].message.contains("“my panel”")
                    {
                        wrong.push(format!(
                            "{}: `{near_miss}`: the feedback should name only “{}” and the closest panel:\n{text}",
                            asked.id, asked.describe
                        ));
                    } else if text.contains(&asked.reference.replace("$service", service)) {
                        wrong.push(format!(
                            "{}: the feedback prints the reference:\n{text}",
                            asked.id
                        ));
                    }
                }
            }
        }
    }
    assert!(
        refused > 0,
        "these labs have dashboard exercises with near misses"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
