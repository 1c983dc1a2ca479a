//! Hostile connections against a running store, printed as figures (run with
//! `cargo bench -p dojo-store --bench connections`).
//!
//! Well-behaved exporters (4 OTLP/HTTP tasks and 1 OTLP/gRPC task, 500 spans a request) run
//! for a few seconds alone, then again while hostile clients hold the OTLP/HTTP port:
//!
//! - 64 stalled uploads: headers and 2 bytes of a 100 kB body, then nothing (each reconnects
//!   when the store closes it after the body-stall timeout);
//! - 64 slow uploads that trickle one byte a second, never tripping the stall timeout;
//! - 500 idle sockets that never send a byte.
//!
//! It reports both rates and their ratio (target ≥ 0.8), then the recovery: a flood that
//! fills the port's connection cap, what a well-behaved exporter gets meanwhile, and how long
//! after the flood stops (or goes quiet) exports succeed again.
//!
//! `DOJO_BENCH_SECONDS` changes the length of each measured phase (default 4).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dojo_store::config::Listeners;
use dojo_store::{Limits, Store, StoreAddrs, StoreConfig, StoreListeners};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SPANS_PER_REQUEST: usize = 500;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// One export of 500 spans (50 traces of 10), ids from `seed`.
fn export(seed: u64) -> ExportTraceServiceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let spans = (0..SPANS_PER_REQUEST as u64)
        .map(|n| {
            let trace = seed * 1_000 + n / 10;
            let mut trace_id = [0u8; 16];
            trace_id[8..].copy_from_slice(&(trace | 1 << 62).to_be_bytes());
            Span {
                trace_id: trace_id.to_vec(),
                span_id: ((trace << 8) | (n % 10) | 1 << 63).to_be_bytes().to_vec(),
                name: "GET /api/products".into(),
                kind: 2,
                start_time_unix_nano: now - 1_000_000_000,
                end_time_unix_nano: now - 990_000_000,
                attributes: vec![
                    text("http.request.method", "GET"),
                    text("http.route", "/api/products"),
                    text("url.path", "/api/products/42"),
                    text("server.address", "api.shop.local"),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "api")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Exports from 4 HTTP tasks and 1 gRPC task for `seconds`; answers spans per second and
/// how many requests were refused.
async fn well_behaved(addrs: StoreAddrs, seconds: Duration) -> (f64, usize) {
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..64).map(|k| export(k).encode_to_vec()).collect());
    let stored = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + seconds;
    let url = format!("http://{}/v1/traces", addrs.otlp_http);
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for k in 0..4 {
        let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
        let (stored, refused) = (stored.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = k;
            while Instant::now() < deadline {
                let body = bodies[n % bodies.len()].clone();
                n += 4;
                match client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        stored.fetch_add(SPANS_PER_REQUEST, Ordering::Relaxed);
                    }
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let grpc_url = format!("http://{}", addrs.otlp_grpc);
    let (grpc_stored, grpc_refused) = (stored.clone(), refused.clone());
    tasks.push(tokio::spawn(async move {
        let mut grpc = TraceServiceClient::connect(grpc_url)
            .await
            .expect("the gRPC receiver accepts");
        let mut n = 0;
        while Instant::now() < deadline {
            match grpc.export(export(1_000 + n % 64)).await {
                Ok(_) => grpc_stored.fetch_add(SPANS_PER_REQUEST, Ordering::Relaxed),
                Err(_) => grpc_refused.fetch_add(1, Ordering::Relaxed),
            };
            n += 1;
        }
    }));
    let started = Instant::now();
    for task in tasks {
        task.await.expect("an exporter task");
    }
    let elapsed = started.elapsed();
    (
        stored.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        refused.load(Ordering::Relaxed),
    )
}

const UPLOAD_HEAD: &str = "POST /v1/traces HTTP/1.1\r\nhost: store\r\ncontent-type: application/x-protobuf\r\ncontent-length: 100000\r\n\r\n";

/// Connects, retrying every 100 ms while the port refuses.
async fn connect(addr: SocketAddr) -> TcpStream {
    loop {
        match TcpStream::connect(addr).await {
            Ok(socket) => return socket,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Starts the hostile clients; they run until `stop` is set.
fn hostile(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for _ in 0..64 {
        // Stalled: headers and 2 bytes, then silence; again when the store hangs up.
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut socket = connect(addr).await;
                let _ = socket.write_all(UPLOAD_HEAD.as_bytes()).await;
                let _ = socket.write_all(b"xx").await;
                let mut buf = [0u8; 1024];
                loop {
                    tokio::select! {
                        read = tokio::io::AsyncReadExt::read(&mut socket, &mut buf) => {
                            if matches!(read, Ok(0) | Err(_)) { break; }
                        }
                        () = tokio::time::sleep(Duration::from_millis(200)) => {
                            if stop.load(Ordering::Relaxed) { return; }
                        }
                    }
                }
            }
        }));
    }
    for _ in 0..64 {
        // Slow: one byte a second, forever.
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut socket = connect(addr).await;
                if socket.write_all(UPLOAD_HEAD.as_bytes()).await.is_err() {
                    continue;
                }
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if socket.write_all(b"x").await.is_err() {
                        break;
                    }
                }
            }
        }));
    }
    let idle_stop = stop.clone();
    tasks.push(tokio::spawn(async move {
        let mut idle = Vec::new();
        for _ in 0..500 {
            if let Ok(socket) = TcpStream::connect(addr).await {
                idle.push(socket);
            }
        }
        while !idle_stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }));
    tasks
}

async fn start(config: StoreConfig) -> (StoreAddrs, tokio::sync::oneshot::Sender<()>) {
    let store = Store::new(config).expect("a valid configuration");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("a literal address");
    let listeners = StoreListeners::bind(any, any, any).await.expect("bind");
    let addrs = listeners.addrs().expect("addresses");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(dojo_store::serve(store, listeners, async move {
        let _ = stopped.await;
    }));
    (addrs, stop)
}

/// Posts one small export; true when it was stored.
async fn one_export(client: &reqwest::Client, addrs: StoreAddrs) -> bool {
    client
        .post(format!("http://{}/v1/traces", addrs.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(export(9_999).encode_to_vec())
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// Polls until an export succeeds; answers how long that took.
async fn until_an_export_succeeds(client: &reqwest::Client, addrs: StoreAddrs) -> Duration {
    let started = Instant::now();
    while !one_export(client, addrs).await {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

async fn throughput(seconds: Duration) {
    println!("\n## 1. Well-behaved ingest while 64 uploads stall, 64 trickle and 500 sockets idle");
    let (addrs, _stop) = start(StoreConfig {
        limits: Limits {
            // Steady state: older traces are evicted in both phases alike.
            max_spans_per_tenant: 300_000,
            ..Limits::default()
        },
        ..StoreConfig::default()
    })
    .await;
    let _ = well_behaved(addrs, Duration::from_secs(1)).await; // warm-up
    let (alone, refused_alone) = well_behaved(addrs, seconds).await;
    let stop = Arc::new(AtomicBool::new(false));
    let attackers = hostile(addrs.otlp_http, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (loaded, refused_loaded) = well_behaved(addrs, seconds).await;
    stop.store(true, Ordering::Relaxed);
    for task in attackers {
        let _ = task.await;
    }
    println!("| phase | spans/s | refused requests |");
    println!("|---|---|---|");
    println!("| alone | {alone:.0} | {refused_alone} |");
    println!("| with the hostile clients | {loaded:.0} | {refused_loaded} |");
    println!(
        "ratio loaded ÷ alone: **{:.2}** (target ≥ 0.8)",
        loaded / alone
    );
}

async fn recovery() {
    println!("\n## 2. Recovery from a connection flood (cap 1,024, idle timeout 5 s)");
    let (addrs, _stop) = start(StoreConfig {
        listeners: Listeners {
            idle_timeout: Duration::from_secs(5),
            ..Listeners::default()
        },
        ..StoreConfig::default()
    })
    .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let cap = Listeners::default().max_connections_per_port;
    // The flood: more sockets than the cap, all silent.
    let mut flood = Vec::new();
    for _ in 0..cap + 64 {
        if let Ok(socket) = TcpStream::connect(addrs.otlp_http).await {
            flood.push(socket);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = 0;
    for _ in 0..10 {
        if !one_export(&client, addrs).await {
            refused += 1;
        }
    }
    println!("| what | figure |");
    println!("|---|---|");
    println!(
        "| exports refused (503) while {} silent sockets are open | {refused} of 10 |",
        flood.len()
    );
    let quiet = until_an_export_succeeds(&client, addrs).await;
    println!(
        "| flood sockets left open but silent: first export stored after | {:.2} s (the idle timeout closes them) |",
        quiet.as_secs_f64()
    );
    drop(flood);
    // A second flood, this time closed by the attacker.
    let mut flood = Vec::new();
    for _ in 0..cap + 64 {
        if let Ok(socket) = TcpStream::connect(addrs.otlp_http).await {
            flood.push(socket);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(flood);
    let closed = until_an_export_succeeds(&client, addrs).await;
    println!(
        "| flood closed by the attacker: first export stored after | {:.0} ms |",
        closed.as_secs_f64() * 1000.0
    );
}

fn main() {
    let limit = dojo_listen::raise_fd_limit_and_describe();
    println!("# Hostile connections ({limit})");
    let seconds = std::env::var("DOJO_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(4));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        throughput(seconds).await;
        recovery().await;
    });
}
