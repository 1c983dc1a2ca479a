//! `dojo service api --control-port 8090`: one tier of the shop that `dojo deploy` can roll out
//! in a container (compose, Kubernetes), exactly as it does under `dojo up`.
//!
//! **The choice.** A rollout under `dojo up` starts the new version beside the old one, checks
//! its health, switches traffic and stops the old one (or stops the new one: the rollback). A
//! container has no `dojo up` around it, and neither a Docker engine nor a Kubernetes API is
//! something the lab may drive from inside. So the container runs this small supervisor as its
//! main process: it owns the service's port (the same [`Relay`] `dojo up` puts in front of a
//! deployable service), runs the service as its child on a private loopback port, and serves
//! the same control API ([`crate::control`]) on `--control-port`. `dojo deploy --control-url
//! …` then works identically under `dojo up`, compose and Kubernetes: same request, same
//! health check, same rollback, same startup span linked to the pipeline's trace.
//!
//! **The token** comes from `DOJO_CONTROL_TOKEN` (a compose variable, a Kubernetes Secret). It
//! is checked like the other tokens (no placeholder), never printed, and removed from the
//! child's environment, so it can reach neither a span nor a log line of the service.
//!
//! **What survives what.** A rollout lives as long as the container: the supervisor keeps the
//! new release running, restarts it with the same release when it crashes, and hands its
//! faults on to it (a private fault-state file, `DOJO_FAULT_STATE`, unless one is configured).
//! When the container itself is replaced (a pod rescheduled, `docker compose up` recreating
//! it), it starts again at the release its manifest names, as a Deployment would after a
//! `kubectl rollout undo`: the manifests are the desired state, and a deploy made through
//! this API is a lab exercise, not a change to them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use dojo_defaults::env;

use crate::control;
use crate::logbook::LogBook;
use crate::relay::Relay;
use crate::shutdown::shutdown_signal;
use crate::supervisor::{ChildSpec, ChildState, Supervisor};

/// Log lines kept in memory: the container's logs are its output, so hardly any are needed.
const LOG_LINES_KEPT: usize = 1_000;
/// How often the supervisor looks whether its service gave up.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Where the supervised tier listens.
pub struct Listen {
    /// The tier's name (`api`, `frontend`), which is also its role.
    pub name: &'static str,
    pub host: String,
    /// The service's port, which the supervisor owns.
    pub port: u16,
    /// The control API's port.
    pub control_port: u16,
}

/// Runs the tier under the supervisor until Ctrl-C or SIGTERM, or until it crashed too often
/// (exit status 1, so the orchestrator restarts the container).
pub fn run(listen: Listen) -> anyhow::Result<ExitCode> {
    let token = std::env::var(env::CONTROL_TOKEN)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .with_context(|| {
            format!(
                "--control-port needs the operator token in {}: `dojo deploy` sends it with every rollout",
                env::CONTROL_TOKEN
            )
        })?;
    crate::placeholder::refuse(&[(env::CONTROL_TOKEN, Some(token.trim()))])?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(supervise(listen, token.trim().to_owned()))
}

async fn supervise(listen: Listen, token: String) -> anyhow::Result<ExitCode> {
    let Listen {
        name,
        host,
        port,
        control_port,
    } = listen;
    let relay = Relay::bind(name, &host, port).await?;
    let control = tokio::net::TcpListener::bind((host.as_str(), control_port))
        .await
        .with_context(|| {
            format!(
                "the control API cannot listen on {host}:{control_port}; is another process using it?"
            )
        })?;
    let supervisor = Supervisor::start(
        vec![child_spec(name, &relay)],
        LogBook::new(LOG_LINES_KEPT),
        None,
    )?;
    let control = control::serve(control, supervisor.rollouts(), token)?;
    println!(
        "listening on http://{} ({name}, supervised; control API on http://{control})",
        relay.address()
    );
    let mut watch = tokio::time::interval(WATCH_EVERY);
    let code = loop {
        tokio::select! {
            _ = watch.tick() => {
                if supervisor.statuses().iter().any(|s| s.state == ChildState::GaveUp) {
                    eprintln!("dojo: {name} keeps crashing; stopping the container so that it is restarted");
                    break ExitCode::FAILURE;
                }
            }
            _ = shutdown_signal() => break ExitCode::SUCCESS,
        }
    };
    supervisor.stop().await;
    Ok(code)
}

/// The service as the supervisor's child: the same tier on a private loopback port, with the
/// container's environment (inherited) and two additions: the container's resource attributes
/// as the base a rollout adds its release to, and a fault-state file so a new release starts
/// with the faults switched on at run time.
fn child_spec(name: &str, relay: &Relay) -> ChildSpec {
    let mut env = Vec::new();
    if let Ok(attributes) = std::env::var(env::OTEL_RESOURCE_ATTRIBUTES) {
        env.push((env::OTEL_RESOURCE_ATTRIBUTES.to_owned(), attributes));
    }
    if std::env::var_os(env::FAULT_STATE).is_none() {
        env.push((
            env::FAULT_STATE.to_owned(),
            fault_state_file(name).display().to_string(),
        ));
    }
    ChildSpec {
        name: name.to_owned(),
        args: vec![
            "service".into(),
            name.into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
        ],
        env,
        relay: Some(relay.clone()),
    }
}

/// A fault-state file of this supervisor's own (the temporary folder is writable in the
/// lab's read-only containers).
fn fault_state_file(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("dojo-{name}-{}", std::process::id()))
        .join("faults.json")
}
