//! The shop's user-facing tier: server-rendered pages and JSON endpoints that call the api
//! tier.
//!
//! Start at [`serve`] and [`router`]. Pages live in [`routes::pages`] (askama templates under
//! `templates/`), the JSON twins in [`routes::json`]; both call the api through
//! [`api_client::ApiClient`]. Two faults live here: `broken_propagation` (decided per
//! inbound request in [`AppState::hop`]) and `cpu_heavy` (in [`AppState::recommendations`]).

pub mod api_client;
pub mod config;
pub mod error;
pub mod routes;
pub mod state;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use dojo_faults::Service;

pub use config::Config;
pub use state::AppState;

use crate::api_client::ApiClient;

/// All routes: the traced pages and JSON endpoints, then `/health` and the admin API outside
/// the trace layer.
pub fn router(state: AppState) -> Router {
    let traced = Router::new()
        .route("/", get(routes::pages::home))
        .route("/products/{id}", get(routes::pages::product))
        .route(
            "/cart",
            get(routes::pages::cart).post(routes::pages::add_to_cart),
        )
        .route("/checkout", post(routes::pages::checkout))
        .route("/api/products", get(routes::json::products))
        .route("/api/products/{id}", get(routes::json::product))
        .route("/api/carts", post(routes::json::create_cart))
        .route("/api/carts/{id}", get(routes::json::cart))
        .route("/api/carts/{id}/items", post(routes::json::add_item))
        .route("/api/checkout", post(routes::json::checkout))
        .route("/orders", post(routes::retired::old_checkout))
        .layer(axum::middleware::from_fn(
            dojo_telemetry::server::trace_requests,
        ))
        .with_state(state.clone());
    traced
        .merge(dojo_faults::admin::router(state.faults, state.admin_token))
        .route("/health", get(|| async { "ok" }))
}

/// Applies the scenario and serves on `listener` until `shutdown`.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let faults = config.faults.start(Service::Frontend)?;
    let state = AppState {
        api: ApiClient::new(config.api_url.clone()),
        faults,
        admin_token: config.faults.admin_token.clone(),
    };
    let app = router(state);
    dojo_listen::serve(listener, app, dojo_listen::Limits::default(), shutdown)
        .await
        .context("serving the frontend")
}
