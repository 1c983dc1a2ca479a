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
//! During a rollout two instances serve for a moment: the new one has read the file at start,
//! while the old one still takes requests until traffic is switched and it has stopped. A
//! toggle the old one receives then would be lost to the new one, so every instance with a
//! state file also watches it ([`share`]) and takes the faults another instance wrote there.
//!
//! A second instance running beside the first (a canary) follows the first one's file instead
//! ([`follow`]): it takes the same faults at start and again whenever they change. In compose
//! and Kubernetes the canary runs in a container of its own with no file in common, so it
//! follows the stable release's admin API instead ([`follow_service`]: `GET
//! /admin/faults/state`, the same content, with the services' admin token).

use std::path::{Path, PathBuf};

use crate::admin::AdminToken;
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

/// Watches the state file this instance writes, and takes the faults another instance of the
/// service wrote there (the one a rollout is replacing, still serving a last toggle). Its own
/// writes are recognised by their content and ignored. Needs a Tokio runtime.
pub fn share(faults: &Faults, path: PathBuf) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let faults = faults.clone();
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(FOLLOW_EVERY).await;
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if text == crate::state_file::render(&faults.active_all()) {
                continue;
            }
            let source = path.display().to_string();
            faults.without_saving(|| {
                faults.reset();
                match crate::scenario::apply_str(&faults, &text, &source) {
                    Ok(applied) => tracing::info!(faults = applied.len(), state = %source, "faults taken from another instance of this service"),
                    Err(error) => tracing::warn!(error = %error, "the shared fault state could not be applied"),
                }
            });
        }
    });
}

/// How often a follower asks the instance it follows over HTTP.
const FOLLOW_SERVICE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Applies the faults of the instance at `base_url` (its `GET /admin/faults/state`) now and
/// again whenever they change, until the process ends. While it does not answer (it is
/// restarting, say), the faults stay as they were. Needs a Tokio runtime.
pub fn follow_service(faults: &Faults, base_url: String, token: Option<AdminToken>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no async runtime: the faults of {base_url} are not followed");
        return;
    };
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(error = %error, "the faults of {base_url} are not followed");
            return;
        }
    };
    let faults = faults.clone();
    let url = format!("{base_url}/admin/faults/state");
    runtime.spawn(async move {
        let mut seen = None;
        let mut failing = false;
        loop {
            let mut request = client.get(&url);
            if let Some(token) = &token {
                request = request.bearer_auth(token.bearer());
            }
            let fetched = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    response.text().await.map_err(|e| e.to_string())
                }
                Ok(response) => Err(format!("it answered {}", response.status())),
                Err(error) => Err(error.to_string()),
            };
            match fetched {
                Ok(text) => {
                    failing = false;
                    seen = apply_text_if_changed(&faults, text, &url, seen);
                }
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(error = %error, followed = %url, "the followed faults could not be read; keeping the current ones");
                }
                Err(_) => {}
            }
            tokio::time::sleep(FOLLOW_SERVICE_EVERY).await;
        }
    });
}

/// Replaces the faults with the file's when its content differs from `seen`; the content seen.
fn apply_if_changed(faults: &Faults, path: &Path, seen: Option<String>) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    apply_text_if_changed(faults, text, &path.display().to_string(), seen)
}

/// Replaces the faults with those of `text` (a scenario) when it differs from `seen`.
fn apply_text_if_changed(
    faults: &Faults,
    text: String,
    source: &str,
    seen: Option<String>,
) -> Option<String> {
    if seen.as_deref() == Some(text.as_str()) {
        return seen;
    }
    faults.without_saving(|| {
        faults.reset();
        match crate::scenario::apply_str(faults, &text, source) {
            Ok(applied) => {
                tracing::info!(faults = applied.len(), followed = %source, "faults follow the stable release");
            }
            Err(error) => {
                tracing::warn!(error = %error, "the followed fault state could not be applied")
            }
        }
    });
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

    #[tokio::test]
    async fn a_toggle_on_the_instance_being_replaced_reaches_the_new_one() {
        let dir = std::env::temp_dir().join(format!("dojo-fault-share-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = crate::config::FaultConfig {
            state_file: Some(dir.join("api.json")),
            ..Default::default()
        };
        let old = config.start(Service::Api).expect("the old instance starts");
        old.enable(FaultId::NPlusOne, ActivationRequest::default())
            .expect("valid");
        // A rollout: the new instance starts from the file while the old one still serves.
        let new = config.start(Service::Api).expect("the new instance starts");
        assert!(
            new.active(FaultId::NPlusOne).is_some(),
            "carried over at start"
        );
        let request: ActivationRequest = serde_json::from_value(json!({
            "fraction": 0.5, "seed": 7, "params": {"delay_ms": 700}
        }))
        .expect("a request");
        old.enable(FaultId::SlowQuery, request).expect("valid");
        old.disable(FaultId::NPlusOne);
        until(
            "the new instance took the toggles made on the old one",
            || {
                new.active(FaultId::SlowQuery) == old.active(FaultId::SlowQuery)
                    && new.active(FaultId::NPlusOne).is_none()
            },
        )
        .await;
        // And the other way: the new one's toggles are everyone's, and the two settle.
        new.reset();
        until("the old instance took the new one's reset", || {
            old.active_all().is_empty()
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        assert!(old.active_all().is_empty() && new.active_all().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Waits up to 10 s for `condition`.
    async fn until(what: &str, condition: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !condition() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_follower_in_another_container_takes_the_faults_through_the_admin_api() {
        let stable = Faults::new(Service::Payments);
        let token = AdminToken::new("stable-admin-token".to_owned());
        let router = crate::admin::router(stable.clone(), Some(token.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        stable
            .enable(FaultId::PaymentsSlow, ActivationRequest::default())
            .expect("valid");

        let canary = Faults::new(Service::Payments);
        follow_service(&canary, url.clone(), Some(token));
        until(
            "the canary took the stable release's fault at start",
            || canary.active(FaultId::PaymentsSlow).is_some(),
        )
        .await;
        stable.disable(FaultId::PaymentsSlow);
        stable
            .enable(FaultId::PaymentsFailing, ActivationRequest::default())
            .expect("valid");
        until("the canary followed the toggles", || {
            canary.active(FaultId::PaymentsFailing).is_some()
                && canary.active(FaultId::PaymentsSlow).is_none()
        })
        .await;

        // Without the admin token the state (a lab's answer) is not given away.
        let refused = reqwest::Client::new()
            .get(format!("{url}/admin/faults/state"))
            .bearer_auth("wrong")
            .send()
            .await
            .expect("the admin API answers");
        assert_eq!(refused.status(), 401);
    }
}
