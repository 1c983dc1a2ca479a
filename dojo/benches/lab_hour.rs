//! An hour of the lab, compressed in time, measured by the resident set of the real `dojo up`
//! process (the course, the grader and the embedded store; `/proc/<pid>/statm` sampled every
//! 10 ms). Run with `cargo bench -p dojo --bench lab_hour` (a release build of `dojo`).
//!
//! 1. `dojo up` on free ports with its load generator off, and a `dojo loadgen` beside it at
//!    `DOJO_BENCH_SPEEDUP` times the default rate (2 journeys/s; default speed-up 10) for
//!    `DOJO_BENCH_LAB_MINUTES / DOJO_BENCH_SPEEDUP` minutes (default 60 / 10 = 6), so the
//!    store receives the traffic of an hour at the default load in a tenth of the time. The
//!    resident set once it settles is **before**.
//! 2. With the default load going on, `DOJO_BENCH_GRADINGS` (default 500) gradings of Lab 2's
//!    TraceQL answers through the grader's API (each runs the answer and the reference over
//!    the lab's window) and as many searches through the Tempo API (the console's and
//!    Grafana's kind, a quarter of them metrics queries), 4 at a time.
//! 3. The load stops; the resident set once it settles is **after**. The peak is over both
//!    phases. Targets: the peak within the store's memory budget (512 MiB), after ≤ 1.5×
//!    before.
//!
//! `DOJO_BIN` runs another build of the dojo binary.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{PeakSampler, mb, now_nanos, rss, settled_rss};

/// The store's default memory budget (`budget.max_bytes_total`).
const BUDGET: u64 = 512 << 20;

/// The default load: journeys per second of `dojo up`'s load generator.
const DEFAULT_RATE: f64 = 2.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dojo_bin() -> String {
    std::env::var("DOJO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dojo").into())
}

/// Processes killed when the bench ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The ports one lab runs on, free when picked.
struct Ports {
    dojo: u16,
    frontend: u16,
    tempo: u16,
    otlp_http: u16,
    others: [u16; 4],
}

fn free_ports() -> Ports {
    let held: Vec<TcpListener> = (0..8)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    let port = |i: usize| held[i].local_addr().expect("an address").port();
    Ports {
        dojo: port(0),
        frontend: port(1),
        tempo: port(2),
        otlp_http: port(3),
        others: [port(4), port(5), port(6), port(7)],
    }
}

fn start_lab(ports: &Ports, data_dir: &std::path::Path) -> Killed {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let [api, payments, proxy, grpc] = ports.others;
    let mut child = Command::new(dojo_bin())
        .arg("up")
        .args(["--port", &ports.dojo.to_string()])
        .args(["--frontend-port", &ports.frontend.to_string()])
        .args(["--api-port", &api.to_string()])
        .args(["--payments-port", &payments.to_string()])
        .args(["--payments-proxy-port", &proxy.to_string()])
        .args(["--tempo-port", &ports.tempo.to_string()])
        .args(["--otlp-grpc-port", &grpc.to_string()])
        .args(["--otlp-http-port", &ports.otlp_http.to_string()])
        .args(["--load-rate", "0"])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--labs")
        .arg(root.join("labs"))
        .arg("--content")
        .arg(root.join("content"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dojo up starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (up_tx, up_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("The lab is up") {
                let _ = up_tx.send(());
            }
        }
    });
    let lab = Killed(child);
    up_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("dojo up says the lab is up within 5 minutes");
    lab
}

/// A `dojo loadgen` at `rate` journeys per second, its own spans going to the lab's store.
fn start_load(ports: &Ports, rate: f64, duration: Option<Duration>) -> Killed {
    let mut command = Command::new(dojo_bin());
    command
        .arg("loadgen")
        .args(["--target", &format!("http://127.0.0.1:{}", ports.frontend)])
        .args(["--rate", &rate.to_string()])
        .args([
            "--concurrency",
            &((rate * 4.0).ceil() as usize).max(8).to_string(),
        ])
        .arg("--quiet")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", ports.otlp_http),
        )
        .env("OTEL_SERVICE_NAME", "loadgen")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(duration) = duration {
        command.args(["--duration", &format!("{}s", duration.as_secs())]);
    }
    Killed(command.spawn().expect("dojo loadgen starts"))
}

/// Spans and estimated bytes the store keeps for the lab's tenant.
async fn stored(client: &reqwest::Client, tempo: u16) -> (u64, u64) {
    let status: serde_json::Value = match client
        .get(format!("http://127.0.0.1:{tempo}/api/dojo/status"))
        .send()
        .await
    {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => return (0, 0),
    };
    let tenant = &status["tenants"][0];
    (
        tenant["spans"].as_u64().unwrap_or(0),
        tenant["bytes"].as_u64().unwrap_or(0),
    )
}

/// Lab 2's exercises with a right and a wrong answer each, as learners send them.
const ANSWERS: [(&str, &str); 6] = [
    (
        "slow-db-queries",
        "{ kind = client && span.db.system != nil && duration > 500ms }",
    ),
    ("slow-db-queries", "{ duration > 500ms }"),
    (
        "failed-api-requests",
        r#"{ resource.service.name = "api" && kind = server && status = error }"#,
    ),
    ("failed-api-requests", "{ status = error }"),
    (
        "errors-under-checkout",
        r#"{ resource.service.name = "frontend" && kind = server } >> { resource.service.name = "api" && status = error }"#,
    ),
    ("user-journey", r#"{ span.user.id = "u-7" }"#),
];

/// Searches of the console's and Grafana's kind.
const SEARCHES: [&str; 4] = [
    "{ }",
    r#"{ resource.service.name = "api" && status = error }"#,
    "{ duration > 100ms }",
    r#"{ kind = server } >> { span.db.system = "sqlite" }"#,
];

/// How one grading or search went, for the tally of failures.
fn outcome(kind: &str, sent: Result<reqwest::Response, reqwest::Error>) -> Option<String> {
    match sent {
        Ok(response) if response.status() == 200 => None,
        Ok(response) => Some(format!("{kind} {}", response.status().as_u16())),
        Err(error) if error.is_timeout() => Some(format!("{kind} timed out")),
        Err(_) => Some(format!("{kind} failed to connect")),
    }
}

/// One grading or one search; what went wrong, if anything.
async fn operation(
    client: &reqwest::Client,
    ports: &Ports,
    n: usize,
    gradings: usize,
) -> Option<String> {
    let url = if n < gradings {
        let (exercise, query) = ANSWERS[n % ANSWERS.len()];
        let submit = serde_json::json!({
            "learner": "bench-learner", "lab": "traceql-querying", "exercise": exercise,
            "submission": {"query": query},
        });
        let sent = client
            .post(format!("http://127.0.0.1:{}/api/grader/submit", ports.dojo))
            .json(&submit)
            .send()
            .await;
        return outcome("grading", sent);
    } else {
        let end = now_nanos() / 1_000_000_000 + 1;
        let start = end - 3600;
        let q = SEARCHES[n % SEARCHES.len()];
        let base = format!("http://127.0.0.1:{}", ports.tempo);
        if n.is_multiple_of(4) {
            let params = [
                (
                    "q",
                    "{ kind = server } | rate() by (resource.service.name)".to_owned(),
                ),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", "60".to_owned()),
            ];
            reqwest::Url::parse_with_params(&format!("{base}/api/metrics/query_range"), &params)
        } else {
            let limit = if n.is_multiple_of(3) { "100" } else { "20" };
            let params = [
                ("q", q.to_owned()),
                ("limit", limit.to_owned()),
                ("start", start.to_string()),
                ("end", end.to_string()),
            ];
            reqwest::Url::parse_with_params(&format!("{base}/api/search"), &params)
        }
        .expect("a valid URL")
    };
    let kind = if url.path().ends_with("query_range") {
        "metrics query"
    } else {
        "search"
    };
    outcome(kind, client.get(url).send().await)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let speedup: f64 = env_or("DOJO_BENCH_SPEEDUP", 10.0);
    let lab_minutes: f64 = env_or("DOJO_BENCH_LAB_MINUTES", 60.0);
    let gradings: usize = env_or("DOJO_BENCH_GRADINGS", 500);
    let data_dir = std::env::temp_dir().join(format!("dojo-bench-lab-hour-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let ports = free_ports();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");

    let started = Instant::now();
    let lab = start_lab(&ports, &data_dir);
    let pid = lab.0.id();
    println!(
        "dojo up pid {pid} ({}), up in {:.0} s, resident {}",
        dojo_bin(),
        started.elapsed().as_secs_f64(),
        mb(rss(pid))
    );

    // 1. An hour of the default load, compressed.
    let wall = Duration::from_secs_f64(lab_minutes * 60.0 / speedup);
    println!(
        "phase 1: {lab_minutes} lab minutes at {speedup}x the default rate ({} journeys/s) for {:.0} s",
        DEFAULT_RATE * speedup,
        wall.as_secs_f64()
    );
    let sampler = PeakSampler::start(pid);
    let t = Instant::now();
    let mut fast = start_load(&ports, DEFAULT_RATE * speedup, Some(wall));
    let _ = fast.0.wait();
    let loaded = t.elapsed();
    let before = settled_rss(pid);
    let (spans_before, bytes_before) = runtime.block_on(stored(&client, ports.tempo));
    println!(
        "after {:.0} s: {spans_before} spans stored ({} estimated); resident set settled at {} (before)",
        loaded.as_secs_f64(),
        mb(bytes_before),
        mb(before)
    );

    // 2. Gradings and searches beside the default load.
    let tempo = ports.tempo;
    let load = start_load(&ports, DEFAULT_RATE, None);
    let total = gradings * 2;
    let t = Instant::now();
    let failures = runtime.block_on(async {
        let _ = client
            .post(format!(
                "http://127.0.0.1:{}/api/grader/learners",
                ports.dojo
            ))
            .json(&serde_json::json!({"id": "bench-learner", "display_name": "Bench"}))
            .send()
            .await;
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ports = std::sync::Arc::new(ports);
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (client, next, ports) = (client.clone(), next.clone(), ports.clone());
                tokio::spawn(async move {
                    let mut failed = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                        if n >= total {
                            return failed;
                        }
                        if let Some(what) = operation(&client, &ports, n, gradings).await {
                            failed.push(what);
                        }
                    }
                })
            })
            .collect();
        let mut failed = std::collections::BTreeMap::<String, usize>::new();
        for worker in workers {
            for what in worker.await.expect("a worker") {
                *failed.entry(what).or_default() += 1;
            }
        }
        failed
    });
    println!(
        "phase 2: {gradings} gradings and {gradings} searches/metrics queries in {:.0} s; not answered 200: {}",
        t.elapsed().as_secs_f64(),
        if failures.is_empty() {
            "none".to_owned()
        } else {
            format!("{failures:?}")
        }
    );
    drop(load);
    let after = settled_rss(pid);
    let peak = sampler.finish();
    let (spans_after, bytes_after) = runtime.block_on(stored(&client, tempo));
    println!(
        "stored at the end: {spans_after} spans ({} estimated)",
        mb(bytes_after)
    );
    println!(
        "resident set: before {}, after {}, peak {}; budget {}",
        mb(before),
        mb(after),
        mb(peak),
        mb(BUDGET)
    );
    println!(
        "after / before = {:.2} (target <= 1.5); peak within the budget: {}",
        after as f64 / before as f64,
        if peak <= BUDGET { "yes" } else { "no" }
    );
    drop(lab);
    let _ = std::fs::remove_dir_all(&data_dir);
}
