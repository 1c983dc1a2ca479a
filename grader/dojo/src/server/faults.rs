//! Switching planned faults on — with their fraction, parameters and learner scope — at the
//! service that owns each (the catalogue says which), over its admin API.
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
        self.switch(&fault.fault, body).await
    }

    /// Switches fault `id` off at the service that owns it.
    pub async fn disable(&self, id: &str) -> Result<(), FaultError> {
        self.send(id, None).await
    }

    /// Switches fault `id` on with `body` at the service that owns it.
    async fn switch(&self, id: &str, body: serde_json::Value) -> Result<(), FaultError> {
        self.send(id, Some(body)).await
    }

    /// POSTs `body` to fault `id` (on), or DELETEs it (off), at the service that owns it.
    async fn send(&self, id: &str, body: Option<serde_json::Value>) -> Result<(), FaultError> {
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
        let request = match &body {
            Some(body) => self.request(reqwest::Method::POST, url.clone()).json(body),
            None => self.request(reqwest::Method::DELETE, url.clone()),
        };
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
                "{service} refused to switch {id} {} ({status}): {text}",
                if body.is_some() { "on" } else { "off" }
            )))
        }
    }
}
