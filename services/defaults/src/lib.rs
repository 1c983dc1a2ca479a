//! The lab's default ports and the names of the environment variables it reads, in one place.
//!
//! Every binary, the compose file and the Kubernetes manifests must agree on these. A test in
//! `tests/deploy` reads the deployment files and checks them against this module, so a port
//! changed in one place only is caught.

/// The dojo server: course site, grader API, instructor pages.
pub const DOJO_PORT: u16 = 8080;
/// The shop's user-facing tier.
pub const FRONTEND_PORT: u16 = 8081;
/// The shop's business tier.
pub const API_PORT: u16 = 8082;
/// The stand-in external payments provider.
pub const PAYMENTS_PORT: u16 = 8083;
/// Services of the shop that stand in for a third party: the course draws them as external
/// dependencies in the service graph.
pub const EXTERNAL_SERVICES: &[&str] = &["payments"];
/// The network path in front of payments: a TCP proxy the `payments_network` fault disturbs.
pub const PAYMENTS_PROXY_PORT: u16 = 8084;
/// The control API of a deployable service's container (`dojo service … --control-port`):
/// where `dojo deploy` asks for a rollout under compose and Kubernetes.
pub const CONTROL_PORT: u16 = 8090;
/// The Tempo-compatible HTTP API of the trace store (Tempo's own default).
pub const TEMPO_HTTP_PORT: u16 = 3200;
/// OTLP over gRPC (the OpenTelemetry default).
pub const OTLP_GRPC_PORT: u16 = 4317;
/// OTLP over HTTP (the OpenTelemetry default).
pub const OTLP_HTTP_PORT: u16 = 4318;

/// The uid of the Tempo datasource Grafana is provisioned with (compose and k8s): dashboards
/// the course exports for Grafana point their panels at it.
pub const GRAFANA_TEMPO_DATASOURCE_UID: &str = "tempo";
/// Where compose's Grafana picks up dashboards a learner exported (a folder of the repository
/// mounted into Grafana; Grafana rescans it).
pub const GRAFANA_LEARNER_DASHBOARDS_DIR: &str = "compose/grafana/learner-dashboards";

/// The `deployment.environment.name` of the shop under `dojo up`, and of the pipelines that
/// deploy to it (compose and Kubernetes name theirs in `TRACE_ENVIRONMENT`).
pub const LAB_ENVIRONMENT: &str = "lab";
/// The tenant used when a request carries no `X-Scope-OrgID` header (Tempo's own name).
pub const DEFAULT_TENANT: &str = "single-tenant";
/// The header that carries the tenant, as in Tempo.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// Environment variables, from the OpenTelemetry specification and the platform's docs.
pub mod env {
    pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
    pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
    pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
    /// `true` switches span export off (logs stay); the instrumentation benchmark's baseline.
    pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
    pub const TEMPO_URL: &str = "TEMPO_URL";
    /// The Tempo tenant (sent as `X-Scope-OrgID`) that the grader reads traces from; unset means
    /// Tempo's single tenant. The Kubernetes workshop sets one per learner.
    pub const TEMPO_TENANT: &str = "TEMPO_TENANT";
    /// A bearer token the grader sends to a remote Tempo (or the gateway in front of it).
    pub const TEMPO_BEARER_TOKEN: &str = "TEMPO_BEARER_TOKEN";
    /// Basic-auth user and password the grader sends to a remote Tempo.
    pub const TEMPO_BASIC_AUTH_USER: &str = "TEMPO_BASIC_AUTH_USER";
    pub const TEMPO_BASIC_AUTH_PASSWORD: &str = "TEMPO_BASIC_AUTH_PASSWORD";
    /// Set by `dojo up` for its children: stop when standard input closes, which happens when
    /// `dojo up` is gone however it ended (even `kill -9`), so no service outlives it.
    pub const STOP_WITH_PARENT: &str = "DOJO_STOP_WITH_PARENT";
    /// The learner id `dojo grade` grades as (and sends in `learner.id` baggage).
    pub const LEARNER: &str = "DOJO_LEARNER";
    pub const TEMPO_OTLP_GRPC_ENDPOINT: &str = "TEMPO_OTLP_GRPC_ENDPOINT";
    pub const TEMPO_OTLP_HTTP_ENDPOINT: &str = "TEMPO_OTLP_HTTP_ENDPOINT";
    pub const TRACE_SAMPLING_PERCENTAGE: &str = "TRACE_SAMPLING_PERCENTAGE";
    pub const TRACE_CLUSTER_NAME: &str = "TRACE_CLUSTER_NAME";
    pub const TRACE_ENVIRONMENT: &str = "TRACE_ENVIRONMENT";
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// Where the frontend finds the api tier.
    pub const API_URL: &str = "API_URL";
    /// Where the api tier finds payments.
    pub const PAYMENTS_URL: &str = "PAYMENTS_URL";
    /// When set, payments also listens on this port with a TCP proxy in front of itself (the
    /// network path the `payments_network` fault disturbs); the api is then pointed at it.
    pub const PAYMENTS_PROXY_PORT: &str = "DOJO_PAYMENTS_PROXY_PORT";
    /// Connections in the api's database pool.
    pub const DB_POOL_SIZE: &str = "DOJO_DB_POOL_SIZE";
    /// How long the api waits for one payments attempt, in milliseconds.
    pub const PAYMENTS_TIMEOUT_MS: &str = "DOJO_PAYMENTS_TIMEOUT_MS";
    /// Attempts per charge (first try plus retries).
    pub const PAYMENTS_ATTEMPTS: &str = "DOJO_PAYMENTS_ATTEMPTS";
    /// Where the load generator finds the frontend.
    pub const FRONTEND_URL: &str = "FRONTEND_URL";
    /// Guards each service's fault admin API when set.
    pub const ADMIN_TOKEN: &str = "DOJO_ADMIN_TOKEN";
    /// A scenario YAML file of faults to switch on at start.
    pub const FAULT_SCENARIO: &str = "DOJO_FAULT_SCENARIO";
    /// Where a service keeps its current faults for its next instance (a rollout, a restart):
    /// written on every change, read at start in place of the scenario when it exists.
    pub const FAULT_STATE: &str = "DOJO_FAULT_STATE";
    /// Another instance's fault state file to follow (a canary beside the stable release):
    /// its faults are applied at start and again whenever the file changes.
    pub const FAULT_FOLLOW: &str = "DOJO_FAULT_FOLLOW";
    /// A second instance of payments at another release (a canary) that the api sends a
    /// share of its charges to, and that share in percent (`DOJO_PAYMENTS_CANARY_PERCENT`).
    pub const PAYMENTS_CANARY_URL: &str = "DOJO_PAYMENTS_CANARY_URL";
    pub const PAYMENTS_CANARY_PERCENT: &str = "DOJO_PAYMENTS_CANARY_PERCENT";
    /// The operator token of a deployable service's control API (`dojo service
    /// --control-port`), which `dojo deploy` sends; never given to the service's own process.
    pub const CONTROL_TOKEN: &str = "DOJO_CONTROL_TOKEN";
    /// Where `dojo deploy` finds each service's control API, as `service=URL` pairs separated
    /// by commas (`api=http://api:8090,frontend=http://frontend:8090`).
    pub const CONTROL_URLS: &str = "DOJO_CONTROL_URLS";
    /// Multiplies the phases of alert exercises' gradings (tests: `0.3` for a third of the
    /// time); the rule's window settle and its own "for" stay as they are.
    pub const ALERT_TIME_SCALE: &str = "DOJO_ALERT_TIME_SCALE";
    /// Guards the instructor pages.
    pub const INSTRUCTOR_TOKEN: &str = "DOJO_INSTRUCTOR_TOKEN";
    /// When set, learners must give this code to join the course (a workshop).
    pub const WORKSHOP_CODE: &str = "DOJO_WORKSHOP_CODE";
    /// Where `dojo up` and `dojo serve` keep their databases and logs (`--data-dir`); the image
    /// sets it to a writable volume, since its working directory is read-only.
    pub const DATA_DIR: &str = "DOJO_DATA_DIR";
    /// A real PostgreSQL server for tests (a superuser URL; each test creates its own database).
    pub const TEST_POSTGRES_URL: &str = "DOJO_TEST_POSTGRES_URL";
}
