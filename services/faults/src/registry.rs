//! The faults switched on in one service, behind a cheap cloneable handle.
//!
//! Handlers call [`Faults::fires`] at the point where a fault would bite; it answers with the
//! active parameters when this request is hit. A std mutex guards the state and is never held
//! across an `.await`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::activation::ActivationRequest;
use crate::active::ActiveFault;
use crate::catalogue::{FaultId, Service, catalogue};
use crate::error::FaultError;

/// An active fault with its random sequence and counters.
#[derive(Debug)]
struct Slot {
    fault: ActiveFault,
    rng: StdRng,
    /// Requests that reached the fault's point and were in scope.
    eligible: u64,
    /// Of those, how many were hit.
    hits: u64,
}

/// The faults of one service. Clone freely; all clones share the state.
#[derive(Debug, Clone)]
pub struct Faults {
    service: Service,
    /// The release this process runs (`service.version`): a fault bound to another release
    /// does not fire here.
    version: Option<Arc<str>>,
    slots: Arc<Mutex<HashMap<FaultId, Slot>>>,
    /// Where every change is written for the next instance of the service
    /// ([`crate::state`]); its lock also keeps two changes from writing out of order.
    state_file: Arc<Mutex<Option<PathBuf>>>,
}

/// One catalogue entry of this service with its state, as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct FaultStatus {
    #[serde(flatten)]
    pub spec: crate::catalogue::FaultSpec,
    /// The activation, when on.
    pub active: Option<ActiveFault>,
    /// Requests in scope since it was switched on.
    pub eligible: u64,
    /// Requests hit since it was switched on.
    pub hits: u64,
}

impl Faults {
    /// No faults on, for `service`.
    pub fn new(service: Service) -> Faults {
        Faults {
            service,
            version: None,
            slots: Arc::new(Mutex::new(HashMap::new())),
            state_file: Arc::new(Mutex::new(None)),
        }
    }

    /// No faults on, for `service` running release `version` (in its canonical form when it
    /// is a release version, as a fault's `version` is).
    pub fn for_release(service: Service, version: &str) -> Faults {
        let version = crate::release::ReleaseVersion::parse(version)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| version.to_owned());
        Faults {
            version: Some(Arc::from(version)),
            ..Faults::new(service)
        }
    }

    /// From now on, writes the active faults to `path` after every change (and once now).
    pub fn persist_to(&self, path: PathBuf) {
        let mut state_file = self.state_file.lock().unwrap_or_else(|p| p.into_inner());
        self.save(&path);
        *state_file = Some(path);
    }

    /// Runs `change` without writing the state file at each of its steps (a reset, then the
    /// faults of another instance, must never be seen half done), then writes it once.
    pub(crate) fn without_saving<T>(&self, change: impl FnOnce() -> T) -> T {
        let detached = self
            .state_file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let result = change();
        if let Some(path) = detached {
            let mut state_file = self.state_file.lock().unwrap_or_else(|p| p.into_inner());
            self.save(&path);
            *state_file = Some(path);
        }
        result
    }

    /// Writes the active faults to `path`, logging a failure (the service keeps serving; only
    /// the hand-over to a next instance is lost).
    fn save(&self, path: &std::path::Path) {
        if let Err(error) = crate::state_file::write(path, &self.active_all()) {
            tracing::warn!(error = %error, cause = %error.source, "the fault state was not saved");
        }
    }

    /// Writes the state file, if there is one, after a change.
    fn changed(&self) {
        let state_file = self.state_file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = state_file.as_deref() {
            self.save(path);
        }
    }

    /// Every active fault, in catalogue order.
    pub fn active_all(&self) -> Vec<ActiveFault> {
        let slots = self.lock();
        let mut active: Vec<ActiveFault> = slots.values().map(|slot| slot.fault.clone()).collect();
        active.sort_by_key(|fault| fault.id);
        active
    }

    /// The service whose faults these are.
    pub fn service(&self) -> Service {
        self.service
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<FaultId, Slot>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is
        // a single insert or remove), so the data is still good.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Parses an id written by a client and checks it belongs to this service.
    pub fn resolve(&self, id: &str) -> Result<FaultId, FaultError> {
        let fault = FaultId::parse(id).ok_or_else(|| FaultError::unknown(id))?;
        let home = fault.spec().service;
        if home != self.service {
            return Err(FaultError::WrongService {
                id: fault,
                home,
                here: self.service,
            });
        }
        Ok(fault)
    }

    /// Switches `id` on (or replaces its activation), returning the validated activation.
    pub fn enable(
        &self,
        id: FaultId,
        request: ActivationRequest,
    ) -> Result<ActiveFault, FaultError> {
        let home = id.spec().service;
        if home != self.service {
            return Err(FaultError::WrongService {
                id,
                home,
                here: self.service,
            });
        }
        let fault = request.validate(id)?;
        let rng = StdRng::seed_from_u64(fault.seed);
        self.lock().insert(
            id,
            Slot {
                fault: fault.clone(),
                rng,
                eligible: 0,
                hits: 0,
            },
        );
        tracing::info!(fault = %id, fraction = fault.fraction, seed = fault.seed, "fault switched on");
        self.changed();
        Ok(fault)
    }

    /// Switches `id` off; true if it was on.
    pub fn disable(&self, id: FaultId) -> bool {
        let was_on = self.lock().remove(&id).is_some();
        if was_on {
            tracing::info!(fault = %id, "fault switched off");
            self.changed();
        }
        was_on
    }

    /// Switches every fault off, returning the ids that were on.
    pub fn reset(&self) -> Vec<FaultId> {
        let ids = {
            let mut slots = self.lock();
            let mut ids: Vec<FaultId> = slots.keys().copied().collect();
            ids.sort();
            slots.clear();
            ids
        };
        self.changed();
        ids
    }

    /// The activation of `id` if this request is hit: the fault is on, the learner is in
    /// scope, and the seeded draw falls within `fraction`.
    pub fn fires(&self, id: FaultId, learner: Option<&str>) -> Option<ActiveFault> {
        let mut slots = self.lock();
        let slot = slots.get_mut(&id)?;
        if !slot.fault.applies_to(learner) {
            return None;
        }
        if let Some(release) = &slot.fault.version
            && self.version.as_deref() != Some(release.as_str())
        {
            return None;
        }
        slot.eligible += 1;
        let hit = slot.fault.fraction >= 1.0 || slot.rng.random::<f64>() < slot.fault.fraction;
        if hit {
            slot.hits += 1;
            Some(slot.fault.clone())
        } else {
            None
        }
    }

    /// The activation of `id`, if on (no draw, no counting).
    pub fn active(&self, id: FaultId) -> Option<ActiveFault> {
        self.lock().get(&id).map(|slot| slot.fault.clone())
    }

    /// This service's catalogue entries with their state.
    pub fn list(&self) -> Vec<FaultStatus> {
        let slots = self.lock();
        catalogue()
            .iter()
            .filter(|spec| spec.service == self.service)
            .map(|spec| {
                let slot = slots.get(&spec.id);
                FaultStatus {
                    spec: *spec,
                    active: slot.map(|slot| slot.fault.clone()),
                    eligible: slot.map_or(0, |slot| slot.eligible),
                    hits: slot.map_or(0, |slot| slot.hits),
                }
            })
            .collect()
    }
}

impl dojo_telemetry::sampling::ParentOverride for Faults {
    fn ignore_parent(&self, learner: Option<&str>) -> Option<f64> {
        self.fires(FaultId::SamplingMisconfig, learner)
            .map(|fault| fault.number("ratio"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn activation(body: serde_json::Value) -> ActivationRequest {
        serde_json::from_value(body).expect("well-formed")
    }

    #[test]
    fn a_fault_fires_only_while_it_is_on() {
        let faults = Faults::new(Service::Api);
        assert!(faults.fires(FaultId::SlowQuery, None).is_none());
        faults
            .enable(FaultId::SlowQuery, ActivationRequest::default())
            .expect("valid");
        assert!(faults.fires(FaultId::SlowQuery, None).is_some());
        assert!(faults.disable(FaultId::SlowQuery));
        assert!(faults.fires(FaultId::SlowQuery, None).is_none());
    }

    #[test]
    fn the_same_seed_gives_the_same_hits() {
        let run = || {
            let faults = Faults::new(Service::Api);
            faults
                .enable(
                    FaultId::IntermittentLatency,
                    activation(json!({"fraction": 0.3, "seed": 42})),
                )
                .expect("valid");
            (0..200)
                .map(|_| faults.fires(FaultId::IntermittentLatency, None).is_some())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let hits = first.iter().filter(|hit| **hit).count();
        assert!((30..=90).contains(&hits), "about 30% of 200, got {hits}");
    }

    #[test]
    fn a_scoped_fault_fires_only_for_its_learners() {
        let faults = Faults::new(Service::Api);
        faults
            .enable(FaultId::SlowQuery, activation(json!({"learners": ["ada"]})))
            .expect("valid");
        assert!(faults.fires(FaultId::SlowQuery, Some("ada")).is_some());
        assert!(faults.fires(FaultId::SlowQuery, Some("bob")).is_none());
        assert!(faults.fires(FaultId::SlowQuery, None).is_none());
    }

    #[test]
    fn a_fault_bound_to_a_release_fires_only_in_that_release() {
        let bound = activation(json!({"version": "2.0.0"}));
        let new = Faults::for_release(Service::Api, "2.0.0");
        new.enable(FaultId::SlowQuery, bound.clone())
            .expect("valid");
        assert!(new.fires(FaultId::SlowQuery, None).is_some());
        for old in [
            Faults::for_release(Service::Api, "1.9.0"),
            Faults::new(Service::Api),
        ] {
            old.enable(FaultId::SlowQuery, bound.clone())
                .expect("valid");
            assert!(old.active(FaultId::SlowQuery).is_some(), "on, but");
            assert!(
                old.fires(FaultId::SlowQuery, None).is_none(),
                "not this release"
            );
        }
        // The same release however it is written, on either side.
        let written_with_v = Faults::for_release(Service::Api, "v2.0.0");
        written_with_v
            .enable(FaultId::SlowQuery, activation(json!({"version": "2.0.0"})))
            .expect("valid");
        assert!(written_with_v.fires(FaultId::SlowQuery, None).is_some());
        new.enable(
            FaultId::SlowQuery,
            activation(json!({"version": " V2.0.0"})),
        )
        .expect("valid");
        assert!(new.fires(FaultId::SlowQuery, None).is_some());
    }

    #[test]
    fn a_fault_of_another_service_is_refused_with_its_home() {
        let faults = Faults::new(Service::Payments);
        let error = faults.resolve("slow_query").expect_err("api's fault");
        assert!(error.to_string().contains("api"), "{error}");
        assert_eq!(
            faults.resolve("no_such_fault").expect_err("unknown").code(),
            "unknown_fault"
        );
    }

    #[test]
    fn reset_switches_everything_off() {
        let faults = Faults::new(Service::Api);
        faults
            .enable(FaultId::SlowQuery, ActivationRequest::default())
            .expect("valid");
        faults
            .enable(FaultId::NPlusOne, ActivationRequest::default())
            .expect("valid");
        assert_eq!(faults.reset(), vec![FaultId::SlowQuery, FaultId::NPlusOne]);
        assert!(faults.list().iter().all(|status| status.active.is_none()));
    }
}
