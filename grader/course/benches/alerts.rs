//! What the continuous evaluation of alert rules costs a workshop: 50 learners with 5 rules
//! each (kept in the real progress database), every learner's traffic in their own tenant of
//! the embedded store over the lab's 15-minute live window, evaluated pass after pass exactly
//! as the course's loop does every 15 s (`alert_evaluation::evaluate_all`). Prints the CPU the
//! process spent per pass as a share of one core over the 15 s interval, and the per-rule
//! evaluation latency.
//!
//! Run with `cargo bench -p dojo-course --bench alerts`; `ALERT_BENCH_RATE` sets each
//! learner's traces per second (2 by default: a workshop where each learner runs
//! `dojo loadgen --learner` at a gentle rate) and `ALERT_BENCH_PASSES` the passes measured.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dojo_course::adapters::alerts::ProgressAlerts;
use dojo_course::adapters::grader::InProcessGrader;
use dojo_course::alert_evaluation::{CONCURRENCY, evaluate_all};
use dojo_course::alerts::{AlertStore, RuleDraft, RuleForm};
use dojo_course::backend::{LearnerId, NoFaults, NoLogs};
use dojo_course::content::Course;
use dojo_course::traces::Traces;
use dojo_course::{CourseSettings, CourseState};
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::progress::{self, Progress};
use dojo_grader::service::Grader;
use dojo_store::otlp::convert::{ConvertedBatch, IncomingSpan};
use dojo_store::{Store, StoreConfig, TenantId};
use dojo_traceql::model::{KeyValue, Resource, Span, SpanId, SpanKind, StatusCode, TraceId, Value};

const LEARNERS: usize = 50;
const RULES: [(&str, &str, &str, &str); 5] = [
    (
        "Checkout errors",
        r#"{ resource.service.name = "frontend" && name = "POST /checkout" && status = error } | rate()"#,
        "above",
        "0.05",
    ),
    (
        "Slow payments call",
        r#"{ resource.service.name = "api" && kind = client && name = "POST /pay" } | quantile_over_time(duration, .95)"#,
        "above",
        "0.8",
    ),
    (
        "Requests per service",
        "{ kind = server } | rate() by (resource.service.name)",
        "below",
        "0.1",
    ),
    (
        "Errors per service",
        "{ status = error } | count_over_time() by (resource.service.name)",
        "above",
        "3",
    ),
    (
        "Mean api time",
        r#"{ resource.service.name = "api" && kind = server } | avg_over_time(duration)"#,
        "above",
        "0.5",
    ),
];
const WINDOW: Duration = Duration::from_secs(15 * 60);
const INTERVAL: Duration = Duration::from_secs(15);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// One checkout trace as the shop sends it: frontend → api → payments, 5 spans; one in 25
/// fails in payments, one in 10 has a slow payments call.
fn checkout(
    learner: usize,
    n: u64,
    start: u64,
    resources: &[Arc<Resource>; 3],
) -> Vec<IncomingSpan> {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id[8..10].copy_from_slice(&(learner as u16).to_be_bytes());
    let trace_id = TraceId(id);
    let failed = n.is_multiple_of(25);
    let pay_ms: u64 = if n.is_multiple_of(10) {
        1200
    } else {
        40 + n % 30
    };
    let sid = |k: u8| {
        let mut s = [0u8; 8];
        s[..7].copy_from_slice(&n.to_be_bytes()[1..]);
        s[7] = k;
        SpanId(s)
    };
    let status = |error: bool| {
        if error {
            StatusCode::Error
        } else {
            StatusCode::Unset
        }
    };
    let span =
        |k: u8, parent: Option<u8>, service: usize, name: &str, kind, from: u64, ms: u64, error| {
            IncomingSpan {
                trace_id,
                span: Span {
                    span_id: sid(k),
                    parent_span_id: parent.map(sid),
                    name: name.into(),
                    kind,
                    status: status(error),
                    start_unix_nanos: start + from * 1_000_000,
                    end_unix_nanos: start + (from + ms) * 1_000_000,
                    attributes: vec![KeyValue::new("http.route", Value::str(name))],
                    resource: resources[service].clone(),
                    ..Span::default()
                },
                bytes: 400,
            }
        };
    vec![
        span(
            1,
            None,
            0,
            "POST /checkout",
            SpanKind::Server,
            0,
            pay_ms + 30,
            failed,
        ),
        span(
            2,
            Some(1),
            0,
            "POST",
            SpanKind::Client,
            2,
            pay_ms + 25,
            failed,
        ),
        span(
            3,
            Some(2),
            1,
            "POST /orders",
            SpanKind::Server,
            4,
            pay_ms + 20,
            failed,
        ),
        span(
            4,
            Some(3),
            1,
            "POST /pay",
            SpanKind::Client,
            10,
            pay_ms + 5,
            failed,
        ),
        span(
            5,
            Some(4),
            2,
            "POST /pay",
            SpanKind::Server,
            12,
            pay_ms,
            failed,
        ),
    ]
}

fn fill(store: &Store, per_second: u64) -> usize {
    let resources = ["frontend", "api", "payments"].map(|service| {
        Arc::new(Resource {
            attributes: vec![KeyValue::new("service.name", Value::str(service))],
        })
    });
    let now = now_nanos();
    let traces = WINDOW.as_secs() * per_second;
    let gap = 1_000_000_000 / per_second.max(1);
    let mut spans = 0;
    for learner in 0..LEARNERS {
        let tenant = TenantId::parse(&format!("learner-l{learner}")).expect("a tenant id");
        let mut batch = Vec::new();
        for n in 0..traces {
            let start = now - WINDOW.as_nanos() as u64 + n * gap + (learner as u64) * 7_000_000;
            batch.extend(checkout(learner, n, start, &resources));
            if batch.len() >= 5_000 || n + 1 == traces {
                spans += batch.len();
                store
                    .ingest_converted(
                        &tenant,
                        ConvertedBatch {
                            spans: std::mem::take(&mut batch),
                            ..ConvertedBatch::default()
                        },
                    )
                    .expect("the store takes the spans");
            }
        }
    }
    spans
}

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // The kernel reports in USER_HZ, 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let per_second = env_number("ALERT_BENCH_RATE", 2);
    let passes = env_number("ALERT_BENCH_PASSES", 8) as usize;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The store-wide budget is raised from its 512 MiB default so every learner keeps the
    // whole window: at 11 traces/s, 50 learners' 15 minutes estimate about 1 GB.
    let config = StoreConfig::from_yaml("budget:\n  max_bytes_total: 4294967296\n")
        .expect("a store configuration");
    let store = Store::new(config).expect("the store starts");
    store.route_by_learner();
    let started = Instant::now();
    let spans = fill(&store, per_second);
    eprintln!("stored {spans} spans in {} ms", ms(started.elapsed()));

    let progress = Progress::connect("sqlite::memory:")
        .await
        .expect("progress");
    let alerts = Arc::new(ProgressAlerts::new(progress.clone()));
    let labs = dojo_grader::spec::load_dir(&root.join("labs")).expect("labs load");
    let grader = Grader::new(
        labs,
        Arc::new(EmbeddedBackend::new(store.clone())),
        Some(progress.clone()),
    );
    let course = Course::load(&root.join("content")).expect("content loads");
    let settings = CourseSettings {
        alert_interval: INTERVAL,
        ..CourseSettings::default()
    };
    let state = CourseState::new(
        course,
        Traces::new(Arc::new(EmbeddedBackend::new(store.clone())), None),
        Arc::new(NoLogs),
        Arc::new(InProcessGrader::new(grader)),
        Arc::new(NoFaults),
        settings,
    )
    .with_alerts(alerts.clone());
    let mut rules = Vec::new();
    for learner in 0..LEARNERS {
        let id = format!("l{learner}");
        progress
            .join(&progress::LearnerId::parse(&id).expect("an id"), &id)
            .await
            .expect("joins");
        let learner = LearnerId::parse(&id).expect("an id");
        for (name, query, condition, threshold) in RULES {
            let form = RuleForm {
                name,
                query,
                condition,
                threshold,
                for_duration: "30s",
                severity: "warning",
            };
            let draft = RuleDraft::check(form, INTERVAL).expect("a valid rule");
            let saved = alerts
                .add(&learner, &draft, 10)
                .await
                .expect("stored")
                .expect("under the cap");
            rules.push((learner.clone(), saved.id));
        }
    }

    // One pass to warm up, then the measured ones.
    evaluate_all(&state).await;
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    let mut latencies = Vec::new();
    let (mut with_data, mut breaching) = (0, 0);
    for _ in 0..passes {
        let (cpu_before, wall_before) = (cpu_time(), Instant::now());
        let evaluated = evaluate_all(&state).await;
        cpu.push(cpu_time().saturating_sub(cpu_before));
        wall.push(wall_before.elapsed());
        assert_eq!(evaluated, LEARNERS * RULES.len(), "every rule is evaluated");
        for (learner, id) in &rules {
            let status = state
                .alert_status(learner, *id)
                .expect("every rule has been evaluated");
            assert!(status.paused.is_none(), "{:?}", status.paused);
            latencies.extend(status.took);
            let last = status.evaluation.last.as_ref().expect("a decision");
            with_data += usize::from(last.value.is_some());
            breaching += usize::from(last.breaching);
        }
    }
    latencies.sort();
    let cpu_per_pass = cpu.iter().sum::<Duration>() / passes as u32;
    let wall_per_pass = wall.iter().sum::<Duration>() / passes as u32;
    println!(
        "{LEARNERS} learners × {} rules, {per_second} traces/s per learner over {} min ({spans} spans), {} CPU threads, {CONCURRENCY} rules at once.\n",
        RULES.len(),
        WINDOW.as_secs() / 60,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "| passes | CPU per pass ms | share of one core at one pass / {} s | wall per pass ms | rule p50 ms | rule p99 ms | rule max ms |",
        INTERVAL.as_secs()
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {passes} | {} | {:.1} % | {} | {} | {} | {} |",
        ms(cpu_per_pass),
        cpu_per_pass.as_secs_f64() / INTERVAL.as_secs_f64() * 100.0,
        ms(wall_per_pass),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[latencies.len() - 1]),
    );
    let evaluations = passes * rules.len();
    println!(
        "\n{with_data} of {evaluations} evaluations had data, {breaching} breached (the checkout error rate and the payments p95 rules are over their thresholds on this traffic)."
    );
    assert_eq!(
        with_data, evaluations,
        "every rule reads its learner's traffic"
    );
}
