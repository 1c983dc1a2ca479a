//! The dojo server: the course, the grader's API and — on a laptop — the embedded trace store,
//! in one process.
//!
//! `dojo up` runs it in-process (so the course reads the services' logs from the same log
//! book); `dojo serve` runs it alone, for example beside a real Tempo in compose or Kubernetes.
//! The trace backend is the one swappable part: the embedded store, or Tempo at `--tempo-url`.

mod faults;
mod histories;
mod logs;
mod scenario;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use dojo_course::adapters::alerts::ProgressAlerts;
use dojo_course::adapters::faults::ServiceFaults;
use dojo_course::adapters::grader::InProcessGrader;
use dojo_course::adapters::panels::ProgressPanels;
use dojo_course::backend::FaultControl;
use dojo_course::content::Course;
use dojo_course::traces::Traces;
use dojo_course::{CourseSettings, CourseState, Secret};
use dojo_grader::backend::TraceBackend;
use dojo_grader::backend::embedded::EmbeddedBackend;
use dojo_grader::backend::tempo::{TempoBackend, TempoConfig};
use dojo_grader::check::Settings;
use dojo_grader::fault_switch::ServiceFaultSwitch;
use dojo_grader::progress::Progress;
use dojo_grader::service::{Grader, TenantPolicy};
use dojo_store::{Store, StoreConfig, StoreListeners};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::logbook::LogBook;

use faults::ScenarioPusher;

/// Where the server listens and what it serves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The course, grader API and instructor pages.
    pub web: SocketAddr,
    /// The embedded store's three listeners; unused with a remote Tempo.
    pub tempo_http: SocketAddr,
    pub otlp_http: SocketAddr,
    pub otlp_grpc: SocketAddr,
    /// A remote Tempo to use instead of the embedded store.
    pub tempo: Option<TempoConfig>,
    /// A store configuration file (limits, ingest pipeline); defaults without one.
    pub store_config: Option<PathBuf>,
    /// Where the embedded store keeps its write-ahead log (`<data-dir>/wal`); `None` keeps
    /// traces in memory only (`--no-wal`).
    pub wal_dir: Option<PathBuf>,
    /// The progress database (`sqlite:` or `postgres://`).
    pub database_url: String,
    pub labs_dir: PathBuf,
    pub content_dir: PathBuf,
    pub instructor_token: Option<String>,
    pub workshop_code: Option<String>,
    /// The sample services' admin APIs, for the instructor's fault toggles.
    pub services: Vec<(String, String)>,
    pub admin_token: Option<String>,
    /// The course's public address, when it sits behind a reverse proxy.
    pub public_url: Option<String>,
    /// Workshop mode with a lab: keep each joined learner's variant of this lab's fault
    /// scenario switched on in the shared app, scoped by their `learner.id`.
    pub workshop_lab: Option<String>,
    /// On a laptop (`dojo up --lab`): the lab whose faults follow one learner's incidents.
    pub solo_lab: Option<SoloLab>,
    /// Multiplies the phases of alert exercises' gradings (1: as the labs say).
    pub alert_time_scale: f64,
}

/// A lab run for one learner on a laptop: the faults of their current incident hit all
/// traffic, and follow them when they ask for another incident.
#[derive(Debug, Clone)]
pub struct SoloLab {
    pub lab: String,
    pub learner: dojo_grader::progress::LearnerId,
    /// The plan the services were started with (their scenario file).
    pub started_with: Vec<dojo_grader::scenario::PlannedFault>,
}

/// What the server bound, so callers can print it.
#[derive(Debug, Clone, Copy)]
pub struct ServerAddrs {
    pub web: SocketAddr,
    /// `None` with a remote Tempo.
    pub store: Option<dojo_store::StoreAddrs>,
}

/// A bound, ready server: call [`Server::run`] to serve.
pub struct Server {
    pub addrs: ServerAddrs,
    /// What the embedded store replayed from its write-ahead log at start.
    pub replayed: Option<dojo_store::ReplayReport>,
    web: TcpListener,
    app: Router,
    store: Option<(Store, StoreListeners)>,
    /// The workshop scenario task, stopped with the server.
    activator: Option<tokio::task::JoinHandle<()>>,
    /// The task sending each workshop learner's change history, stopped with the server.
    histories: Option<tokio::task::JoinHandle<()>>,
    /// The continuous evaluation of learners' alert rules, stopped with the server.
    _alert_evaluation: AbortOnDrop,
}

impl Server {
    /// Loads the labs and lessons, connects the progress database, builds the trace backend
    /// and binds every listener. Errors here are the operator's to fix, and say how.
    pub async fn bind(options: ServerOptions, logbook: LogBook) -> anyhow::Result<Server> {
        let labs = dojo_grader::spec::load_dir(&options.labs_dir)
            .with_context(|| format!("loading the labs from {}", options.labs_dir.display()))?;
        let course = Course::load(&options.content_dir).with_context(|| {
            format!("loading the lessons from {}", options.content_dir.display())
        })?;
        let progress = Progress::connect(&options.database_url)
            .await
            .with_context(|| "opening the progress database".to_string())?;

        let mut replayed = None;
        // The course and the grader read traces through the same backend.
        let (backend, traces, store): (Arc<dyn TraceBackend>, Traces, _) = match &options.tempo {
            Some(tempo) => {
                let backend: Arc<dyn TraceBackend> = Arc::new(
                    TempoBackend::new(tempo.clone()).context("configuring the Tempo backend")?,
                );
                let traces = Traces::new(Arc::clone(&backend), tempo.default_tenant.clone());
                (backend, traces, None)
            }
            None => {
                let config = match &options.store_config {
                    Some(path) => StoreConfig::from_file(path).with_context(|| {
                        format!("reading the store configuration {}", path.display())
                    })?,
                    None => StoreConfig::default(),
                };
                // The admin token also shows every tenant on the store's /metrics.
                let store = Store::with_operator_token(config, options.admin_token.clone())
                    .context("building the trace store's ingest pipeline")?;
                if options.workshop_code.is_some() {
                    // A workshop: each learner's traces go to their own tenant, which
                    // their pages and their grading read.
                    store.route_by_learner();
                }
                if let Some(dir) = &options.wal_dir {
                    let wal = store.config().wal.clone();
                    replayed = Some(store.attach_wal(dir, wal)?);
                }
                let listeners =
                    StoreListeners::bind(options.tempo_http, options.otlp_http, options.otlp_grpc)
                        .await?;
                let backend: Arc<dyn TraceBackend> = Arc::new(EmbeddedBackend::new(store.clone()));
                let traces = Traces::new(Arc::clone(&backend), None);
                (backend, traces, Some((store, listeners)))
            }
        };

        let pusher = Arc::new(ScenarioPusher::new(
            options.services.clone(),
            options.admin_token.clone(),
        )?);
        let scenario_lab = match (&options.workshop_lab, &options.solo_lab) {
            (Some(lab_id), _) => Some((lab_id, scenario::Audience::Class)),
            (None, Some(solo)) => Some((
                &solo.lab,
                scenario::Audience::Solo {
                    learner: solo.learner.clone(),
                    started_with: solo.started_with.clone(),
                },
            )),
            (None, None) => None,
        };
        let activator = match scenario_lab {
            Some((lab_id, audience)) => {
                let lab = labs.get(lab_id).cloned().ok_or_else(|| {
                    let known: Vec<String> = labs.iter().map(|lab| lab.id.clone()).collect();
                    anyhow::anyhow!(
                        "there is no lab called {lab_id:?}; the labs are: {}",
                        known.join(", ")
                    )
                })?;
                Some(tokio::spawn(scenario::keep_scenario_on(
                    lab,
                    progress.clone(),
                    pusher,
                    audience,
                )))
            }
            None => None,
        };
        // In a workshop on the embedded store, each learner's change history goes to their
        // own tenant when they join.
        let histories = match (&store, &options.workshop_code) {
            (Some((_, listeners)), Some(_)) => Some(tokio::spawn(histories::send_to_each_learner(
                progress.clone(),
                format!("http://{}", listeners.addrs()?.otlp_http),
            ))),
            _ => None,
        };
        let panels = Arc::new(ProgressPanels::new(progress.clone()));
        let alerts = Arc::new(ProgressAlerts::new(progress.clone()));
        // Alert exercises switch the shop's faults through the services' admin APIs.
        let mut grader = Grader::new(labs, backend, Some(progress))
            .with_settings(Settings {
                alert_time_scale: options.alert_time_scale,
                ..Settings::default()
            })
            .with_fault_switch(Arc::new(ServiceFaultSwitch::new(
                options.services.clone(),
                options.admin_token.clone(),
            )));
        if store.is_some() && options.workshop_code.is_some() {
            grader = grader.with_tenants(TenantPolicy::Routed);
        }
        let faults: Arc<dyn FaultControl> = Arc::new(ServiceFaults::new(
            options.services.clone(),
            options.admin_token.clone().map(Secret::new),
        ));
        let settings = CourseSettings {
            instructor_token: options.instructor_token.clone().map(Secret::new),
            workshop_code: options.workshop_code.clone(),
            shop: options.services.clone(),
            https: options.public_url.as_deref().is_some_and(|url| {
                url.get(..8)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
            }),
            ..CourseSettings::default()
        };
        let state = CourseState::new(
            course,
            traces,
            Arc::new(logbook),
            Arc::new(InProcessGrader::new(grader.clone())),
            faults,
            settings,
        )
        .with_panels(panels)
        .with_alerts(alerts);
        let alert_evaluation = AbortOnDrop(dojo_course::alert_evaluation::spawn(state.clone()));
        let mut app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .merge(dojo_course::router(state));
        // The grader's JSON API names learners by id and has no sessions or name claims of
        // its own, so it is only served on a single learner's laptop. In a class (a workshop
        // code or an instructor token is set), learners go through the course, which shows
        // each of them only their own submissions.
        if options.workshop_code.is_none() && options.instructor_token.is_none() {
            app = app.merge(dojo_grader::api::router(grader));
        }

        let web = TcpListener::bind(options.web)
            .await
            .with_context(|| format!("binding the course on {}", options.web))?;
        let addrs = ServerAddrs {
            web: web.local_addr()?,
            store: match &store {
                Some((_, listeners)) => Some(listeners.addrs()?),
                None => None,
            },
        };
        Ok(Server {
            addrs,
            replayed,
            web,
            app,
            store,
            activator,
            histories,
            _alert_evaluation: alert_evaluation,
        })
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let web = dojo_listen::serve(
            self.web,
            self.app,
            dojo_listen::Limits::default(),
            stopped(),
        );
        let _activator = self.activator.map(AbortOnDrop);
        let _histories = self.histories.map(AbortOnDrop);
        match self.store {
            Some((store, listeners)) => {
                let (web, store) =
                    tokio::join!(web, dojo_store::serve(store, listeners, stopped()));
                web.context("the course server failed")?;
                store.context("the trace store failed")?;
            }
            None => web.await.context("the course server failed")?,
        }
        Ok(())
    }
}

/// Aborts a background task when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
