//! Switching one learner's share of a fault on and off, for the `alert` check: the fault is
//! read from the service that owns it (`GET /admin/faults`, with the admin token), changed for
//! that learner only, and written back (`POST`/`DELETE /admin/faults/{id}`), exactly as the
//! workshop scenario scopes faults per learner.
//!
//! A running service holds one activation per fault: its parameters, fraction and the list of
//! learners it hits (none: every request). [`Scope`] says whose traffic is the learner's: in a
//! workshop only the requests carrying their `learner.id` baggage ([`Scope::Learner`]), so a
//! learner is added to or removed from the list and the others keep theirs; on a laptop every
//! request ([`Scope::Everyone`]), so the whole fault is switched. Every change is a read, a
//! change and a write made under one lock ([`SWITCH_LOCK`]), so two gradings in this process
//! never lose each other's learner.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One fault's settings in a running service, as its admin API lists and takes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    /// Share of eligible requests hit.
    pub fraction: f64,
    /// Seed of the hit/miss sequence (kept when written back, so a restored fault goes on
    /// hitting the same requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `None`: every request; `Some`: only these learners' requests.
    #[serde(default)]
    pub learners: Option<Vec<String>>,
    /// Only this release is hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Every parameter, given or defaulted.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl Activation {
    /// The settings of a fault as a lab spec asks for it (the catalogue's defaults filled in),
    /// hitting `learners`.
    pub fn asked(
        fault: &str,
        params: &serde_json::Map<String, serde_json::Value>,
        fraction: Option<f64>,
        learners: Option<Vec<String>>,
    ) -> Activation {
        let spec = dojo_faults::catalogue::catalogue()
            .iter()
            .find(|spec| spec.id.as_str() == fault);
        let mut all = serde_json::Map::new();
        for param in spec.map(|s| s.params).unwrap_or(&[]) {
            if let Ok(value) = serde_json::to_value(param.default) {
                all.insert(param.name.to_string(), value);
            }
        }
        all.extend(params.clone());
        Activation {
            fraction: fraction.unwrap_or_else(|| spec.map_or(1.0, |s| s.default_fraction)),
            seed: None,
            learners,
            version: None,
            params: all,
        }
    }

    /// Whether two activations do the same thing to a request they hit (learners and seed
    /// aside).
    pub fn same_effect(&self, other: &Activation) -> bool {
        self.fraction == other.fraction
            && self.version == other.version
            && self.params == other.params
    }

    /// Whether `learner`'s requests are hit.
    pub fn hits(&self, learner: &str) -> bool {
        self.learners
            .as_ref()
            .is_none_or(|list| list.iter().any(|l| l == learner))
    }
}

/// Why a fault could not be switched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SwitchError {
    /// The service did not answer, or refused.
    #[error("{0}")]
    Service(String),
    /// The fault is on for others with other settings: one service cannot hit this learner
    /// differently, so the grading waits until it is free.
    #[error(
        "the fault `{fault}` is switched on for other learners with other settings right now, so it cannot be switched on for you as this exercise needs; try again when their incident is over, or ask the instructor"
    )]
    Busy { fault: String },
}

/// Reads and writes a fault's activation at the service that owns it.
#[async_trait]
pub trait FaultSwitch: Send + Sync {
    /// The fault's activation; `None` when it is off.
    async fn read(&self, fault: &str) -> Result<Option<Activation>, SwitchError>;
    /// Switches the fault on with `activation`, or off with `None`.
    async fn write(&self, fault: &str, activation: Option<&Activation>) -> Result<(), SwitchError>;
}

/// Whose requests a learner's traffic is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Only requests with this `learner.id` baggage (a workshop sharing one shop).
    Learner(String),
    /// Every request (one learner on a laptop).
    Everyone,
}

/// Serializes every read-change-write of a fault in this process.
pub static SWITCH_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `current` with the learner's requests no longer hit.
pub fn without(current: Option<&Activation>, scope: &Scope) -> Option<Activation> {
    match scope {
        Scope::Everyone => None,
        Scope::Learner(learner) => {
            let mut activation = current?.clone();
            let list = activation.learners.as_mut()?;
            list.retain(|l| l != learner);
            (!list.is_empty()).then_some(activation)
        }
    }
}

/// `current` with the learner's requests hit as `asked` says.
pub fn with(
    current: Option<&Activation>,
    asked: &Activation,
    fault: &str,
    scope: &Scope,
) -> Result<Activation, SwitchError> {
    let Scope::Learner(learner) = scope else {
        return Ok(Activation {
            learners: None,
            ..asked.clone()
        });
    };
    let others: Vec<String> = current
        .and_then(|c| c.learners.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l != learner)
        .collect();
    match current {
        Some(current) if current.learners.is_none() => Err(SwitchError::Busy {
            fault: fault.to_string(),
        }),
        Some(current) if !others.is_empty() && !current.same_effect(asked) => {
            Err(SwitchError::Busy {
                fault: fault.to_string(),
            })
        }
        Some(current) if !others.is_empty() => {
            let mut activation = current.clone();
            let mut list = others;
            list.push(learner.clone());
            activation.learners = Some(list);
            Ok(activation)
        }
        _ => Ok(Activation {
            learners: Some(vec![learner.clone()]),
            ..asked.clone()
        }),
    }
}

/// What the fault was for the learner before a grading, to put back afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Before {
    pub fault: String,
    pub scope: Scope,
    /// The whole activation as it was.
    pub activation: Option<Activation>,
}

impl Before {
    /// Whether the learner's requests were hit.
    pub fn hit(&self) -> bool {
        match (&self.activation, &self.scope) {
            (None, _) => false,
            (Some(_), Scope::Everyone) => true,
            (Some(activation), Scope::Learner(learner)) => activation.hits(learner),
        }
    }
}

/// Switches the fault off for the learner; returns what it was, to restore.
pub async fn switch_off(
    switch: &dyn FaultSwitch,
    fault: &str,
    scope: &Scope,
) -> Result<Before, SwitchError> {
    let _lock = SWITCH_LOCK.lock().await;
    let current = switch.read(fault).await?;
    if let (Some(activation), Scope::Learner(_)) = (&current, scope)
        && activation.learners.is_none()
    {
        // On for the whole class (an instructor's toggle): not this learner's to switch off.
        return Err(SwitchError::Busy {
            fault: fault.to_string(),
        });
    }
    let next = without(current.as_ref(), scope);
    if next != current {
        switch.write(fault, next.as_ref()).await?;
    }
    Ok(Before {
        fault: fault.to_string(),
        scope: scope.clone(),
        activation: current,
    })
}

/// Switches the fault on for the learner as `asked` says.
pub async fn switch_on(
    switch: &dyn FaultSwitch,
    fault: &str,
    asked: &Activation,
    scope: &Scope,
) -> Result<(), SwitchError> {
    let _lock = SWITCH_LOCK.lock().await;
    let current = switch.read(fault).await?;
    let next = with(current.as_ref(), asked, fault, scope)?;
    switch.write(fault, Some(&next)).await
}

/// Puts the learner's share of the fault back as it was in `before` (the others' shares as
/// they are now).
pub async fn restore(switch: &dyn FaultSwitch, before: &Before) -> Result<(), SwitchError> {
    let _lock = SWITCH_LOCK.lock().await;
    let next = match (&before.scope, &before.activation) {
        (Scope::Everyone, activation) => activation.clone(),
        (scope @ Scope::Learner(_), Some(activation)) if before.hit() => {
            let current = switch.read(&before.fault).await?;
            Some(with(current.as_ref(), activation, &before.fault, scope)?)
        }
        (scope, _) => {
            let current = switch.read(&before.fault).await?;
            without(current.as_ref(), scope)
        }
    };
    switch.write(&before.fault, next.as_ref()).await
}

/// [`FaultSwitch`] over the sample services' admin APIs.
pub struct ServiceFaultSwitch {
    /// `(service name, base URL)` of each service.
    services: Vec<(String, String)>,
    /// The admin token, sent as a bearer token and never printed.
    token: Option<String>,
    http: reqwest::Client,
}

impl ServiceFaultSwitch {
    pub fn new(services: Vec<(String, String)>, token: Option<String>) -> ServiceFaultSwitch {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        ServiceFaultSwitch {
            services,
            token,
            http,
        }
    }

    /// The owning service's name and base URL.
    fn owner(&self, fault: &str) -> Result<(&str, &str), SwitchError> {
        let spec = dojo_faults::catalogue::catalogue()
            .iter()
            .find(|spec| spec.id.as_str() == fault)
            .ok_or_else(|| {
                SwitchError::Service(format!(
                    "there is no fault called {fault:?} in the catalogue"
                ))
            })?;
        let service = spec.service.as_str();
        self.services
            .iter()
            .find(|(name, _)| name == service)
            .map(|(name, url)| (name.as_str(), url.trim_end_matches('/')))
            .ok_or_else(|| {
                SwitchError::Service(format!(
                    "the fault {fault} belongs to {service}, whose address this course does not know"
                ))
            })
    }

    fn request(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

#[derive(Deserialize)]
struct Listing {
    faults: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    active: Option<Activation>,
}

#[async_trait]
impl FaultSwitch for ServiceFaultSwitch {
    async fn read(&self, fault: &str) -> Result<Option<Activation>, SwitchError> {
        let (service, base) = self.owner(fault)?;
        let response = self
            .request(reqwest::Method::GET, format!("{base}/admin/faults"))
            .send()
            .await
            .map_err(|e| SwitchError::Service(format!("{service} did not answer: {e}")))?;
        if !response.status().is_success() {
            return Err(SwitchError::Service(format!(
                "{service} refused to list its faults ({})",
                response.status()
            )));
        }
        let listing: Listing = response.json().await.map_err(|e| {
            SwitchError::Service(format!(
                "{service} sent a fault list that cannot be read: {e}"
            ))
        })?;
        Ok(listing
            .faults
            .into_iter()
            .find(|f| f.id == fault)
            .and_then(|f| f.active))
    }

    async fn write(&self, fault: &str, activation: Option<&Activation>) -> Result<(), SwitchError> {
        let (service, base) = self.owner(fault)?;
        let url = format!("{base}/admin/faults/{fault}");
        let request = match activation {
            Some(activation) => self.request(reqwest::Method::POST, url).json(activation),
            None => self.request(reqwest::Method::DELETE, url),
        };
        let response = request
            .send()
            .await
            .map_err(|e| SwitchError::Service(format!("{service} did not answer: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            Err(SwitchError::Service(format!(
                "{service} refused to switch {fault} ({status}): {}",
                text.chars().take(300).collect::<String>()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(learners: Option<&[&str]>, delay: i64) -> Activation {
        Activation {
            fraction: 1.0,
            seed: Some(3),
            learners: learners.map(|l| l.iter().map(|s| s.to_string()).collect()),
            version: None,
            params: serde_json::json!({ "delay_ms": delay })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn ada() -> Scope {
        Scope::Learner("ada".into())
    }

    #[test]
    fn a_learner_is_added_to_and_removed_from_the_others_list() {
        let asked = on(None, 900);
        let shared = on(Some(&["bo"]), 900);
        let added = with(Some(&shared), &asked, "payments_slow", &ada()).expect("same settings");
        assert_eq!(added.learners, Some(vec!["bo".into(), "ada".into()]));
        assert_eq!(added.seed, Some(3), "the others' sequence is kept");
        let removed = without(Some(&added), &ada()).expect("bo keeps it");
        assert_eq!(removed.learners, Some(vec!["bo".into()]));
        assert_eq!(without(Some(&on(Some(&["ada"]), 900)), &ada()), None);
        assert_eq!(without(None, &ada()), None);
    }

    #[test]
    fn others_with_other_settings_or_the_whole_class_make_the_fault_busy() {
        let asked = on(None, 900);
        assert!(matches!(
            with(Some(&on(Some(&["bo"]), 200)), &asked, "f", &ada()),
            Err(SwitchError::Busy { .. })
        ));
        assert!(matches!(
            with(Some(&on(None, 900)), &asked, "f", &ada()),
            Err(SwitchError::Busy { .. })
        ));
        let mine_only = with(Some(&on(Some(&["ada"]), 200)), &asked, "f", &ada())
            .expect("only ada had it: her settings change");
        assert_eq!(mine_only.params, asked.params);
    }

    #[test]
    fn on_a_laptop_the_whole_fault_is_switched() {
        let asked = on(Some(&["x"]), 900);
        let next =
            with(Some(&on(Some(&["bo"]), 200)), &asked, "f", &Scope::Everyone).expect("everyone's");
        assert_eq!(next.learners, None);
        assert_eq!(without(Some(&asked), &Scope::Everyone), None);
    }

    #[test]
    fn the_asked_settings_fill_in_the_catalogues_defaults() {
        let asked = Activation::asked(
            "payments_failing",
            serde_json::json!({ "mode": "error" })
                .as_object()
                .expect("an object"),
            Some(1.0),
            None,
        );
        assert_eq!(asked.params["mode"], "error");
        assert!(asked.params.contains_key("hang_ms"), "{:?}", asked.params);
    }
}
