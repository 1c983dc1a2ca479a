//! The live lab for the tests: the trace store in process on port 0, the three tiers and the
//! load generator as child processes of the real `dojo` binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::backend::{SearchRequest, TraceBackend, Window};
use dojo_store::{Store, StoreConfig, StoreListeners};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A temp folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("dojo-labs-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The admin token every tier of the test shop is started with (its fault admin API).
pub const ADMIN_TOKEN: &str = "labs-test-admin-token";

/// The running shop. Children are killed when it is dropped.
pub struct Shop {
    pub store: Store,
    pub frontend_url: String,
    pub api_url: String,
    pub payments_url: String,
    children: Vec<Child>,
    /// The database and scenario file; removed when the shop is dropped.
    _dir: TempDir,
    otlp_endpoint: String,
}

fn dojo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dojo"));
    command.kill_on_drop(true).stdin(Stdio::null());
    command
}

/// Starts one tier and returns it with the URL it printed first.
async fn start_tier(tier: &str, env: &[(&str, String)]) -> (Child, String) {
    let mut child = dojo()
        .args(["service", tier, "--port", "0"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting dojo service {tier}: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{tier} printed nothing within 60 s"))
        .unwrap_or_else(|e| panic!("reading {tier}'s output: {e}"))
        .unwrap_or_else(|| panic!("{tier} exited before listening"));
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{tier}'s first line is not `listening on …`: {first}"))
        .trim()
        .to_string();
    // Keep draining stdout (JSON logs) so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

impl Shop {
    /// Starts the store and the three tiers with this fault scenario file content.
    pub async fn start(scenario_yaml: &str) -> Shop {
        let store = Store::new(StoreConfig::default()).expect("the default store config is valid");
        let any = "127.0.0.1:0".parse().expect("a valid address");
        let listeners = StoreListeners::bind(any, any, any)
            .await
            .expect("port 0 binds");
        let addrs = listeners.addrs().expect("bound listeners have addresses");
        let serving = store.clone();
        tokio::spawn(async move {
            let _ = dojo_store::serve(serving, listeners, std::future::pending()).await;
        });

        let dir = TempDir::new();
        let scenario = dir.0.join("scenario.yaml");
        std::fs::write(&scenario, scenario_yaml).expect("the temp dir is writable");
        let otlp_endpoint = format!("http://{}", addrs.otlp_http);
        let common = |extra: Vec<(&'static str, String)>| {
            let mut env = vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint.clone()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
                ("OTEL_TRACES_SAMPLER", "parentbased_always_on".to_string()),
                // Export every half second so the test does not wait for the 5 s default.
                ("OTEL_BSP_SCHEDULE_DELAY", "500".to_string()),
                ("DOJO_FAULT_SCENARIO", scenario.display().to_string()),
                ("DOJO_ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
            ];
            env.extend(extra);
            env
        };
        // The api calls payments through the network proxy, as under `dojo up`, and sends a
        // fifth of its charges to a canary of the next release, which follows the stable
        // release's faults (Lab 2 tells the two releases apart).
        let proxy_port = dojo_testkit::free_port();
        let state = dir.0.join("payments-faults.json");
        let (payments, payments_url) = start_tier(
            "payments",
            &common(vec![
                ("DOJO_PAYMENTS_PROXY_PORT", proxy_port.to_string()),
                ("DOJO_FAULT_STATE", state.display().to_string()),
            ]),
        )
        .await;
        let mut canary_env: Vec<(&str, String)> = common(vec![])
            .into_iter()
            .filter(|(name, _)| *name != "DOJO_FAULT_SCENARIO")
            .collect();
        canary_env.extend([
            ("DOJO_FAULT_FOLLOW", state.display().to_string()),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.version=0.2.0,deployment.id=dep-payments-canary".to_string(),
            ),
        ]);
        let (canary, canary_url) = start_tier("payments", &canary_env).await;
        let (api, api_url) = start_tier(
            "api",
            &common(vec![
                ("PAYMENTS_URL", format!("http://127.0.0.1:{proxy_port}")),
                ("DOJO_PAYMENTS_CANARY_URL", canary_url),
                (
                    "DATABASE_URL",
                    format!("sqlite:{}", dir.0.join("shop.db").display()),
                ),
            ]),
        )
        .await;
        let (frontend, frontend_url) =
            start_tier("frontend", &common(vec![("API_URL", api_url.clone())])).await;
        Shop {
            store,
            frontend_url,
            api_url,
            payments_url,
            children: vec![payments, canary, api, frontend],
            _dir: dir,
            otlp_endpoint,
        }
    }

    /// Runs the load generator as `learner` for `duration` and waits for it to finish.
    pub async fn load(&self, learner: &str, duration: &str, seed: u64) -> Child {
        self.load_at(learner, duration, seed, "0").await
    }

    /// [`Shop::load`] at `rate` journeys a second (`0`: as fast as 3 shoppers go).
    pub async fn load_at(&self, learner: &str, duration: &str, seed: u64, rate: &str) -> Child {
        dojo()
            .args([
                "loadgen",
                "--target",
                &self.frontend_url,
                "--api-target",
                &self.api_url,
                "--rate",
                rate,
                "--concurrency",
                "3",
            ])
            .args([
                "--duration",
                duration,
                "--learner",
                learner,
                "--quiet",
                "--seed",
                &seed.to_string(),
            ])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &self.otlp_endpoint)
            .env("OTEL_BSP_SCHEDULE_DELAY", "500")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting dojo loadgen")
    }

    /// Where the services export OTLP/HTTP.
    pub fn otlp_endpoint(&self) -> &str {
        &self.otlp_endpoint
    }

    /// `(service name, base URL)` of the three tiers, for their fault admin APIs.
    pub fn services(&self) -> Vec<(String, String)> {
        vec![
            ("frontend".to_string(), self.frontend_url.clone()),
            ("api".to_string(), self.api_url.clone()),
            ("payments".to_string(), self.payments_url.clone()),
        ]
    }

    /// The in-process backend over the shop's store.
    pub fn backend(&self) -> Arc<dyn TraceBackend> {
        Arc::new(EmbeddedBackend::new(self.store.clone()))
    }

    /// Trace ids matching a query over the last 15 minutes, newest first.
    pub async fn find(&self, query: &str, limit: usize) -> Vec<String> {
        self.find_in(None, query, limit).await
    }

    /// [`Shop::find`] in one tenant (`None`: the default one).
    pub async fn find_in(&self, tenant: Option<&str>, query: &str, limit: usize) -> Vec<String> {
        let backend = EmbeddedBackend::new(self.store.clone());
        let hits = backend
            .search(SearchRequest {
                tenant,
                query,
                parsed: None,
                window: Window::ending_now(Duration::from_secs(900), Duration::ZERO),
                limit,
                spans_per_spanset: 3,
            })
            .await
            .unwrap_or_else(|e| panic!("searching {query}: {e}"));
        hits.iter().map(|h| h.trace_id.to_string()).collect()
    }

    /// Waits until `query` matches at least `count` traces.
    pub async fn wait_for(&self, query: &str, count: usize, timeout: Duration) {
        self.wait_in(None, query, count, timeout).await;
    }

    /// [`Shop::wait_for`] in one tenant.
    pub async fn wait_for_tenant(
        &self,
        tenant: &str,
        query: &str,
        count: usize,
        timeout: Duration,
    ) {
        self.wait_in(Some(tenant), query, count, timeout).await;
    }

    async fn wait_in(&self, tenant: Option<&str>, query: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.find_in(tenant, query, count).await.len();
            if found >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {found} of {count} traces match {query} in {tenant:?} after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.start_kill();
        }
    }
}

/// The repository's `labs/` folder.
pub fn labs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs")
}
