//! Stands in for an external payments provider whose latency and failures are faults.
//!
//! One route, `POST /charge`, validates a card (Luhn check; the test card 4000000000000002 is
//! always declined, as at real providers) and captures the amount. The `payments_slow` and
//! `payments_failing` faults make it slow, hang or fail, so the api tier's timeout and
//! retries show up in traces. The card number never reaches a span or a log line.

mod charge;
pub mod config;
pub mod network;
pub mod state;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use dojo_faults::Service;

pub use config::Config;
pub use state::AppState;

/// All routes: the traced shop route, then `/health` and the admin API outside the trace layer.
pub fn router(state: AppState) -> Router {
    let traced = Router::new()
        .route("/charge", post(charge::charge))
        .layer(axum::middleware::from_fn(
            dojo_telemetry::server::trace_requests,
        ))
        .with_state(state.clone());
    traced
        .merge(dojo_faults::admin::router(state.faults, state.admin_token))
        .route("/health", get(|| async { "ok" }))
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let faults = config.faults.start(Service::Payments)?;
    if let Some(port) = &config.proxy_port {
        let port: u16 = port.trim().parse().with_context(|| {
            format!(
                "{} must be a port number (0 for any free port), not {port:?}",
                dojo_defaults::env::PAYMENTS_PROXY_PORT
            )
        })?;
        let upstream = listener
            .local_addr()
            .context("reading payments' own address")?;
        let proxy = tokio::net::TcpListener::bind((upstream.ip(), port))
            .await
            .with_context(|| {
                format!("binding the network proxy in front of payments on port {port}")
            })?;
        tracing::info!(
            proxy = %proxy.local_addr().context("reading the proxy's address")?,
            "network proxy in front of payments"
        );
        tokio::spawn(network::proxy(
            proxy,
            upstream,
            faults.clone(),
            dojo_listen::Limits::default(),
        ));
    }
    let app = router(AppState {
        faults,
        admin_token: config.faults.admin_token.clone(),
    });
    dojo_listen::serve(listener, app, dojo_listen::Limits::default(), shutdown)
        .await
        .context("serving payments")
}
