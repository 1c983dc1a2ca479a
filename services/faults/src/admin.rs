//! The fault admin API every service mounts under `/admin/faults`:
//!
//! | request | does |
//! |---|---|
//! | `GET /admin/faults` | this service's faults, their parameters, state and hit counts |
//! | `GET /admin/faults/state` | the active faults as a scenario file (what a canary follows, see [`crate::state`]) |
//! | `POST /admin/faults/{id}` | switch on with a JSON body `{fraction, seed, learners, params}` (all optional) |
//! | `DELETE /admin/faults/{id}` | switch off |
//! | `POST /admin/faults/reset` | switch everything off |
//!
//! When an admin token is configured every request needs `Authorization: Bearer <token>`.
//! Reading the faults always needs it: the list names the active fault and its signature
//! query, which is a lab's answer. Without a configured token, reads are refused and only the
//! switches stay open (a learner alone on a laptop may break their own shop, not read the
//! answer). These routes sit outside the trace layer: toggling faults is not shop traffic.

use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::activation::ActivationRequest;
use crate::error::FaultError;
use crate::registry::Faults;

/// The admin token, wrapped so it never prints.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// Wraps a configured token.
    pub fn new(token: String) -> AdminToken {
        AdminToken(token)
    }

    /// The token itself, for a request that must present it (a canary following its stable
    /// release's faults).
    pub(crate) fn bearer(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, presented: &str) -> bool {
        let expected = self.0.as_bytes();
        let presented = presented.as_bytes();
        expected.len() == presented.len()
            && expected
                .iter()
                .zip(presented)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

#[derive(Clone)]
struct AdminState {
    faults: Faults,
    token: Option<AdminToken>,
}

/// The admin routes for `faults`, guarded by `token` when given.
pub fn router(faults: Faults, token: Option<AdminToken>) -> Router {
    let state = AdminState { faults, token };
    Router::new()
        .route("/admin/faults", get(list))
        .route("/admin/faults/state", get(state_file))
        .route("/admin/faults/reset", post(reset))
        .route("/admin/faults/{id}", post(enable).delete(disable))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

/// The one check of the admin token, for every admin route.
async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    match &state.token {
        Some(token) => {
            let presented = request
                .headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "));
            if !presented.is_some_and(|presented| token.matches(presented.trim())) {
                return FaultError::Unauthorized.into_response();
            }
        }
        None if request.method() == axum::http::Method::GET => {
            return FaultError::NoTokenToRead.into_response();
        }
        None => {}
    }
    next.run(request).await
}

async fn list(State(state): State<AdminState>) -> Response {
    Json(json!({ "service": state.faults.service(), "faults": state.faults.list() }))
        .into_response()
}

/// The active faults in the scenario format (the state file's content), for a follower.
async fn state_file(State(state): State<AdminState>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::state_file::render(&state.faults.active_all()),
    )
        .into_response()
}

async fn enable(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, FaultError> {
    let id = state.faults.resolve(&id)?;
    let request: ActivationRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ActivationRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| FaultError::InvalidBody(error.to_string()))?
    };
    let active = state.faults.enable(id, request)?;
    Ok(Json(json!({ "service": state.faults.service(), "enabled": active })).into_response())
}

async fn disable(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, FaultError> {
    let id = state.faults.resolve(&id)?;
    let was_on = state.faults.disable(id);
    Ok(
        Json(json!({ "service": state.faults.service(), "disabled": id, "was_on": was_on }))
            .into_response(),
    )
}

async fn reset(State(state): State<AdminState>) -> Response {
    let disabled = state.faults.reset();
    Json(json!({ "service": state.faults.service(), "disabled": disabled })).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::catalogue::Service;

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(
                request
                    .body(Body::from(body.to_owned()))
                    .expect("valid request"),
            )
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON body"))
    }

    #[tokio::test]
    async fn enabling_listing_and_disabling_a_fault_round_trips() {
        let app = router(
            Faults::new(Service::Api),
            Some(AdminToken::new("s3cret".into())),
        );
        let (status, body) = call(
            &app,
            "POST",
            "/admin/faults/slow_query",
            Some("s3cret"),
            r#"{"params":{"delay_ms":50}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["enabled"]["params"]["delay_ms"], 50);
        let (_, body) = call(&app, "GET", "/admin/faults", Some("s3cret"), "").await;
        let slow = body["faults"]
            .as_array()
            .expect("list")
            .iter()
            .find(|f| f["id"] == "slow_query")
            .expect("listed")
            .clone();
        assert!(slow["active"].is_object(), "{slow}");
        assert!(
            slow["signature"]
                .as_str()
                .expect("signature")
                .contains("db.collection.name")
        );
        let (status, body) = call(
            &app,
            "DELETE",
            "/admin/faults/slow_query",
            Some("s3cret"),
            "",
        )
        .await;
        assert_eq!(
            (status, body["was_on"].clone()),
            (StatusCode::OK, json!(true))
        );
    }

    #[tokio::test]
    async fn bad_requests_get_400_with_a_clear_json_error() {
        let app = router(Faults::new(Service::Api), None);
        let cases = [
            (
                "unknown id",
                "POST",
                "/admin/faults/teleport",
                "",
                "unknown_fault",
            ),
            (
                "another service's fault",
                "POST",
                "/admin/faults/payments_slow",
                "",
                "wrong_service",
            ),
            (
                "broken JSON",
                "POST",
                "/admin/faults/slow_query",
                "{",
                "invalid_body",
            ),
            (
                "bad parameter",
                "POST",
                "/admin/faults/slow_query",
                r#"{"params":{"delay_ms":0}}"#,
                "invalid_parameter",
            ),
            (
                "disable unknown",
                "DELETE",
                "/admin/faults/teleport",
                "",
                "unknown_fault",
            ),
        ];
        for (description, method, uri, body, code) in cases {
            let (status, json) = call(&app, method, uri, None, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{description}: {json}");
            assert_eq!(json["error"], code, "{description}: {json}");
            assert!(
                json["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{description}"
            );
        }
    }

    #[tokio::test]
    async fn a_configured_token_is_required() {
        let app = router(
            Faults::new(Service::Api),
            Some(AdminToken::new("s3cret".into())),
        );
        let (status, body) = call(&app, "GET", "/admin/faults", None, "").await;
        assert_eq!(
            (status, body["error"].clone()),
            (StatusCode::UNAUTHORIZED, json!("unauthorized"))
        );
        let (status, _) = call(&app, "GET", "/admin/faults", Some("wrong!"), "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = call(&app, "POST", "/admin/faults/reset", Some("s3cret"), "").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn without_a_configured_token_the_faults_cannot_be_read_but_can_be_switched() {
        let app = router(Faults::new(Service::Api), None);
        let (status, _) = call(
            &app,
            "POST",
            "/admin/faults/slow_query",
            None,
            r#"{"params":{"delay_ms":50}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(&app, "GET", "/admin/faults", None, "").await;
        assert_eq!(
            (status, body["error"].clone()),
            (StatusCode::FORBIDDEN, json!("no_admin_token")),
            "{body}"
        );
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("DOJO_ADMIN_TOKEN"), "{message}");
        assert!(!body.to_string().contains("db.collection"), "{body}");
        let (status, _) = call(&app, "GET", "/admin/faults", Some("anything"), "").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "no token configured: none is right"
        );
    }
}
