//! The write-ahead log's cost and its replay, printed as figures
//! (`cargo bench -p dojo-store --bench wal`).
//!
//! 1. Ingest on one thread with the log off, on (`fsync: periodic`) and on with
//!    `fsync: always`: the same request bodies in the same run, rounds interleaved, best of 3.
//!    The store's maintenance (which flushes the log under `periodic`) runs every 500 ms on
//!    another thread, as the server runs it, in every variant. Target: on ÷ off ≥ 0.7.
//! 2. The same bodies over real OTLP/HTTP (4 client tasks) to a served store, log off and on.
//! 3. Replay: a store with the log stores `DOJO_BENCH_SPANS` spans (default 1,000,000) and is
//!    dropped; a new store on the same folder replays them. Time, rate, size on disk.
//!
//! The log goes to a folder under the system's temporary directory (`DOJO_BENCH_DIR` changes
//! it), removed at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dojo_store::{Budget, FsyncPolicy, Store, StoreConfig, TenantId, WalConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

#[allow(dead_code)]
mod common;
use common::{SPANS_PER_REQUEST, big_config, now_nanos, post_all, rate, requests, serve_on_port_0};

/// A store that keeps everything the bench sends, within its memory.
fn config(spans: usize, fsync: FsyncPolicy) -> StoreConfig {
    StoreConfig {
        budget: Budget {
            max_bytes_total: u64::MAX / 2,
            ..Budget::default()
        },
        wal: WalConfig {
            fsync,
            ..WalConfig::default()
        },
        ..big_config(spans)
    }
}

fn fresh(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    dir.to_path_buf()
}

/// Builds a store, with its log in `dir` when one is given.
fn store(spans: usize, wal: Option<(&Path, FsyncPolicy)>) -> Store {
    let fsync = wal.map_or(FsyncPolicy::Periodic, |(_, f)| f);
    let config = config(spans, fsync);
    let store = Store::new(config.clone()).expect("a valid configuration");
    if let Some((dir, _)) = wal {
        store
            .attach_wal(&fresh(dir), config.wal)
            .expect("the bench folder is usable");
    }
    store
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// One-thread ingest of `bodies`, with the store's maintenance (which flushes the log under
/// `fsync: periodic`) every 500 ms on another thread, as the server runs it; the time taken.
fn ingest_all(store: &Store, bodies: &[Vec<u8>]) -> Duration {
    let tenant = TenantId::default_tenant();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let maintenance = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(500));
                store.run_maintenance();
            }
        })
    };
    let t = Instant::now();
    for body in bodies {
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("valid protobuf");
        store.ingest(&tenant, request).expect("ingest succeeds");
    }
    let elapsed = t.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Release);
    maintenance.join().expect("the maintenance thread");
    elapsed
}

fn one_thread(root: &Path) {
    println!("## 1. Ingest on one thread, write-ahead log off and on (same bodies, same run)");
    let spans = 200_000;
    let bodies: Vec<Vec<u8>> = requests(1, spans, now_nanos() - 600_000_000_000)
        .iter()
        .map(Message::encode_to_vec)
        .collect();
    println!(
        "{} requests of {SPANS_PER_REQUEST} spans, {:.1} MB on the wire",
        bodies.len(),
        bodies.iter().map(Vec::len).sum::<usize>() as f64 / 1e6
    );
    let dir = root.join("ingest");
    let variants: [(&str, Option<FsyncPolicy>); 3] = [
        ("log off (memory only)", None),
        (
            "log on, fsync periodic (default)",
            Some(FsyncPolicy::Periodic),
        ),
        ("log on, fsync always", Some(FsyncPolicy::Always)),
    ];
    let mut best = [Duration::MAX; 3];
    let mut on_disk = 0;
    for _round in 0..3 {
        for (k, (_, wal)) in variants.iter().enumerate() {
            let store = store(spans, wal.map(|f| (dir.as_path(), f)));
            let elapsed = ingest_all(&store, &bodies);
            assert_eq!(store.status()[0].spans, spans, "every span stored");
            best[k] = best[k].min(elapsed);
            if wal.is_some() {
                on_disk = dir_bytes(&dir);
            }
        }
    }
    let off = rate(spans, best[0]);
    for (k, (label, _)) in variants.iter().enumerate() {
        let on = rate(spans, best[k]);
        println!(
            "{label:<36} {on:>10.0} spans/s ({:.0} ms)  ratio to off {:.2}",
            best[k].as_secs_f64() * 1e3,
            on / off
        );
    }
    println!(
        "log on disk: {:.1} MB for {spans} spans, {:.0} bytes/span",
        on_disk as f64 / 1e6,
        on_disk as f64 / spans as f64
    );
    println!(
        "ratio log on (periodic) / off: {:.2} (target >= 0.7)",
        rate(spans, best[1]) / off
    );
}

async fn over_http(root: &Path) {
    println!("\n## 2. OTLP/HTTP over loopback, 4 client tasks, log off and on");
    let spans = 200_000;
    let bodies: Vec<Vec<u8>> = requests(1, spans, now_nanos() - 600_000_000_000)
        .iter()
        .map(Message::encode_to_vec)
        .collect();
    let bodies = std::sync::Arc::new(bodies);
    let dir = root.join("http");
    let mut best = [Duration::MAX; 2];
    for _round in 0..2 {
        for (k, wal) in [false, true].into_iter().enumerate() {
            let store = store(spans, wal.then_some((dir.as_path(), FsyncPolicy::Periodic)));
            let (url, stop) = serve_on_port_0(&store).await;
            let t = Instant::now();
            post_all(&url, bodies.clone(), 4).await;
            best[k] = best[k].min(t.elapsed());
            assert_eq!(store.status()[0].spans, spans);
            let _ = stop.send(());
        }
    }
    let off = rate(spans, best[0]);
    let on = rate(spans, best[1]);
    println!("log off: {off:>10.0} spans/s");
    println!("log on:  {on:>10.0} spans/s  ratio {:.2}", on / off);
}

fn replay(root: &Path) {
    let spans: usize = std::env::var("DOJO_BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!("\n## 3. Replay of {spans} spans at start");
    let dir = root.join("replay");
    let start = now_nanos() - 1_800_000_000_000;
    {
        let store = store(spans, Some((dir.as_path(), FsyncPolicy::Periodic)));
        let tenant = TenantId::default_tenant();
        let chunk = 100_000;
        let mut first = 1;
        let mut sent = 0;
        while sent < spans {
            for request in requests(first, chunk.min(spans - sent), start) {
                store.ingest(&tenant, request).expect("ingest");
            }
            sent += chunk.min(spans - sent);
            first += (chunk / common::SPANS_PER_TRACE) as u64;
        }
        store.run_maintenance();
        assert_eq!(store.status()[0].spans, spans);
    }
    let on_disk = dir_bytes(&dir);
    let config = config(spans, FsyncPolicy::Periodic);
    let store = Store::new(config.clone()).expect("a valid configuration");
    let t = Instant::now();
    let report = store.attach_wal(&dir, config.wal).expect("replay");
    let elapsed = t.elapsed();
    assert_eq!(report.spans, spans, "{report}");
    assert_eq!(store.status()[0].spans, spans);
    println!(
        "log on disk: {:.0} MB in {} segment(s), {:.0} bytes/span",
        on_disk as f64 / 1e6,
        report.segments,
        on_disk as f64 / spans as f64
    );
    println!(
        "replay: {:.2} s, {:.0} spans/s; {:.0} MB stored (the store's estimate)",
        elapsed.as_secs_f64(),
        rate(spans, elapsed),
        store.bytes_total() as f64 / 1e6
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = std::env::var_os("DOJO_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("dojo-bench-wal-{}", std::process::id()));
    let t = Instant::now();
    one_thread(&root);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(over_http(&root));
    drop(runtime);
    replay(&root);
    let _ = std::fs::remove_dir_all(&root);
    println!("\ntotal bench time {:.0} s", t.elapsed().as_secs_f64());
}
