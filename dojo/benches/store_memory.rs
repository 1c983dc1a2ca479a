//! The trace store under hostile uploads and searches, measured by the resident set of a real
//! `dojo store` process (`/proc/<pid>/statm`, sampled every 10 ms), not by the allocator's
//! own counters. Run with `cargo bench -p dojo --bench store_memory`.
//!
//! 1. Lab load: `DOJO_BENCH_SPANS` realistic spans (default 300,000) from 4 clients; the
//!    resident set once it settles is the baseline.
//! 2. Hostile uploads: 8 concurrent gzip uploads of one span with 1,000,000 attributes each
//!    (a ~3 MB body), retried on 429 as an exporter does, then each of those traces read by
//!    id 3 times at once.
//! 3. Hostile searches: 10 searches `{ }` with `limit=100000` (4 at once), then 500 lab
//!    searches and metrics queries, the kind gradings run.
//! 4. The resident set once it settles again, against the baseline and the store's budget.
//!
//! `DOJO_BIN` runs another build of the dojo binary (to compare allocators, say).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

mod common;
use common::{PeakSampler, mb, now_nanos, rss, settled_rss};

const SPANS_PER_TRACE: u64 = 8;
const SPANS_PER_REQUEST: u64 = 512;

/// The running store and where it listens.
struct StoreProcess {
    child: Child,
    api: String,
    otlp: String,
}

impl Drop for StoreProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_store() -> StoreProcess {
    // DOJO_BIN runs another build of dojo (to compare allocators, say).
    let exe = std::env::var("DOJO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dojo").into());
    let mut child = Command::new(exe)
        .args([
            "store",
            "--http-port",
            "0",
            "--otlp-http-port",
            "0",
            "--otlp-grpc-port",
            "0",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the dojo binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let banner = loop {
        let line = lines
            .next()
            .expect("dojo store prints where it listens")
            .expect("stderr is text");
        if line.starts_with("dojo store: Tempo API on ") {
            break line;
        }
    };
    // Keep draining stderr so the store never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let word_after = |prefix: &str| -> String {
        let rest = &banner[banner.find(prefix).expect("the banner names it") + prefix.len()..];
        let url = rest.split([',', ' ']).next().unwrap_or("");
        let host = url.trim_start_matches("http://");
        host.split('/').next().unwrap_or("").to_string()
    };
    StoreProcess {
        api: word_after("Tempo API on "),
        otlp: word_after("OTLP/HTTP on "),
        child,
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn export(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", service)],
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

fn trace_id(n: u64) -> Vec<u8> {
    let mut id = n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes().to_vec();
    id.extend_from_slice(&(n | 1 << 63).to_be_bytes());
    id
}

/// One request of lab-like spans: `SPANS_PER_TRACE` spans per trace, HTTP attributes.
fn lab_request(first_span: u64, start: u64) -> Vec<u8> {
    let routes = ["/checkout", "/cart", "/api/orders", "/api/products"];
    let spans = (first_span..first_span + SPANS_PER_REQUEST)
        .map(|n| {
            let trace = n / SPANS_PER_TRACE;
            let index = n % SPANS_PER_TRACE;
            let begin = start + trace * 1_000_000 + index * 100_000;
            Span {
                trace_id: trace_id(trace),
                span_id: (n | 1 << 62).to_be_bytes().to_vec(),
                parent_span_id: if index == 0 {
                    Vec::new()
                } else {
                    ((n - 1) | 1 << 62).to_be_bytes().to_vec()
                },
                name: format!("GET {}", routes[(trace % 4) as usize]),
                kind: 2,
                start_time_unix_nano: begin,
                end_time_unix_nano: begin + 2_000_000 + (n % 97) * 10_000,
                attributes: vec![
                    string("http.request.method", "GET"),
                    string("http.route", routes[(trace % 4) as usize]),
                    string("server.address", "api.shop.local"),
                    string("user_agent.original", "dojo-loadgen/1.0"),
                ],
                ..Default::default()
            }
        })
        .collect();
    export("api", spans).encode_to_vec()
}

/// One span with a million attributes, gzipped: the upload of the issue (about 3 MB).
fn hostile_upload(trace: u64) -> Vec<u8> {
    let start = now_nanos() - 1_000_000_000;
    let span = Span {
        trace_id: trace_id(trace),
        span_id: vec![7; 8],
        name: "hostile".into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000,
        attributes: (0..1_000_000)
            .map(|i| KeyValue {
                key: format!("k{i}"),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(i)),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let body = export("attacker", vec![span]).encode_to_vec();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&body).expect("gzip into memory");
    gzip.finish().expect("gzip into memory")
}

/// Posts like an OTLP exporter: on 429/503 waits for Retry-After and tries again (30 times).
async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>, gzip: bool) -> u16 {
    for _ in 0..30 {
        let mut request = client
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body.clone());
        if gzip {
            request = request.header("content-encoding", "gzip");
        }
        let Ok(response) = request.send().await else {
            return 0;
        };
        let status = response.status().as_u16();
        if status != 429 && status != 503 {
            return status;
        }
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    429
}

async fn get(client: &reqwest::Client, url: String) -> (u16, usize) {
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.bytes().await.map_or(0, |b| b.len()))
        }
        Err(_) => (0, 0),
    }
}

fn main() {
    let spans: u64 = std::env::var("DOJO_BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let store = start_store();
    let pid = store.child.id();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let client = reqwest::Client::new();
    let otlp = format!("http://{}/v1/traces", store.otlp);
    let api = format!("http://{}", store.api);
    println!("dojo store pid {pid}, resident at start {}", mb(rss(pid)));

    // 1. Lab load.
    let started = Instant::now();
    let start = now_nanos() - 30 * 60 * 1_000_000_000;
    runtime.block_on(async {
        let requests = spans / SPANS_PER_REQUEST;
        let mut clients = Vec::new();
        for c in 0..4 {
            let (client, otlp) = (client.clone(), otlp.clone());
            clients.push(tokio::spawn(async move {
                for r in (c..requests).step_by(4) {
                    let body = lab_request(r * SPANS_PER_REQUEST, start);
                    assert_eq!(post(&client, &otlp, body, false).await, 200);
                }
            }));
        }
        for c in clients {
            c.await.expect("a client finished");
        }
    });
    let before = settled_rss(pid);
    println!(
        "lab load: {spans} spans in {:.1} s; resident set settled at {}",
        started.elapsed().as_secs_f64(),
        mb(before)
    );

    // 2. Hostile uploads and reads.
    let uploads: Vec<Vec<u8>> = (0..8).map(|n| hostile_upload(1_000_000 + n)).collect();
    println!("hostile upload body: {} bytes gzipped", uploads[0].len());
    let sampler = PeakSampler::start(pid);
    let started = Instant::now();
    let statuses: Vec<u16> = runtime.block_on(async {
        let tasks: Vec<_> = uploads
            .into_iter()
            .map(|body| {
                let (client, otlp) = (client.clone(), otlp.clone());
                tokio::spawn(async move { post(&client, &otlp, body, true).await })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.expect("an upload finished"));
        }
        let mut reads = Vec::new();
        for n in 0..8 {
            for _ in 0..3 {
                let (client, url) = (
                    client.clone(),
                    format!("{api}/api/traces/{}", hex::encode(trace_id(1_000_000 + n))),
                );
                reads.push(tokio::spawn(async move { get(&client, url).await }));
            }
        }
        for r in reads {
            let (status, _) = r.await.expect("a read finished");
            statuses.push(status);
        }
        statuses
    });
    let upload_peak = sampler.finish();
    let after_uploads = settled_rss(pid);
    println!(
        "hostile uploads + reads: statuses {statuses:?} in {:.1} s; peak {}, settled {}",
        started.elapsed().as_secs_f64(),
        mb(upload_peak),
        mb(after_uploads)
    );

    // 3. Hostile and lab searches.
    let sampler = PeakSampler::start(pid);
    let started = Instant::now();
    let (largest, errors) = runtime.block_on(async {
        let mut largest = 0;
        let mut errors = 0;
        for round in 0..3 {
            let batch: Vec<_> = (0..if round < 2 { 4 } else { 2 })
                .map(|_| {
                    let (client, url) = (
                        client.clone(),
                        format!("{api}/api/search?q=%7B%20%7D&limit=100000"),
                    );
                    tokio::spawn(async move { get(&client, url).await })
                })
                .collect();
            for b in batch {
                let (status, size) = b.await.expect("a search finished");
                largest = largest.max(size);
                errors += usize::from(status != 200);
            }
        }
        let lab_queries = [
            "%7B%20span.http.route%20%3D%20%22%2Fcheckout%22%20%7D",
            "%7B%20duration%20%3E%202ms%20%7D",
            "%7B%20name%20%3D%20%22GET%20%2Fcart%22%20%7D%20%7C%20count()%20%3E%202",
            "%7B%20resource.service.name%20%3D%20%22api%22%20%7D%20%3E%3E%20%7B%20%7D",
        ];
        for i in 0..500 {
            let url = if i % 10 == 9 {
                format!("{api}/api/metrics/query_range?q=%7B%20%7D%20%7C%20rate()&since=1h")
            } else {
                format!(
                    "{api}/api/search?q={}&limit=100&spss=10",
                    lab_queries[i % lab_queries.len()]
                )
            };
            let (status, _) = get(&client, url).await;
            errors += usize::from(status != 200);
        }
        (largest, errors)
    });
    let search_peak = sampler.finish();
    let after = settled_rss(pid);
    println!(
        "hostile + 500 lab searches: {:.1} s, {errors} errors, largest answer {} bytes; peak {}, settled {}",
        started.elapsed().as_secs_f64(),
        largest,
        mb(search_peak),
        mb(after)
    );

    let status: serde_json::Value = runtime.block_on(async {
        client
            .get(format!("{api}/api/dojo/status"))
            .send()
            .await
            .expect("status answers")
            .json()
            .await
            .expect("status is JSON")
    });
    let budget = status["limits"]["maxBytesTotal"].as_u64().unwrap_or(0);
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| stored (estimated bytes) | {} |",
        mb(status["store"]["bytes"].as_u64().unwrap_or(0))
    );
    println!("| store budget (budget.max_bytes_total) | {} |", mb(budget));
    println!("| resident after the lab load (before) | {} |", mb(before));
    println!(
        "| peak during hostile uploads and reads | {} |",
        mb(upload_peak)
    );
    println!(
        "| peak during hostile and lab searches | {} |",
        mb(search_peak)
    );
    println!("| resident after everything (after) | {} |", mb(after));
    println!(
        "| after ÷ before | {:.2}× (target ≤ 1.5×) |",
        after as f64 / before.max(1) as f64
    );
    println!(
        "| peak within the budget | {} |",
        upload_peak.max(search_peak) <= budget
    );
}
