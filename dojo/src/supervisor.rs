//! Runs the lab's child processes: starts each one from this same binary in its role, keeps its
//! output in the log book and a log file, restarts it with a message when it crashes, and stops
//! them all on shutdown (SIGTERM first, so they flush their spans; SIGKILL after a grace period).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::logbook::{LogBook, LogLine};

/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// A child that crashes this many times within [`CRASH_WINDOW`] is given up on.
const MAX_CRASHES: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(60);

/// One process of the lab: `dojo <args…>` with extra environment variables.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Short name shown to the user and used for the log file (`api`, `loadgen`, …).
    pub name: String,
    /// Arguments after the binary, e.g. `["service", "api", "--port", "8082"]`.
    pub args: Vec<String>,
    /// Environment added to the child's.
    pub env: Vec<(String, String)>,
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
    tasks: Vec<JoinHandle<()>>,
    statuses: Arc<Mutex<Vec<ChildStatus>>>,
}

impl Supervisor {
    /// Starts every child. Their output goes to the log book and to `<log_dir>/<name>.log`.
    pub fn start(
        specs: Vec<ChildSpec>,
        logbook: LogBook,
        log_dir: PathBuf,
    ) -> anyhow::Result<Supervisor> {
        let exe =
            std::env::current_exe().context("finding the dojo binary to start the services")?;
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
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
        let tasks = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                let watcher = ChildWatcher {
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
            tasks,
            statuses,
        })
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
    exe: PathBuf,
    spec: ChildSpec,
    index: usize,
    logbook: LogBook,
    log_dir: PathBuf,
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
            let mut child = match self.spawn().await {
                Ok(child) => child,
                Err(error) => {
                    eprintln!("dojo: could not start {name}: {error:#}");
                    self.set_state(ChildState::GaveUp, false);
                    return;
                }
            };
            // `Child::wait` closes the child's stdin, which tells the child we are gone; keep
            // it open here until the child has exited.
            let _parent_alive = child.stdin.take();
            self.set_state(ChildState::Running, false);
            tokio::select! {
                exit = child.wait() => {
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
                            "dojo: {name} crashed {MAX_CRASHES} times in a minute ({how}); giving up on it. \
                             Its output is in {}",
                            self.log_path().display()
                        );
                        self.set_state(ChildState::GaveUp, false);
                        return;
                    }
                    eprintln!(
                        "dojo: {name} stopped unexpectedly ({how}); restarting it. Its output is in {}",
                        self.log_path().display()
                    );
                    self.set_state(ChildState::Restarting, true);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(crashes.len() as u64)) => {}
                        _ = self.stop.changed() => { self.set_state(ChildState::Stopped, false); return; }
                    }
                }
                _ = self.stop.changed() => {
                    terminate(&mut child, &name).await;
                    self.set_state(ChildState::Stopped, false);
                    return;
                }
            }
        }
    }

    fn log_path(&self) -> PathBuf {
        self.log_dir.join(format!("{}.log", self.spec.name))
    }

    async fn spawn(&self) -> anyhow::Result<Child> {
        let mut command = Command::new(&self.exe);
        command
            .args(&self.spec.args)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            // The child holds the read end; the write end stays in `Child` until it is dropped
            // or this process ends, and the child stops when it reads end-of-file.
            .env(dojo_defaults::env::STOP_WITH_PARENT, "1")
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
        let log_file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .await
            .with_context(|| format!("opening {}", self.log_path().display()))?;
        let log_file = Arc::new(tokio::sync::Mutex::new(log_file));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(copy_lines(
                stdout,
                self.spec.name.clone(),
                self.logbook.clone(),
                Arc::clone(&log_file),
            ));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(copy_lines(
                stderr,
                self.spec.name.clone(),
                self.logbook.clone(),
                log_file,
            ));
        }
        Ok(child)
    }
}

/// Reads a child's output line by line into the log book and its log file.
async fn copy_lines(
    stream: impl tokio::io::AsyncRead + Unpin,
    service: String,
    logbook: LogBook,
    file: Arc<tokio::sync::Mutex<tokio::fs::File>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        {
            let mut file = file.lock().await;
            let _ = file.write_all(line.as_bytes()).await;
            let _ = file.write_all(b"\n").await;
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
