//! The change history a lab starts with: a few dozen past pipeline runs, seeded per learner.
//!
//! `dojo up` sends them as OTLP at start, with their past timestamps, so the Delivery page
//! and Lab 5 have something to analyse before the learner deploys anything: runs over the
//! last six days for api and frontend, with realistic stage durations, commits that waited
//! from minutes to most of a day before their pipeline ran (so lead times differ), a few
//! failed test stages, and one failed rollout with its rollback followed by a fix. The seed is
//! the learner's id: two learners get different histories, and so different answers.

use std::time::{Duration, SystemTime};

use dojo_grader::scenario::fnv1a;
use dojo_grader::seeded::SplitMix;

use crate::delivery::run::{Outcome, PipelineRun, Rollback, Stage, StageRun, Value};

/// How far back the history reaches.
const SPAN: Duration = Duration::from_secs(6 * 24 * 3600);
/// The last run ends at least this long before the lab starts.
const QUIET_BEFORE_NOW: Duration = Duration::from_secs(3600);

/// The commit titles of the history, per service.
const API_CHANGES: [&str; 14] = [
    "Cache product lookups",
    "Paginate the product list",
    "Validate cart quantities",
    "Retry payments on 503",
    "Add an index on cart items",
    "Log the order id on checkout",
    "Tighten the payments timeout",
    "Batch inventory reads",
    "Round order totals to cents",
    "Reject empty carts at checkout",
    "Upgrade the database driver",
    "Trim product descriptions",
    "Count failed payments",
    "Compress product responses",
];
const FRONTEND_CHANGES: [&str; 10] = [
    "Show stock levels",
    "New checkout button",
    "Lazy-load product images",
    "Keep the cart across visits",
    "Friendlier error page",
    "Prefetch the product list",
    "Accessible colour scheme",
    "Cart badge shows item count",
    "Shorter product URLs",
    "Track checkout clicks",
];

/// The history's random choices: the grader's fixed-forever generator, seeded by the
/// learner's id, so the same learner gets the same history on every platform and release.
struct Seeded(SplitMix);

impl Seeded {
    fn new(seed: &str) -> Seeded {
        Seeded(SplitMix(fnv1a(&[b"change-history", seed.as_bytes()])))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// Seconds spread evenly on a log scale between `low` and `high`.
    fn log_between(&mut self, low: u64, high: u64) -> Duration {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let (low, high) = ((low as f64).ln(), (high as f64).ln());
        Duration::from_secs_f64((low + unit * (high - low)).exp())
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next().to_be_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

/// The history of the learner with this seed, as of `now`, oldest first.
pub fn history(seed: &str, now: SystemTime) -> Vec<PipelineRun> {
    let mut rng = Seeded::new(seed);
    let count = rng.between(30, 36) as usize;
    let first = now - SPAN;
    let last = now - QUIET_BEFORE_NOW - Duration::from_secs(24 * 3600);
    let step = last.duration_since(first).unwrap_or_default() / count as u32;
    // Which runs fail: a few test stages, and one rollout (never the first or last runs).
    let mut failing_tests = Vec::new();
    while failing_tests.len() < 4 {
        let index = rng.between(1, count as u64 - 3) as usize;
        if !failing_tests.contains(&index) {
            failing_tests.push(index);
        }
    }
    let failing_rollout = loop {
        let index = rng.between(count as u64 / 3, count as u64 - 4) as usize;
        if !failing_tests.contains(&index) && !failing_tests.contains(&(index + 1)) {
            break index;
        }
    };
    // Which runs waited on a cold build cache: their build, not their tests, is the slow stage,
    // so "a stage over 6 minutes" is not always the test stage.
    let mut slow_builds = Vec::new();
    while slow_builds.len() < 2 {
        let index = rng.between(1, count as u64 - 2) as usize;
        if !slow_builds.contains(&index) && !failing_tests.contains(&index) {
            slow_builds.push(index);
        }
    }
    let mut minor = [0u32; 2];
    let mut changes = [0usize; 2];
    let mut runs: Vec<PipelineRun> = Vec::with_capacity(count + 1);
    let mut index = 0;
    let mut fix_for: Option<(usize, SystemTime)> = None;
    while index < count {
        let is_fix = fix_for.is_some();
        let (which, commit_at, change) = match fix_for.take() {
            // The fix after the failed rollout: same service, committed soon after.
            Some((which, after)) => {
                let at = after + Duration::from_secs(rng.between(600, 2400));
                let name = ["api", "frontend"][which];
                (which, at, format!("Fix the {name} crash at startup"))
            }
            None => {
                let which = usize::from(rng.between(0, 9) >= 6);
                let slot = first + step * index as u32;
                let at = slot + Duration::from_secs(rng.next() % step.as_secs().max(1) / 2);
                let titles: &[&str] = if which == 0 {
                    &API_CHANGES
                } else {
                    &FRONTEND_CHANGES
                };
                let change = titles[changes[which] % titles.len()].to_owned();
                changes[which] += 1;
                (which, at, change)
            }
        };
        let service = ["api", "frontend"][which];
        minor[which] += 1;
        let version = match which {
            0 => format!("1.{}.0", minor[0]),
            _ => format!("2.{}.0", minor[1]),
        };
        let fails_test = !is_fix && failing_tests.contains(&index);
        let fails_rollout = !is_fix && index == failing_rollout;
        let kept_version = runs
            .iter()
            .rev()
            .find(|r| r.service == service && r.result() == "success")
            .map(|r| r.version.clone())
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
        let run = one_run(
            &mut rng,
            RunPlan {
                service,
                version,
                change,
                commit_at,
                fails_test,
                fails_rollout,
                slow_build: !is_fix && slow_builds.contains(&index),
                kept_version,
            },
        );
        if fails_rollout {
            fix_for = Some((which, run.end()));
        } else {
            index += 1;
        }
        runs.push(run);
    }
    runs.sort_by_key(PipelineRun::start);
    runs
}

/// What one past run is to be.
struct RunPlan {
    service: &'static str,
    version: String,
    change: String,
    commit_at: SystemTime,
    fails_test: bool,
    fails_rollout: bool,
    /// A cold build cache: the build takes 6½ to 9 minutes, and the tests stay under 5.
    slow_build: bool,
    kept_version: String,
}

fn one_run(rng: &mut Seeded, plan: RunPlan) -> PipelineRun {
    let ids: [u8; 16] = rng.bytes();
    let short = hex::encode(&ids[..5]);
    let mut run = PipelineRun {
        trace_id: ids,
        root_span_id: rng.bytes(),
        run_id: format!("run-{short}"),
        service: plan.service.to_owned(),
        version: plan.version,
        change: plan.change,
        revision: hex::encode(rng.bytes::<20>()),
        deployment_id: format!("dep-{short}"),
        environment: dojo_defaults::LAB_ENVIRONMENT.to_owned(),
        stages: Vec::new(),
    };
    // The commit waits for review and the queue before its pipeline starts.
    let waited = rng.log_between(5 * 60, 20 * 3600);
    let mut at = plan.commit_at;
    for stage in Stage::ALL {
        let seconds = match stage {
            Stage::Commit => rng.between(1, 3),
            Stage::Build if plan.slow_build => rng.between(390, 540),
            Stage::Build => rng.between(70, 260),
            Stage::Test if plan.slow_build => rng.between(90, 290),
            Stage::Test => rng.between(90, 420),
            Stage::Publish => rng.between(15, 60),
            Stage::Sync => rng.between(4, 25),
            Stage::Rollout => rng.between(35, 140),
        };
        let start = at;
        let end = start + Duration::from_secs(seconds) + Duration::from_millis(rng.between(0, 999));
        let mut stage_run = StageRun {
            stage,
            span_id: rng.bytes(),
            start,
            end,
            outcome: Outcome::Success,
            attributes: Vec::new(),
            rollback: None,
        };
        match stage {
            Stage::Commit => {
                stage_run
                    .attributes
                    .push(("vcs.ref.head.revision".into(), run.revision.clone().into()));
            }
            Stage::Test if plan.fails_test => {
                let failed = rng.between(1, 4) as i64;
                stage_run.outcome = Outcome::Failure {
                    error_type: "test_failure".to_owned(),
                    message: format!("{failed} of 42 tests failed"),
                };
                stage_run.attributes.extend([
                    ("dojo.tests.total".to_owned(), Value::Int(42)),
                    ("dojo.tests.failed".to_owned(), Value::Int(failed)),
                ]);
            }
            Stage::Test => stage_run.attributes.extend([
                ("dojo.tests.total".to_owned(), Value::Int(42)),
                ("dojo.tests.failed".to_owned(), Value::Int(0)),
            ]),
            Stage::Rollout => {
                stage_run.attributes.extend([
                    ("deployment.id".to_owned(), run.deployment_id.clone().into()),
                    ("deployment.name".to_owned(), run.service.clone().into()),
                    ("deployment.version".to_owned(), run.version.clone().into()),
                ]);
                if plan.fails_rollout {
                    stage_run.outcome = Outcome::Failure {
                        error_type: "rollout_failed".to_owned(),
                        message: "the new version exited before it was healthy (exit status: 2)"
                            .to_owned(),
                    };
                    stage_run
                        .attributes
                        .push(("deployment.status".to_owned(), "failed".into()));
                    let back = Duration::from_secs(rng.between(8, 40));
                    stage_run.rollback = Some(Rollback {
                        span_id: rng.bytes(),
                        start: end,
                        end: end + back,
                        to_version: plan.kept_version.clone(),
                    });
                } else {
                    stage_run
                        .attributes
                        .push(("deployment.status".to_owned(), "succeeded".into()));
                }
            }
            _ => {}
        }
        let failed = stage_run.outcome != Outcome::Success;
        at = end;
        if stage == Stage::Commit {
            at += waited;
        }
        run.stages.push(stage_run);
        if failed {
            break;
        }
    }
    run
}

/// The version and deployment id each service runs at the end of a history (its last
/// successful run), so the lab starts its services as that release.
pub fn running_releases(runs: &[PipelineRun]) -> Vec<(String, String, String)> {
    let mut deployed: Vec<&PipelineRun> = runs.iter().filter(|r| r.result() == "success").collect();
    deployed.sort_by_key(|r| r.end());
    let mut releases: Vec<(String, String, String)> = Vec::new();
    for run in deployed {
        releases.retain(|(service, _, _)| *service != run.service);
        releases.push((
            run.service.clone(),
            run.version.clone(),
            run.deployment_id.clone(),
        ));
    }
    releases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_noon() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn a_learner_gets_the_same_history_every_time_and_another_learner_another() {
        let ada = history("ada-1234", at_noon());
        assert_eq!(ada, history("ada-1234", at_noon()));
        let bob = history("bob-5678", at_noon());
        assert_ne!(
            ada.iter().map(|r| r.version.clone()).collect::<Vec<_>>(),
            bob.iter().map(|r| r.version.clone()).collect::<Vec<_>>(),
        );
    }

    #[test]
    fn stages_over_six_minutes_are_builds_in_some_runs_and_tests_in_others() {
        // Lab 5's slow-stage exercise refuses "only the test stage" and "only the build stage"
        // only if both kinds of slow run are in every learner's history.
        for seed in [
            "ada-1234",
            "bob-5678",
            "local-f3a680e8",
            "x",
            "ann-0",
            "ann-1",
        ] {
            let runs = history(seed, at_noon());
            let slow = |stage: Stage| {
                runs.iter()
                    .filter(|r| {
                        r.stages.iter().any(|s| {
                            s.stage == stage
                                && s.end.duration_since(s.start).unwrap_or_default()
                                    > Duration::from_secs(360)
                        })
                    })
                    .count()
            };
            assert!(
                slow(Stage::Build) >= 2,
                "{seed}: {} slow builds",
                slow(Stage::Build)
            );
            assert!(
                slow(Stage::Test) >= 1,
                "{seed}: {} slow tests",
                slow(Stage::Test)
            );
        }
    }

    #[test]
    fn the_history_has_failed_tests_one_rolled_back_rollout_and_varied_lead_times() {
        for seed in ["ada-1234", "bob-5678", "local-f3a680e8", "x"] {
            let runs = history(seed, at_noon());
            assert!(
                (30..=40).contains(&runs.len()),
                "{seed}: {} runs",
                runs.len()
            );
            let failed_tests = runs
                .iter()
                .filter(|r| r.failed_stage().is_some_and(|s| s.stage == Stage::Test))
                .count();
            assert_eq!(failed_tests, 4, "{seed}");
            let rolled_back: Vec<&PipelineRun> = runs
                .iter()
                .filter(|r| r.stages.iter().any(|s| s.rollback.is_some()))
                .collect();
            assert_eq!(rolled_back.len(), 1, "{seed}");
            assert_eq!(rolled_back[0].result(), "failure");
            for run in &runs {
                assert!(
                    run.end() < at_noon() - QUIET_BEFORE_NOW,
                    "{seed}: in the past"
                );
                assert!(run.start() > at_noon() - SPAN - Duration::from_secs(3600));
            }
            let lead_times: Vec<Duration> = runs
                .iter()
                .filter(|r| r.result() == "success")
                .map(|r| r.end().duration_since(r.start()).expect("ordered"))
                .collect();
            let (shortest, longest) = (
                lead_times.iter().min().expect("some"),
                lead_times.iter().max().expect("some"),
            );
            assert!(
                *longest > *shortest * 5,
                "{seed}: {shortest:?}..{longest:?}"
            );
            let ids: std::collections::HashSet<_> = runs.iter().map(|r| r.trace_id).collect();
            assert_eq!(ids.len(), runs.len(), "{seed}: one trace per run");
        }
    }

    #[test]
    fn the_services_start_as_their_last_successful_release() {
        let runs = history("ada-1234", at_noon());
        let releases = running_releases(&runs);
        assert_eq!(releases.len(), 2);
        for (service, version, _) in &releases {
            let last = runs
                .iter()
                .filter(|r| &r.service == service && r.result() == "success")
                .max_by_key(|r| r.end())
                .expect("a successful run");
            assert_eq!(&last.version, version);
        }
    }
}
