//! Traces that survive a restart: the store's write-ahead log under `kill -9`, with the real
//! `dojo store` and `dojo up` processes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tokio::process::{Child, Command};

use crate::helpers::{Lab, collect_output};

/// Spans per exported trace.
const SPANS_PER_TRACE: usize = 5;

/// A running `dojo store` with a data directory, killed when dropped.
struct StoreProcess {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    /// The Tempo API and the OTLP/HTTP receiver, as `host:port`.
    api: String,
    otlp: String,
}

impl StoreProcess {
    async fn start(data_dir: &Path) -> StoreProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dojo"))
            .arg("store")
            .args(["--http-port", "0", "--otlp-http-port", "0"])
            .args(["--otlp-grpc-port", "0"])
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting dojo store");
        let output = collect_output(&mut child);
        let deadline = Instant::now() + Duration::from_secs(120);
        let addresses = loop {
            let line = output
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains("Tempo API on http://"))
                .cloned();
            if let Some(line) = line {
                break line;
            }
            assert!(
                Instant::now() < deadline,
                "dojo store did not say where it listens; it printed:\n{}",
                output.lock().unwrap().join("\n")
            );
            if let Ok(Some(status)) = child.try_wait() {
                tokio::time::sleep(Duration::from_millis(300)).await;
                panic!(
                    "dojo store exited ({status}); it printed:\n{}",
                    output.lock().unwrap().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        // "dojo store: Tempo API on http://A, OTLP/HTTP on http://B/v1/traces, OTLP/gRPC on C"
        let after = |marker: &str| -> String {
            let rest = &addresses[addresses.find(marker).expect("the marker") + marker.len()..];
            rest.split([',', '/']).next().unwrap_or_default().to_owned()
        };
        StoreProcess {
            api: after("Tempo API on http://"),
            otlp: after("OTLP/HTTP on http://"),
            child,
            output,
        }
    }

    fn printed(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    async fn kill_9(&mut self) {
        self.child
            .start_kill()
            .expect("sending SIGKILL to dojo store");
        let _ = self.child.wait().await;
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as u64
}

/// A trace id that starts with a non-zero byte, so its trimmed hex is its full hex.
fn trace_id(n: u32) -> [u8; 16] {
    let mut id = [0x7au8; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// One export request: trace `n` with its spans, from the service `wal-e2e`.
fn export(n: u32) -> ExportTraceServiceRequest {
    let start = now_nanos() - 1_000_000_000;
    let spans = (0..SPANS_PER_TRACE as u8)
        .map(|i| Span {
            trace_id: trace_id(n).to_vec(),
            span_id: vec![1, 2, 3, 4, 5, 6, 7, i + 1],
            parent_span_id: if i == 0 {
                Vec::new()
            } else {
                vec![1, 2, 3, 4, 5, 6, 7, 1]
            },
            name: format!("step {i}"),
            kind: 2,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_000_000 * u64::from(i + 1),
            attributes: vec![text("wal.trace", &n.to_string())],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "wal-e2e")],
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

/// Spans in a trace-by-id JSON answer.
fn span_count(trace: &serde_json::Value) -> usize {
    trace["resourceSpans"]
        .as_array()
        .or_else(|| trace["batches"].as_array())
        .into_iter()
        .flatten()
        .flat_map(|rs| rs["scopeSpans"].as_array().into_iter().flatten())
        .map(|ss| ss["spans"].as_array().map_or(0, Vec::len))
        .sum()
}

/// The trace ids a TraceQL search finds over the last hour.
async fn search(http: &reqwest::Client, api: &str, query: &str) -> BTreeSet<String> {
    let end = now_nanos() / 1_000_000_000 + 60;
    let url = reqwest::Url::parse_with_params(
        &format!("http://{api}/api/search"),
        &[
            ("q", query),
            ("limit", "10000"),
            ("start", &(end - 3600).to_string()),
            ("end", &end.to_string()),
        ],
    )
    .expect("a search URL");
    let response = http
        .get(url)
        .send()
        .await
        .expect("the Tempo API answers a search");
    assert_eq!(response.status(), 200, "search {query}");
    let body: serde_json::Value = response.json().await.expect("a JSON search answer");
    body["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["traceID"].as_str().map(str::to_owned))
        .collect()
}

/// Every acknowledged trace is back whole, by id and by search.
async fn assert_all_back(http: &reqwest::Client, api: &str, acknowledged: &BTreeSet<String>) {
    let mut missing = Vec::new();
    for id in acknowledged {
        let response = http
            .get(format!("http://{api}/api/traces/{id}"))
            .send()
            .await
            .expect("the Tempo API answers trace by id");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if status != 200 || span_count(&body) != SPANS_PER_TRACE {
            missing.push(format!("{id}: {status}, {} span(s)", span_count(&body)));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged traces are not back whole after the restart: {:?}",
        missing.len(),
        acknowledged.len(),
        &missing[..missing.len().min(10)]
    );
    let found = search(http, api, r#"{ resource.service.name = "wal-e2e" }"#).await;
    let not_found: Vec<_> = acknowledged.difference(&found).collect();
    assert!(
        not_found.is_empty(),
        "{} acknowledged traces are not found by search after the restart, e.g. {:?}",
        not_found.len(),
        &not_found[..not_found.len().min(10)]
    );
}

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dojo-e2e-wal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The newest segment file in a log folder.
fn newest_segment(wal: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(wal)
        .expect("the store made its wal folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segments.sort();
    segments.pop().expect("at least one segment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_acknowledged_before_kill_9_of_dojo_store_are_all_back_after_restart() {
    let dir = data_dir("store");
    let mut store = StoreProcess::start(&dir).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");

    // Four clients export one trace per request, as fast as they are answered; the store is
    // killed outright while they are still sending.
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let next = Arc::new(AtomicU32::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (acknowledged, next, stop, http) = (
            acknowledged.clone(),
            next.clone(),
            stop.clone(),
            http.clone(),
        );
        let url = format!("http://{}/v1/traces", store.otlp);
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Acquire) {
                let n = next.fetch_add(1, Ordering::AcqRel);
                let sent = http
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(export(n).encode_to_vec())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        acknowledged
                            .lock()
                            .unwrap()
                            .insert(hex::encode(trace_id(n)));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(
            Instant::now() < deadline,
            "the store acknowledged only {} exports in 60 s; it printed:\n{}",
            acknowledged.lock().unwrap().len(),
            store.printed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.kill_9().await;
    stop.store(true, Ordering::Release);
    for client in clients {
        client.await.expect("a client task");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // A write cut short by a crash leaves half a record at the end of the log: the restart
    // drops it, says so, and loses nothing else.
    let segment = newest_segment(&dir.join("wal"));
    let mut torn = std::fs::read(&segment).expect("reading the newest segment");
    torn.extend_from_slice(&[200, 1, 0, 0, 9, 9, 9, 9, 1, 2, 3]);
    std::fs::write(&segment, torn).expect("tearing the newest segment");

    let store = StoreProcess::start(&dir).await;
    let printed = store.printed();
    assert!(
        printed.contains("replayed") && printed.contains("cut short"),
        "the restarted store says what it replayed and what it dropped; it printed:\n{printed}"
    );
    assert_all_back(&http, &store.api, &acknowledged).await;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_seen_before_kill_9_of_dojo_up_are_all_back_after_restart() {
    let mut lab = Lab::start(&["--load-rate", "5"]).await;
    let http = lab.http.clone();
    let api = format!("127.0.0.1:{}", lab.ports.tempo);
    // The shop's traces, as a learner would cite them: whatever search shows has been stored.
    let seen = lab
        .eventually(
            "at least 20 of the shop's traces",
            Duration::from_secs(120),
            || {
                let (http, api) = (http.clone(), api.clone());
                async move {
                    let found =
                        search(&http, &api, r#"{ resource.service.name = "frontend" }"#).await;
                    (found.len() >= 20).then_some(found)
                }
            },
        )
        .await;
    lab.child.start_kill().expect("sending SIGKILL to dojo up");
    let _ = lab.child.wait().await;

    let restarted = Lab::start_in(&lab.data_dir, &["--load-rate", "0"]).await;
    let api = format!("127.0.0.1:{}", restarted.ports.tempo);
    let printed = restarted.output.lock().unwrap().join("\n");
    assert!(
        printed.contains("Trace store: replayed"),
        "dojo up says what it replayed; it printed:\n{printed}"
    );
    let mut missing = Vec::new();
    for id in &seen {
        let (status, body) = restarted
            .get(&format!("http://{api}/api/traces/{id}"))
            .await;
        if status != 200 || !body.contains("frontend") {
            missing.push(format!("{id}: {status}"));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} traces seen before the kill are gone after the restart: {:?}",
        missing.len(),
        seen.len(),
        &missing[..missing.len().min(10)]
    );
    let found = search(&http, &api, r#"{ resource.service.name = "frontend" }"#).await;
    let not_found: Vec<_> = seen.difference(&found).collect();
    assert!(
        not_found.is_empty(),
        "traces seen before the kill are not found by search after it: {not_found:?}"
    );
    let data_dir = restarted.data_dir.clone();
    drop(restarted);
    drop(lab);
    let _ = std::fs::remove_dir_all(&data_dir);
}
