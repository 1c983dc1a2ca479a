//! `dojo serve`: the course, the grader and the embedded trace store, without the sample app
//! (which runs elsewhere: in compose or Kubernetes, pointed at a real Tempo with `--tempo-url`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use dojo_defaults::{
    API_PORT, DOJO_PORT, FRONTEND_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT, PAYMENTS_PORT,
    TEMPO_HTTP_PORT, env,
};
use dojo_grader::backend::tempo::TempoConfig;

use crate::logbook::LogBook;
use crate::server::{Server, ServerOptions};
use crate::shutdown::shutdown_signal;

/// The flags the server shares between `dojo serve` and `dojo up`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Course site, grader API and instructor pages.
    #[arg(long, default_value_t = DOJO_PORT)]
    pub port: u16,
    /// Tempo-compatible HTTP API of the embedded trace store.
    #[arg(long, default_value_t = TEMPO_HTTP_PORT)]
    pub tempo_port: u16,
    #[arg(long, default_value_t = OTLP_GRPC_PORT)]
    pub otlp_grpc_port: u16,
    #[arg(long, default_value_t = OTLP_HTTP_PORT)]
    pub otlp_http_port: u16,
    /// Use this Grafana Tempo instead of the embedded store (its query API, e.g. http://tempo:3200).
    /// TEMPO_TENANT, TEMPO_BEARER_TOKEN or TEMPO_BASIC_AUTH_USER/PASSWORD configure access.
    #[arg(long, env = env::TEMPO_URL)]
    pub tempo_url: Option<String>,
    /// The embedded store's configuration (limits, ingest pipeline) in YAML.
    #[arg(long)]
    pub store_config: Option<PathBuf>,
    /// Keep the embedded store's traces in memory only, with no write-ahead log in the data
    /// directory (they are then lost when the process stops).
    #[arg(long)]
    pub no_wal: bool,
    /// The progress database: `sqlite://…` (default: in the data directory) or `postgres://…`.
    /// Under `dojo up` the shop's api uses it too when it is PostgreSQL.
    #[arg(long = "database-url", env = env::DATABASE_URL)]
    pub progress_database_url: Option<String>,
    /// The labs folder.
    #[arg(long, default_value = "labs")]
    pub labs: PathBuf,
    /// The lessons folder.
    #[arg(long, default_value = "content")]
    pub content: PathBuf,
    /// The token that opens the instructor pages (without one they stay closed).
    #[arg(long, env = env::INSTRUCTOR_TOKEN, hide_env_values = true)]
    pub instructor_token: Option<String>,
    /// Workshop mode: learners must give this code to join.
    #[arg(long)]
    pub workshop_code: Option<String>,
    /// With --workshop-code: keep each joined learner's variant of this lab's fault scenario on
    /// in the shared sample app, scoped to their traffic (`dojo loadgen --learner <id>`).
    #[arg(long = "workshop-lab")]
    pub workshop_lab: Option<String>,
    /// Guards the sample services' fault admin APIs.
    #[arg(long, env = env::ADMIN_TOKEN, hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The course's address as learners reach it, behind a reverse proxy
    /// (https://dojo.example.org): with https, every cookie is Secure.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Multiplies the phases of alert exercises' gradings (tests shorten them).
    #[arg(long, env = env::ALERT_TIME_SCALE, default_value_t = 1.0, hide = true)]
    pub alert_time_scale: f64,
}

impl ServerArgs {
    /// The server's options, listening on `host`, with its data under `data_dir`.
    pub fn options(
        &self,
        host: &str,
        data_dir: &Path,
        services: Vec<(String, String)>,
    ) -> anyhow::Result<ServerOptions> {
        let addr = |port: u16| -> anyhow::Result<SocketAddr> {
            format!("{host}:{port}")
                .parse()
                .with_context(|| format!("--host {host} is not an IP address"))
        };
        let tempo = match &self.tempo_url {
            Some(url) => {
                let mut config = TempoConfig::from_lookup(|k| std::env::var(k).ok())
                    .unwrap_or_else(|| TempoConfig::new(url.clone()));
                config.url = url.clone();
                Some(config)
            }
            None => None,
        };
        let database_url = match &self.progress_database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("progress.db").display()
            ),
        };
        Ok(ServerOptions {
            web: addr(self.port)?,
            tempo_http: addr(self.tempo_port)?,
            otlp_http: addr(self.otlp_http_port)?,
            otlp_grpc: addr(self.otlp_grpc_port)?,
            tempo,
            store_config: self.store_config.clone(),
            wal_dir: (!self.no_wal).then(|| data_dir.join("wal")),
            database_url,
            labs_dir: self.labs.clone(),
            content_dir: self.content.clone(),
            instructor_token: self.instructor_token.clone(),
            workshop_code: self.workshop_code.clone(),
            services,
            admin_token: self.admin_token.clone(),
            public_url: self.public_url.clone(),
            workshop_lab: self.workshop_lab.clone(),
            solo_lab: None,
            alert_time_scale: self.alert_time_scale,
        })
    }
}

/// Flags of `dojo serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 in a container).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Where the progress database lives by default.
    #[arg(long, env = env::DATA_DIR, default_value = ".dojo")]
    pub data_dir: PathBuf,
    /// The sample app's frontend, for the instructor's fault toggles.
    #[arg(long, env = env::FRONTEND_URL, default_value_t = format!("http://127.0.0.1:{FRONTEND_PORT}"))]
    pub frontend_url: String,
    #[arg(long, env = env::API_URL, default_value_t = format!("http://127.0.0.1:{API_PORT}"))]
    pub api_url: String,
    #[arg(long, env = env::PAYMENTS_URL, default_value_t = format!("http://127.0.0.1:{PAYMENTS_PORT}"))]
    pub payments_url: String,
    /// Also the server's flags: `--port` is the course's port.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Serves until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::placeholder::refuse(&[
        (
            env::INSTRUCTOR_TOKEN,
            args.server.instructor_token.as_deref(),
        ),
        (env::ADMIN_TOKEN, args.server.admin_token.as_deref()),
    ])?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
        let services = vec![
            ("frontend".to_owned(), args.frontend_url.clone()),
            ("api".to_owned(), args.api_url.clone()),
            ("payments".to_owned(), args.payments_url.clone()),
        ];
        let options = args.server.options(&args.host, &args.data_dir, services)?;
        let server = Server::bind(options, LogBook::new(10_000)).await?;
        println!("listening on http://{}", server.addrs.web);
        println!("{}", dojo_listen::raise_fd_limit_and_describe());
        if let Some(report) = &server.replayed {
            println!("Trace store: {report}");
        }
        if let Some(store) = server.addrs.store {
            println!(
                "Tempo API on http://{}, OTLP/HTTP on {}, OTLP/gRPC on {}",
                store.http, store.otlp_http, store.otlp_grpc
            );
        }
        server.run(shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
