//! Starts the containers of our image as real processes, the way their orchestrator would.
//!
//! Each container gets its own stand-in root filesystem in a scratch folder: the image's working
//! directory with the labs and lessons (linked from the repository), and one folder per writable
//! mount. Every other folder is made read-only (mode 0555), so a process that writes outside its
//! mounts fails as it would under `read_only: true` or `readOnlyRootFilesystem`. Run as root, the
//! test drops to the container's uid and gid, so the permissions hold for root too; otherwise it
//! runs as the current user, which read-only modes stop as well.
//!
//! What cannot be the same on one machine is mapped, and nothing else: every `host:port` of a
//! compose or Kubernetes service becomes `127.0.0.1:<free port>` (in arguments and environment
//! values alike), the collector's and Tempo's addresses point at one embedded store
//! (`dojo store`) standing in for both, container paths live under the stand-in root, and each
//! `postgres://…@postgres…` URL becomes a fresh database on the test PostgreSQL server.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dojo_deploy_tests::container::{Container, Image};
use dojo_deploy_tests::scratch::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The addresses the embedded store answers for, as the real stack names them.
const STAND_INS: &[(&str, u16, Endpoint)] = &[
    ("otel-collector", 4318, Endpoint::OtlpHttp),
    ("otel-collector", 4317, Endpoint::OtlpGrpc),
    ("otel-agent", 4318, Endpoint::OtlpHttp),
    ("otel-agent", 4317, Endpoint::OtlpGrpc),
    ("tempo", 3200, Endpoint::TempoHttp),
    ("tempo", 4317, Endpoint::OtlpGrpc),
    ("tempo", 4318, Endpoint::OtlpHttp),
];

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    OtlpHttp,
    OtlpGrpc,
    TempoHttp,
}

/// A free port on the loopback interface (released at once; the OS rarely hands it out again
/// within the few seconds before the process binds it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One started process and everything it printed.
pub struct Process {
    pub name: String,
    child: Child,
    pub output: Arc<Mutex<Vec<String>>>,
    /// The tasks copying stdout and stderr into `output`; they end when the process does.
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Process {
    fn spawn(name: &str, mut command: Command) -> Process {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        let streams: Vec<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = [
            child.stdout.take().map(|s| Box::new(s) as _),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut readers = Vec::new();
        for stream in streams {
            let output = Arc::clone(&output);
            readers.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    output.lock().expect("log lock").push(line);
                }
            }));
        }
        Process {
            name: name.to_owned(),
            child,
            output,
            readers,
        }
    }

    /// The last lines it printed, for failure messages.
    pub fn tail(&self) -> String {
        let lines = self.output.lock().expect("log lock");
        let start = lines.len().saturating_sub(30);
        lines[start..].join("\n")
    }

    /// Has it exited? With its status.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for it to exit on its own, within `timeout`, and for its last words.
    pub async fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)?;
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(timeout, reader).await;
        }
        Some(status)
    }
}

/// Is this test running as root (so it can, and must, drop to the container's user)?
fn running_as_root(scratch: &Path) -> bool {
    std::fs::metadata(scratch).is_ok_and(|m| m.uid() == 0)
}

/// The stand-in machine: the port map, the fresh databases and the scratch roots.
pub struct Machine {
    scratch: TempDir,
    /// `(host, port)` as the deployment files write it → the loopback port that stands in.
    pub ports: BTreeMap<(String, u16), u16>,
    /// `postgres://…` URL as written → a fresh database's URL.
    databases: BTreeMap<String, String>,
    pub as_root: bool,
    /// The `dojo` binary as the containers run it: the build's own, or a copy in the scratch
    /// folder when the checkout is not reachable by other users (a CI clone under /root).
    binary: PathBuf,
    /// Where the image's `COPY` sources are read from: the repository, or copies as above.
    sources: PathBuf,
    pub processes: Vec<Process>,
}

/// Can a user other than the owner read `path` (and pass every folder above it)?
fn reachable_by_others(path: &Path) -> bool {
    let readable = std::fs::metadata(path).is_ok_and(|m| m.mode() & 0o004 != 0);
    readable
        && path
            .ancestors()
            .skip(1)
            .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.mode() & 0o001 != 0))
}

/// `from`, or a world-readable copy of it under `scratch` when the container's user could not
/// read it where it is.
fn reachable_copy(from: &Path, scratch: &Path, as_root: bool) -> PathBuf {
    if !as_root || reachable_by_others(from) {
        return from.to_path_buf();
    }
    let name = from.file_name().expect("a file or folder name");
    let to = scratch.join("image").join(name);
    if from.is_dir() {
        dojo_deploy_tests::scratch::copy_tree(from, &to).expect("copy a folder for the container");
    } else {
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("the image folder");
        std::fs::copy(from, &to).expect("copy the binary for the container");
    }
    to
}

impl Machine {
    /// Plans the ports for these containers (each listens on its `--port`, and a supervised
    /// service on its `--control-port` too) and starts the embedded store that stands in for
    /// the collector and Tempo.
    pub async fn start(containers: &[Container]) -> Machine {
        let scratch = TempDir::new("stack").expect("a scratch folder");
        std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the scratch folder");
        let as_root = running_as_root(scratch.path());
        let binary = reachable_copy(
            Path::new(env!("CARGO_BIN_EXE_dojo")),
            scratch.path(),
            as_root,
        );
        let repo = crate::repo_root();
        let sources = if reachable_by_others(&repo.join("labs")) || !as_root {
            repo
        } else {
            let copies = scratch.path().join("image");
            for folder in ["labs", "content"] {
                reachable_copy(&repo.join(folder), scratch.path(), as_root);
            }
            copies
        };
        let mut ports = BTreeMap::new();
        for container in containers {
            for listens in ["--port", "--control-port"] {
                if let Some(port) = flag(&container.argv, listens).and_then(|p| p.parse().ok()) {
                    ports.insert((container.name.clone(), port), free_port());
                }
            }
        }
        let (tempo, otlp_http, otlp_grpc) = (free_port(), free_port(), free_port());
        for (host, port, endpoint) in STAND_INS {
            let local = match endpoint {
                Endpoint::OtlpHttp => otlp_http,
                Endpoint::OtlpGrpc => otlp_grpc,
                Endpoint::TempoHttp => tempo,
            };
            ports.insert(((*host).to_owned(), *port), local);
        }
        let mut store = Command::new(env!("CARGO_BIN_EXE_dojo"));
        store
            .args(["store", "--http-port", &tempo.to_string()])
            .args(["--otlp-http-port", &otlp_http.to_string()])
            .args(["--otlp-grpc-port", &otlp_grpc.to_string()]);
        let mut machine = Machine {
            scratch,
            ports,
            databases: BTreeMap::new(),
            as_root,
            binary,
            sources,
            processes: vec![Process::spawn(
                "store (standing in for the collector and Tempo)",
                store,
            )],
        };
        machine
            .wait_for_http(
                "the embedded store",
                &format!("http://127.0.0.1:{tempo}/ready"),
            )
            .await;
        machine
    }

    /// Rewrites `//host:port` and `@host:port` of every mapped address to its loopback port.
    fn map_addresses(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for ((host, port), local) in &self.ports {
            for prefix in ["//", "@"] {
                text = text.replace(
                    &format!("{prefix}{host}:{port}"),
                    &format!("{prefix}127.0.0.1:{local}"),
                );
            }
        }
        text
    }

    /// The fresh database standing in for a `postgres://…@postgres:5432/<name>` URL.
    async fn database_for(&mut self, url: &str) -> String {
        if let Some(fresh) = self.databases.get(url) {
            return fresh.clone();
        }
        let fresh = dojo_testkit::postgres::fresh_database()
            .await
            .expect("a fresh PostgreSQL database")
            .unwrap_or_else(|| {
                // The URL carries a password: name only its database.
                panic!(
                    "database {}: the stack test needs PostgreSQL ({}) to stand in for the \
                     postgres container",
                    url.rsplit('/').next().unwrap_or_default(),
                    dojo_defaults::env::TEST_POSTGRES_URL
                )
            })
            .url;
        self.databases.insert(url.to_owned(), fresh.clone());
        fresh
    }

    /// The stand-in root folder of one container, with its image content and mounts, every
    /// folder but the writable mounts read-only.
    fn root_for(&self, container: &Container, image: &Image) -> PathBuf {
        let root = self.scratch.path().join(&container.name);
        let inside = |path: &str| root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(inside(&container.workdir)).expect("the workdir");
        for (source, destination) in &image.copies {
            let target = inside(destination);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).expect("a COPY destination");
            }
            // The image's copies are read-only for its user; linking the repository's folder
            // keeps this cheap (the labs include node_modules).
            std::os::unix::fs::symlink(self.sources.join(source), &target).expect("link a COPY");
        }
        let writable: Vec<PathBuf> = container.writable.iter().map(|p| inside(p)).collect();
        for path in &writable {
            std::fs::create_dir_all(path).expect("a writable mount");
            if self.as_root {
                std::os::unix::fs::chown(path, Some(container.uid), Some(container.gid))
                    .expect("chown a writable mount");
            }
        }
        lock_down(&root, &writable);
        root
    }

    /// Starts one container as its orchestrator would, with the mapping described above.
    pub async fn run(&mut self, container: &Container, image: &Image) -> &mut Process {
        let root = self.root_for(container, image);
        let to_root = |value: &str| {
            if value.starts_with('/') && !value.starts_with("//") {
                root.join(value.trim_start_matches('/'))
                    .display()
                    .to_string()
            } else {
                value.to_owned()
            }
        };
        let mut args: Vec<String> = Vec::new();
        let mut previous = "";
        for arg in container.argv.iter().skip(1) {
            let mapped = if previous == "--port" || previous == "--control-port" {
                let port: u16 = arg.parse().expect("a port is a number");
                self.ports[&(container.name.clone(), port)].to_string()
            } else {
                to_root(&self.map_addresses(arg))
            };
            args.push(mapped);
            previous = arg;
        }
        let mut env = BTreeMap::new();
        for (key, value) in &container.env {
            let value = if value.starts_with("postgres://") {
                self.database_for(value).await
            } else {
                to_root(&self.map_addresses(value))
            };
            env.insert(key.clone(), value);
        }
        let mut command = Command::new(&self.binary);
        command
            .args(&args)
            .current_dir(root.join(container.workdir.trim_start_matches('/')))
            .env_clear()
            .envs(&env)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin");
        if self.as_root {
            command.uid(container.uid).gid(container.gid);
        }
        self.processes
            .push(Process::spawn(&container.origin, command));
        self.processes.last_mut().expect("just pushed")
    }

    /// The loopback URL standing in for `http://host:port`.
    pub fn url(&self, host: &str, port: u16) -> String {
        format!("http://127.0.0.1:{}", self.ports[&(host.to_owned(), port)])
    }

    /// Waits until `url` answers 200, failing with every process's last output if not.
    pub async fn wait_for_http(&mut self, what: &str, url: &str) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(response) = http.get(url).send().await
                && response.status().is_success()
            {
                return;
            }
            for process in &mut self.processes {
                if let Some(status) = process.exited() {
                    panic!(
                        "{} exited ({status}) while waiting for {what}:\n{}",
                        process.name,
                        process.tail()
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{what} did not answer {url} within 90 s:\n{}",
            self.report()
        );
    }

    /// Every process's last output.
    pub fn report(&self) -> String {
        self.processes
            .iter()
            .map(|p| format!("--- {}\n{}", p.name, p.tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Makes every folder under `root` read-only except the writable mounts (and what is inside
/// them). Symlinked folders are left alone.
fn lock_down(root: &Path, writable: &[PathBuf]) {
    if writable.iter().any(|w| w == root) {
        return;
    }
    let Ok(metadata) = std::fs::symlink_metadata(root) else {
        return;
    };
    if !metadata.is_dir() {
        return;
    }
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        lock_down(&entry.path(), writable);
    }
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o555))
        .expect("make a folder read-only");
}

/// The value after `flag` in a command line.
pub fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|pair| pair[0] == flag)
        .map(|pair| pair[1].as_str())
}
