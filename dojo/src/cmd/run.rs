//! `dojo run`: runs the learner's own service for an instrumentation lab (Lab 1) in the
//! language they chose, with the command the lab's spec gives for it (`languages:` in
//! `lab.yaml`), pointed at the running lab: the standard `OTEL_*` variables name the lab's
//! OTLP/HTTP receiver, the protocol and the service, and `PORT` and `API_URL` the service's
//! port and the shop's api. It stays in the foreground, passes the service's output through,
//! stops it on Ctrl-C or SIGTERM (SIGTERM first, so its SDK flushes) and exits with its status.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use dojo_defaults::{API_PORT, OTLP_HTTP_PORT, env};
use dojo_grader::spec::types::{Check, Lab, Language};

/// How long the service may take to flush and stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Flags of `dojo run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The language you do the lab in, as the lab names it: rust, python or node for Lab 1.
    #[arg(long, short)]
    pub language: String,
    /// Run the lab's reference solution instead of the starter you edit.
    #[arg(long)]
    pub solution: bool,
    /// The instrumentation lab (default: the only lab with languages).
    #[arg(long)]
    pub lab: Option<String>,
    /// The labs folder.
    #[arg(long, default_value = "labs")]
    pub labs: PathBuf,
    /// Your service's name (OTEL_SERVICE_NAME); the lab's default (`stock`) when absent.
    #[arg(long, env = env::OTEL_SERVICE_NAME)]
    pub service_name: Option<String>,
    /// The lab's OTLP/HTTP receiver (OTEL_EXPORTER_OTLP_ENDPOINT; the SDK adds /v1/traces).
    #[arg(long, env = env::OTEL_EXPORTER_OTLP_ENDPOINT, default_value_t = format!("http://127.0.0.1:{OTLP_HTTP_PORT}"))]
    pub otlp_endpoint: String,
    /// The shop's api, which your service calls (API_URL).
    #[arg(long, env = env::API_URL, default_value_t = format!("http://127.0.0.1:{API_PORT}"))]
    pub api_url: String,
    /// The port your service listens on (PORT; 0 picks a free one).
    #[arg(long, default_value_t = 8090)]
    pub port: u16,
    /// The name you joined the course with: your service's spans then carry your learner id
    /// as the resource attribute `learner.id`, which is how the grader knows the run is yours.
    #[arg(long, env = env::LEARNER)]
    pub learner: Option<String>,
}

/// What `dojo run` starts: a program, its arguments, where, and with which variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub program: String,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    /// The language's name and what it needs installed, for messages.
    pub language: String,
    pub setup: Option<String>,
}

/// Runs the service until it exits or `dojo run` is asked to stop.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(supervise(plan))
}

/// Works out the command, its folder and its variables from the lab's spec and the flags.
pub fn plan(args: &RunArgs) -> anyhow::Result<Plan> {
    let labs = dojo_grader::spec::load_dir(&args.labs)
        .with_context(|| format!("loading the labs from {}", args.labs.display()))?;
    let lab = match &args.lab {
        Some(id) => labs
            .get(id)
            .ok_or_else(|| anyhow!("there is no lab called {id:?}"))?,
        None => {
            let with_languages: Vec<_> = labs.iter().filter(|l| !l.languages.is_empty()).collect();
            match with_languages.as_slice() {
                [only] => *only,
                [] => bail!("no lab in {} has languages to run", args.labs.display()),
                many => bail!(
                    "several labs have languages to run; pick one with --lab ({})",
                    many.iter()
                        .map(|l| l.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    let language = find_language(lab, &args.language)?;
    let command = if args.solution {
        &language.solution
    } else {
        &language.run
    };
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| anyhow!("{}: the command for {} is empty", lab.id, language.name))?;
    let service = match &args.service_name {
        Some(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ => default_service(lab),
    };
    Ok(Plan {
        program: program.clone(),
        args: rest.to_vec(),
        dir: args.labs.join(&lab.id).join(&language.dir),
        env: vec![
            (env::OTEL_SERVICE_NAME.into(), service),
            (
                env::OTEL_EXPORTER_OTLP_ENDPOINT.into(),
                args.otlp_endpoint.trim_end_matches('/').to_string(),
            ),
            (
                env::OTEL_EXPORTER_OTLP_PROTOCOL.into(),
                "http/protobuf".into(),
            ),
            ("PORT".into(), args.port.to_string()),
            (env::API_URL.into(), args.api_url.clone()),
        ]
        .into_iter()
        .chain(args.learner.as_deref().map(|name| {
            // Kept beside any resource attributes the learner already set.
            let mine = format!(
                "learner.id={}",
                dojo_grader::progress::LearnerId::for_name(name).as_str()
            );
            let attributes = match std::env::var(env::OTEL_RESOURCE_ATTRIBUTES) {
                Ok(theirs) if !theirs.trim().is_empty() => format!("{theirs},{mine}"),
                _ => mine,
            };
            (env::OTEL_RESOURCE_ATTRIBUTES.into(), attributes)
        }))
        .collect(),
        language: language.name.clone(),
        setup: language.setup.clone(),
    })
}

fn find_language<'a>(lab: &'a Lab, wanted: &str) -> anyhow::Result<&'a Language> {
    let wanted = wanted.trim().to_ascii_lowercase();
    lab.languages
        .iter()
        .find(|l| l.id == wanted || l.name.to_ascii_lowercase() == wanted)
        .ok_or_else(|| {
            let offered: Vec<String> = lab
                .languages
                .iter()
                .map(|l| format!("{} ({})", l.id, l.name))
                .collect();
            if offered.is_empty() {
                anyhow!("{} has no service to run in any language", lab.title)
            } else {
                anyhow!(
                    "{} is not offered in {wanted:?}; pick one of: {}",
                    lab.title,
                    offered.join(", ")
                )
            }
        })
}

/// The service name the lab's instrumentation check grades by default.
fn default_service(lab: &Lab) -> String {
    lab.exercises
        .iter()
        .find_map(|exercise| match &exercise.check {
            Check::Instrumentation(check) => check.default_service.clone(),
            _ => None,
        })
        .unwrap_or_else(|| lab.id.clone())
}

fn shown(plan: &Plan) -> String {
    let mut words = vec![plan.program.clone()];
    words.extend(plan.args.iter().cloned());
    words.join(" ")
}

async fn supervise(plan: Plan) -> anyhow::Result<ExitCode> {
    println!(
        "Running your {} service: {} (in {})",
        plan.language,
        shown(&plan),
        plan.dir.display()
    );
    for (name, value) in &plan.env {
        println!("  {name}={value}");
    }
    let mut child = tokio::process::Command::new(&plan.program)
        .args(&plan.args)
        .current_dir(&plan.dir)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => anyhow!(
                "`{}` was not found on your PATH. The {} service needs {}",
                plan.program,
                plan.language,
                plan.setup.as_deref().unwrap_or("it installed")
            ),
            _ => anyhow!("starting `{}`: {error}", shown(&plan)),
        })?;
    let status = tokio::select! {
        status = child.wait() => status.context("waiting for the service")?,
        _ = crate::shutdown::shutdown_signal() => {
            if let Some(pid) = child.id() {
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            }
            match tokio::time::timeout(STOP_GRACE, child.wait()).await {
                // Stopped as asked: a clean end, whatever signal ended it.
                Ok(_) => return Ok(ExitCode::SUCCESS),
                Err(_) => {
                    eprintln!("dojo: the service did not stop within {STOP_GRACE:?}; killing it");
                    let _ = child.kill().await;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    if !status.success()
        && status.code().is_some()
        && let Some(setup) = &plan.setup
    {
        eprintln!(
            "dojo: the {} service exited with {status}. If it could not start, it needs {setup}.",
            plan.language
        );
    }
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // Stopped by a signal: by Ctrl-C in the terminal, or a crash.
        None => ExitCode::FAILURE,
    })
}
