//! Every TraceQL exercise on the live shop: the reference passes and every `must_refuse`
//! near miss is refused — never "not enough traffic", once the shop has warmed up — with the
//! attempts recorded in a SQLite and in a PostgreSQL progress store, twice in a row on the same
//! running shop, so no verdict depends on which unrelated traffic happens to be in the window.

use std::sync::Arc;

use dojo_grader::backend::TraceBackend;
use dojo_grader::check::feedback::Verdict;
use dojo_grader::progress::{LearnerId, Progress};
use dojo_grader::service::{Grader, Submission};
use dojo_grader::spec::LabSet;
use dojo_grader::spec::types::Check;

use crate::shop::TempDir;

/// The progress stores the verdicts are recorded in: SQLite always, PostgreSQL where the
/// test server is configured (required under `CI=true`).
async fn progress_stores(dir: &TempDir) -> Vec<(&'static str, Progress)> {
    let sqlite = format!("sqlite:{}", dir.0.join("progress.db").display());
    let mut stores = vec![(
        "sqlite",
        Progress::connect(&sqlite)
            .await
            .unwrap_or_else(|e| panic!("opening {sqlite}: {e}")),
    )];
    if let Some(db) = dojo_testkit::postgres::fresh_database()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
    {
        stores.push((
            "postgres",
            Progress::connect(&db.url)
                .await
                .unwrap_or_else(|e| panic!("opening {}: {e}", db.name)),
        ));
    }
    stores
}

/// Submits each TraceQL exercise's reference and near misses as `who` (per lab), twice in a
/// row, through a grader recording to each progress store, and collects every wrong verdict.
pub async fn every_near_miss_is_refused(
    labs: &LabSet,
    backend: Arc<dyn TraceBackend>,
    learners: &[(&str, &LearnerId)],
) {
    let dir = TempDir::new();
    let stores = progress_stores(&dir).await;
    let mut wrong = Vec::new();
    let mut graded = 0usize;
    for round in 1..=2 {
        for (store, progress) in &stores {
            let grader = Grader::new(labs.clone(), backend.clone(), Some(progress.clone()));
            for (lab_id, who) in learners {
                if round == 1 {
                    progress
                        .join(who, who.as_str())
                        .await
                        .unwrap_or_else(|e| panic!("{store}: joining {who}: {e}"));
                }
                let lab = labs.get(lab_id).expect("the lab exists");
                for exercise in &lab.exercises {
                    let Check::Traceql(check) = &exercise.check else {
                        continue;
                    };
                    let answers = std::iter::once((Verdict::Pass, &check.reference))
                        .chain(check.must_refuse.iter().map(|m| (Verdict::Fail, m)));
                    for (expected, query) in answers {
                        let graded_now = grader
                            .submit(who, lab_id, &exercise.id, &Submission::Query(query.clone()))
                            .await
                            .unwrap_or_else(|e| panic!("{store}: {lab_id}/{}: {e}", exercise.id));
                        graded += 1;
                        let feedback = &graded_now.feedback;
                        if feedback.verdict != expected {
                            wrong.push(format!(
                                "round {round}, {store}: {lab_id}/{} `{query}` should be {expected:?}, got:\n{}",
                                exercise.id,
                                feedback.to_text()
                            ));
                        } else if graded_now.attempt_id.is_none() {
                            wrong.push(format!(
                                "round {round}, {store}: {lab_id}/{} `{query}` was judged but not recorded",
                                exercise.id
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {graded} gradings went wrong:\n\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
    for (_, progress) in &stores {
        progress.close().await;
    }
}
