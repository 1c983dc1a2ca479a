//! A Grafana Tempo (or anything speaking its HTTP API) as the trace backend.
//!
//! Configured from `TEMPO_URL`, with optional basic or bearer authentication; the tenant of
//! each request goes in `X-Scope-OrgID`. Searches use `/api/search` with `start`/`end` in unix
//! seconds; traces come from `/api/traces/<id>` as JSON.

use std::time::Duration;

use dojo_defaults::TENANT_HEADER;
use dojo_traceql::model::{Trace, TraceId};

use super::{BackendError, BoxFuture, SearchHit, SearchRequest, TraceBackend, tempo_json};

/// A credential that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to authenticate to Tempo (or the gateway in front of it).
#[derive(Debug, Clone, Default)]
pub enum TempoAuth {
    #[default]
    None,
    Basic {
        user: String,
        password: Secret,
    },
    Bearer(Secret),
}

/// Where Tempo is and how to talk to it.
#[derive(Debug, Clone)]
pub struct TempoConfig {
    /// The base URL, such as `http://tempo:3200`.
    pub url: String,
    /// Sent as `X-Scope-OrgID` when a request names no tenant.
    pub default_tenant: Option<String>,
    pub auth: TempoAuth,
    /// Per request.
    pub timeout: Duration,
}

impl TempoConfig {
    /// From the platform's variables: `TEMPO_URL` (required), `TEMPO_TENANT`, and either
    /// `TEMPO_BEARER_TOKEN` or `TEMPO_BASIC_AUTH_USER` with `TEMPO_BASIC_AUTH_PASSWORD`.
    /// `lookup` reads one variable (`|k| std::env::var(k).ok()` in a binary).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        use dojo_defaults::env;
        let url = lookup(env::TEMPO_URL).filter(|u| !u.trim().is_empty())?;
        let mut config = TempoConfig::new(url);
        config.default_tenant = lookup(env::TEMPO_TENANT).filter(|t| !t.is_empty());
        config.auth = match (
            lookup(env::TEMPO_BEARER_TOKEN).filter(|t| !t.is_empty()),
            lookup(env::TEMPO_BASIC_AUTH_USER).filter(|u| !u.is_empty()),
        ) {
            (Some(token), _) => TempoAuth::Bearer(Secret::new(token)),
            (None, Some(user)) => TempoAuth::Basic {
                user,
                password: Secret::new(lookup(env::TEMPO_BASIC_AUTH_PASSWORD).unwrap_or_default()),
            },
            (None, None) => TempoAuth::None,
        };
        Some(config)
    }

    pub fn new(url: impl Into<String>) -> Self {
        TempoConfig {
            url: url.into(),
            default_tenant: None,
            auth: TempoAuth::None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The remote backend. Cloning shares the HTTP connection pool.
#[derive(Debug, Clone)]
pub struct TempoBackend {
    config: TempoConfig,
    base: String,
    http: reqwest::Client,
}

impl TempoBackend {
    pub fn new(config: TempoConfig) -> Result<Self, BackendError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| BackendError::Unreachable {
                url: config.url.clone(),
                message: e.to_string(),
            })?;
        let base = config.url.trim_end_matches('/').to_string();
        Ok(TempoBackend { config, base, http })
    }

    fn request(&self, url: reqwest::Url, tenant: Option<&str>) -> reqwest::RequestBuilder {
        let mut request = self.http.get(url);
        if let Some(tenant) = tenant.or(self.config.default_tenant.as_deref()) {
            request = request.header(TENANT_HEADER, tenant);
        }
        match &self.config.auth {
            TempoAuth::None => request,
            TempoAuth::Basic { user, password } => {
                request.basic_auth(user, Some(password.expose()))
            }
            TempoAuth::Bearer(token) => request.bearer_auth(token.expose()),
        }
    }

    fn url(&self, path: &str, params: &[(&str, String)]) -> Result<reqwest::Url, BackendError> {
        reqwest::Url::parse_with_params(&format!("{}{path}", self.base), params).map_err(|e| {
            BackendError::Unreachable {
                url: self.base.clone(),
                message: format!("not a valid URL: {e}"),
            }
        })
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, bytes::Bytes), BackendError> {
        let response = request
            .send()
            .await
            .map_err(|e| BackendError::Unreachable {
                url: self.base.clone(),
                message: e.without_url().to_string(),
            })?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| BackendError::Unreachable {
                url: self.base.clone(),
                message: e.without_url().to_string(),
            })?;
        Ok((status, body))
    }
}

fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() > 500 {
        format!("{}…", &text[..text.floor_char_boundary(500)])
    } else {
        text.to_string()
    }
}

fn error_for(status: u16, body: &[u8]) -> BackendError {
    let text = body_text(body);
    match status {
        400 => match text.strip_prefix("invalid TraceQL query: ") {
            Some(message) => BackendError::InvalidQuery {
                message: message.to_string(),
            },
            None => BackendError::Status { status, body: text },
        },
        401 | 403 => BackendError::Unauthorized { status, body: text },
        _ => BackendError::Status { status, body: text },
    }
}

impl TraceBackend for TempoBackend {
    fn search<'a>(
        &'a self,
        request: SearchRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, BackendError>> {
        Box::pin(async move {
            let params = [
                ("q", request.query.to_string()),
                ("start", request.window.start_s.to_string()),
                // Tempo refuses end == start; a window is at least one second.
                (
                    "end",
                    request
                        .window
                        .end_s
                        .max(request.window.start_s + 1)
                        .to_string(),
                ),
                ("limit", request.limit.max(1).to_string()),
                ("spss", request.spans_per_spanset.clamp(1, 100).to_string()),
            ];
            let url = self.url("/api/search", &params)?;
            let builder = self.request(url, request.tenant);
            let (status, body) = self.send(builder).await?;
            if status != 200 {
                return Err(error_for(status, &body));
            }
            tempo_json::search_hits(&body)
        })
    }

    fn trace_by_id<'a>(
        &'a self,
        tenant: Option<&'a str>,
        trace_id: TraceId,
    ) -> BoxFuture<'a, Result<Option<Trace>, BackendError>> {
        Box::pin(async move {
            let url = self.url(&format!("/api/traces/{trace_id}"), &[])?;
            let builder = self
                .request(url, tenant)
                .header(reqwest::header::ACCEPT, "application/json");
            let (status, body) = self.send(builder).await?;
            match status {
                200 => tempo_json::trace(&body),
                404 => Ok(None),
                _ => Err(error_for(status, &body)),
            }
        })
    }

    fn metrics<'a>(
        &'a self,
        request: super::metrics::MetricsRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<super::metrics::MetricsSeries>, BackendError>> {
        Box::pin(async move {
            let params = [
                ("q", request.query.to_string()),
                ("start", request.start_s.to_string()),
                ("end", request.end_s.max(request.start_s + 1).to_string()),
                ("step", format!("{}s", request.step_s.max(1))),
            ];
            let url = self.url("/api/metrics/query_range", &params)?;
            let builder = self.request(url, request.tenant);
            let (status, body) = self.send(builder).await?;
            if status != 200 {
                return Err(error_for(status, &body));
            }
            super::tempo_metrics_json::series_from_tempo_json(&body)
        })
    }

    fn describe(&self) -> String {
        format!("Tempo at {}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_read_from_the_platform_variables_and_secrets_never_print() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(TempoConfig::from_lookup(vars(&[])).is_none());
        let bearer = TempoConfig::from_lookup(vars(&[
            ("TEMPO_URL", "http://tempo:3200"),
            ("TEMPO_TENANT", "ada"),
            ("TEMPO_BEARER_TOKEN", "s3cret"),
        ]))
        .expect("a URL is enough");
        assert_eq!(bearer.default_tenant.as_deref(), Some("ada"));
        assert!(matches!(&bearer.auth, TempoAuth::Bearer(t) if t.expose() == "s3cret"));
        assert!(!format!("{bearer:?}").contains("s3cret"), "{bearer:?}");
        let basic = TempoConfig::from_lookup(vars(&[
            ("TEMPO_URL", "http://tempo:3200"),
            ("TEMPO_BASIC_AUTH_USER", "grader"),
            ("TEMPO_BASIC_AUTH_PASSWORD", "pw"),
        ]))
        .expect("a URL is enough");
        assert!(
            matches!(&basic.auth, TempoAuth::Basic { user, password } if user == "grader" && password.expose() == "pw")
        );
        assert!(!format!("{basic:?}").contains("\"pw\""));
    }
}
