//! The store's ports under hostile connections: stalled uploads hold no ingest slot, idle and
//! half-sent connections are closed, and a port over its connection cap refuses with a reason.
//! Real sockets throughout: raw TCP for the misbehaving clients, reqwest and tonic for the
//! well-behaved ones.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dojo_store::StoreConfig;
use dojo_store::config::Listeners;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestStore, checkout_trace, minutes_ago};

/// A client that sends an export's headers and 2 bytes of its 100 kB body, then nothing.
async fn stalled_upload(addr: SocketAddr) -> TcpStream {
    let mut socket = TcpStream::connect(addr)
        .await
        .expect("the receiver accepts");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\ncontent-length: 100000\r\n\r\nxx"
    );
    socket
        .write_all(head.as_bytes())
        .await
        .expect("sending headers");
    socket
}

/// Reads until the peer closes or `within` passes; returns what arrived and whether it closed.
async fn read_until_closed(socket: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into(), false),
        }
    }
}

fn with_listeners(listeners: Listeners) -> StoreConfig {
    StoreConfig {
        listeners,
        ..StoreConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_stalled_uploads_do_not_block_other_clients_exports_over_http_or_grpc() {
    // As many stalled uploads as there are ingest slots (64 by default).
    let app = TestStore::start().await;
    let slots = app.store.config().limits.max_concurrent_ingests;
    let mut stalled = Vec::new();
    for _ in 0..slots {
        stalled.push(stalled_upload(app.addrs.otlp_http).await);
    }
    let mut grpc = TraceServiceClient::connect(format!("http://{}", app.addrs.otlp_grpc))
        .await
        .expect("the gRPC receiver accepts connections");
    // Several rounds, so the stalled requests have long reached their handlers.
    for round in 0..10u8 {
        let (frontend, api) = checkout_trace(100 + round, minutes_ago(5));
        let response = app.post_protobuf(&frontend, None).await;
        assert_eq!(
            response.status(),
            200,
            "round {round}: an HTTP export succeeds while {slots} uploads stall: {:?}",
            response.text().await
        );
        if let Err(status) = grpc.export(api).await {
            panic!("round {round}: a gRPC export succeeds while {slots} uploads stall: {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        app.store.status()[0].refused_requests == 0,
        "no export was refused"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_answered_408_and_its_connection_closed() {
    let app = TestStore::with_config(with_listeners(Listeners {
        body_stall_timeout: Duration::from_millis(500),
        ..Listeners::default()
    }))
    .await;
    let mut socket = stalled_upload(app.addrs.otlp_http).await;
    let (answer, closed) = read_until_closed(&mut socket, Duration::from_secs(20)).await;
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a stalled body gets 408: {answer:?}"
    );
    assert!(
        answer.contains("stalled"),
        "the answer says the body stalled: {answer:?}"
    );
    assert!(closed, "the connection is closed after the 408");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_on_every_port() {
    let app = TestStore::with_config(with_listeners(Listeners {
        idle_timeout: Duration::from_millis(500),
        header_read_timeout: Duration::from_millis(500),
        ..Listeners::default()
    }))
    .await;
    let ports = [
        ("Tempo API", app.addrs.http),
        ("OTLP/HTTP", app.addrs.otlp_http),
        ("OTLP/gRPC", app.addrs.otlp_grpc),
    ];
    for (name, addr) in ports {
        let mut silent = TcpStream::connect(addr).await.expect("connects");
        let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(20)).await;
        assert!(closed, "{name}: a connection that sends nothing is closed");
    }
    for (name, addr) in &ports[..2] {
        let mut half = TcpStream::connect(addr).await.expect("connects");
        half.write_all(b"GET /api/echo HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .await
            .expect("sends part of the headers");
        let (_, closed) = read_until_closed(&mut half, Duration::from_secs(20)).await;
        assert!(
            closed,
            "{name}: a connection whose headers never end is closed"
        );
    }
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut kept = TcpStream::connect(app.addrs.http).await.expect("connects");
    kept.write_all(b"GET /api/echo HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("sends a request");
    let (answer, closed) = read_until_closed(&mut kept, Duration::from_secs(20)).await;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "answered first: {answer:?}"
    );
    assert!(closed, "then closed when idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_over_its_connection_cap_refuses_with_503_and_a_reason() {
    let app = TestStore::with_config(with_listeners(Listeners {
        max_connections_per_port: 4,
        ..Listeners::default()
    }))
    .await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(TcpStream::connect(app.addrs.http).await.expect("connects"));
    }
    let mut extra = TcpStream::connect(app.addrs.http).await.expect("connects");
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(20)).await;
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "the fifth connection is refused: {answer:?}"
    );
    assert!(
        answer.contains("retry-after: 1"),
        "with Retry-After: {answer:?}"
    );
    assert!(
        answer.contains("4 open connections"),
        "saying why: {answer:?}"
    );
    assert!(closed, "and closed");

    // A slot that frees up is usable again.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match app.client.get(app.api("/api/echo")).send().await {
            Ok(response) if response.status() == 200 => break,
            other => assert!(
                Instant::now() < deadline,
                "a freed slot is reused: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_receiving_budget_get_503_with_retry_after() {
    let app = TestStore::with_config(StoreConfig {
        limits: dojo_store::Limits {
            max_body_bytes: 64 << 10,
            max_decompressed_bytes: 64 << 10,
            ..dojo_store::Limits::default()
        },
        listeners: Listeners {
            max_body_bytes_in_flight: 64 << 10,
            ..Listeners::default()
        },
        ..StoreConfig::default()
    })
    .await;
    // One slow client holds 60 kB of the 64 kB budget.
    let mut slow = TcpStream::connect(app.addrs.otlp_http)
        .await
        .expect("connects");
    let head = "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: 65000\r\n\r\n";
    slow.write_all(head.as_bytes()).await.expect("headers");
    slow.write_all(&vec![0u8; 60_000])
        .await
        .expect("most of a body");
    let (frontend, _) = checkout_trace(7, minutes_ago(5));
    let mut padded = frontend.clone();
    // A 10 kB export does not fit beside it.
    padded.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(10_000);
    assert!(padded.encoded_len() > 10_000);
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let response = app.post_protobuf(&padded, None).await;
        if response.status() == 503 {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "an export beyond the budget is refused, got {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    drop(slow);
    // The budget comes back when the slow client goes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.post_protobuf(&padded, None).await.status() != 200 {
        assert!(Instant::now() < deadline, "the budget is given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_that_answers_pings_is_closed_too() {
    let app = TestStore::with_config(with_listeners(Listeners {
        idle_timeout: Duration::from_millis(500),
        ..Listeners::default()
    }))
    .await;
    // A real HTTP/2 client (it answers the server's pings, as gRPC clients do), then silence.
    let socket = TcpStream::connect(app.addrs.otlp_grpc)
        .await
        .expect("connects");
    let (_send, connection) = hyper::client::conn::http2::handshake::<_, _, axum::body::Body>(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(socket),
    )
    .await
    .expect("an HTTP/2 handshake");
    let ended = tokio::time::timeout(Duration::from_secs(20), connection).await;
    assert!(
        ended.is_ok(),
        "the server closes an idle HTTP/2 connection within the deadline"
    );
}
