//! `dojo store`: the embedded trace store on its own — OTLP in on 4317/4318, Grafana Tempo's
//! HTTP API out on 3200 — for pointing a real collector or Grafana at it, or for running it
//! beside the rest of the lab on another machine.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use dojo_defaults::{OTLP_GRPC_PORT, OTLP_HTTP_PORT, TEMPO_HTTP_PORT};
use dojo_store::{Store, StoreConfig, StoreListeners};

/// Flags of `dojo store`.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port of the Tempo-compatible HTTP API.
    #[arg(long, default_value_t = TEMPO_HTTP_PORT)]
    http_port: u16,
    /// Port of the OTLP/HTTP receiver.
    #[arg(long, default_value_t = OTLP_HTTP_PORT)]
    otlp_http_port: u16,
    /// Port of the OTLP/gRPC receiver.
    #[arg(long, default_value_t = OTLP_GRPC_PORT)]
    otlp_grpc_port: u16,
    /// A YAML file with limits, the ingest pipeline and the metrics generator settings.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the configuration in force as YAML and exit.
    #[arg(long)]
    print_config: bool,
    /// The operator's token: with it (`Authorization: Bearer <token>`), `/metrics` and
    /// `/api/dojo/status` show every tenant; without it, only the caller's own.
    #[arg(long, env = dojo_defaults::env::ADMIN_TOKEN, hide_env_values = true)]
    admin_token: Option<String>,
    /// Keep a write-ahead log in `<data-dir>/wal` and replay it at start, so traces survive
    /// a restart; without it the store keeps traces in memory only.
    #[arg(long, env = dojo_defaults::env::DATA_DIR)]
    data_dir: Option<PathBuf>,
}

/// Runs the store until Ctrl-C or SIGTERM.
pub fn run(args: StoreArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => StoreConfig::from_file(path)?,
        None => StoreConfig::default(),
    };
    if args.print_config {
        print!("{}", config.to_yaml()?);
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::with_operator_token(config, args.admin_token.clone())
        .context("the store configuration is invalid")?;
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    runtime.block_on(async move {
        if let Some(data_dir) = &args.data_dir {
            let report = store.attach_wal(&data_dir.join("wal"), store.config().wal.clone())?;
            eprintln!("dojo store: {report}");
        }
        let listeners = StoreListeners::bind(
            SocketAddr::new(args.host, args.http_port),
            SocketAddr::new(args.host, args.otlp_http_port),
            SocketAddr::new(args.host, args.otlp_grpc_port),
        )
        .await?;
        let addrs = listeners.addrs()?;
        eprintln!(
            "dojo store: Tempo API on http://{}, OTLP/HTTP on http://{}/v1/traces, OTLP/gRPC on {}",
            addrs.http, addrs.otlp_http, addrs.otlp_grpc
        );
        eprintln!("dojo store: {}", dojo_listen::raise_fd_limit_and_describe());
        dojo_store::serve(store, listeners, crate::shutdown::shutdown_signal()).await?;
        eprintln!("dojo store: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
