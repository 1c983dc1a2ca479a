//! The network path between the api and payments: a TCP proxy in front of payments that the
//! `payments_network` fault disturbs.
//!
//! Network trouble leaves a signature that no fault inside a service can: the api's client
//! span is long while the payments server span beneath it is short (the time went *between*
//! them), or the client span fails and there is no server span at all (the request never
//! arrived). To show that honestly the fault lives in the bytes, not in a handler: the proxy
//! copies TCP traffic both ways and, for the requests the fault hits, delays them on the way
//! in, cuts the connection, or swallows the request until the caller gives up.
//!
//! The proxy is a port like any other: at most `max_connections` relayed at once (more get
//! the same 503 refusal as every port), and a connection on which no bytes have moved either
//! way for `idle_timeout` is closed, so idle sockets cannot hold the proxy or payments.
//!
//! A connection carries many requests (clients keep connections alive), so the decision is
//! made per request: whenever a chunk from the client starts with an HTTP method. The learner
//! a request belongs to is read from its `baggage` header, so a fault scoped to some learners
//! hits only their requests, as every other fault does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dojo_faults::{FaultId, Faults};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Refusals being written at once; beyond it a connection over the cap is closed at once.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// Accepts connections on `listener` and relays each to `upstream`, within the connection cap
/// and idle timeout of `limits`, until the process ends.
pub async fn proxy(
    listener: TcpListener,
    upstream: SocketAddr,
    faults: Faults,
    limits: dojo_listen::Limits,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    loop {
        let (client, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "the network proxy could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(
                limit = limits.max_connections,
                "the network proxy refuses a connection over its cap"
            );
            if let Ok(writing) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    dojo_listen::refuse(client, limits.max_connections).await;
                    drop(writing);
                });
            }
            continue;
        };
        let faults = faults.clone();
        tokio::spawn(async move {
            if let Err(error) = relay(client, upstream, faults, limits.idle_timeout).await {
                tracing::debug!(%error, "a proxied connection ended with an error");
            }
            drop(slot);
        });
    }
}

/// What the fault does to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Disturbance {
    Delay(Duration),
    Reset,
    Swallow,
}

/// Relays one connection, disturbing the requests the fault hits, until either side closes
/// or no bytes have moved for `idle_timeout`.
async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    faults: Faults,
    idle_timeout: Duration,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            // Any bytes moving either way start the wait again (the select is entered anew).
            () = tokio::time::sleep(idle_timeout) => {
                tracing::debug!("the network proxy closes an idle connection");
                return Ok(());
            }
            read = client.read(&mut from_client) => {
                let read = read?;
                if read == 0 {
                    return server.shutdown().await;
                }
                let chunk = &from_client[..read];
                let hit = if starts_request(chunk) { disturbance(&faults, chunk) } else { None };
                match hit {
                    None => {}
                    Some(Disturbance::Delay(delay)) => tokio::time::sleep(delay).await,
                    Some(Disturbance::Reset) => {
                        // Closing with a zero linger sends a RST: "connection reset by peer".
                        client.set_zero_linger()?;
                        return Ok(());
                    }
                    Some(Disturbance::Swallow) => {
                        // Keep the connection open and deliver nothing until the caller
                        // gives up and closes it (or it idles out).
                        while let Ok(read) =
                            tokio::time::timeout(idle_timeout, client.read(&mut from_client)).await
                        {
                            if read? == 0 {
                                break;
                            }
                        }
                        return Ok(());
                    }
                }
                server.write_all(chunk).await?;
            }
            read = server.read(&mut from_server) => {
                let read = read?;
                if read == 0 {
                    return client.shutdown().await;
                }
                client.write_all(&from_server[..read]).await?;
            }
        }
    }
}

/// True when `chunk` begins an HTTP/1 request (a method, a space), not a body's continuation.
fn starts_request(chunk: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"PATCH ",
        b"DELETE ",
        b"HEAD ",
        b"OPTIONS ",
        b"CONNECT ",
        b"TRACE ",
    ];
    METHODS.iter().any(|method| chunk.starts_with(method))
}

/// Whether the fault hits the request that `chunk` starts, and how.
fn disturbance(faults: &Faults, chunk: &[u8]) -> Option<Disturbance> {
    let learner = learner_of(chunk);
    let fault = faults.fires(FaultId::PaymentsNetwork, learner.as_deref())?;
    Some(match fault.choice("mode") {
        "reset" => Disturbance::Reset,
        "timeout" => Disturbance::Swallow,
        _ => Disturbance::Delay(fault.millis("delay_ms")),
    })
}

/// The `learner.id` member of the request's `baggage` header, if the head carries one.
fn learner_of(chunk: &[u8]) -> Option<String> {
    let head_end = chunk
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(chunk.len());
    let head = std::str::from_utf8(&chunk[..head_end]).ok()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("baggage") {
            return None;
        }
        value.split(',').find_map(|member| {
            let (key, value) = member.split_once('=')?;
            (key.trim() == "learner.id").then(|| {
                let value = value.split(';').next().unwrap_or("").trim();
                percent_decode(value)
            })
        })
    })
}

/// Baggage values are percent-encoded; learner ids are plain, but decode what is there.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_told_from_a_body_continuation() {
        assert!(starts_request(b"POST /charge HTTP/1.1\r\nhost: x\r\n\r\n"));
        assert!(!starts_request(b"{\"amount\": 12}"));
        assert!(!starts_request(b"POSTAL"));
    }

    #[test]
    fn the_learner_is_read_from_the_baggage_header() {
        let head = b"POST /charge HTTP/1.1\r\nhost: x\r\nBaggage: a=b, learner.id=ada-1f2e;prop, c=d\r\n\r\n{}";
        assert_eq!(learner_of(head).as_deref(), Some("ada-1f2e"));
        assert_eq!(
            learner_of(b"POST /charge HTTP/1.1\r\nhost: x\r\n\r\n"),
            None
        );
        let encoded = b"GET / HTTP/1.1\r\nbaggage: learner.id=a%20b\r\n\r\n";
        assert_eq!(learner_of(encoded).as_deref(), Some("a b"));
    }
}
