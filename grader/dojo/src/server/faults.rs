//! The instructor's fault toggles, over each sample service's admin API.
//!
//! Every service serves `/admin/faults` for the faults it injects (the catalogue says which
//! service owns which fault). Listing asks all of them; switching a fault on or off goes to the
//! service that owns it. The admin token, when the lab has one, travels as a bearer token and
//! is never logged.

use std::time::Duration;

use async_trait::async_trait;
use dojo_course::backend::{FaultControl, FaultError, FaultState};
use dojo_grader::scenario::PlannedFault;

/// The services' admin APIs.
pub struct ServiceFaults {
    /// `(service name, base URL)` of each service.
    services: Vec<(String, String)>,
    admin_token: Option<String>,
    http: reqwest::Client,
}

impl ServiceFaults {
    pub fn new(
        services: Vec<(String, String)>,
        admin_token: Option<String>,
    ) -> anyhow::Result<ServiceFaults> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(ServiceFaults {
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

impl ServiceFaults {
    /// Switches one planned fault on with its fraction, parameters and learner scope.
    pub async fn enable(&self, fault: &PlannedFault) -> Result<(), FaultError> {
        let mut body = serde_json::json!({ "params": fault.params });
        if let Some(fraction) = fault.fraction {
            body["fraction"] = fraction.into();
        }
        if let Some(learners) = &fault.learners {
            body["learners"] = learners.clone().into();
        }
        self.switch(&fault.fault, Some(body)).await
    }

    /// Switches fault `id` on (with `body`) or off (`None`) at the service that owns it.
    async fn switch(&self, id: &str, body: Option<serde_json::Value>) -> Result<(), FaultError> {
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
        let request = match body {
            Some(body) => self.request(reqwest::Method::POST, url.clone()).json(&body),
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
                "{service} refused to switch {id} ({status}): {text}"
            )))
        }
    }
}

#[async_trait]
impl FaultControl for ServiceFaults {
    async fn faults(&self) -> Result<Vec<FaultState>, FaultError> {
        let mut all = Vec::new();
        for (service, base) in &self.services {
            let url = format!("{base}/admin/faults");
            let response = self
                .request(reqwest::Method::GET, url.clone())
                .send()
                .await
                .map_err(|e| FaultError(format!("{service} is not answering at {url}: {e}")))?;
            if !response.status().is_success() {
                return Err(FaultError(format!(
                    "{service} refused to list its faults ({})",
                    response.status()
                )));
            }
            let body: serde_json::Value = response.json().await.map_err(|e| {
                FaultError(format!(
                    "{service} sent a fault list that could not be read: {e}"
                ))
            })?;
            for fault in body["faults"].as_array().into_iter().flatten() {
                all.push(FaultState {
                    id: fault["id"].as_str().unwrap_or_default().to_owned(),
                    service: fault["service"].as_str().unwrap_or(service).to_owned(),
                    description: fault["summary"].as_str().unwrap_or_default().to_owned(),
                    enabled: !fault["active"].is_null(),
                });
            }
        }
        Ok(all)
    }

    async fn set(&self, id: &str, enabled: bool) -> Result<(), FaultError> {
        let body = enabled.then(|| serde_json::json!({}));
        self.switch(id, body).await
    }
}
