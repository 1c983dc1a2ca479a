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

use std::future::Future;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use dojo_faults::{FaultId, Faults, Service};
use dojo_telemetry::propagation::Caller;

pub use config::Config;

use crate::api_client::{ApiClient, Hop};

/// What every handler shares; cheap handles only.
#[derive(Debug, Clone)]
pub struct AppState {
    pub api: ApiClient,
    pub faults: Faults,
    /// Guards the admin API when set.
    pub admin_token: Option<dojo_faults::admin::AdminToken>,
}

impl AppState {
    /// Whether this request's calls to the api carry the trace context.
    pub fn hop(&self, caller: &Caller) -> Hop {
        let broken = self
            .faults
            .fires(FaultId::BrokenPropagation, caller.learner_id.as_deref());
        Hop {
            propagate: broken.is_none(),
        }
    }

    /// Product recommendations beside a product page. Normally free; with `cpu_heavy` on it
    /// burns CPU in the handler's own time (no child span to blame), off the async threads.
    pub async fn recommendations(&self, caller: &Caller) {
        if let Some(fault) = self
            .faults
            .fires(FaultId::CpuHeavy, caller.learner_id.as_deref())
        {
            let budget = fault.millis("work_ms");
            let _ =
                tokio::task::spawn_blocking(move || dojo_faults::effects::burn_cpu(budget)).await;
        }
    }
}

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
