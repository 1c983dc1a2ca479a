//! The fault state a service hands on to its next instance.
//!
//! Faults switched on at run time (an instructor's toggle, a workshop learner's variant, the
//! course following a learner to another incident) live in the running process. When `dojo up`
//! replaces that process (a rollout by `dojo deploy`, a restart after a crash), the new one
//! should break the shop the same way. So a service given a state file (`DOJO_FAULT_STATE`)
//! writes its active faults there, as a scenario file, every time they change; a new instance
//! given the same file starts from it instead of from the scenario it was first started with.
//! Each activation keeps its fraction, seed, learner scope, version and parameters.
//!
//! A second instance running beside the first (a canary) follows the first one's file instead
//! ([`follow`]): it takes the same faults at start and again whenever they change.

use std::path::{Path, PathBuf};

use crate::registry::Faults;

/// How often a follower looks at the file it follows.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Applies the faults in `path` now (if it exists) and again whenever the file changes, until
/// the process ends. Needs a Tokio runtime for the watching; without one, only applies once.
pub fn follow(faults: &Faults, path: PathBuf) {
    let mut seen = apply_if_changed(faults, &path, None);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let faults = faults.clone();
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(FOLLOW_EVERY).await;
            seen = apply_if_changed(&faults, &path, seen);
        }
    });
}

/// Replaces the faults with the file's when its content differs from `seen`; the content seen.
fn apply_if_changed(faults: &Faults, path: &Path, seen: Option<String>) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    if seen.as_deref() == Some(text.as_str()) {
        return seen;
    }
    faults.reset();
    match crate::scenario::apply_str(faults, &text, &path.display().to_string()) {
        Ok(applied) => {
            tracing::info!(faults = applied.len(), followed = %path.display(), "faults follow the stable release");
        }
        Err(error) => {
            tracing::warn!(error = %error, "the followed fault state could not be applied")
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::activation::ActivationRequest;
    use crate::catalogue::{FaultId, Service};
    use crate::scenario::apply_file;

    #[test]
    fn a_saved_state_starts_a_new_instance_with_the_same_faults() {
        let dir = std::env::temp_dir().join(format!("dojo-fault-state-{}", std::process::id()));
        let path = dir.join("api.json");
        let _ = std::fs::remove_file(&path);
        let old = Faults::new(Service::Api);
        old.persist_to(path.clone());
        let request: ActivationRequest = serde_json::from_value(json!({
            "fraction": 0.4, "seed": 11, "learners": ["ada-1234abcd"], "params": {"delay_ms": 650}
        }))
        .expect("a request");
        old.enable(FaultId::SlowQuery, request).expect("valid");
        old.enable(FaultId::NPlusOne, ActivationRequest::default())
            .expect("valid");
        assert!(old.disable(FaultId::NPlusOne));

        let new = Faults::new(Service::Api);
        let carried = apply_file(&new, &path).expect("the state reads as a scenario");
        assert_eq!(
            carried.len(),
            1,
            "the fault switched off stays off: {carried:?}"
        );
        assert_eq!(
            new.active(FaultId::SlowQuery),
            old.active(FaultId::SlowQuery),
            "fraction, seed, learners and parameters are carried over"
        );
        assert!(new.active(FaultId::NPlusOne).is_none());
        old.reset();
        let new = Faults::new(Service::Api);
        assert!(apply_file(&new, &path).expect("readable").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_follower_takes_the_faults_of_the_instance_it_follows_as_they_change() {
        let dir = std::env::temp_dir().join(format!("dojo-fault-follow-{}", std::process::id()));
        let path = dir.join("payments.json");
        let _ = std::fs::remove_file(&path);
        let stable = Faults::new(Service::Payments);
        stable.persist_to(path.clone());
        stable
            .enable(FaultId::PaymentsSlow, ActivationRequest::default())
            .expect("valid");
        let canary = Faults::new(Service::Payments);
        follow(&canary, path.clone());
        assert!(canary.active(FaultId::PaymentsSlow).is_some(), "at start");
        stable.disable(FaultId::PaymentsSlow);
        stable
            .enable(FaultId::PaymentsFailing, ActivationRequest::default())
            .expect("valid");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while canary.active(FaultId::PaymentsFailing).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the change was not followed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(canary.active(FaultId::PaymentsSlow).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
