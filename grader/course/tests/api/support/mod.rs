//! Test harness: `TestApp::spawn` starts the course on port 0 with the repository's lessons,
//! a shelf of hand-built traces, a classroom grader and a log book; `Client` is a tiny
//! cookie-keeping HTTP client that reads CSRF tokens out of forms like a browser would.

pub mod classroom;
pub mod shelf;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dojo_course::adapters::alerts::ProgressAlerts;
use dojo_course::adapters::grader::InProcessGrader;
use dojo_course::adapters::panels::ProgressPanels;
use dojo_course::backend::Grading;
use dojo_course::backend::{FaultControl, FaultError, FaultState, LogEntry, LogSource};
use dojo_course::content::Course;
use dojo_course::markdown::highlight::form_urlencode;
use dojo_course::session::COOKIE_NAME;
use dojo_course::traces::Traces;
use dojo_course::{CourseSettings, CourseState, Secret};
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
use dojo_grader::progress::Progress;
use dojo_grader::service::Grader;
use dojo_grader::spec::load_dir;
use dojo_store::otlp::convert::{ConvertedBatch, IncomingSpan};
use dojo_store::{Store, StoreConfig, TenantId};
use dojo_traceql::model::{Trace, TraceId};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

pub use classroom::Classroom;
pub use shelf::Shelf;

/// The instructor token the test app is started with.
pub const INSTRUCTOR_TOKEN: &str = "test-instructor-token-0123456789";

pub fn content_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content")
}

/// A real embedded trace store holding these traces, as if the services had sent them.
pub fn store_holding(traces: &[Trace]) -> Store {
    let store = Store::new(StoreConfig::default()).expect("a store with the default configuration");
    ingest(&store, &TenantId::default_tenant(), traces);
    store
}

/// Puts these traces into `tenant` of the store, as if the services had sent them there.
pub fn ingest(store: &Store, tenant: &TenantId, traces: &[Trace]) {
    let spans = traces
        .iter()
        .flat_map(|trace| {
            trace.spans.iter().map(|span| IncomingSpan {
                trace_id: trace.trace_id,
                span: span.clone(),
                bytes: 1024,
            })
        })
        .collect();
    let batch = ConvertedBatch {
        spans,
        ..ConvertedBatch::default()
    };
    store
        .ingest_converted(tenant, batch)
        .expect("the store takes the spans");
}

/// Serves the course on a free port of 127.0.0.1; answers its address.
pub async fn serve_course(state: CourseState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        // Served as dojo serves it: the guarded listener, which tells handlers the client's
        // address (the join and sign-in throttles count by it).
        dojo_listen::serve(
            listener,
            dojo_course::router(state),
            dojo_listen::Limits::default(),
            std::future::pending(),
        )
        .await
        .expect("the course serves");
    });
    address
}

/// Serves the store's Tempo HTTP API on a free port of 127.0.0.1; answers its base URL.
pub async fn serve_tempo_api(store: Store) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("bound address"));
    tokio::spawn(async move {
        axum::serve(listener, dojo_store::tempo_router(store))
            .await
            .expect("the Tempo API serves");
    });
    url
}

/// A running course server.
pub struct TestApp {
    pub address: SocketAddr,
    pub faults: Arc<Switchboard>,
    /// The embedded store the course reads, to send more traces into it.
    pub store: Store,
}

/// Options for `TestApp::spawn`.
#[derive(Default)]
pub struct Options {
    pub workshop_code: Option<String>,
    /// Grade with the lab's real grader (`dojo-grader`, the repository's `labs/`, progress in
    /// an in-memory SQLite) instead of the small classroom grader.
    pub real_grader: bool,
    /// Read traces through the store's Tempo HTTP API with the grader's Tempo client, as the
    /// course does against a real Tempo, instead of in-process.
    pub via_tempo_api: bool,
    /// The course is configured as reached over HTTPS (`--public-url https://…`).
    pub https: bool,
    /// How often alert rules are evaluated (15 s when unset); with the real grader only.
    pub alert_interval: Option<std::time::Duration>,
    /// How long one rule's evaluation may take (2 s when unset).
    pub alert_budget: Option<std::time::Duration>,
    /// The store keeps each learner's traffic in their own tenant, as in a workshop (the
    /// shelf's traces are then the class's shared traffic, which no learner reads).
    pub routed_store: bool,
    /// The real grader's progress database (an in-memory SQLite when unset), to start a
    /// second course on the first one's data (a restart).
    pub progress_url: Option<String>,
}

pub fn labs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let course = Course::load(&content_dir()).expect("the repository's content loads");
        let shelf = Arc::new(Shelf::sample());
        let faults = Arc::new(Switchboard::default());
        let logs = Arc::new(ShelfLogs);
        let settings = CourseSettings {
            instructor_token: Some(Secret::new(INSTRUCTOR_TOKEN)),
            workshop_code: options.workshop_code,
            https: options.https,
            alert_interval: options
                .alert_interval
                .unwrap_or(CourseSettings::default().alert_interval),
            alert_budget: options
                .alert_budget
                .unwrap_or(CourseSettings::default().alert_budget),
            ..CourseSettings::default()
        };
        let store = store_holding(&shelf.traces);
        if options.routed_store {
            store.route_by_learner();
        }
        let kept_store = store.clone();
        let traces = if options.via_tempo_api {
            let url = serve_tempo_api(store.clone()).await;
            let tempo = TempoBackend::new(TempoConfig::new(url)).expect("a Tempo client");
            Traces::new(Arc::new(tempo), None)
        } else {
            Traces::new(Arc::new(EmbeddedBackend::new(store.clone())), None)
        };
        let mut panels = None;
        let mut alerts = None;
        let grading: Arc<dyn Grading> = if options.real_grader {
            let labs = load_dir(&labs_dir()).expect("the repository's labs load");
            let progress =
                Progress::connect(options.progress_url.as_deref().unwrap_or("sqlite::memory:"))
                    .await
                    .expect("a progress store");
            panels = Some(Arc::new(ProgressPanels::new(progress.clone())));
            alerts = Some(Arc::new(ProgressAlerts::new(progress.clone())));
            let backend = Arc::new(EmbeddedBackend::new(store));
            Arc::new(InProcessGrader::new(Grader::new(
                labs,
                backend,
                Some(progress),
            )))
        } else {
            Arc::new(Classroom::new(shelf.clone()))
        };
        let mut state = CourseState::new(course, traces, logs, grading, faults.clone(), settings);
        if let Some(panels) = panels {
            state = state.with_panels(panels);
        }
        if let Some(alerts) = alerts {
            state = state.with_alerts(alerts);
            // Evaluated as `dojo` evaluates them; the task ends with the test's runtime.
            dojo_course::alert_evaluation::spawn(state.clone());
        }
        let address = serve_course(state).await;
        TestApp {
            address,
            faults,
            store: kept_store,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn client(&self) -> Client {
        self.client_from(std::net::Ipv4Addr::LOCALHOST.into())
    }

    /// A browser connecting from another loopback address (127.0.0.2, …): another client
    /// as far as the course's per-address limits can tell.
    pub fn client_from(&self, address: std::net::IpAddr) -> Client {
        Client {
            base: self.url(""),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(address)
                .build()
                .expect("a reqwest client"),
            cookies: Default::default(),
        }
    }
}

/// A response, read whole.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    /// `Retry-After`, on refusals that have one.
    pub retry_after: Option<String>,
    pub body: String,
    /// For a followed form post: the POST's status and `Location`.
    pub redirect: Option<(u16, String)>,
}

impl Page {
    /// The value of the first `name="csrf"` hidden field.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .map(|i| i + marker.len())
            .expect("the page has a form with a CSRF token");
        self.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// A browser-like client: keeps its cookies (the session's and the learner's), does not
/// follow redirects.
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// name → value, as the server last set them.
    cookies: std::collections::BTreeMap<String, String>,
}

impl Client {
    async fn read(&mut self, response: reqwest::Response) -> Page {
        for set in response.headers().get_all(SET_COOKIE) {
            let Some((name, value)) = set
                .to_str()
                .ok()
                .and_then(|set| set.split(';').next())
                .and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.expect("a body");
        Page {
            status,
            location,
            retry_after,
            body,
            redirect: None,
        }
    }

    /// The session cookie this client sends (`dojo_session=…`).
    pub fn cookie(&self) -> Option<String> {
        self.cookies
            .get(COOKIE_NAME)
            .map(|id| format!("{COOKIE_NAME}={id}"))
    }

    /// Sends this session cookie from now on, as a browser that was handed it would.
    pub fn set_cookie(&mut self, cookie: Option<String>) {
        self.cookies.remove(COOKIE_NAME);
        if let Some((name, value)) = cookie.as_deref().and_then(|c| c.split_once('=')) {
            self.cookies.insert(name.to_string(), value.to_string());
        }
    }

    /// Whether the server left this cookie set.
    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    /// The `Cookie` header a browser would send now.
    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = self.cookie_header() {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("GET answers");
        self.read(response).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_urlencode(k), form_urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some(cookie) = self.cookie_header() {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("POST answers");
        self.read(response).await
    }

    /// Posts a lab form as a browser does: the course answers with a redirect to the lab page
    /// at the feedback (post/redirect/get), which is followed. The page answered carries the
    /// POST's status and `Location` in `redirect`, for tests of the redirect itself.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let posted = self.post(path, fields).await;
        match (posted.status.as_u16(), posted.location.clone()) {
            (303, Some(location)) => {
                let target = location.split('#').next().unwrap_or_default().to_string();
                let mut page = self.get(&target).await;
                page.redirect = Some((posted.status.as_u16(), location));
                page
            }
            _ => posted,
        }
    }

    /// Joins the class under `name` (fetching the form for its token first).
    pub async fn join(&mut self, name: &str) -> Page {
        let csrf = self.get("/join").await.csrf();
        self.post("/join", &[("csrf", &csrf), ("name", name)]).await
    }

    /// The same browser (its cookies) pointed at another course: the one started again.
    pub fn moved_to(mut self, app: &TestApp) -> Client {
        self.base = app.url("");
        self
    }

    /// Signs in as the instructor.
    pub async fn instructor(&mut self) -> Page {
        let csrf = self.get("/instructor").await.csrf();
        self.post(
            "/instructor/login",
            &[("csrf", &csrf), ("token", INSTRUCTOR_TOKEN)],
        )
        .await
    }
}

/// Log lines for the shelf's traces, as `dojo up` would keep them from the services' output.
pub struct ShelfLogs;

impl LogSource for ShelfLogs {
    fn logs_for_trace(&self, trace_id: TraceId) -> Vec<LogEntry> {
        shelf::log_lines()
            .into_iter()
            .filter(|(id, _)| *id == trace_id)
            .map(|(_, line)| line)
            .collect()
    }
}

/// Fault toggles kept in memory, as the services' admin APIs would keep them.
#[derive(Default)]
pub struct Switchboard {
    enabled: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Faults on only for these learners' traffic, as a workshop switches them.
    scoped: std::sync::Mutex<std::collections::BTreeMap<String, Vec<String>>>,
}

impl Switchboard {
    pub fn is_on(&self, id: &str) -> bool {
        self.enabled.lock().expect("not poisoned").contains(id)
    }

    /// Switches a fault on for these learners' traffic only.
    pub fn set_for(&self, id: &str, learners: &[&str]) {
        self.enabled
            .lock()
            .expect("not poisoned")
            .insert(id.to_string());
        self.scoped.lock().expect("not poisoned").insert(
            id.to_string(),
            learners.iter().map(|l| l.to_string()).collect(),
        );
    }
}

const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        "slow-query",
        "api",
        "one catalogue query sleeps before answering",
    ),
    (
        "payments-errors",
        "payments",
        "a share of charges fail with 503",
    ),
];

#[async_trait::async_trait]
impl FaultControl for Switchboard {
    async fn faults(&self) -> Result<Vec<FaultState>, FaultError> {
        let enabled = self.enabled.lock().expect("not poisoned");
        Ok(CATALOGUE
            .iter()
            .map(|(id, service, description)| FaultState {
                id: id.to_string(),
                service: service.to_string(),
                description: description.to_string(),
                enabled: enabled.contains(*id),
                learners: self.scoped.lock().expect("not poisoned").get(*id).cloned(),
            })
            .collect())
    }

    async fn set(&self, id: &str, on: bool) -> Result<(), FaultError> {
        if !CATALOGUE.iter().any(|(known, _, _)| *known == id) {
            return Err(FaultError(format!("there is no fault {id:?}")));
        }
        let mut enabled = self.enabled.lock().expect("not poisoned");
        if on {
            enabled.insert(id.to_string());
        } else {
            enabled.remove(id);
        }
        Ok(())
    }
}
