//! `dojo service frontend|api|payments`: one tier of the sample shop in this process.
//!
//! Binds the listener first and prints `listening on http://HOST:PORT` as the first line on
//! stdout (with `--port 0` that is how `dojo up` and the tests learn the port), then starts
//! telemetry (service.name is the tier's name), serves until Ctrl-C or SIGTERM, and flushes
//! the spans still queued before exiting.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use dojo_defaults::{API_PORT, FRONTEND_PORT, PAYMENTS_PORT, env};

use crate::shutdown::shutdown_signal;

mod startup;
mod supervised;

/// The tiers of the shop.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Tier {
    Frontend,
    Api,
    Payments,
}

impl Tier {
    fn name(self) -> &'static str {
        match self {
            Tier::Frontend => "frontend",
            Tier::Api => "api",
            Tier::Payments => "payments",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Tier::Frontend => FRONTEND_PORT,
            Tier::Api => API_PORT,
            Tier::Payments => PAYMENTS_PORT,
        }
    }
}

/// Flags of `dojo service`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Which tier to run.
    #[arg(value_enum)]
    pub tier: Tier,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (the tier's default when absent; 0 picks a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Run the tier under a supervisor that `dojo deploy` can roll out, with its control API
    /// on this port (in a container; the operator token is read from DOJO_CONTROL_TOKEN).
    #[arg(long)]
    pub control_port: Option<u16>,
}

/// Runs one tier until Ctrl-C or SIGTERM.
pub fn run(args: ServiceArgs) -> anyhow::Result<ExitCode> {
    let admin_token = std::env::var(env::ADMIN_TOKEN).ok();
    crate::placeholder::refuse(&[(env::ADMIN_TOKEN, admin_token.as_deref())])?;
    if let Some(control_port) = args.control_port {
        return supervised::run(supervised::Listen {
            name: args.tier.name(),
            port: args.port.unwrap_or(args.tier.default_port()),
            host: args.host,
            control_port,
        });
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let (telemetry, served) = runtime.block_on(serve(args))?;
    // Flush after the server stopped, outside the runtime: the exporter blocks while it sends.
    telemetry.shutdown();
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Serves until shutdown; the telemetry guard comes back even when serving failed, so the
/// caller can flush the spans that tell why.
async fn serve(
    args: ServiceArgs,
) -> anyhow::Result<(dojo_telemetry::TelemetryGuard, anyhow::Result<()>)> {
    let started_at = std::time::SystemTime::now();
    let name = args.tier.name();
    let port = args.port.unwrap_or(args.tier.default_port());
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), port))
        .await
        .with_context(|| {
            format!(
                "{name} cannot listen on {}:{port}; is another process using it?",
                args.host
            )
        })?;
    let address = listener.local_addr().context("reading the bound address")?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}").context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
    }
    let mut telemetry_config = dojo_telemetry::TelemetryConfig::from_env(name)?;
    // The lab's traces always name the tiers the same way, whatever the shell exports.
    telemetry_config.service_name = name.to_owned();
    let telemetry = dojo_telemetry::init(&telemetry_config)?;
    tracing::info!(service = name, address = %address, "serving");
    tracing::info!("{}", dojo_listen::raise_fd_limit_and_describe());
    if let Err(error) = startup::record(name, started_at) {
        return Ok((telemetry, Err(error)));
    }
    let served = match args.tier {
        Tier::Frontend => {
            dojo_frontend::serve(
                dojo_frontend::Config::from_env(),
                listener,
                shutdown_signal(),
            )
            .await
        }
        Tier::Api => {
            dojo_api::serve(dojo_api::Config::from_env()?, listener, shutdown_signal()).await
        }
        Tier::Payments => {
            dojo_payments::serve(
                dojo_payments::Config::from_env(),
                listener,
                shutdown_signal(),
            )
            .await
        }
    };
    if let Err(error) = &served {
        tracing::error!(error = %format!("{error:#}"), "{name} stopped");
    }
    Ok((telemetry, served))
}
