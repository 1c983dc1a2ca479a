//! Runs the lab's child processes: starts each one from this same binary in its role, keeps its
//! output in the log book and a log file, restarts it with a message when it crashes, and stops
//! them all on shutdown (SIGTERM first, so they flush their spans; SIGKILL after a grace period).
//!
//! A child behind a [`Relay`] (a deployable service) listens on a private port and can be
//! rolled out: [`Rollouts::roll_out`] starts a new version beside it with other environment
//! variables, switches the relay once the new one is healthy and stops the old one; a new
//! version that does not become healthy is stopped instead, and the old one keeps serving.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::logbook::{LogBook, LogLine};
use crate::relay::Relay;

/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// A child that crashes this many times within [`CRASH_WINDOW`] is given up on.
const MAX_CRASHES: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(60);
/// How long a relayed child may take to say where it listens.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a new version may take to answer its health check during a rollout.
const ROLLOUT_HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

/// One process of the lab: `dojo <args…>` with extra environment variables.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Short name shown to the user and used for the log file (`api`, `loadgen`, …).
    pub name: String,
    /// Arguments after the binary, e.g. `["service", "api", "--port", "8082"]`.
    pub args: Vec<String>,
    /// Environment added to the child's.
    pub env: Vec<(String, String)>,
    /// The relay in front of a deployable service; its args then ask for port 0, and the
    /// relay follows the port the child reports.
    pub relay: Option<Relay>,
}

/// A rollout asked of a relayed child: the new version's environment (added to, or replacing,
/// the child's) and where to say how it went.
struct RolloutRequest {
    version: String,
    env: Vec<(String, String)>,
    reply: oneshot::Sender<Result<RolloutDone, RolloutFailure>>,
}

/// A rollout whose new version never became healthy: why, the version that kept serving, and
/// how long stopping the new version took (the rollback).
#[derive(Debug, Clone)]
pub struct RolloutFailure {
    pub reason: String,
    pub kept_version: String,
    pub rollback: Duration,
}

/// A finished rollout: where the new version listens.
#[derive(Debug, Clone)]
pub struct RolloutDone {
    pub address: SocketAddr,
}

/// Why a rollout did not happen or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// The service is not one the supervisor can roll out.
    #[error("{0} is not a deployable service of this lab")]
    UnknownService(String),
    /// Another rollout of the service is under way.
    #[error("a rollout of {0} is already under way")]
    Busy(String),
    /// The new version did not become healthy; the old one still serves.
    #[error("{}", .0.reason)]
    Failed(RolloutFailure),
}

/// Asks the supervisor's relayed children for rollouts. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Rollouts {
    senders: Arc<HashMap<String, mpsc::Sender<RolloutRequest>>>,
    /// The services with a rollout under way.
    busy: Arc<Mutex<std::collections::HashSet<String>>>,
}

/// Marks a service busy while it lives.
struct BusyGuard {
    busy: Arc<Mutex<std::collections::HashSet<String>>>,
    service: String,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.service);
    }
}

impl Rollouts {
    /// The services that can be rolled out, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut names: Vec<String> = self.senders.keys().cloned().collect();
        names.sort();
        names
    }

    /// Rolls `service` out to `version`, started with `env` on top of its own.
    pub async fn roll_out(
        &self,
        service: &str,
        version: &str,
        env: Vec<(String, String)>,
    ) -> Result<RolloutDone, RolloutError> {
        let sender = self
            .senders
            .get(service)
            .ok_or_else(|| RolloutError::UnknownService(service.to_owned()))?;
        let newly_busy = self
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service.to_owned());
        if !newly_busy {
            return Err(RolloutError::Busy(service.to_owned()));
        }
        let _busy = BusyGuard {
            busy: Arc::clone(&self.busy),
            service: service.to_owned(),
        };
        let (reply, outcome) = oneshot::channel();
        sender
            .try_send(RolloutRequest {
                version: version.to_owned(),
                env,
                reply,
            })
            .map_err(|_| RolloutError::Busy(service.to_owned()))?;
        match outcome.await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(failure)) => Err(RolloutError::Failed(failure)),
            Err(_) => Err(RolloutError::Failed(RolloutFailure {
                reason: format!("{service} stopped before the rollout finished"),
                kept_version: String::new(),
                rollback: Duration::ZERO,
            })),
        }
    }
}

/// What the user sees of a child in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildState {
    Starting,
    Running,
    Restarting,
    GaveUp,
    Stopped,
}

/// The state of every child, shared with the status line.
#[derive(Debug, Clone)]
pub struct ChildStatus {
    pub name: String,
    pub state: ChildState,
    pub restarts: usize,
}

/// Supervises a set of children until [`Supervisor::stop`].
pub struct Supervisor {
    stop: watch::Sender<bool>,
    rollouts: Rollouts,
    tasks: Vec<JoinHandle<()>>,
    statuses: Arc<Mutex<Vec<ChildStatus>>>,
}

impl Supervisor {
    /// Starts every child. Their output goes to the log book and to `<log_dir>/<name>.log`,
    /// or, without a log folder (in a container, whose logs are its output), to this
    /// process's standard output line by line, unchanged.
    pub fn start(
        specs: Vec<ChildSpec>,
        logbook: LogBook,
        log_dir: Option<PathBuf>,
    ) -> anyhow::Result<Supervisor> {
        let exe =
            std::env::current_exe().context("finding the dojo binary to start the services")?;
        if let Some(log_dir) = &log_dir {
            std::fs::create_dir_all(log_dir)
                .with_context(|| format!("creating {}", log_dir.display()))?;
        }
        let (stop, stop_rx) = watch::channel(false);
        let statuses = Arc::new(Mutex::new(
            specs
                .iter()
                .map(|s| ChildStatus {
                    name: s.name.clone(),
                    state: ChildState::Starting,
                    restarts: 0,
                })
                .collect::<Vec<_>>(),
        ));
        let mut senders = HashMap::new();
        let tasks = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                // One rollout at a time per service: a second one is refused while it waits.
                let rollouts = spec.relay.is_some().then(|| {
                    let (sender, receiver) = mpsc::channel(1);
                    senders.insert(spec.name.clone(), sender);
                    receiver
                });
                let watcher = ChildWatcher {
                    rollouts,
                    version: release_version(&spec.env),
                    exe: exe.clone(),
                    spec,
                    index,
                    logbook: logbook.clone(),
                    log_dir: log_dir.clone(),
                    statuses: Arc::clone(&statuses),
                    stop: stop_rx.clone(),
                };
                tokio::spawn(watcher.run())
            })
            .collect();
        Ok(Supervisor {
            stop,
            rollouts: Rollouts {
                senders: Arc::new(senders),
                busy: Arc::default(),
            },
            tasks,
            statuses,
        })
    }

    /// The handle that asks for rollouts of the relayed children.
    pub fn rollouts(&self) -> Rollouts {
        self.rollouts.clone()
    }

    /// A snapshot of every child's state.
    pub fn statuses(&self) -> Vec<ChildStatus> {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops every child and waits until they have exited.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

struct ChildWatcher {
    /// The release the child runs (`service.version` of its spans).
    version: String,
    /// Rollout requests, for a relayed child.
    rollouts: Option<mpsc::Receiver<RolloutRequest>>,
    exe: PathBuf,
    spec: ChildSpec,
    index: usize,
    logbook: LogBook,
    /// Where each child's log file goes; `None`: to this process's standard output.
    log_dir: Option<PathBuf>,
    statuses: Arc<Mutex<Vec<ChildStatus>>>,
    stop: watch::Receiver<bool>,
}

impl ChildWatcher {
    fn set_state(&self, state: ChildState, restarted: bool) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(status) = statuses.get_mut(self.index) {
            status.state = state;
            if restarted {
                status.restarts += 1;
            }
        }
    }

    async fn run(mut self) {
        let name = self.spec.name.clone();
        let mut crashes: Vec<Instant> = Vec::new();
        loop {
            let mut child = match self.start(&self.spec.env).await {
                Ok(started) => started,
                Err(error) => {
                    eprintln!("dojo: could not start {name}: {error:#}");
                    self.set_state(ChildState::GaveUp, false);
                    return;
                }
            };
            if let (Some(relay), Some(address)) = (&self.spec.relay, child.address) {
                relay.switch_to(address);
            }
            self.set_state(ChildState::Running, false);
            loop {
                tokio::select! {
                    exit = child.process.wait() => {
                        if *self.stop.borrow() {
                            self.set_state(ChildState::Stopped, false);
                            return;
                        }
                        let how = match exit {
                            Ok(status) => status.to_string(),
                            Err(error) => error.to_string(),
                        };
                        let now = Instant::now();
                        crashes.retain(|t| now.duration_since(*t) < CRASH_WINDOW);
                        crashes.push(now);
                        if crashes.len() >= MAX_CRASHES {
                            eprintln!(
                                "dojo: {name} crashed {MAX_CRASHES} times in a minute ({how}); giving up on it.{}",
                                self.output_hint()
                            );
                            self.set_state(ChildState::GaveUp, false);
                            return;
                        }
                        eprintln!(
                            "dojo: {name} stopped unexpectedly ({how}); restarting it.{}",
                            self.output_hint()
                        );
                        self.set_state(ChildState::Restarting, true);
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(crashes.len() as u64)) => {}
                            _ = self.stop.changed() => { self.set_state(ChildState::Stopped, false); return; }
                        }
                        break;
                    }
                    _ = self.stop.changed() => {
                        terminate(&mut child.process, &name).await;
                        self.set_state(ChildState::Stopped, false);
                        return;
                    }
                    Some(request) = recv_rollout(&mut self.rollouts) => {
                        let outcome = self.roll_out(&request.env).await;
                        let reply = match outcome {
                            Ok((new, address)) => {
                                let done = RolloutDone { address };
                                let mut old = std::mem::replace(&mut child, new);
                                self.spec.env = merged_env(&self.spec.env, &request.env);
                                self.version = request.version.clone();
                                let name = name.clone();
                                // The old version finishes what it is serving, then stops.
                                tokio::spawn(async move {
                                    terminate(&mut old.process, &name).await;
                                });
                                Ok(done)
                            }
                            Err((reason, rollback)) => Err(RolloutFailure {
                                reason,
                                kept_version: self.version.clone(),
                                rollback,
                            }),
                        };
                        let _ = request.reply.send(reply);
                    }
                }
            }
        }
    }

    /// Starts the new version beside the running one and, once it answers its health check,
    /// sends the relay's new connections to it. When it does not, it is stopped and the relay
    /// stays where it was: the running version keeps serving.
    async fn roll_out(
        &self,
        env: &[(String, String)],
    ) -> Result<(Started, SocketAddr), (String, Duration)> {
        let Some(relay) = &self.spec.relay else {
            return Err((
                format!("{} cannot be rolled out", self.spec.name),
                Duration::ZERO,
            ));
        };
        let env = merged_env(&self.spec.env, env);
        let mut new = self.start(&env).await.map_err(|error| {
            (
                format!("could not start the new version: {error:#}"),
                Duration::ZERO,
            )
        })?;
        let Some(address) = new.address else {
            let stopping = Instant::now();
            let status = new.process.wait().await;
            let reason = match status {
                Ok(status) => format!("the new version exited during startup ({status})"),
                Err(error) => format!("the new version did not start: {error}"),
            };
            return Err((reason, stopping.elapsed()));
        };
        match wait_healthy(&mut new.process, address).await {
            Ok(()) => {
                relay.switch_to(address);
                Ok((new, address))
            }
            Err(reason) => {
                let stopping = Instant::now();
                terminate(&mut new.process, &self.spec.name).await;
                Err((reason, stopping.elapsed()))
            }
        }
    }

    fn log_path(&self) -> Option<PathBuf> {
        self.log_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.log", self.spec.name)))
    }

    /// " Its output is in <file>", when it has a log file.
    fn output_hint(&self) -> String {
        self.log_path()
            .map(|path| format!(" Its output is in {}", path.display()))
            .unwrap_or_default()
    }

    /// Starts the child with `env`; for a relayed child, also waits until it says where it
    /// listens (or exits, or takes longer than [`STARTUP_TIMEOUT`], after which it is killed).
    async fn start(&self, env: &[(String, String)]) -> anyhow::Result<Started> {
        let mut command = Command::new(&self.exe);
        command
            .args(&self.spec.args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            // The child holds the read end; the write end stays in `Started` until it is
            // dropped or this process ends, and the child stops when it reads end-of-file.
            .env(dojo_defaults::env::STOP_WITH_PARENT, "1")
            // The operator token is the supervisor's alone: the service never sees it.
            .env_remove(dojo_defaults::env::CONTROL_TOKEN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().with_context(|| {
            format!(
                "starting {} {}",
                self.exe.display(),
                self.spec.args.join(" ")
            )
        })?;
        let log_file = match self.log_path() {
            Some(path) => Some(Arc::new(tokio::sync::Mutex::new(
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .with_context(|| format!("opening {}", path.display()))?,
            ))),
            None => None,
        };
        let (listening, address) = oneshot::channel();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(copy_lines(
                stdout,
                self.spec.name.clone(),
                self.logbook.clone(),
                log_file.clone(),
                Some(listening),
            ));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(copy_lines(
                stderr,
                self.spec.name.clone(),
                self.logbook.clone(),
                log_file,
                None,
            ));
        }
        // `Child::wait` closes the child's stdin, which tells the child we are gone; keep it
        // open here until the child has exited.
        let stdin = child.stdin.take();
        let mut started = Started {
            process: child,
            _parent_alive: stdin,
            address: None,
        };
        if self.spec.relay.is_some() {
            tokio::select! {
                reported = address => started.address = reported.ok(),
                _ = started.process.wait() => {}
                _ = tokio::time::sleep(STARTUP_TIMEOUT) => {
                    let _ = started.process.kill().await;
                }
            }
        }
        Ok(started)
    }
}

/// One running process of a child.
struct Started {
    process: Child,
    /// The write end of the child's stdin: the child stops when it closes.
    _parent_alive: Option<tokio::process::ChildStdin>,
    /// Where a relayed child listens, from its first line of output.
    address: Option<SocketAddr>,
}

/// The `service.version` a child's environment names, or the build's own.
fn release_version(env: &[(String, String)]) -> String {
    env.iter()
        .filter(|(key, _)| key == dojo_defaults::env::OTEL_RESOURCE_ATTRIBUTES)
        .flat_map(|(_, value)| value.split(','))
        .find_map(|pair| pair.trim().strip_prefix("service.version="))
        .map(str::to_owned)
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned())
}

/// `base` with the variables of `overrides` replaced or added. `OTEL_RESOURCE_ATTRIBUTES` is
/// merged pair by pair instead, so a rollout's `service.version` and `deployment.id` replace
/// the old ones and keep the rest (a pod's `k8s.pod.name`, …).
fn merged_env(base: &[(String, String)], overrides: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = base
        .iter()
        .filter(|(key, _)| !overrides.iter().any(|(k, _)| k == key))
        .cloned()
        .collect();
    for (key, value) in overrides {
        let merged = match base.iter().find(|(k, _)| k == key) {
            Some((_, old)) if key == dojo_defaults::env::OTEL_RESOURCE_ATTRIBUTES => {
                merged_attributes(old, value)
            }
            _ => value.clone(),
        };
        env.push((key.clone(), merged));
    }
    env
}

/// `key=value,…` resource attributes: those of `old` whose key `new` does not set, then `new`'s.
fn merged_attributes(old: &str, new: &str) -> String {
    let key_of = |pair: &str| pair.split_once('=').map(|(k, _)| k.trim().to_owned());
    let new_keys: Vec<String> = new.split(',').filter_map(key_of).collect();
    old.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .filter(|pair| key_of(pair).is_none_or(|k| !new_keys.contains(&k)))
        .chain(new.split(',').filter(|pair| !pair.trim().is_empty()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Waits until the process at `address` answers `GET /health` with a success, or says why not
/// (it exited, or it was not healthy within [`ROLLOUT_HEALTH_TIMEOUT`]).
async fn wait_healthy(process: &mut Child, address: SocketAddr) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|error| format!("building the health-check client: {error}"))?;
    let url = format!("http://{address}/health");
    let deadline = Instant::now() + ROLLOUT_HEALTH_TIMEOUT;
    loop {
        let last = match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => format!("it answered {}", response.status()),
            Err(error) => format!("{error}"),
        };
        if let Ok(Some(status)) = process.try_wait() {
            return Err(format!(
                "the new version exited before it was healthy ({status})"
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the new version was not healthy at {url} within {ROLLOUT_HEALTH_TIMEOUT:?} ({last})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The next rollout request, or never when the child takes none.
async fn recv_rollout(
    rollouts: &mut Option<mpsc::Receiver<RolloutRequest>>,
) -> Option<RolloutRequest> {
    match rollouts {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads a child's output line by line into the log book and its log file.
async fn copy_lines(
    stream: impl tokio::io::AsyncRead + Unpin,
    service: String,
    logbook: LogBook,
    file: Option<Arc<tokio::sync::Mutex<tokio::fs::File>>>,
    mut listening: Option<oneshot::Sender<SocketAddr>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        // `dojo service` prints `listening on http://ADDRESS` first.
        if let Some(address) = line
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            && let Some(listening) = listening.take()
        {
            let _ = listening.send(address);
        }
        match &file {
            Some(file) => {
                let mut file = file.lock().await;
                let _ = file.write_all(line.as_bytes()).await;
                let _ = file.write_all(b"\n").await;
            }
            None => println!("{line}"),
        }
        logbook.push(LogLine::parse(&service, &line));
    }
}

/// SIGTERM, then SIGKILL if the child has not exited within the grace period.
async fn terminate(child: &mut Child, name: &str) {
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
        eprintln!("dojo: {name} did not stop within {STOP_GRACE:?}; killing it");
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_replaces_the_release_attributes_and_keeps_the_others() {
        let attributes = dojo_defaults::env::OTEL_RESOURCE_ATTRIBUTES.to_owned();
        let base = vec![
            (
                attributes.clone(),
                "k8s.pod.name=api-0,service.version=0.1.0".to_owned(),
            ),
            ("API_URL".to_owned(), "http://api:8082".to_owned()),
        ];
        let rollout = vec![(
            attributes.clone(),
            "service.version=1.4.0,deployment.id=dep-1".to_owned(),
        )];
        let merged = merged_env(&base, &rollout);
        let value = |key: &str| {
            merged
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            value(&attributes),
            Some("k8s.pod.name=api-0,service.version=1.4.0,deployment.id=dep-1")
        );
        assert_eq!(value("API_URL"), Some("http://api:8082"));
        assert_eq!(release_version(&merged), "1.4.0");
    }
}
