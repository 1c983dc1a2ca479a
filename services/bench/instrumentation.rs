//! The cost of instrumentation: the checkout journey through the real shop (three `dojo
//! service` processes) with tracing off, on (100% sampling, exporting to a local OTLP
//! receiver), and on with no collector listening — side by side, in one run, alternating
//! rounds so machine noise hits every mode alike.
//!
//! Run with `cargo bench -p dojo --bench instrumentation` (add `-- --seconds 20 --rounds 3`
//! to change the length). Prints a markdown table for BENCHMARKS.md.

use std::process::Stdio;
use std::time::Duration;

use dojo_loadgen::{LoadConfig, Summary};
use dojo_testkit::otlp::OtlpReceiver;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One way of running the shop.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Off,
    On,
    CollectorDown,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Off => "tracing off",
            Mode::On => "tracing on (100%, exporting)",
            Mode::CollectorDown => "tracing on, no collector",
        }
    }
}

/// What one measured run gave.
struct Figures {
    /// Spans the local receiver got during this run (tracing on only).
    spans_received: usize,
    journeys: u64,
    journeys_per_second: f64,
    checkout_p50: Duration,
    checkout_p99: Duration,
    journey_p50: Duration,
    errors: u64,
}

struct Shop {
    _processes: Vec<Child>,
    frontend: String,
    _data: std::path::PathBuf,
}

async fn start(name: &str, env: &[(String, String)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dojo"))
        .args(["service", name, "--port", "0"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting dojo service");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let first = lines
        .next_line()
        .await
        .expect("reading stdout")
        .expect("a listening line");
    let url = first
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    // Keep draining the logs so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

async fn start_shop(mode: Mode, receiver: &OtlpReceiver, closed_port: u16, round: usize) -> Shop {
    let data = std::env::temp_dir().join(format!(
        "dojo-bench-{}-{round}-{}",
        std::process::id(),
        mode.label().len()
    ));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("bench data directory");
    let mut env = vec![("RUST_LOG".to_owned(), "warn".to_owned())];
    match mode {
        Mode::Off => env.push(("OTEL_SDK_DISABLED".into(), "true".into())),
        Mode::On => {
            env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), receiver.endpoint()));
            env.push(("OTEL_TRACES_SAMPLER".into(), "always_on".into()));
        }
        Mode::CollectorDown => {
            env.push((
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                format!("http://127.0.0.1:{closed_port}"),
            ));
            env.push(("OTEL_TRACES_SAMPLER".into(), "always_on".into()));
        }
    }
    let (payments, payments_url) = start("payments", &env).await;
    let mut api_env = env.clone();
    api_env.push((
        "DATABASE_URL".into(),
        format!("sqlite://{}?mode=rwc", data.join("shop.db").display()),
    ));
    api_env.push(("PAYMENTS_URL".into(), payments_url));
    let (api, api_url) = start("api", &api_env).await;
    let mut frontend_env = env.clone();
    frontend_env.push(("API_URL".into(), api_url));
    let (frontend, frontend_url) = start("frontend", &frontend_env).await;
    Shop {
        _processes: vec![payments, api, frontend],
        frontend: frontend_url,
        _data: data,
    }
}

async fn measure(shop: &Shop, seconds: u64, concurrency: usize) -> Figures {
    let load = |duration| LoadConfig {
        target: shop.frontend.clone(),
        api_target: None,
        rate: None,
        concurrency,
        duration: Some(duration),
        learner: Some("bench".into()),
        progress: false,
        seed: 7,
    };
    // Warm up: connections, SQLite pages, allocator.
    dojo_loadgen::run(load(Duration::from_secs(2)), std::future::pending::<()>())
        .await
        .expect("warm-up");
    let summary: Summary = dojo_loadgen::run(
        load(Duration::from_secs(seconds)),
        std::future::pending::<()>(),
    )
    .await
    .expect("measured run");
    let checkout = summary.steps.get("checkout").cloned().unwrap_or_default();
    let mut journey = dojo_loadgen::stats::StepStats::default();
    for stats in summary.steps.values() {
        journey.latencies.extend(stats.latencies.iter().copied());
    }
    Figures {
        spans_received: 0,
        journeys: summary.journeys_ok + summary.journeys_failed,
        journeys_per_second: summary.journeys_per_second(),
        checkout_p50: checkout.quantile(0.5),
        checkout_p99: checkout.quantile(0.99),
        journey_p50: journey.quantile(0.5),
        errors: summary.errors(),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = arg("--seconds", 15);
    let rounds = arg("--rounds", 2) as usize;
    let concurrency = arg("--concurrency", 4) as usize;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let receiver = OtlpReceiver::start().await.expect("OTLP receiver");
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let modes = [Mode::Off, Mode::On, Mode::CollectorDown];
        let mut results: Vec<(Mode, Figures)> = Vec::new();
        for round in 0..rounds {
            for mode in modes {
                let shop = start_shop(mode, &receiver, closed_port, round).await;
                let mut figures = measure(&shop, seconds, concurrency).await;
                // Let the last batch arrive (the batch delay is 5 s) before counting.
                if mode == Mode::On {
                    tokio::time::sleep(Duration::from_secs(6)).await;
                    figures.spans_received = receiver.spans().len();
                }
                eprintln!(
                    "round {} {:<30} {:>7.1} journeys/s  checkout p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}  journeys {}  spans received {}",
                    round + 1,
                    mode.label(),
                    figures.journeys_per_second,
                    ms(figures.checkout_p50),
                    ms(figures.checkout_p99),
                    figures.errors,
                    figures.journeys,
                    figures.spans_received
                );
                results.push((mode, figures));
                drop(shop);
                receiver.clear();
            }
        }
        let mean = |mode: Mode, f: &dyn Fn(&Figures) -> f64| {
            let values: Vec<f64> = results.iter().filter(|(m, _)| *m == mode).map(|(_, fig)| f(fig)).collect();
            values.iter().sum::<f64>() / values.len().max(1) as f64
        };
        let off_tput = mean(Mode::Off, &|f| f.journeys_per_second);
        let off_p50 = mean(Mode::Off, &|f| ms(f.checkout_p50));
        println!("| mode | journeys/s | vs off | checkout p50 (ms) | Δ p50 (ms) | checkout p99 (ms) | journey-step p50 (ms) | errors |");
        println!("|---|---|---|---|---|---|---|---|");
        for mode in modes {
            let tput = mean(mode, &|f| f.journeys_per_second);
            let p50 = mean(mode, &|f| ms(f.checkout_p50));
            println!(
                "| {} | {:.1} | {:.3} | {:.2} | {:+.2} | {:.2} | {:.2} | {} |",
                mode.label(),
                tput,
                tput / off_tput,
                p50,
                p50 - off_p50,
                mean(mode, &|f| ms(f.checkout_p99)),
                mean(mode, &|f| ms(f.journey_p50)),
                results.iter().filter(|(m, _)| *m == mode).map(|(_, f)| f.errors).sum::<u64>()
            );
        }
        let spans: usize = results.iter().filter(|(m, _)| *m == Mode::On).map(|(_, f)| f.spans_received).sum();
        let journeys: u64 = results.iter().filter(|(m, _)| *m == Mode::On).map(|(_, f)| f.journeys).sum();
        println!(
            "\n{rounds} rounds × {seconds} s per mode after a 2 s warm-up, {concurrency} journeys in flight, closed loop. \
             With tracing on the local receiver got {spans} spans for {journeys} measured journeys (plus warm-up), \
             {:.1} per journey.",
            spans as f64 / journeys.max(1) as f64
        );
    });
}
