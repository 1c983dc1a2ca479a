//! The stock service, Lab 1's starter code: `GET /stock/{id}` asks the api for the product,
//! then looks up how many the warehouse holds.
//!
//! It works, but its traces do not tell the truth. Read the `LAB:` comments, then fix:
//! span names, HTTP attributes, propagation to the api, error recording, and a secret that
//! ends up in a span attribute. `labs/instrument-a-service/lab.yaml` lists what the grader
//! checks; run `dojo grade --lab instrument-a-service --exercise instrument-stock --service
//! stock` when you think you are done.

pub mod stock;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tracing::Instrument;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// LAB: a plain client: it creates no CLIENT span and sends no `traceparent`.
    pub http: reqwest::Client,
    /// Where the api tier is, without a trailing slash.
    pub api_url: String,
}

/// The service's routes.
pub fn router(api_url: String) -> Router {
    let state = AppState {
        http: reqwest::Client::new(),
        api_url,
    };
    Router::new()
        .route("/stock/{id}", get(stock_level))
        .layer(axum::middleware::from_fn(trace_request))
        .with_state(state)
}

/// Wraps each request in a span.
async fn trace_request(request: Request, next: Next) -> Response {
    let api_key = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    // LAB: the name uses the concrete path (/stock/42), so every product gets its own name;
    // there is no http.route and no http.response.status_code; the incoming traceparent is
    // ignored; and the caller's API key is recorded as an attribute.
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{} {}", request.method(), request.uri().path()),
        otel.kind = "server",
        "http.request.header.x-api-key" = %api_key,
    );
    next.run(request).instrument(span).await
}

/// `GET /stock/{id}`: the product's name and units in stock.
async fn stock_level(State(state): State<AppState>, Path(id): Path<u32>) -> Response {
    let url = format!("{}/products/{id}", state.api_url);
    let product = match state.http.get(&url).send().await {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "no such product" })),
            )
                .into_response();
        }
        Ok(response) if response.status().is_success() => {
            match response.json::<serde_json::Value>().await {
                Ok(product) => product,
                Err(error) => return failure(&format!("the api's answer is unreadable: {error}")),
            }
        }
        Ok(response) => return failure(&format!("the api answered {}", response.status())),
        Err(error) => return failure(&format!("the api is unreachable: {error}")),
    };
    match stock::units(id) {
        Some(units) => Json(json!({ "product": product["name"], "units": units })).into_response(),
        // LAB: a failed request, but the span does not say so.
        None => failure(&format!("the warehouse has no record of product {id}")),
    }
}

fn failure(message: &str) -> Response {
    tracing::error!(message, "stock lookup failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": message })),
    )
        .into_response()
}
