//! `dojo loadgen`: shoppers' journeys against the frontend at a steady rate, with a progress
//! line each second (stderr) and a summary at the end (stdout).

use std::process::ExitCode;

use anyhow::Context;
use dojo_defaults::{API_PORT, FRONTEND_PORT, OTLP_HTTP_PORT, env};
use dojo_loadgen::{LoadConfig, app, parse_duration};

use crate::shutdown::shutdown_signal;

/// Flags of `dojo loadgen`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadgenArgs {
    /// Base URL of the frontend.
    #[arg(long, env = env::FRONTEND_URL, default_value_t = format!("http://127.0.0.1:{FRONTEND_PORT}"))]
    pub target: String,
    /// Base URL of the api: one journey in five is then a visit of the shop's mobile app,
    /// which calls the api directly too. Without it, a frontend on the shop's usual port
    /// (8081) means the api beside it on 8082; the app's own spans then go to the OTLP/HTTP
    /// receiver on that host (4318) unless OTEL_EXPORTER_OTLP_ENDPOINT says otherwise.
    #[arg(long, env = env::API_URL)]
    pub api_target: Option<String>,
    /// No mobile-app visits: every journey goes through the frontend.
    #[arg(long, conflicts_with = "api_target")]
    pub no_app: bool,
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
    let target = args.target.trim_end_matches('/').to_owned();
    let api_target = if args.no_app {
        None
    } else {
        args.api_target
            .map(|url| url.trim_end_matches('/').to_owned())
            .or_else(|| api_beside(&target))
    };
    let config = LoadConfig {
        target,
        api_target,
        rate: (args.rate != 0.0).then_some(args.rate),
        concurrency: args.concurrency,
        duration: args.duration,
        learner: args.learner,
        progress: !args.quiet,
        seed: args.seed,
    };
    eprintln!(
        "loadgen: journeys against {}{} at {}, {} at once{}",
        config.target,
        config
            .api_target
            .as_deref()
            .map(|api| format!(" (and the mobile app's visits to {api})"))
            .unwrap_or_default(),
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
        Some(api) => {
            let shop_receiver = otlp_receiver_beside(api);
            let mut telemetry =
                dojo_telemetry::TelemetryConfig::from_lookup(app::APP_SERVICE, |name| {
                    let set = std::env::var(name).ok();
                    if name == env::OTEL_EXPORTER_OTLP_ENDPOINT
                        && set.is_none()
                        && uses_default_receiver()
                    {
                        return shop_receiver.clone();
                    }
                    set
                })?;
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

/// The api beside a frontend on the shop's usual port: same scheme and host, the api's port.
fn api_beside(frontend: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(frontend).ok()?;
    if url.port_or_known_default() != Some(FRONTEND_PORT) {
        return None;
    }
    url.set_port(Some(API_PORT)).ok()?;
    Some(url.as_str().trim_end_matches('/').to_owned())
}

/// The shop's OTLP/HTTP receiver on the api's host (the embedded store beside `dojo up`'s
/// services, or a collector there).
fn otlp_receiver_beside(api: &str) -> Option<String> {
    let url = reqwest::Url::parse(api).ok()?;
    // An IPv6 host comes in brackets, as a URL writes it.
    let host = url.host_str()?;
    Some(format!("http://{host}:{OTLP_HTTP_PORT}"))
}

/// Whether nothing else names where the app's spans go: no platform endpoint, and OTLP over
/// HTTP (the receiver beside the api speaks HTTP on its usual port).
fn uses_default_receiver() -> bool {
    let unset = |name: &str| std::env::var(name).map_or(true, |v| v.trim().is_empty());
    unset(env::TEMPO_OTLP_HTTP_ENDPOINT)
        && std::env::var(env::OTEL_EXPORTER_OTLP_PROTOCOL).map_or(true, |p| {
            p.trim().is_empty() || p.trim().starts_with("http/")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frontend_on_its_usual_port_has_the_api_beside_it() {
        assert_eq!(
            api_beside("http://shop.example:8081").as_deref(),
            Some("http://shop.example:8082")
        );
        assert_eq!(
            api_beside("http://10.0.0.5:8081/").as_deref(),
            Some("http://10.0.0.5:8082")
        );
        // Another layout: nothing is guessed.
        assert_eq!(api_beside("http://shop.example:9000"), None);
        assert_eq!(api_beside("https://shop.example"), None);
        assert_eq!(api_beside("not a url"), None);
    }

    #[test]
    fn the_apps_spans_go_to_the_receiver_on_the_apis_host() {
        assert_eq!(
            otlp_receiver_beside("http://shop.example:8082").as_deref(),
            Some("http://shop.example:4318")
        );
        assert_eq!(
            otlp_receiver_beside("http://[::1]:8082").as_deref(),
            Some("http://[::1]:4318")
        );
        assert_eq!(otlp_receiver_beside("garbage"), None);
    }
}
