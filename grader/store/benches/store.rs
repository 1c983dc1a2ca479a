//! Trace-store benchmarks, printed as figures (run with `cargo bench -p dojo-store`).
//!
//! 1. OTLP/HTTP protobuf ingest on one thread (decode + convert + pipeline + metrics + store)
//!    against merely decoding the same request bodies, in the same run: the ratio of the two
//!    rates (target ≥ 0.5) and the sustained ingest rate (target ≥ 100,000 spans/s).
//! 2. The same bodies posted over real HTTP to a running store (client on the same machine).
//! 3. Search and metrics latency over 1,000,000 stored spans.
//! 4. Memory per stored span (resident set growth while storing the million spans).
//!
//! `DOJO_BENCH_SPANS` changes the size of the large store (default 1,000,000).

use std::time::{Duration, Instant};

use dojo_store::queries::{SearchKind, SearchRequest};

use dojo_store::{Store, TenantId};
use dojo_traceql::EvalBudget;
use dojo_traceql::metrics::MetricsWindow;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

#[allow(dead_code)]
mod common;
use common::{
    SPANS_PER_REQUEST, SPANS_PER_TRACE, big_config, now_nanos, post_all, rate, requests, rss_bytes,
    serve_on_port_0,
};

fn ingest_vs_decode() {
    println!("## 1. OTLP/HTTP protobuf ingest vs decode only (one thread)");
    let spans = 200_000;
    let bodies: Vec<Vec<u8>> = requests(1, spans, now_nanos() - 600_000_000_000)
        .iter()
        .map(Message::encode_to_vec)
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "bodies: {} requests of {SPANS_PER_REQUEST} spans, {:.1} MB, {:.0} bytes/span on the wire",
        bodies.len(),
        bytes as f64 / 1e6,
        bytes as f64 / spans as f64
    );
    let mut best_decode = Duration::MAX;
    let mut best_convert = Duration::MAX;
    let mut best_ingest = Duration::MAX;
    for round in 0..3 {
        let t = Instant::now();
        let mut decoded = 0;
        for body in &bodies {
            let request =
                ExportTraceServiceRequest::decode(body.as_slice()).expect("valid protobuf");
            decoded += request.resource_spans.len();
            std::hint::black_box(request);
        }
        std::hint::black_box(decoded);
        best_decode = best_decode.min(t.elapsed());

        let t = Instant::now();
        for body in &bodies {
            let request =
                ExportTraceServiceRequest::decode(body.as_slice()).expect("valid protobuf");
            std::hint::black_box(dojo_store::otlp::convert::convert_request(request));
        }
        best_convert = best_convert.min(t.elapsed());

        let store = Store::new(big_config(spans)).expect("valid config");
        let tenant = TenantId::default_tenant();
        let t = Instant::now();
        for body in &bodies {
            let request =
                ExportTraceServiceRequest::decode(body.as_slice()).expect("valid protobuf");
            store.ingest(&tenant, request).expect("ingest succeeds");
        }
        let elapsed = t.elapsed();
        best_ingest = best_ingest.min(elapsed);
        assert_eq!(
            store.status()[0].spans,
            spans,
            "round {round}: every span stored"
        );
    }
    let decode_rate = rate(spans, best_decode);
    let ingest_rate = rate(spans, best_ingest);
    println!(
        "decode only:  {:>10.0} spans/s ({:.1} ms for {spans} spans)",
        decode_rate,
        best_decode.as_secs_f64() * 1e3
    );
    println!(
        "decode + convert to the trace model: {:>10.0} spans/s",
        rate(spans, best_convert)
    );
    println!(
        "full ingest:  {:>10.0} spans/s ({:.1} ms) — decode, convert, pipeline (default scrub + hash), metrics generator, store",
        ingest_rate,
        best_ingest.as_secs_f64() * 1e3
    );
    println!(
        "ratio ingest/decode: {:.2} (target >= 0.5)",
        ingest_rate / decode_rate
    );
    println!(
        "sustained on one core: {:.0} spans/s (target >= 100000)",
        ingest_rate
    );
}

async fn http_ingest() {
    println!("\n## 2. OTLP/HTTP over loopback (4 client tasks on the same 2 cores)");
    let spans = 200_000;
    let bodies: Vec<Vec<u8>> = requests(1, spans, now_nanos() - 600_000_000_000)
        .iter()
        .map(Message::encode_to_vec)
        .collect();
    let store = Store::new(big_config(spans)).expect("valid config");
    let (url, stop) = serve_on_port_0(&store).await;
    let bodies = std::sync::Arc::new(bodies);
    let t = Instant::now();
    post_all(&url, bodies.clone(), 4).await;
    let elapsed = t.elapsed();
    assert_eq!(store.status()[0].spans, spans);
    println!(
        "end to end:   {:>10.0} spans/s ({:.1} ms for {spans} spans, client included)",
        rate(spans, elapsed),
        elapsed.as_secs_f64() * 1e3
    );
    let _ = stop.send(());
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "{label:<78} median {:>8.1} ms  (min {:.1})",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

fn large_store() {
    let spans: usize = std::env::var("DOJO_BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "\n## 3. Queries over {spans} stored spans ({} traces)",
        spans / SPANS_PER_TRACE
    );
    let start = now_nanos() - 1_800_000_000_000;
    let store = Store::new(big_config(spans)).expect("valid config");
    let tenant = TenantId::default_tenant();
    let before = rss_bytes();
    let mut first = 1;
    let chunk = 100_000;
    let t = Instant::now();
    while first < 1 + (spans / SPANS_PER_TRACE) as u64 {
        let bodies: Vec<Vec<u8>> = requests(first, chunk.min(spans), start)
            .iter()
            .map(Message::encode_to_vec)
            .collect();
        for body in &bodies {
            store
                .ingest(
                    &tenant,
                    ExportTraceServiceRequest::decode(body.as_slice()).expect("valid"),
                )
                .expect("ingest");
        }
        first += (chunk / SPANS_PER_TRACE) as u64;
    }
    let load = t.elapsed();
    let after = rss_bytes();
    let status = &store.status()[0];
    println!(
        "loaded {} spans in {:.1} s ({:.0} spans/s including building the requests)",
        status.spans,
        load.as_secs_f64(),
        rate(status.spans, load)
    );
    let searches = [
        "{ resource.service.name = \"api\" && status = error }",
        "{ duration > 5ms }",
        "{ span.http.route = \"/cart\" && span.http.response.status_code >= 500 }",
        "{ kind = server } >> { span.db.system = \"sqlite\" }",
        "{ } | count() > 9",
    ];
    for q in searches {
        let request = SearchRequest {
            query: SearchKind::TraceQl(q.to_string()),
            limit: 20,
            spans_per_spanset: 3,
            range: None,
        };
        time(&format!("search {q}"), 5, || {
            store.search(&tenant, &request).expect("search runs")
        });
    }
    let end = now_nanos();
    let metrics_query = "{ kind = server } | rate() by (resource.service.name)";
    let metrics = MetricsWindow {
        start_nanos: (end - 3_600_000_000_000) / 60_000_000_000 * 60_000_000_000,
        end_nanos: end.div_ceil(60_000_000_000) * 60_000_000_000,
        step_nanos: 60_000_000_000,
        max_exemplars: 100,
        instant: false,
    };
    time(
        "query_range { kind = server } | rate() by (resource.service.name), 1h at 1m",
        3,
        || {
            store
                .query_metrics(&tenant, metrics_query, &metrics, &mut EvalBudget::default())
                .expect("metrics run")
        },
    );
    time("tag values of span.http.route (v2)", 3, || {
        store.tag_values(
            &tenant,
            &dojo_store::storage::query::TagRef::parse_traceql("span.http.route").expect("a tag"),
            None,
            None,
        )
    });

    println!("\n## 4. Memory");
    println!(
        "resident set grew {:.0} MB for {} spans: {:.0} bytes per stored span (the store's own estimate: {:.0} bytes/span)",
        after.saturating_sub(before) as f64 / 1e6,
        status.spans,
        after.saturating_sub(before) as f64 / status.spans as f64,
        status.bytes as f64 / status.spans as f64
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let t = Instant::now();
    ingest_vs_decode();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(http_ingest());
    drop(runtime);
    large_store();
    println!("\ntotal bench time {:.0} s", t.elapsed().as_secs_f64());
}
