//! `dojo loadgen`: shoppers' journeys against the frontend at a steady rate, with a progress
//! line each second (stderr) and a summary at the end (stdout).

use std::process::ExitCode;

use anyhow::Context;
use dojo_defaults::{FRONTEND_PORT, env};
use dojo_loadgen::{LoadConfig, app, parse_duration};

use crate::shutdown::shutdown_signal;

/// Flags of `dojo loadgen`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadgenArgs {
    /// Base URL of the frontend.
    #[arg(long, env = env::FRONTEND_URL, default_value_t = format!("http://127.0.0.1:{FRONTEND_PORT}"))]
    pub target: String,
    /// Base URL of the api: one journey in five is then a visit of the shop's mobile app,
    /// which calls the api directly too (without it, every journey goes through the frontend).
    #[arg(long, env = env::API_URL)]
    pub api_target: Option<String>,
    /// Journeys started per second; 0 runs them back to back, as fast as the concurrency allows.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Most journeys in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Stop after this long (500ms, 30s, 2m, 1h); runs until Ctrl-C when absent.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// The learner whose traffic this is: sent as `learner.id` baggage on every request.
    #[arg(long)]
    pub learner: Option<String>,
    /// Seed for the shoppers' choices, so a run can be repeated.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the load and prints the summary; exits 1 when every journey failed.
pub fn run(args: LoadgenArgs) -> anyhow::Result<ExitCode> {
    if let Some(learner) = &args.learner
        && !dojo_telemetry::propagation::is_valid_id(learner)
    {
        anyhow::bail!("--learner {learner:?}: use 1 to 64 letters, digits or ._@- characters");
    }
    let config = LoadConfig {
        target: args.target.trim_end_matches('/').to_owned(),
        api_target: args
            .api_target
            .map(|url| url.trim_end_matches('/').to_owned()),
        rate: (args.rate != 0.0).then_some(args.rate),
        concurrency: args.concurrency,
        duration: args.duration,
        learner: args.learner,
        progress: !args.quiet,
        seed: args.seed,
    };
    eprintln!(
        "loadgen: journeys against {} at {}, {} at once{}",
        config.target,
        config
            .rate
            .map_or("full speed".to_owned(), |rate| format!("{rate}/s")),
        config.concurrency,
        config
            .learner
            .as_deref()
            .map(|l| format!(", as learner {l}"))
            .unwrap_or_default()
    );
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // The mobile app's visits are traced as the app (`shop-app`), exported where the
    // OTEL_* variables say; its log lines stay quiet so the progress and summary read clearly.
    let telemetry = match &config.api_target {
        Some(_) => {
            let mut telemetry = dojo_telemetry::TelemetryConfig::from_env(app::APP_SERVICE)?;
            telemetry.service_name = app::APP_SERVICE.to_owned();
            telemetry.service_version = app::APP_VERSION.to_owned();
            telemetry.log_filter = "error".to_owned();
            // In a workshop the app's spans belong to the learner whose traffic this is, like
            // the services' spans of the same visits.
            if let Some(learner) = &config.learner {
                telemetry
                    .resource_attributes
                    .push(("learner.id".to_owned(), learner.clone()));
            }
            let _entered = runtime.enter();
            Some(dojo_telemetry::init(&telemetry)?)
        }
        None => None,
    };
    let summary = runtime.block_on(dojo_loadgen::run(config, shutdown_signal()));
    if let Some(telemetry) = telemetry {
        let _entered = runtime.enter();
        telemetry.shutdown();
    }
    let summary = summary?;
    println!("{summary}");
    let all_failed = summary.journeys_ok == 0 && summary.journeys_failed > 0;
    Ok(if all_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
