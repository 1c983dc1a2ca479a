//! HTTP/1 keep-alive and the two timeouts, over real sockets: a kept-alive connection that
//! waits for its next request is idle (closed after the idle timeout, as HTTP/2 and raw
//! connections are), while a request whose headers have begun must finish them within the
//! header-read timeout.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HEADER_READ: Duration = Duration::from_millis(300);
const IDLE: Duration = Duration::from_millis(2500);

async fn start() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let limits = dojo_listen::Limits {
        header_read_timeout: HEADER_READ,
        idle_timeout: IDLE,
        ..dojo_listen::Limits::default()
    };
    let app = Router::new().route("/", get(|| async { "ok" }));
    tokio::spawn(dojo_listen::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    addr
}

/// Sends a request and reads its whole answer (which ends with "ok").
async fn request(socket: &mut TcpStream) {
    socket
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("writing a request");
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while !answer.ends_with(b"ok") {
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("reading");
        assert!(read > 0, "the connection closed before answering");
        answer.extend_from_slice(&buf[..read]);
    }
}

/// How long after `since` the server closed the connection (waiting at most `wait`).
async fn closed_after(socket: &mut TcpStream, since: Instant, wait: Duration) -> Option<Duration> {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at((since + wait).into(), socket.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_kept_alive_connection_waiting_for_its_next_request_is_closed_by_the_idle_timeout() {
    let addr = start().await;
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    request(&mut socket).await;
    let answered = Instant::now();
    let closed = closed_after(&mut socket, answered, Duration::from_secs(20))
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(
        closed >= IDLE - Duration::from_millis(100),
        "closed {closed:?} after its last answer: the header-read timeout ({HEADER_READ:?}) cut a \
         kept-alive connection that was only waiting, before the idle timeout ({IDLE:?})"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_is_still_usable_after_the_header_read_timeout() {
    let addr = start().await;
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    request(&mut socket).await;
    tokio::time::sleep(HEADER_READ * 3).await;
    request(&mut socket).await;
}

#[tokio::test]
async fn a_request_whose_headers_stop_halfway_is_closed_by_the_header_read_timeout() {
    let addr = start().await;
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    request(&mut socket).await;
    socket
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .expect("writing half the headers");
    let sent = Instant::now();
    let closed = closed_after(&mut socket, sent, Duration::from_secs(20))
        .await
        .expect("a connection whose headers never end is closed");
    assert!(
        closed < IDLE,
        "closed {closed:?} after the headers stopped: the header-read timeout ({HEADER_READ:?}) \
         applies, not only the idle timeout ({IDLE:?})"
    );
}
