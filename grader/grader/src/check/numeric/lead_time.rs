//! The lead time of each change in a learner's delivery history, read from the pipeline's live
//! traces, and the change a learner is asked about.
//!
//! A change is one successful pipeline run: its trace starts with the `commit` span (at the
//! commit time) and ends with the `rollout` span. Lead time for changes is commit → rollout
//! finished, as the Delivery page computes it ([`crate::delivery`]). The other spans between
//! two moments of the run are what learners typically measure instead (commit → build start,
//! build start → rollout end, commit → rollout start), kept to name those mistakes.

use dojo_traceql::model::{Trace, TraceId, Value, attribute};

use crate::backend::{BackendError, SearchRequest, TraceBackend, Window};
use crate::scenario::fnv1a;

/// The rollout spans that succeeded: one per deployed change.
pub const DEPLOYED_QUERY: &str = r#"{ resource.service.name = "delivery-pipeline" && name = "rollout" && span.cicd.pipeline.task.run.result = "success" }"#;

/// Most runs read: a week of history is a few dozen.
const MAX_RUNS: usize = 500;

/// Changes quicker than this are deploys made in the lab (`dojo deploy`, committed a moment
/// before): never the one asked about, which must come from the recorded history.
const MIN_LEAD_TIME_SECONDS: f64 = 600.0;

/// One deployed change, with the moments of its run that lead times are read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub trace_id: TraceId,
    /// `vcs.change.title` of the run.
    pub title: String,
    /// `deployment.name`: the service rolled out.
    pub service: String,
    /// `deployment.version`.
    pub version: String,
    /// The start of the `commit` span (the start of the trace), unix nanoseconds.
    pub commit_at: u64,
    /// The start of the `build` span.
    pub build_at: u64,
    /// The start and end of the successful `rollout` span.
    pub rollout_start: u64,
    pub rollout_end: u64,
}

fn seconds(from: u64, to: u64) -> f64 {
    to.saturating_sub(from) as f64 / 1e9
}

impl Change {
    /// Commit → rollout finished: the answer.
    pub fn lead_time(&self) -> f64 {
        seconds(self.commit_at, self.rollout_end)
    }

    /// Commit → build start: the wait for review, a typical wrong answer.
    pub fn wait_before_build(&self) -> f64 {
        seconds(self.commit_at, self.build_at)
    }

    /// Build start → rollout end: the pipeline's own duration, a typical wrong answer.
    pub fn pipeline_duration(&self) -> f64 {
        seconds(self.build_at, self.rollout_end)
    }

    /// Commit → rollout start: stopping too early.
    pub fn until_rollout_start(&self) -> f64 {
        seconds(self.commit_at, self.rollout_start)
    }

    /// The change as the learner reads it: `“Cache product lookups” (api 1.3.0)`.
    pub fn name(&self) -> String {
        format!("“{}” ({} {})", self.title, self.service, self.version)
    }

    /// A TraceQL query that finds this change's run (and so shows its trace) without giving
    /// its lead time.
    pub fn query(&self) -> String {
        format!(
            r#"{{ resource.service.name = "delivery-pipeline" && span.deployment.name = "{}" && span.deployment.version = "{}" }}"#,
            escape(&self.service),
            escape(&self.version)
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Str(s) => Some(s.to_string()),
        other => Some(other.to_string()),
    }
}

/// The change a pipeline trace deployed, when it is a complete successful run.
pub fn change_of(trace: &Trace) -> Option<Change> {
    let span = |name: &str| trace.spans.iter().find(|s| &*s.name == name);
    let root = trace.root()?;
    let commit = span("commit")?;
    let build = span("build")?;
    let rollout = span("rollout")?;
    let result = text(attribute(
        &rollout.attributes,
        "cicd.pipeline.task.run.result",
    ))?;
    if result != "success" {
        return None;
    }
    let title = text(attribute(&root.attributes, "vcs.change.title"))
        .unwrap_or_else(|| "(untitled change)".to_string());
    Some(Change {
        trace_id: trace.trace_id,
        title,
        service: text(attribute(&rollout.attributes, "deployment.name"))?,
        version: text(attribute(&rollout.attributes, "deployment.version"))?,
        commit_at: commit.start_unix_nanos,
        build_at: build.start_unix_nanos,
        rollout_start: rollout.start_unix_nanos,
        rollout_end: rollout.end_unix_nanos,
    })
}

/// Every deployed change in the window, oldest commit first.
pub async fn deployed_changes(
    backend: &dyn TraceBackend,
    tenant: Option<&str>,
    window: Window,
) -> Result<Vec<Change>, BackendError> {
    let hits = backend
        .search(SearchRequest {
            tenant,
            query: DEPLOYED_QUERY,
            parsed: None,
            window,
            limit: MAX_RUNS,
            spans_per_spanset: 1,
        })
        .await?;
    let mut changes = Vec::with_capacity(hits.len());
    for hit in hits {
        if let Some(trace) = backend.trace_by_id(tenant, hit.trace_id).await?
            && let Some(change) = change_of(&trace)
        {
            changes.push(change);
        }
    }
    changes.sort_by_key(|c| (c.commit_at, c.trace_id.0));
    Ok(changes)
}

/// The change `learner` is asked about: one of the recorded history's changes whose lead time
/// neither typical mistake (the wait before the build, the pipeline's duration) comes within
/// twice `tolerance` of (so every mistake is refused), and no other
/// change's lead time either (so "the wrong change" can be named). Each candidate is ranked by
/// a hash of the learner and its trace id, and the lowest wins: a learner keeps their change
/// when they deploy more, and two learners' picks are independent.
pub fn asked_change<'a>(
    changes: &'a [Change],
    learner: &str,
    tolerance: impl Fn(f64) -> f64,
) -> Option<&'a Change> {
    changes
        .iter()
        .filter(|c| c.lead_time() >= MIN_LEAD_TIME_SECONDS)
        .filter(|c| {
            let (expected, tol) = (c.lead_time(), tolerance(c.lead_time()));
            let apart = |value: f64| (value - expected).abs() > 2.0 * tol;
            apart(c.wait_before_build())
                && apart(c.pipeline_duration())
                && changes
                    .iter()
                    .filter(|other| other.trace_id != c.trace_id)
                    .all(|other| apart(other.lead_time()))
        })
        .min_by_key(|c| fnv1a(&[b"lead-time", learner.as_bytes(), &c.trace_id.0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;

    fn change(id: u8, wait_min: u64, pipeline_min: u64) -> Change {
        let commit_at = 1_000 * MIN + u64::from(id) * 10_000 * MIN;
        let build_at = commit_at + wait_min * MIN;
        let rollout_end = build_at + pipeline_min * MIN;
        Change {
            trace_id: TraceId([id; 16]),
            title: format!("change {id}"),
            service: "api".into(),
            version: format!("1.{id}.0"),
            commit_at,
            build_at,
            rollout_start: rollout_end - MIN,
            rollout_end,
        }
    }

    #[test]
    fn the_asked_change_is_one_whose_mistakes_can_all_be_told_apart() {
        let two_percent = |v: f64| (v * 0.02).max(60.0);
        let changes = vec![
            change(1, 1, 10),   // waited 1 min: the pipeline's duration is too close
            change(2, 600, 12), // 10 h wait: the wait alone is too close
            change(3, 90, 10),
            change(4, 150, 12),
            change(5, 5, 2), // a deploy made in the lab: too quick
        ];
        let mut picked = std::collections::BTreeSet::new();
        for learner in ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal"] {
            let asked = asked_change(&changes, learner, two_percent).expect("a change");
            assert!(
                [3, 4].contains(&asked.trace_id.0[0]),
                "{learner}: {asked:?}"
            );
            assert_eq!(
                asked_change(&changes, learner, two_percent),
                Some(asked),
                "stable"
            );
            picked.insert(asked.trace_id.0[0]);
        }
        assert_eq!(picked.len(), 2, "learners get different changes");
        // Two changes with the same lead time are never asked about.
        let twins = vec![change(3, 90, 10), change(6, 90, 10)];
        assert_eq!(asked_change(&twins, "ada", two_percent), None);
    }
}
