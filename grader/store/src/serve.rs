//! Runs the store's three listeners — the Tempo API, OTLP/HTTP and OTLP/gRPC — and its
//! maintenance loop until a shutdown future resolves.
//!
//! The caller binds the listeners (port 0 in tests, the default ports in `dojo store` and
//! `dojo up`), so it knows the addresses before anything is served.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::otlp;
use crate::storage::Store;
use crate::tempo_api;

/// The three bound sockets the store serves on.
pub struct StoreListeners {
    /// Tempo's HTTP API (default 3200).
    pub http: TcpListener,
    /// OTLP over HTTP (default 4318).
    pub otlp_http: TcpListener,
    /// OTLP over gRPC (default 4317).
    pub otlp_grpc: TcpListener,
}

/// The addresses the listeners got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreAddrs {
    pub http: SocketAddr,
    pub otlp_http: SocketAddr,
    pub otlp_grpc: SocketAddr,
}

/// Why the store stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the {what} server failed: {source}")]
    Http {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl StoreListeners {
    /// Binds the three addresses (use port 0 for any free port).
    pub async fn bind(
        http: SocketAddr,
        otlp_http: SocketAddr,
        otlp_grpc: SocketAddr,
    ) -> Result<Self, ServeError> {
        let bind = |what: &'static str, addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind {
                    what,
                    addr: addr.to_string(),
                    source,
                })
        };
        Ok(StoreListeners {
            http: bind("the Tempo API", http).await?,
            otlp_http: bind("the OTLP/HTTP receiver", otlp_http).await?,
            otlp_grpc: bind("the OTLP/gRPC receiver", otlp_grpc).await?,
        })
    }

    /// The addresses actually bound.
    pub fn addrs(&self) -> std::io::Result<StoreAddrs> {
        Ok(StoreAddrs {
            http: self.http.local_addr()?,
            otlp_http: self.otlp_http.local_addr()?,
            otlp_grpc: self.otlp_grpc.local_addr()?,
        })
    }
}

/// Serves until `shutdown` resolves, then stops all three servers gracefully.
pub async fn serve(
    store: Store,
    listeners: StoreListeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let maintenance = tokio::spawn(
        store
            .clone()
            .maintenance_loop(Duration::from_millis(500), stopped()),
    );
    // All three ports are served the guarded way: a connection cap, header, idle and
    // body-stall timeouts (`dojo_listen`). gRPC is an HTTP/2 service like any other there.
    let limits = store.config().listeners.port_limits();
    let api = dojo_listen::serve(
        listeners.http,
        tempo_api::router(store.clone()),
        limits,
        stopped(),
    );
    let otlp_http = dojo_listen::serve(
        listeners.otlp_http,
        otlp::http::router(store.clone()),
        limits,
        stopped(),
    );
    let grpc = dojo_listen::serve(
        listeners.otlp_grpc,
        tonic::service::Routes::new(otlp::grpc::service(store)).into_axum_router(),
        limits,
        stopped(),
    );

    let (api, otlp_http, grpc) = tokio::join!(api, otlp_http, grpc);
    let _ = maintenance.await;
    api.map_err(|source| ServeError::Http {
        what: "Tempo API",
        source,
    })?;
    otlp_http.map_err(|source| ServeError::Http {
        what: "OTLP/HTTP",
        source,
    })?;
    grpc.map_err(|source| ServeError::Http {
        what: "OTLP/gRPC",
        source,
    })?;
    Ok(())
}
