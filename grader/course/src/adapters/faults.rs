//! [`FaultControl`] over the sample services' fault admin APIs (`/admin/faults` on each
//! service, `dojo-faults`): the instructor's toggles call them over HTTP with the admin token,
//! exactly as an instructor's script would.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::backend::{FaultControl, FaultError, FaultState};
use crate::state::Secret;

/// How long one admin call may take before the instructor page says so.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The admin APIs of the sample services.
#[derive(Clone)]
pub struct ServiceFaults {
    /// (service name, base URL such as `http://127.0.0.1:8082`)
    services: Vec<(String, String)>,
    token: Option<Secret>,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Listing {
    faults: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    active: Option<serde_json::Value>,
}

impl ServiceFaults {
    /// Talks to each service at its base URL, with the admin token when one is configured.
    pub fn new(services: Vec<(String, String)>, token: Option<Secret>) -> ServiceFaults {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        ServiceFaults {
            services,
            token,
            http,
        }
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    async fn listing(&self, service: &str, base: &str) -> Result<Vec<FaultState>, FaultError> {
        let response = self
            .authorize(self.http.get(format!("{base}/admin/faults")))
            .send()
            .await
            .map_err(|error| FaultError(format!("{service} did not answer: {error}")))?;
        if !response.status().is_success() {
            return Err(FaultError(format!(
                "{service} refused to list its faults ({})",
                response.status()
            )));
        }
        let listing: Listing = response.json().await.map_err(|error| {
            FaultError(format!(
                "{service} sent a fault list this course cannot read: {error}"
            ))
        })?;
        Ok(listing
            .faults
            .into_iter()
            .map(|f| FaultState {
                id: f.id,
                service: service.to_string(),
                description: f.summary,
                learners: f.active.as_ref().and_then(|a| {
                    let ids = a.get("learners")?.as_array()?;
                    Some(
                        ids.iter()
                            .filter_map(|id| id.as_str().map(str::to_string))
                            .collect(),
                    )
                }),
                enabled: f.active.is_some_and(|a| !a.is_null()),
            })
            .collect())
    }
}

#[async_trait]
impl FaultControl for ServiceFaults {
    async fn faults(&self) -> Result<Vec<FaultState>, FaultError> {
        let mut all = Vec::new();
        for (service, base) in &self.services {
            all.extend(self.listing(service, base).await?);
        }
        Ok(all)
    }

    async fn set(&self, id: &str, enabled: bool) -> Result<(), FaultError> {
        let mut owner = None;
        for (service, base) in &self.services {
            if self
                .listing(service, base)
                .await?
                .iter()
                .any(|f| f.id == id)
            {
                owner = Some((service, base));
                break;
            }
        }
        let Some((service, base)) = owner else {
            return Err(FaultError(format!(
                "no service offers a fault called {id:?}"
            )));
        };
        let url = format!("{base}/admin/faults/{id}");
        let request = if enabled {
            self.http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body("{}")
        } else {
            self.http.delete(url)
        };
        let response = self
            .authorize(request)
            .send()
            .await
            .map_err(|error| FaultError(format!("{service} did not answer: {error}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            Err(FaultError(format!(
                "{service} refused ({status}): {}",
                body.chars().take(300).collect::<String>()
            )))
        }
    }
}
