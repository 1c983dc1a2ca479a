//! Benchmarks of the TraceQL engine: parsing typical queries, and searching 1,000,000 spans in
//! 100,000 traces (single-threaded) with a simple attribute filter, a duration filter, a
//! structural query and a `count()` pipeline. Target: the simple filter under 50 ms.
//!
//! Run with `cargo bench -p dojo-traceql --bench engine`; figures go to BENCHMARKS.md.

use criterion::{Criterion, criterion_group};
use dojo_traceql::model::*;
use dojo_traceql::{EvalBudget, SearchOptions, parse, search};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const TRACES: usize = 100_000;
const SPANS_PER_TRACE: usize = 10;

/// 100,000 traces shaped like the sample app's: frontend → api → database / payments.
fn traces() -> Vec<Trace> {
    let services: Vec<Arc<Resource>> = ["frontend", "api", "database", "payments"]
        .iter()
        .map(|s| {
            Arc::new(Resource {
                attributes: vec![KeyValue::new("service.name", Value::str(*s))],
            })
        })
        .collect();
    let scope = Arc::new(Scope::default());
    let names: Vec<Arc<str>> = [
        "GET /checkout",
        "POST /orders",
        "SELECT orders",
        "charge",
        "render",
    ]
    .iter()
    .map(|s| Arc::from(*s))
    .collect();
    let method_key: Arc<str> = Arc::from("http.method");
    let status_key: Arc<str> = Arc::from("http.status_code");
    let methods = [Value::str("GET"), Value::str("POST")];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (0..TRACES)
        .map(|t| {
            let mut id = [0u8; 16];
            id[8..].copy_from_slice(&(t as u64 + 1).to_be_bytes());
            let start = 1_700_000_000_000_000_000u64 + t as u64 * 1_000_000;
            let spans = (0..SPANS_PER_TRACE)
                .map(|i| {
                    let r = next();
                    let parent = if i == 0 {
                        None
                    } else {
                        Some(SpanId(((i as u64 - 1) / 2 + 1).to_be_bytes()))
                    };
                    let duration = 1_000_000 + r % 1_000_000_000;
                    Span {
                        span_id: SpanId((i as u64 + 1).to_be_bytes()),
                        parent_span_id: parent,
                        name: names[i % names.len()].clone(),
                        kind: if i % 2 == 0 {
                            SpanKind::Server
                        } else {
                            SpanKind::Client
                        },
                        status: if r % 50 == 0 {
                            StatusCode::Error
                        } else {
                            StatusCode::Unset
                        },
                        start_unix_nanos: start + i as u64 * 1000,
                        end_unix_nanos: start + i as u64 * 1000 + duration,
                        attributes: vec![
                            KeyValue {
                                key: method_key.clone(),
                                value: methods[(r >> 8) as usize % 2].clone(),
                            },
                            KeyValue {
                                key: status_key.clone(),
                                value: Value::Int(if r % 50 == 0 { 500 } else { 200 }),
                            },
                        ],
                        resource: services[(i * 3 / SPANS_PER_TRACE).min(3)].clone(),
                        scope: scope.clone(),
                        ..Span::default()
                    }
                })
                .collect();
            Trace {
                trace_id: TraceId(id),
                spans,
            }
        })
        .collect()
}

/// The searches measured, by name.
const QUERIES: [(&str, &str); 5] = [
    ("simple attribute filter", "{ span.http.status_code = 500 }"),
    (
        "simple filter matching most traces",
        "{ span.http.method = \"POST\" }",
    ),
    ("duration filter", "{ duration > 900ms }"),
    (
        "structural",
        "{ resource.service.name = \"frontend\" } >> { status = error }",
    ),
    ("count pipeline", "{ kind = client } | count() > 4"),
];

fn parsing(c: &mut Criterion) {
    let queries = [
        "{ resource.service.name = \"api\" && status = error }",
        "{ span.http.route =~ \"/api/.*\" && duration > 500ms } | count() > 2",
        "{ resource.service.name = \"frontend\" } >> { resource.service.name = \"payments\" && status = error }",
        "{ } | by(resource.service.name) | avg(duration) > 1s | select(span.http.method)",
        "{ status = error } | rate() by (resource.service.name) | topk(5)",
    ];
    c.bench_function("parse 5 typical queries", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(parse(black_box(q)).ok());
            }
        })
    });
}

fn searching(c: &mut Criterion) {
    let data = traces();
    let opts = SearchOptions {
        budget: EvalBudget::unlimited(),
        ..SearchOptions::default()
    };
    let mut group = c.benchmark_group("search 1M spans in 100k traces");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.warm_up_time(Duration::from_secs(1));
    for (name, query) in QUERIES {
        let q = parse(query).expect("benchmark queries are valid");
        group.bench_function(name, |b| {
            b.iter(|| black_box(search(&q, data.iter(), &opts).map(|r| r.len())))
        });
    }
    group.finish();
}

/// CPU seconds this thread has used (user + system), from /proc: on a shared machine wall
/// time includes waiting for a core, CPU time does not. Linux reports it in 1/100 s ticks.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Prints the CPU time per search, averaged over enough runs to outweigh the tick size.
fn cpu_time_report() {
    let data = traces();
    let opts = SearchOptions {
        budget: EvalBudget::unlimited(),
        ..SearchOptions::default()
    };
    println!(
        "CPU time per search over {} spans in {TRACES} traces (single thread):",
        TRACES * SPANS_PER_TRACE
    );
    for (name, query) in QUERIES {
        let q = parse(query).expect("benchmark queries are valid");
        let runs = 20;
        let wall = std::time::Instant::now();
        let Some(before) = thread_cpu_seconds() else {
            return;
        };
        for _ in 0..runs {
            black_box(search(&q, data.iter(), &opts).map(|r| r.len()).ok());
        }
        let Some(after) = thread_cpu_seconds() else {
            return;
        };
        println!(
            "  {name:<36} {:>7.1} ms CPU ({:>7.1} ms wall)",
            (after - before) * 1000.0 / f64::from(runs),
            wall.elapsed().as_secs_f64() * 1000.0 / f64::from(runs)
        );
    }
}

criterion_group!(benches, parsing, searching);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    cpu_time_report();
}
