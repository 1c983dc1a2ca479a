//! `dojo up`: the whole lab from one command.
//!
//! Starts the sample services (frontend, api, payments) and the load generator as separate
//! processes of this same binary, waits until each answers its health check, prints the URLs,
//! keeps a status line, restarts a crashed child, and stops everything cleanly on Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use dojo_defaults::{API_PORT, FRONTEND_PORT, PAYMENTS_PORT, PAYMENTS_PROXY_PORT, env};

use dojo_grader::progress::LearnerId;
use dojo_grader::scenario::{fault_plan, scenario_yaml, variant_for};
use dojo_grader::spec::types::ScriptedDeploy;

use crate::cmd::serve::ServerArgs;
use crate::server::{Server, SoloLab};
use crate::shutdown::shutdown_signal;

use crate::control;
use crate::delivery;
use crate::logbook::LogBook;
use crate::relay::Relay;
use crate::running_lab::{RunningLab, RunningLearner};
use crate::supervisor::{ChildSpec, ChildState, Supervisor};

/// How many service log lines the course can look back through.
const LOG_LINES_KEPT: usize = 200_000;
/// How long a service may take to answer its health check at start.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(90);

/// Flags of `dojo up`. Every port has the lab's default and can be changed.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Address every part listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = FRONTEND_PORT)]
    pub frontend_port: u16,
    #[arg(long, default_value_t = API_PORT)]
    pub api_port: u16,
    #[arg(long, default_value_t = PAYMENTS_PORT)]
    pub payments_port: u16,
    /// The network path from the api to payments: a TCP proxy the `payments_network` fault
    /// disturbs (the api calls payments through it).
    #[arg(long, default_value_t = PAYMENTS_PROXY_PORT)]
    pub payments_proxy_port: u16,
    /// Where the lab keeps its databases and logs.
    #[arg(long, env = env::DATA_DIR, default_value = ".dojo")]
    pub data_dir: PathBuf,
    /// A fault scenario file (YAML) to switch on at start.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// A lab whose fault scenario to switch on: the variant of the learner named by `--learner`.
    #[arg(long)]
    pub lab: Option<String>,
    /// The name you join the course with; it picks your variant of the lab's scenario.
    #[arg(long, default_value = "local")]
    pub learner: String,
    /// Requests per second of the load generator; 0 switches it off.
    #[arg(long, default_value_t = 2.0)]
    pub load_rate: f64,
    /// With `--tempo-url`: where the services send OTLP/HTTP (default: that host, port 4318).
    #[arg(long, env = env::TEMPO_OTLP_HTTP_ENDPOINT)]
    pub tempo_otlp_endpoint: Option<String>,
    /// The course, grader and trace store (`--port` is the course's).
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The relays in front of the services `dojo deploy` can roll out, and of the payments canary.
struct Relays {
    frontend: Relay,
    api: Relay,
    /// A second payments process at the next release, on a port the OS picks: the api sends
    /// it a share of the charges, so two releases of payments serve at once (a canary).
    payments_canary: Relay,
}

/// The URLs of the running lab, printed at start.
struct Urls {
    course: String,
    tempo: String,
    frontend: String,
    api: String,
    payments: String,
    /// The api reaches payments through this (the network proxy).
    payments_via_network: String,
    otlp_http: String,
}

impl Urls {
    fn new(args: &UpArgs) -> Urls {
        let at = |port: u16| format!("http://{}:{port}", args.host);
        Urls {
            course: at(args.server.port),
            tempo: match &args.server.tempo_url {
                Some(url) => url.clone(),
                None => at(args.server.tempo_port),
            },
            frontend: at(args.frontend_port),
            api: at(args.api_port),
            payments: at(args.payments_port),
            payments_via_network: at(args.payments_proxy_port),
            otlp_http: match (&args.server.tempo_url, &args.tempo_otlp_endpoint) {
                (_, Some(endpoint)) => endpoint.clone(),
                (Some(tempo), None) => otlp_beside(tempo),
                (None, None) => at(args.server.otlp_http_port),
            },
        }
    }
}

/// Tempo's OTLP/HTTP receiver on the host of its query API.
fn otlp_beside(tempo_url: &str) -> String {
    let without_scheme = tempo_url.split("://").nth(1).unwrap_or(tempo_url);
    let host = without_scheme
        .split(['/', ':'])
        .next()
        .unwrap_or("127.0.0.1");
    format!("http://{host}:{}", dojo_defaults::OTLP_HTTP_PORT)
}

/// Starts the lab and runs until Ctrl-C or SIGTERM.
pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(up(args))
}

async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    let data_dir = args
        .data_dir
        .canonicalize()
        .with_context(|| format!("finding {}", args.data_dir.display()))?;
    let urls = Urls::new(&args);
    let logbook = LogBook::new(LOG_LINES_KEPT);
    // A new lab starts from its scenario, not from the faults a previous run left on.
    match std::fs::remove_dir_all(fault_state_dir(&data_dir)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "removing the previous run's fault state {}: {error}",
                fault_state_dir(&data_dir).display()
            )
        }
        _ => {}
    }

    println!("Tracing Dojo is starting (data in {})…", data_dir.display());
    println!("{}", dojo_listen::raise_fd_limit_and_describe());
    // In the order they start: each one's dependency first.
    let services = vec![
        ("payments".to_owned(), urls.payments.clone()),
        ("api".to_owned(), urls.api.clone()),
        ("frontend".to_owned(), urls.frontend.clone()),
    ];
    let mut options = args
        .server
        .options(&args.host, &data_dir, services.clone())?;
    let workshop = args.server.workshop_code.is_some();
    if workshop && options.workshop_lab.is_none() {
        // In a workshop each learner gets their own variant, scoped to their traffic.
        options.workshop_lab = args.lab.clone();
    }
    let mut solo_scenario = None;
    let mut scripted = None;
    if let (None, Some(lab), false) = (&args.scenario, &args.lab, workshop) {
        // On a laptop the learner's variant hits all traffic, and follows them to another
        // incident when they ask for one.
        let (path, solo, deploy) = write_lab_scenario(&args, lab, &data_dir)?;
        options.solo_lab = Some(solo);
        solo_scenario = Some(path);
        scripted = deploy;
    }
    let server = Server::bind(options, logbook.clone()).await?;
    if let Some(report) = &server.replayed {
        println!("Trace store: {report}");
    }
    let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server.run(async move {
        let _ = server_stopped.await;
    }));

    let scenario = match (&args.scenario, &args.lab) {
        (Some(file), _) => Some(file.clone()),
        (None, Some(_)) if !workshop => solo_scenario,
        (None, Some(_)) => {
            println!(
                "Workshop mode: each learner who joins gets their own variant of the lab's faults."
            );
            None
        }
        (None, None) => None,
    };
    // The deployable services sit behind relays on their public ports, so a rollout can start
    // the new version beside the old one (`dojo deploy`).
    let relays = Relays {
        frontend: Relay::bind("frontend", &args.host, args.frontend_port).await?,
        api: Relay::bind("api", &args.host, args.api_port).await?,
        payments_canary: Relay::bind("payments-canary", "127.0.0.1", 0).await?,
    };
    // The change history the lab starts with, seeded by the learner; the services start as
    // the releases it last deployed.
    let history = delivery::history::history(
        LearnerId::for_name(&args.learner).as_str(),
        SystemTime::now(),
    );
    let releases = delivery::history::running_releases(&history);
    let specs = child_specs(
        &args,
        &urls,
        &data_dir,
        scenario.as_deref(),
        &relays,
        &releases,
    );
    let supervisor = Supervisor::start(specs, logbook.clone(), Some(data_dir.join("logs")))?;
    let control_token = control::write_token(&data_dir)?;
    let control = control::start(supervisor.rollouts(), control_token).await?;

    let mut health_checks = services.clone();
    health_checks.push((
        "payments canary".to_owned(),
        format!("http://{}", relays.payments_canary.address()),
    ));
    let health = wait_for_health(&health_checks);
    tokio::select! {
        result = health => {
            if let Err(error) = result {
                eprintln!("dojo: {error:#}");
                supervisor.stop().await;
                stop_server(server_stop, server_task).await;
                return Ok(ExitCode::FAILURE);
            }
        }
        _ = shutdown_signal() => {
            println!("\nStopping…");
            supervisor.stop().await;
            stop_server(server_stop, server_task).await;
            return Ok(ExitCode::SUCCESS);
        }
    }

    println!();
    println!("  Course               {}", urls.course);
    if args.server.instructor_token.is_some() {
        println!(
            "  Instructor           {}/instructor (sign in with the instructor token)",
            urls.course
        );
    }
    println!("  Shop (frontend)      {}", urls.frontend);
    println!("  api                  {}", urls.api);
    println!("  payments             {}", urls.payments);
    println!("  Tempo API            {}", urls.tempo);
    println!("  OTLP/HTTP receiver   {}/v1/traces", urls.otlp_http);
    println!("  Logs                 {}", data_dir.join("logs").display());
    println!();
    // `dojo grade` reads this to find the lab's traces and whose variant is on.
    let record = RunningLab {
        tempo_url: urls.tempo.clone(),
        course_url: urls.course.clone(),
        lab: if args.scenario.is_none() {
            args.lab.clone()
        } else {
            None
        },
        learner: (!workshop).then(|| RunningLearner {
            name: args.learner.clone(),
            id: LearnerId::for_name(&args.learner).to_string(),
        }),
        pid: std::process::id(),
        control_url: Some(format!("http://{control}")),
        otlp_http_url: Some(urls.otlp_http.clone()),
        services: services.clone(),
    };
    if let Err(error) = record.write(&data_dir) {
        eprintln!("dojo: {error:#} (`dojo grade` will need --tempo-url)");
    }
    send_history(&urls.otlp_http, &history).await;
    // The learner's variant may bring a release of its own (a bad deploy to find), made
    // through `dojo deploy` once the shop has served a while on the release before it.
    let _scripted = scripted
        .map(|deploy| tokio::spawn(crate::scripted_deploy::run_later(deploy, data_dir.clone())));
    println!("The lab is up. Press Ctrl-C to stop it.");

    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(30));
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => print_status(&supervisor, started),
            _ = shutdown_signal() => break,
        }
    }
    println!("\nStopping the lab…");
    RunningLab::remove(&data_dir);
    supervisor.stop().await;
    stop_server(server_stop, server_task).await;
    println!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Writes the fault scenario of `lab` for the learner into the data directory, for the
/// services to read at start, and returns it with what the server needs to keep it following
/// the learner's incidents. The faults are not printed: finding them is the exercise.
fn write_lab_scenario(
    args: &UpArgs,
    lab_id: &str,
    data_dir: &Path,
) -> anyhow::Result<(PathBuf, SoloLab, Option<ScriptedDeploy>)> {
    let labs = dojo_grader::spec::load_dir(&args.server.labs)
        .with_context(|| format!("loading the labs from {}", args.server.labs.display()))?;
    let Some(lab) = labs.get(lab_id) else {
        let known: Vec<String> = labs.iter().map(|lab| lab.id.clone()).collect();
        anyhow::bail!(
            "there is no lab called {lab_id:?}; the labs are: {}",
            known.join(", ")
        );
    };
    let learner = LearnerId::for_name(&args.learner);
    let plan = fault_plan(lab, std::slice::from_ref(&learner), false);
    let path = data_dir.join("scenario.yaml");
    std::fs::write(&path, scenario_yaml(&plan)?)
        .with_context(|| format!("writing {}", path.display()))?;
    if plan.is_empty() {
        println!("{}: this lab switches no faults on.", lab.title);
    } else {
        println!(
            "{}: its fault scenario is on — the variant for the learner {:?}. Join the course with that name to be graded on it.",
            lab.title, args.learner
        );
    }
    let deploy = variant_for(lab, &learner).and_then(|variant| variant.deploy.clone());
    Ok((
        path,
        SoloLab {
            lab: lab.id.clone(),
            learner,
            started_with: plan,
        },
        deploy,
    ))
}

/// Sends the seeded change history to the trace store (a failure is reported, not fatal).
async fn send_history(otlp_http: &str, runs: &[delivery::run::PipelineRun]) {
    let client = reqwest::Client::new();
    let url = delivery::otlp::traces_url(otlp_http);
    match delivery::otlp::export(&client, &url, runs, None).await {
        Ok(()) => println!(
            "  {} past pipeline runs are in the traces (the Delivery page shows them)",
            runs.len()
        ),
        Err(error) => eprintln!("dojo: the change history was not recorded: {error:#}"),
    }
}

/// Stops the in-process server after the services, so their last spans are still received.
async fn stop_server(
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let _ = stop.send(());
    match task.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("dojo: {error:#}"),
        Err(error) => eprintln!("dojo: the server task failed: {error}"),
    }
}

/// The processes of the lab, each a role of this binary.
fn child_specs(
    args: &UpArgs,
    urls: &Urls,
    data_dir: &Path,
    scenario: Option<&Path>,
    relays: &Relays,
    releases: &[(String, String, String)],
) -> Vec<ChildSpec> {
    let common = vec![
        (
            env::OTEL_EXPORTER_OTLP_ENDPOINT.to_owned(),
            urls.otlp_http.clone(),
        ),
        (
            env::OTEL_EXPORTER_OTLP_PROTOCOL.to_owned(),
            "http/protobuf".to_owned(),
        ),
        (
            env::TRACE_ENVIRONMENT.to_owned(),
            dojo_defaults::LAB_ENVIRONMENT.to_owned(),
        ),
    ];
    let service = |name: &str, port: u16, relay: Option<&Relay>, extra: Vec<(String, String)>| {
        let mut env = common.clone();
        env.push((env::OTEL_SERVICE_NAME.to_owned(), name.to_owned()));
        if let Some(scenario) = scenario {
            env.push((
                env::FAULT_SCENARIO.to_owned(),
                scenario.display().to_string(),
            ));
        }
        // The service's faults outlive its process: a rollout's new version, or a restart
        // after a crash, starts with the faults switched on at run time.
        env.push((
            env::FAULT_STATE.to_owned(),
            fault_state_dir(data_dir)
                .join(format!("{name}.json"))
                .display()
                .to_string(),
        ));
        // One path for `--admin-token` and DOJO_ADMIN_TOKEN: clap reads either into the
        // argument, and every service gets it from here.
        if let Some(token) = &args.server.admin_token {
            env.push((env::ADMIN_TOKEN.to_owned(), token.clone()));
        }
        env.extend(extra);
        if let Some((_, version, deployment)) = releases.iter().find(|(s, _, _)| s == name) {
            env.push((
                env::OTEL_RESOURCE_ATTRIBUTES.to_owned(),
                format!("service.version={version},deployment.id={deployment}"),
            ));
        }
        ChildSpec {
            name: name.to_owned(),
            args: vec![
                "service".into(),
                name.into(),
                "--host".into(),
                args.host.clone(),
                "--port".into(),
                // Behind a relay the service takes any free port and the relay follows it.
                if relay.is_some() {
                    "0".to_owned()
                } else {
                    port.to_string()
                },
            ],
            env,
            relay: relay.cloned(),
        }
    };
    let shop_db = match &args.server.progress_database_url {
        Some(url) if url.starts_with("postgres") => url.clone(),
        _ => format!("sqlite://{}?mode=rwc", data_dir.join("shop.db").display()),
    };
    let mut specs = vec![
        service(
            "payments",
            args.payments_port,
            None,
            vec![(
                env::PAYMENTS_PROXY_PORT.to_owned(),
                args.payments_proxy_port.to_string(),
            )],
        ),
        service(
            "api",
            args.api_port,
            Some(&relays.api),
            vec![
                (env::DATABASE_URL.to_owned(), shop_db),
                (
                    env::PAYMENTS_URL.to_owned(),
                    urls.payments_via_network.clone(),
                ),
                (
                    env::PAYMENTS_CANARY_URL.to_owned(),
                    format!("http://{}", relays.payments_canary.address()),
                ),
                (
                    env::PAYMENTS_CANARY_PERCENT.to_owned(),
                    PAYMENTS_CANARY_PERCENT.to_string(),
                ),
            ],
        ),
        service(
            "frontend",
            args.frontend_port,
            Some(&relays.frontend),
            vec![(env::API_URL.to_owned(), urls.api.clone())],
        ),
    ];
    // The payments canary: the same service at the next release, with the stable one's
    // faults (it follows their state file, toggles included), behind its own relay.
    let mut canary_env = common.clone();
    canary_env.extend([
        (env::OTEL_SERVICE_NAME.to_owned(), "payments".to_owned()),
        (
            env::OTEL_RESOURCE_ATTRIBUTES.to_owned(),
            format!(
                "service.version={},deployment.id=dep-payments-canary",
                canary_version()
            ),
        ),
        (
            env::FAULT_FOLLOW.to_owned(),
            fault_state_dir(data_dir)
                .join("payments.json")
                .display()
                .to_string(),
        ),
    ]);
    if let Some(token) = &args.server.admin_token {
        canary_env.push((env::ADMIN_TOKEN.to_owned(), token.clone()));
    }
    specs.push(ChildSpec {
        name: "payments-canary".into(),
        args: vec![
            "service".into(),
            "payments".into(),
            "--host".into(),
            args.host.clone(),
            "--port".into(),
            "0".into(),
        ],
        env: canary_env,
        relay: Some(relays.payments_canary.clone()),
    });
    if args.load_rate > 0.0 {
        let mut env = common.clone();
        env.push((env::OTEL_SERVICE_NAME.to_owned(), "loadgen".to_owned()));
        specs.push(ChildSpec {
            name: "loadgen".into(),
            args: vec![
                "loadgen".into(),
                "--target".into(),
                urls.frontend.clone(),
                "--api-target".into(),
                urls.api.clone(),
                "--rate".into(),
                args.load_rate.to_string(),
            ],
            env,
            relay: None,
        });
    }
    specs
}

/// The share of the api's charges the payments canary takes, in percent.
const PAYMENTS_CANARY_PERCENT: u32 = 20;

/// The payments canary's release: the next minor release after the build's own.
fn canary_version() -> String {
    let build = env!("CARGO_PKG_VERSION");
    let mut parts = build.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    format!("{major}.{}.0", minor + 1)
}

/// Where the services keep their current faults for their next instance.
fn fault_state_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("faults")
}

/// Waits until every service answers `GET /health` with 200, or says which one did not.
async fn wait_for_health(services: &[(String, String)]) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .context("building the health-check client")?;
    let deadline = Instant::now() + HEALTH_TIMEOUT;
    for (name, base) in services {
        let url = format!("{base}/health");
        loop {
            match client.get(&url).send().await {
                Ok(response) if response.status().is_success() => break,
                _ if Instant::now() > deadline => anyhow::bail!(
                    "{name} did not become healthy at {url} within {HEALTH_TIMEOUT:?}; \
                     see its log in the data directory's logs/ folder"
                ),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        println!("  {name} is up");
    }
    Ok(())
}

fn print_status(supervisor: &Supervisor, started: Instant) {
    let minutes = started.elapsed().as_secs() / 60;
    let parts: Vec<String> = supervisor
        .statuses()
        .into_iter()
        .map(|s| {
            let state = match s.state {
                ChildState::Starting => "starting",
                ChildState::Running => "running",
                ChildState::Restarting => "restarting",
                ChildState::GaveUp => "STOPPED (crashed repeatedly)",
                ChildState::Stopped => "stopped",
            };
            match s.restarts {
                0 => format!("{} {state}", s.name),
                n => format!("{} {state} ({n} restarts)", s.name),
            }
        })
        .collect();
    println!("[dojo · up {minutes}m] {}", parts.join(" · "));
}
