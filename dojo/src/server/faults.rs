//! Switching planned faults on — with their fraction, parameters and learner scope — and off
//! again at the service that owns each (the catalogue says which), over its admin API.
//!
//! The instructor's plain on/off toggles go through the course's own adapter
//! (`dojo_course::adapters::faults`); this pusher is for the workshop scenario, which needs the
//! parameters and the learner list as well. The admin token travels as a bearer token and is
//! never logged.

use std::time::Duration;

use dojo_course::backend::FaultError;
use dojo_grader::scenario::PlannedFault;

/// The services' admin APIs.
pub struct ScenarioPusher {
    /// `(service name, base URL)` of each service.
    services: Vec<(String, String)>,
    admin_token: Option<String>,
    http: reqwest::Client,
}

impl ScenarioPusher {
    pub fn new(
        services: Vec<(String, String)>,
        admin_token: Option<String>,
    ) -> anyhow::Result<ScenarioPusher> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(ScenarioPusher {
            services,
            admin_token,
            http,
        })
    }

    fn request(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn base_url(&self, service: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|(name, _)| name == service)
            .map(|(_, url)| url.as_str())
    }
}

impl ScenarioPusher {
    /// Switches one planned fault on with its fraction, parameters and learner scope.
    pub async fn enable(&self, fault: &PlannedFault) -> Result<(), FaultError> {
        let mut body = serde_json::json!({ "params": fault.params });
        if let Some(fraction) = fault.fraction {
            body["fraction"] = fraction.into();
        }
        if let Some(learners) = &fault.learners {
            body["learners"] = learners.clone().into();
        }
        if let Some(version) = &fault.version {
            body["version"] = version.clone().into();
        }
        self.switch(&fault.fault, body).await
    }

    /// Switches fault `id` off (a fault no learner's incident has any more).
    pub async fn disable(&self, id: &str) -> Result<(), FaultError> {
        self.send(id, reqwest::Method::DELETE, None).await
    }

    /// Switches fault `id` on with `body` at the service that owns it.
    async fn switch(&self, id: &str, body: serde_json::Value) -> Result<(), FaultError> {
        self.send(id, reqwest::Method::POST, Some(body)).await
    }

    /// Sends one admin request about fault `id` to the service that owns it.
    async fn send(
        &self,
        id: &str,
        method: reqwest::Method,
        body: Option<serde_json::Value>,
    ) -> Result<(), FaultError> {
        let spec = dojo_faults::catalogue::catalogue()
            .iter()
            .find(|spec| spec.id.as_str() == id)
            .ok_or_else(|| {
                FaultError(format!("there is no fault called {id:?} in the catalogue"))
            })?;
        let service = spec.service.as_str();
        let base = self.base_url(service).ok_or_else(|| {
            FaultError(format!(
                "fault {id} belongs to {service}, which this lab does not run"
            ))
        })?;
        let url = format!("{base}/admin/faults/{id}");
        let mut request = self.request(method, url.clone());
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| FaultError(format!("{service} is not answering at {url}: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            Err(FaultError(format!(
                "{service} refused to switch {id} ({status}): {text}"
            )))
        }
    }
}
