//! The network proxy in front of payments, over real sockets: it relays requests, refuses
//! connections over its cap with a 503 like every port, and closes idle connections.

use std::time::{Duration, Instant};

use dojo_faults::{Faults, Service};
use dojo_payments::network::proxy;
use dojo_payments::{AppState, router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Payments on port 0 with the proxy in front of it (within `limits`); the proxy's address.
async fn start(limits: dojo_listen::Limits) -> std::net::SocketAddr {
    let faults = Faults::new(Service::Payments);
    let payments = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind payments");
    let upstream = payments.local_addr().expect("an address");
    let app = router(AppState {
        faults: faults.clone(),
        admin_token: None,
    });
    // Payments itself waits long, so any close the tests see is the proxy's.
    let patient = dojo_listen::Limits {
        header_read_timeout: Duration::from_secs(120),
        idle_timeout: Duration::from_secs(120),
        ..dojo_listen::Limits::default()
    };
    tokio::spawn(dojo_listen::serve(
        payments,
        app,
        patient,
        std::future::pending(),
    ));
    let front = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = front.local_addr().expect("an address");
    tokio::spawn(proxy(front, upstream, faults, limits));
    addr
}

/// Sends one keep-alive request for `/health` and reads until the answer's body.
async fn health(socket: &mut TcpStream) -> String {
    socket
        .write_all(b"GET /health HTTP/1.1\r\nhost: payments\r\n\r\n")
        .await
        .expect("writing a request");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answer.ends_with(b"ok") && Instant::now() < deadline {
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("reading the answer");
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Everything the peer sends until it closes, or `None` if it is still open after `wait`.
async fn read_to_close(socket: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut all = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&all).into_owned()),
            Ok(Ok(read)) => all.extend_from_slice(&buf[..read]),
        }
    }
}

#[tokio::test]
async fn connections_over_the_cap_get_a_503_and_a_freed_slot_is_used_again() {
    let addr = start(dojo_listen::Limits {
        max_connections: 2,
        ..dojo_listen::Limits::default()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.expect("connect");
    let mut second = TcpStream::connect(addr).await.expect("connect");
    assert!(health(&mut first).await.contains("200 OK"));
    assert!(health(&mut second).await.contains("200 OK"));

    let mut third = TcpStream::connect(addr).await.expect("connect");
    let refused = read_to_close(&mut third, Duration::from_secs(10))
        .await
        .expect("a connection over the cap is closed");
    assert!(
        refused.starts_with("HTTP/1.1 503") && refused.contains("retry-after: 1"),
        "{refused}"
    );
    assert!(refused.contains("2 open connections"), "{refused}");

    drop(first);
    // The slot comes back once the proxy sees the close: poll until a new connection relays.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = TcpStream::connect(addr).await.expect("connect");
        if health(&mut again).await.contains("200 OK") {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        health(&mut second).await.contains("200 OK"),
        "the kept connection still relays"
    );
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout_and_an_active_one_is_not() {
    let idle_timeout = Duration::from_millis(400);
    let addr = start(dojo_listen::Limits {
        idle_timeout,
        ..dojo_listen::Limits::default()
    })
    .await;
    let mut active = TcpStream::connect(addr).await.expect("connect");
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    assert!(health(&mut idle).await.contains("200 OK"));
    let opened = Instant::now();
    // The active connection sends a request every 100 ms for well past the idle timeout.
    while opened.elapsed() < idle_timeout * 3 {
        assert!(
            health(&mut active).await.contains("200 OK"),
            "a connection in use is kept after {:?}",
            opened.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        read_to_close(&mut idle, Duration::from_secs(10))
            .await
            .is_some(),
        "the idle connection is closed"
    );
}
