//! The front door of a deployable service under `dojo up`: a TCP relay on the service's public
//! port that forwards each connection to whichever process currently runs the service.
//!
//! It plays the part of a Kubernetes Service in front of its pods. The service's processes
//! listen on private ports (picked by the OS); the relay sends new connections to the current
//! one. A rollout starts the new version beside the old one, waits until it is healthy, then
//! switches the relay: from that moment new connections reach the new version, while requests
//! already in flight finish on the old one, which then stops gracefully. So the shop keeps
//! answering during a deploy, and a new version that never becomes healthy is never switched
//! to (that is the rollback).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};

/// A handle on one relay: where it listens and where it forwards to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Relay {
    /// The service's name, for log lines.
    name: String,
    /// The process that receives new connections; `None` until the first one reported its port.
    upstream: Arc<RwLock<Option<SocketAddr>>>,
    /// Where the relay listens (the port the OS picked, when bound to port 0).
    address: SocketAddr,
}

impl Relay {
    /// Binds the public port and starts relaying in the background (until the process ends).
    pub async fn bind(name: &str, host: &str, port: u16) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind((host, port))
            .await
            .with_context(|| format!("{name} cannot listen on {host}:{port}"))?;
        let address = listener
            .local_addr()
            .with_context(|| format!("reading {name}'s relay address"))?;
        let relay = Relay {
            name: name.to_owned(),
            upstream: Arc::new(RwLock::new(None)),
            address,
        };
        tokio::spawn(relay.clone().accept_loop(listener));
        Ok(relay)
    }

    /// Sends new connections to `upstream` from now on.
    pub fn switch_to(&self, upstream: SocketAddr) {
        *self.upstream.write().unwrap_or_else(|p| p.into_inner()) = Some(upstream);
    }

    /// Where the relay listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where new connections go now.
    pub fn upstream(&self) -> Option<SocketAddr> {
        *self.upstream.read().unwrap_or_else(|p| p.into_inner())
    }

    async fn accept_loop(self, listener: TcpListener) {
        loop {
            let client = match listener.accept().await {
                Ok((client, _)) => client,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    eprintln!("dojo: the {} port could not accept: {error}", self.name);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Read at accept time: a connection stays with the process it was sent to.
            let Some(upstream) = self.upstream() else {
                // Not started yet: closing tells the caller to try again.
                continue;
            };
            tokio::spawn(relay(client, upstream, self.clone()));
        }
    }
}

/// The most request bytes kept for a replay; a longer request is not replayed.
const MAX_REPLAY: usize = 1024 * 1024;

/// Connects to `first`, the process the connection was sent to when it was accepted. A switch
/// may have happened since, and that process stopped taking connections as it retired: the
/// connection then goes to the current one rather than being dropped (the caller would see it
/// close with no answer).
async fn connect(first: SocketAddr, relay: &Relay) -> Option<(TcpStream, SocketAddr)> {
    match TcpStream::connect(first).await {
        Ok(server) => Some((server, first)),
        Err(_) => {
            let current = relay.upstream().filter(|current| *current != first)?;
            let server = TcpStream::connect(current).await.ok()?;
            Some((server, current))
        }
    }
}

/// Copies bytes both ways until either side closes.
///
/// A version being replaced closes its idle keep-alive connections when it stops, and a
/// client may have just sent a request on one: the old process never reads it, and the client
/// would see the connection drop. So the relay keeps the bytes the client sent since the last
/// answer; when a retired upstream closes with such bytes unanswered, they go to the current
/// upstream on a fresh connection instead. Only a retired upstream's close is handled so: it
/// stops gracefully, finishing every request it has started, so an unanswered one was never
/// processed and sending it again cannot do anything twice.
async fn relay(client: TcpStream, first: SocketAddr, relay: Relay) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some((mut server, mut upstream)) = connect(first, &relay).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let mut unanswered: Vec<u8> = Vec::new();
    let mut replayable = true;
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    let mut client_done = false;
    loop {
        tokio::select! {
            read = client_read.read(&mut from_client), if !client_done => match read {
                Ok(0) | Err(_) => {
                    client_done = true;
                    let _ = server.shutdown().await;
                }
                Ok(n) => {
                    if server.write_all(&from_client[..n]).await.is_err() && !replayable {
                        return;
                    }
                    if replayable {
                        unanswered.extend_from_slice(&from_client[..n]);
                        replayable = unanswered.len() <= MAX_REPLAY;
                    }
                }
            },
            read = server.read(&mut from_server) => match read {
                Ok(n) if n > 0 => {
                    unanswered.clear();
                    replayable = true;
                    if client_write.write_all(&from_server[..n]).await.is_err() {
                        return;
                    }
                }
                _ => {
                    let retired = relay.upstream().filter(|current| *current != upstream);
                    match retired {
                        Some(current) if replayable && !unanswered.is_empty() && !client_done => {
                            let Ok(fresh) = TcpStream::connect(current).await else {
                                return;
                            };
                            server = fresh;
                            upstream = current;
                            let _ = server.set_nodelay(true);
                            if server.write_all(&unanswered).await.is_err() {
                                return;
                            }
                        }
                        _ => {
                            let _ = client_write.shutdown().await;
                            return;
                        }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers every connection with its own name and closes.
    async fn named_server(name: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream.write_all(name.as_bytes()).await;
            }
        });
        address
    }

    async fn read_through(port: u16) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text).await;
        text
    }

    #[tokio::test]
    async fn new_connections_follow_the_switch_and_none_go_anywhere_before_the_first() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = probe.local_addr().expect("address").port();
        drop(probe);
        let relay = Relay::bind("api", "127.0.0.1", port).await.expect("bind");
        assert_eq!(read_through(port).await, "", "no upstream yet: closed");
        relay.switch_to(named_server("old").await);
        assert_eq!(read_through(port).await, "old");
        relay.switch_to(named_server("new").await);
        assert_eq!(read_through(port).await, "new");
    }

    #[tokio::test]
    async fn a_connection_sent_to_a_process_that_has_since_retired_goes_to_the_current_one() {
        // Accepted while `retired` was current; by the time it connects, `retired` has stopped
        // listening and the relay points at `current`.
        let retired = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("address")
        };
        let relay = Relay::bind("api", "127.0.0.1", 0).await.expect("bind");
        relay.switch_to(named_server("current").await);
        let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let front_address = front.local_addr().expect("address");
        let mut client = TcpStream::connect(front_address).await.expect("connect");
        let (accepted, _) = front.accept().await.expect("accept");
        tokio::spawn(super::relay(accepted, retired, relay.clone()));
        let mut text = String::new();
        let _ = client.read_to_string(&mut text).await;
        assert_eq!(text, "current", "the connection was not dropped");
    }

    #[tokio::test]
    async fn a_request_left_unanswered_by_a_retired_upstream_goes_to_the_new_one() {
        // The old version answers one request, then closes without reading the next.
        let old = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let old_address = old.local_addr().expect("address");
        let (close_old, closed) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut stream, _) = old.accept().await.expect("accept");
            let mut buffer = [0u8; 64];
            let n = stream.read(&mut buffer).await.expect("read");
            let answer = format!("old:{}", String::from_utf8_lossy(&buffer[..n]));
            stream.write_all(answer.as_bytes()).await.expect("write");
            let _ = closed.await;
        });
        let new = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let new_address = new.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut stream, _) = new.accept().await.expect("accept");
            let mut buffer = [0u8; 64];
            let n = stream.read(&mut buffer).await.expect("read");
            let answer = format!("new:{}", String::from_utf8_lossy(&buffer[..n]));
            stream.write_all(answer.as_bytes()).await.expect("write");
        });
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = probe.local_addr().expect("address").port();
        drop(probe);
        let relay = Relay::bind("api", "127.0.0.1", port).await.expect("bind");
        relay.switch_to(old_address);

        let mut client = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let mut buffer = [0u8; 64];
        client.write_all(b"1").await.expect("write");
        let n = client.read(&mut buffer).await.expect("read");
        assert_eq!(&buffer[..n], b"old:1");
        relay.switch_to(new_address);
        client.write_all(b"2").await.expect("write");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = close_old.send(());
        let n = client.read(&mut buffer).await.expect("read");
        assert_eq!(
            &buffer[..n],
            b"new:2",
            "the unanswered request was sent again"
        );
    }
}
