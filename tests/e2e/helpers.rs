//! Starting `dojo up` on free ports and talking to what it started.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The ports one lab runs on, all picked free for this test.
#[derive(Debug, Clone, Copy)]
pub struct LabPorts {
    pub dojo: u16,
    pub frontend: u16,
    pub api: u16,
    pub payments: u16,
    pub payments_proxy: u16,
    pub tempo: u16,
    pub otlp_grpc: u16,
    pub otlp_http: u16,
}

impl LabPorts {
    /// Eight distinct ports nobody is listening on right now.
    pub fn free() -> LabPorts {
        // Hold all seven listeners at once so the OS cannot hand out the same port twice.
        let listeners: Vec<TcpListener> = (0..8)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding a free port"))
            .collect();
        let port = |i: usize| listeners[i].local_addr().expect("a bound port").port();
        LabPorts {
            dojo: port(0),
            frontend: port(1),
            api: port(2),
            payments: port(3),
            tempo: port(4),
            otlp_grpc: port(5),
            otlp_http: port(6),
            payments_proxy: port(7),
        }
    }
}

/// Everything a child prints on its piped stdout and stderr, line by line as it comes,
/// interleaved.
pub fn collect_output(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let output = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let output = Arc::clone(&output);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                output.lock().unwrap().push(line);
            }
        });
    }
    output
}

/// A running `dojo up`; killed (with its children, which notice their parent's pipes close)
/// when dropped.
pub struct Lab {
    pub ports: LabPorts,
    pub child: Child,
    /// Everything `dojo up` printed so far, stdout and stderr interleaved.
    pub output: Arc<Mutex<Vec<String>>>,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
}

impl Lab {
    /// Starts `dojo up` with the extra flags and waits until it says the lab is up.
    pub async fn start(extra: &[&str]) -> Lab {
        Lab::start_with_env(extra, &[]).await
    }

    /// Starts `dojo up` with the extra flags and environment variables (which its children
    /// inherit) and waits until it says the lab is up.
    pub async fn start_with_env(extra: &[&str], vars: &[(&str, &str)]) -> Lab {
        Lab::start_with(None, extra, vars).await
    }

    /// Starts `dojo up` again on the data directory of an earlier lab (on other ports).
    pub async fn start_in(data_dir: &Path, extra: &[&str]) -> Lab {
        Lab::start_with(Some(data_dir), extra, &[]).await
    }

    async fn start_with(data_dir: Option<&Path>, extra: &[&str], vars: &[(&str, &str)]) -> Lab {
        // Free ports are picked before `dojo up` binds them, so a test running beside this one
        // can take one in between; a start that lost a port that way is tried again on others.
        for _ in 0..2 {
            let mut lab = Lab::spawn(data_dir, extra, vars);
            lab.wait_for_output_or_exit("The lab is up", Duration::from_secs(180))
                .await;
            let lost_a_port = lab.child.try_wait().ok().flatten().is_some()
                && lab
                    .output
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|l| l.contains("Address already in use"));
            if !lost_a_port {
                lab.wait_for_output("The lab is up", Duration::from_secs(1))
                    .await;
                return lab;
            }
        }
        let mut lab = Lab::spawn(data_dir, extra, vars);
        lab.wait_for_output("The lab is up", Duration::from_secs(180))
            .await;
        lab
    }

    /// Starts `dojo up` on free ports, without waiting for it.
    fn spawn(data_dir: Option<&Path>, extra: &[&str], vars: &[(&str, &str)]) -> Lab {
        let ports = LabPorts::free();
        let data_dir = data_dir.map(Path::to_path_buf).unwrap_or_else(|| {
            std::env::temp_dir().join(format!("dojo-e2e-{}-{}", std::process::id(), ports.dojo))
        });
        let mut command = Command::new(env!("CARGO_BIN_EXE_dojo"));
        command
            .arg("up")
            .args(["--port", &ports.dojo.to_string()])
            .args(["--frontend-port", &ports.frontend.to_string()])
            .args(["--api-port", &ports.api.to_string()])
            .args(["--payments-port", &ports.payments.to_string()])
            .args(["--payments-proxy-port", &ports.payments_proxy.to_string()])
            .args(["--tempo-port", &ports.tempo.to_string()])
            .args(["--otlp-grpc-port", &ports.otlp_grpc.to_string()])
            .args(["--otlp-http-port", &ports.otlp_http.to_string()])
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--labs")
            .arg(repo_root().join("labs"))
            .arg("--content")
            .arg(repo_root().join("content"))
            .args(extra)
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("starting dojo up");
        let output = collect_output(&mut child);
        Lab {
            ports,
            child,
            output,
            data_dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Waits until a line containing `needle` has been printed, `dojo up` has exited, or the
    /// time is up, whichever comes first.
    async fn wait_for_output_or_exit(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .output
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                // Let the output readers catch the last lines.
                tokio::time::sleep(Duration::from_millis(300)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until a line containing `needle` has been printed; fails with all output if not.
    pub async fn wait_for_output(&mut self, needle: &str, timeout: Duration) {
        self.wait_for_output_or_exit(needle, timeout).await;
        let output = self.output.lock().unwrap().join("\n");
        if output.lines().any(|l| l.contains(needle)) {
            return;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                panic!(
                    "dojo up exited ({status}) before printing {needle:?}; it printed:\n{output}"
                )
            }
            _ => {
                panic!("dojo up did not print {needle:?} within {timeout:?}; it printed:\n{output}")
            }
        }
    }

    pub fn url(&self, port: u16, path: &str) -> String {
        format!("http://127.0.0.1:{port}{path}")
    }

    /// Every fault the three shop services list, read from their admin APIs with the admin
    /// token (the list names each learner's fault, so it is not open); `None` while a service
    /// does not answer with a listing.
    pub async fn shop_faults(&self, admin_token: &str) -> Option<Vec<serde_json::Value>> {
        let mut faults = Vec::new();
        for port in [self.ports.frontend, self.ports.api, self.ports.payments] {
            let response = self
                .http
                .get(self.url(port, "/admin/faults"))
                .bearer_auth(admin_token)
                .send()
                .await
                .ok()?;
            if !response.status().is_success() {
                return None;
            }
            let listing: serde_json::Value = response.json().await.ok()?;
            faults.extend(listing["faults"].as_array()?.iter().cloned());
        }
        Some(faults)
    }

    /// GETs a URL and returns the status and body.
    pub async fn get(&self, url: &str) -> (u16, String) {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// GETs a URL; `None` when nothing answers (yet).
    pub async fn try_get(&self, url: &str) -> Option<(u16, String)> {
        let response = self.http.get(url).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.unwrap_or_default()))
    }

    /// Polls `check` every half second until it returns `Some`, or fails after `timeout`.
    pub async fn eventually<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: not seen within {timeout:?}. dojo up printed:\n{}",
                    self.output.lock().unwrap().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Searches the embedded store's Tempo API until `query` finds a trace; answers the id of
    /// the first one found, or fails after `timeout` saying `what` was awaited.
    pub async fn find_trace(&self, what: &str, query: &str, timeout: Duration) -> String {
        let search = self.url(
            self.ports.tempo,
            &format!("/api/search?q={}&limit=5", urlencode(query)),
        );
        self.eventually(what, timeout, || async {
            let (status, body) = self.try_get(&search).await?;
            if status != 200 {
                return None;
            }
            let json: serde_json::Value = serde_json::from_str(&body).ok()?;
            json["traces"][0]["traceID"].as_str().map(str::to_owned)
        })
        .await
    }

    /// Runs `dojo grade --json` with these flags against this lab (the repository's labs, its
    /// data directory) and answers the feedback.
    pub async fn grade_json(&self, flags: &[&str]) -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_dojo"))
            .arg("grade")
            .args(flags)
            .args(["--json", "--labs"])
            .arg(repo_root().join("labs"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .await
            .expect("running dojo grade");
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(&stdout).unwrap_or_else(|_| {
            panic!(
                "dojo grade {flags:?}: no feedback: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }

    /// Joins the course as `name` (with the workshop `code`) through its form, as a browser
    /// would; the session cookie of the joined learner.
    pub async fn join(&self, name: &str, code: &str) -> String {
        let page = self
            .http
            .get(self.url(self.ports.dojo, "/join"))
            .send()
            .await
            .expect("the join page answers");
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
        let html = page.text().await.expect("a body");
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF token")
            .to_owned();
        // The session is renewed when a learner joins: keep the cookie the answer sets.
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let joined = no_redirects
            .post(self.url(self.ports.dojo, "/join"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={}&name={}&code={}",
                urlencode(&csrf),
                urlencode(name),
                urlencode(code)
            ))
            .send()
            .await
            .expect("joining answers");
        assert!(
            joined.status().is_success() || joined.status().is_redirection(),
            "{name} joins: {}",
            joined.status()
        );
        let renewed: Vec<String> = joined
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .collect();
        if renewed.is_empty() {
            cookie
        } else {
            renewed.join("; ")
        }
    }

    /// Runs `dojo deploy` with these flags against this lab and waits for it.
    pub async fn deploy(&self, flags: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_dojo"))
            .arg("deploy")
            .args(flags)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .await
            .expect("running dojo deploy")
    }

    /// Sends SIGTERM to `dojo up` and waits for it to exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("dojo up is running") as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("signalling dojo up");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("dojo up stops within 30 s of SIGTERM")
            .expect("waiting for dojo up");
        let _ = std::fs::remove_dir_all(&self.data_dir);
        status
    }
}

/// The processes `dojo up` started (pid and command line), read from /proc. The deployable
/// services listen on private ports behind `dojo up`'s relays, so tests find them this way.
pub fn lab_children(lab: &Lab) -> Vec<(i32, String)> {
    let Some(parent) = lab.child.id() else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so read after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
            .unwrap_or_default();
        children.push((pid, cmdline.trim().to_owned()));
    }
    children
}

/// Whether a process still runs (and is not a zombie).
pub fn is_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// The repository's top folder (this package lives in dojo/).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// True when something accepts connections on the port.
pub fn is_listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

/// The trace ids of a Tempo search answer (`/api/search`), in its order; none when the body
/// is not a search answer.
pub fn search_trace_ids(body: &str) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    json["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["traceID"].as_str())
        // Tempo writes a search result's trace id without its leading zeros; pad it back to
        // the 32 hex digits the trace itself (and every other answer) carries.
        .map(|id| format!("{id:0>32}"))
        .collect()
}

/// Percent-encodes a query-string or form value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
