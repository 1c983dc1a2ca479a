//! The shop's business tier: catalogue, carts and orders in the database, payments at
//! checkout.
//!
//! Start at [`serve`]: it opens and migrates the database ([`db`]), applies the start-up
//! fault scenario, and serves [`router`]. Routes live in [`routes`], one module per
//! resource; the one error type is [`error::ApiError`]. Faults that bite in every route
//! (intermittent latency, an error rate, holding connections) are applied by
//! [`AppState::before`] and [`AppState::connection`].

pub mod config;
pub mod db;
pub mod error;
pub mod payments;
pub mod routes;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use dojo_faults::Service;

pub use config::Config;
pub use state::AppState;

use crate::db::Db;
use crate::payments::PaymentsClient;

/// All routes: the traced shop routes, then `/health` and the admin API outside the trace
/// layer.
pub fn router(state: AppState) -> Router {
    let traced = Router::new()
        .route("/catalogue", get(routes::catalogue::list))
        .route("/products/{id}", get(routes::catalogue::show))
        .route("/carts", post(routes::carts::create))
        .route("/carts/{id}", get(routes::carts::show))
        .route("/carts/{id}/items", post(routes::carts::add_item))
        .route("/orders", post(routes::orders::create))
        .layer(axum::middleware::from_fn(
            dojo_telemetry::server::trace_requests,
        ))
        .with_state(state.clone());
    traced
        .merge(dojo_faults::admin::router(state.faults, state.admin_token))
        .route("/health", get(|| async { "ok" }))
}

/// Opens the database, applies the scenario and serves on `listener` until `shutdown`.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url, config.pool_size)
        .await
        .with_context(|| {
            format!(
                "opening the shop database ({})",
                db_kind(&config.database_url)
            )
        })?;
    let faults = config.faults.start(Service::Api)?;
    dojo_telemetry::sampling::install_override(Arc::new(faults.clone()));
    let mut payments = PaymentsClient::new(
        config.payments_url.clone(),
        config.payments_timeout,
        config.payments_attempts,
    );
    if let Some((canary, percent)) = &config.payments_canary {
        payments = payments.with_canary(canary.clone(), *percent);
    }
    let state = AppState {
        db: db.clone(),
        faults,
        payments,
        admin_token: config.faults.admin_token.clone(),
    };
    let app = router(state);
    let served = dojo_listen::serve(listener, app, dojo_listen::Limits::default(), shutdown).await;
    db.close().await;
    served.context("serving the api")
}

/// The database kind for messages, without credentials from the URL.
fn db_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}
