//! The control port of a running `dojo up`: how `dojo deploy` asks it to roll a service out.
//!
//! It listens on the loopback interface only, on a port the OS picks, and every request must
//! carry the operator token that `dojo up` generated at start and wrote, readable by its user
//! only, into `<data-dir>/control.token` (the port is in `lab.json`). Whoever may read the lab's
//! data directory may deploy to it; nobody else can.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};

use crate::supervisor::{RolloutError, Rollouts};
use dojo_faults::ReleaseVersion;

/// The token file inside the data directory.
pub const TOKEN_FILE: &str = "control.token";
/// The variable that carries the deployment's trace context to the new version's process.
pub const TRACEPARENT: &str = "TRACEPARENT";
/// The variable that makes a release crash at start (`dojo deploy --fail-at rollout`).
pub const BROKEN_RELEASE: &str = "DOJO_BROKEN_RELEASE";

/// What `dojo deploy` asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutBody {
    pub service: String,
    pub version: String,
    pub deployment_id: String,
    /// The rollout span's context: the new version's startup span becomes its child.
    pub traceparent: Option<String>,
    /// Ship a release that crashes at start, to see a failed rollout and its rollback.
    #[serde(default)]
    pub broken: bool,
}

/// The answer to a rollout: done, or why not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutAnswer {
    /// Set when the rollout failed or was refused.
    pub error: Option<String>,
    /// Where the new version listens (on success).
    pub address: Option<String>,
    /// The version still serving after a failed rollout.
    pub kept_version: Option<String>,
    /// How long the rollback took, in milliseconds.
    pub rollback_ms: Option<u64>,
}

#[derive(Clone)]
struct ControlState {
    rollouts: Rollouts,
    token: String,
}

/// Generates the operator token and writes it where only this user can read it.
pub fn write_token(data_dir: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let path = data_dir.join(TOKEN_FILE);
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(token.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// Reads the operator token of the lab using `data_dir`.
pub fn read_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(TOKEN_FILE);
    std::fs::read_to_string(&path)
        .map(|token| token.trim().to_owned())
        .with_context(|| format!("reading the lab's operator token {}", path.display()))
}

/// Serves the control API on a loopback port until the process ends; returns its address.
pub async fn start(rollouts: Rollouts, token: String) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the control port")?;
    serve(listener, rollouts, token)
}

/// Serves the control API on `listener` until the process ends; returns its address.
pub fn serve(
    listener: tokio::net::TcpListener,
    rollouts: Rollouts,
    token: String,
) -> anyhow::Result<SocketAddr> {
    let address = listener.local_addr().context("reading the control port")?;
    let router = axum::Router::new()
        .route("/rollouts", post(roll_out))
        .with_state(ControlState { rollouts, token });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(address)
}

async fn roll_out(
    State(state): State<ControlState>,
    headers: HeaderMap,
    Json(body): Json<RolloutBody>,
) -> Response {
    let offered = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(offered.as_bytes(), state.token.as_bytes()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the operator token is missing or wrong".to_owned(),
        );
    }
    let version = match ReleaseVersion::parse(&body.version) {
        Ok(version) => version,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, error.to_string()),
    };
    if !is_plain_id(&body.deployment_id) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the deployment id may hold only letters, digits and dashes".to_owned(),
        );
    }
    let mut env = vec![(
        dojo_defaults::env::OTEL_RESOURCE_ATTRIBUTES.to_owned(),
        format!(
            "service.version={version},deployment.id={}",
            body.deployment_id
        ),
    )];
    if let Some(traceparent) = body.traceparent.filter(|t| is_traceparent(t)) {
        env.push((TRACEPARENT.to_owned(), traceparent));
    }
    if body.broken {
        env.push((BROKEN_RELEASE.to_owned(), version.to_string()));
    }
    match state
        .rollouts
        .roll_out(&body.service, &version.to_string(), env)
        .await
    {
        Ok(done) => Json(RolloutAnswer {
            error: None,
            address: Some(done.address.to_string()),
            kept_version: None,
            rollback_ms: None,
        })
        .into_response(),
        Err(error @ RolloutError::UnknownService(_)) => {
            let known = state.rollouts.services().join(", ");
            refuse(
                StatusCode::NOT_FOUND,
                format!("{error}; the deployable services are: {known}"),
            )
        }
        Err(error @ RolloutError::Busy(_)) => refuse(StatusCode::CONFLICT, error.to_string()),
        Err(RolloutError::Failed(failure)) => (
            StatusCode::BAD_GATEWAY,
            Json(RolloutAnswer {
                error: Some(failure.reason),
                address: None,
                kept_version: Some(failure.kept_version),
                rollback_ms: Some(
                    u64::try_from(failure.rollback.max(Duration::from_millis(1)).as_millis())
                        .unwrap_or(u64::MAX),
                ),
            }),
        )
            .into_response(),
    }
}

fn refuse(status: StatusCode, error: String) -> Response {
    (
        status,
        Json(RolloutAnswer {
            error: Some(error),
            address: None,
            kept_version: None,
            rollback_ms: None,
        }),
    )
        .into_response()
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `00-<32 hex>-<16 hex>-<2 hex>`.
fn is_traceparent(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let hex = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(url: &str, token: &str, body: &RolloutBody) -> (u16, RolloutAnswer) {
        let response = reqwest::Client::new()
            .post(format!("{url}/rollouts"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the control port answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON answer"))
    }

    #[tokio::test]
    async fn a_rollout_needs_the_operator_token_and_a_deployable_service() {
        let address = start(Rollouts::default(), "right-token".to_owned())
            .await
            .expect("the control port starts");
        let url = format!("http://{address}");
        let mut body = RolloutBody {
            service: "api".to_owned(),
            version: "1.4.0".to_owned(),
            deployment_id: "dep-1".to_owned(),
            traceparent: None,
            broken: false,
        };
        let (status, answer) = post(&url, "wrong-token", &body).await;
        assert_eq!(status, 401, "{answer:?}");
        let (status, answer) = post(&url, "right-token", &body).await;
        assert_eq!(status, 404, "no deployable service here: {answer:?}");
        body.version = "1.4.0,service.name=evil".to_owned();
        let (status, answer) = post(&url, "right-token", &body).await;
        assert_eq!(status, 400, "{answer:?}");
        assert!(
            answer
                .error
                .unwrap_or_default()
                .contains("MAJOR.MINOR.PATCH"),
            "the version is checked before it reaches OTEL_RESOURCE_ATTRIBUTES"
        );
    }
}
