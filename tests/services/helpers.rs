//! Starting the shop as three `dojo service` processes on free ports, wired to each other
//! and to a capture OTLP receiver, and small helpers to walk a journey and read traces.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dojo_testkit::otlp::{CapturedSpan, OtlpReceiver};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a test waits for spans to arrive (the batch delay is 200 ms in tests).
pub const SPAN_WAIT: Duration = Duration::from_secs(20);

/// One tier's process and everything it printed.
pub struct Tier {
    pub url: String,
    /// Kept so the process lives as long as the test (killed on drop).
    _process: Child,
    /// Its stdout lines after the `listening on` line (the JSON logs), and stderr lines.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Tier {
    /// Starts `dojo service <name> --port 0` with `env` and waits for its listening line.
    pub async fn start(name: &'static str, env: &[(String, String)]) -> Tier {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dojo"));
        command
            .args(["service", name, "--port", "0"])
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("starting dojo service");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{name} did not print its listening line within 60 s"))
            .expect("reading stdout")
            .unwrap_or_else(|| panic!("{name} exited before listening"));
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!("{name}'s first line should be `listening on URL`, got {first:?}")
            })
            .to_owned();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().expect("log sink").push(line);
            }
        });
        let sink = output.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().expect("log sink").push(line);
            }
        });
        Tier {
            url,
            _process: child,
            output,
        }
    }

    /// Everything printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.output.lock().expect("log sink").clone()
    }
}

/// Options for a shop.
#[derive(Debug, Clone, Default)]
pub struct ShopOptions {
    /// `DATABASE_URL` of the api (a fresh SQLite file when absent).
    pub database_url: Option<String>,
    /// Extra environment for all three tiers.
    pub env: Vec<(String, String)>,
    /// Point the exporters at this URL instead of the capture receiver.
    pub otlp_endpoint: Option<String>,
}

/// The three tiers and the receiver of their spans.
pub struct Shop {
    pub receiver: OtlpReceiver,
    pub payments: Tier,
    pub api: Tier,
    pub frontend: Tier,
    pub http: reqwest::Client,
    _data: TempDir,
}

/// A directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Shop {
    /// Starts payments, then the api, then the frontend, each wired to the next.
    pub async fn start(options: ShopOptions) -> Shop {
        let receiver = OtlpReceiver::start()
            .await
            .expect("starting the OTLP receiver");
        let data =
            std::env::temp_dir().join(format!("dojo-services-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).expect("creating a data directory");
        let mut env: Vec<(String, String)> = vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                options
                    .otlp_endpoint
                    .clone()
                    .unwrap_or_else(|| receiver.endpoint()),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into()),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
            ("TRACE_ENVIRONMENT".into(), "test".into()),
            ("TRACE_CLUSTER_NAME".into(), "ci".into()),
            ("DOJO_PAYMENTS_TIMEOUT_MS".into(), "500".into()),
        ];
        env.extend(options.env.clone());
        // The api calls payments through the network proxy in front of it, as under `dojo up`.
        let proxy_port = dojo_testkit::free_port();
        let mut payments_env = env.clone();
        payments_env.push(("DOJO_PAYMENTS_PROXY_PORT".into(), proxy_port.to_string()));
        let payments = Tier::start("payments", &payments_env).await;
        let database_url = options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data.join("shop.db").display()));
        let mut api_env = env.clone();
        api_env.push(("DATABASE_URL".into(), database_url));
        api_env.push((
            "PAYMENTS_URL".into(),
            format!("http://127.0.0.1:{proxy_port}"),
        ));
        let api = Tier::start("api", &api_env).await;
        let mut frontend_env = env.clone();
        frontend_env.push(("API_URL".into(), api.url.clone()));
        let frontend = Tier::start("frontend", &frontend_env).await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Shop {
            receiver,
            payments,
            api,
            frontend,
            http,
            _data: TempDir(data),
        }
    }

    /// The tier with this name.
    pub fn tier(&self, name: &str) -> &Tier {
        match name {
            "frontend" => &self.frontend,
            "api" => &self.api,
            _ => &self.payments,
        }
    }

    /// Sends a request to the frontend as `learner`, returning status and JSON body.
    pub async fn call(
        &self,
        learner: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.frontend.url))
            .header(
                "baggage",
                format!("learner.id={learner},user.id=u-{learner}"),
            );
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the frontend answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A whole journey as `learner`: cart, one item, checkout with `card`. Returns the
    /// checkout's status and body.
    pub async fn checkout(&self, learner: &str, card: &str) -> (u16, Value) {
        let (status, cart) = self
            .call(learner, reqwest::Method::POST, "/api/carts", None)
            .await;
        assert_eq!(status, 201, "creating a cart: {cart}");
        let cart_id = cart["cart_id"].as_i64().expect("a cart id");
        let item = json!({ "product_id": 3, "quantity": 2 });
        let (status, body) = self
            .call(
                learner,
                reqwest::Method::POST,
                &format!("/api/carts/{cart_id}/items"),
                Some(item),
            )
            .await;
        assert_eq!(status, 200, "adding an item: {body}");
        self.call(
            learner,
            reqwest::Method::POST,
            "/api/checkout",
            Some(json!({ "cart_id": cart_id, "card_number": card })),
        )
        .await
    }

    /// Switches a fault on through a tier's admin API; panics unless it answers 200.
    pub async fn enable(&self, tier: &str, fault: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/admin/faults/{fault}", self.tier(tier).url))
            .json(&body)
            .send()
            .await
            .expect("admin API answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "enabling {fault} on {tier}: {text}");
    }

    /// Switches a fault off.
    pub async fn disable(&self, tier: &str, fault: &str) {
        let response = self
            .http
            .delete(format!("{}/admin/faults/{fault}", self.tier(tier).url))
            .send()
            .await
            .expect("admin API answers");
        assert_eq!(response.status(), 200, "disabling {fault} on {tier}");
    }

    /// Waits until the frontend's server span of `learner` arrived, then for the rest of
    /// its traces (a few batch delays), and returns every span of the learner's traces,
    /// grouped by trace id.
    pub async fn traces_of(&self, learner: &str) -> BTreeMap<String, Vec<CapturedSpan>> {
        self.receiver
            .wait_for(
                &format!("a frontend server span of learner {learner}"),
                SPAN_WAIT,
                |spans| {
                    spans.iter().any(|s| {
                        s.service == "frontend"
                            && s.kind == "server"
                            && s.attr_str("learner.id") == Some(learner)
                    })
                },
            )
            .await
            .expect("spans arrive");
        // Then until no new span of the learner's traces has arrived for a while (several
        // batch delays), so late spans from the other services are in.
        let start = std::time::Instant::now();
        let mut seen = 0;
        let mut quiet_since = std::time::Instant::now();
        while start.elapsed() < SPAN_WAIT {
            let count: usize = group_by_learner(&self.receiver.spans(), learner)
                .values()
                .map(Vec::len)
                .sum();
            if count != seen {
                seen = count;
                quiet_since = std::time::Instant::now();
            } else if quiet_since.elapsed() >= Duration::from_millis(1000) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        group_by_learner(&self.receiver.spans(), learner)
    }
}

/// Every span of every trace in which some span carries `learner.id = learner`.
pub fn group_by_learner(
    spans: &[CapturedSpan],
    learner: &str,
) -> BTreeMap<String, Vec<CapturedSpan>> {
    let trace_ids: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.attr_str("learner.id") == Some(learner))
        .map(|s| s.trace_id.as_str())
        .collect();
    let mut traces: BTreeMap<String, Vec<CapturedSpan>> = BTreeMap::new();
    for span in spans
        .iter()
        .filter(|s| trace_ids.contains(s.trace_id.as_str()))
    {
        traces
            .entry(span.trace_id.clone())
            .or_default()
            .push(span.clone());
    }
    traces
}

/// A unique learner id for one test case.
pub fn learner(tag: &str) -> String {
    format!("{tag}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// A readable list of spans for failure messages.
pub fn describe(spans: &[CapturedSpan]) -> String {
    spans
        .iter()
        .map(|s| {
            let events: Vec<&str> = s.events.iter().map(|e| e.name.as_str()).collect();
            format!(
                "{}:{} {} ({:?}{}) {:?} events {events:?}",
                s.service,
                s.kind,
                s.name,
                s.duration(),
                if s.error { ", error" } else { "" },
                s.attributes
            )
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}
