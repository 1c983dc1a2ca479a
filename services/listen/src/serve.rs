//! The accept loop: a connection cap with a clear refusal, and per connection hyper's HTTP/1
//! and HTTP/2 server with the header-read, idle and body-stall timeouts.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::Limits;
use crate::activity::{Activity, Tracked};
use crate::stall::StallGuard;

/// How long a connection asked to close gracefully may take before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Refusals being written at once; beyond it a connection over the cap is closed without a
/// word, so a flood cannot hold descriptors through its own refusals.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// How often a refusal is logged at most, so a flood does not flood the log too.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting, asks every open connection to finish, and returns when they have.
///
/// Handlers see the peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_refusal_log: Option<Instant> = None;
    loop {
        let (socket, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept: wait a little
                    // and keep serving, as axum does.
                    tracing::warn!(%local, %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let _ = socket.set_nodelay(true);
                tokio::spawn(connection(
                    socket,
                    peer,
                    router.clone(),
                    limits,
                    slot,
                    stop_rx.clone(),
                ));
            }
            Err(_) => {
                if last_refusal_log.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
                    last_refusal_log = Some(Instant::now());
                    tracing::warn!(
                        %local,
                        limit = limits.max_connections,
                        "refusing connections: this port already has {} open",
                        limits.max_connections
                    );
                }
                if let Ok(writing) = refusals.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(socket, limits.max_connections).await;
                        drop(writing);
                    });
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it ends: having them all back means all ended.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
    Ok(())
}

/// Tells a connection over the cap why it is closed, in plain HTTP/1.1, and closes it (also
/// used by ports that relay raw TCP, such as the payments network proxy).
pub async fn refuse(mut socket: TcpStream, limit: usize) {
    let body = format!(
        "This port already has {limit} open connections, its limit; try again in a moment.\n"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        socket.write_all(response.as_bytes()).await?;
        socket.shutdown().await
    })
    .await;
}

/// Serves one connection until it ends, idles out, or the server stops.
async fn connection(
    socket: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Activity::new();
    let io = TokioIo::new(Tracked {
        inner: socket,
        activity: activity.clone(),
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = requests.begin_request();
        let router = router.clone();
        async move {
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            let body = StallGuard::wrap(Body::new(body), limits.body_stall_timeout);
            let response = router.oneshot(http::Request::from_parts(parts, body)).await;
            drop(in_flight);
            response.map_err(|never: Infallible| match never {})
        }
    });

    let mut builder = Builder::new(TokioExecutor::new());
    // The header-read timeout is ours (`Activity::head_arriving_for`): hyper's would also cut
    // a kept-alive connection that merely waits for its next request.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    // No HTTP/2 keep-alive pings from the server: a client answering them would count as
    // activity, and an idle HTTP/2 connection must be closed by the idle timeout like any other.
    builder.http2().timer(TokioTimer::new());
    let mut conn = std::pin::pin!(builder.serve_connection_with_upgrades(io, service));

    let check_every =
        (limits.idle_timeout.min(limits.header_read_timeout) / 4).max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval(check_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing: Option<Instant> = None;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if closing.is_none() => {
                closing = Some(Instant::now());
                conn.as_mut().graceful_shutdown();
            }
            _ = ticker.tick() => {
                match closing {
                    Some(since) if since.elapsed() >= CLOSE_GRACE => return,
                    Some(_) => {}
                    None => {
                        if activity
                            .head_arriving_for()
                            .is_some_and(|waited| waited >= limits.header_read_timeout)
                        {
                            // As hyper does on its own header timeout: the request never
                            // began, so there is nothing to answer; the connection is dropped.
                            tracing::debug!(%peer, "closing a connection whose request headers stalled");
                            return;
                        }
                        if activity.idle_for().is_some_and(|idle| idle >= limits.idle_timeout) {
                            tracing::debug!(%peer, "closing an idle connection");
                            closing = Some(Instant::now());
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        }
    }
}
