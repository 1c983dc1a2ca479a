//! Telemetry set up in one place: the tracer provider with a batching OTLP exporter, the
//! `tracing` subscriber (JSON logs + the OpenTelemetry layer) and the guard that flushes.

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Protocol, TelemetryConfig};
use crate::export::ReportOnce;
use crate::logs::JsonWithTraceIds;
use crate::propagation::install_propagator;
use crate::sampling::DojoSampler;
use crate::scrub::Scrubbed;

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter rejected its settings (a malformed endpoint, usually).
    #[error("cannot build the OTLP exporter for {endpoint}")]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// `RUST_LOG` does not parse.
    #[error("RUST_LOG={filter:?} is not a valid log filter")]
    LogFilter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// Another subscriber was installed first (telemetry is initialised once per process).
    #[error("telemetry was already initialised in this process")]
    AlreadyInitialised(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the tracer provider alive; dropping it (or calling [`TelemetryGuard::shutdown`])
/// exports the spans still queued, so the last requests before exit are not lost.
#[must_use = "dropping the guard shuts telemetry down"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes queued spans and stops the exporter.
    pub fn shutdown(mut self) {
        self.shutdown_provider();
    }

    /// Exports what is queued now, without stopping (tests use it to avoid waiting for the
    /// batch delay).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }

    fn shutdown_provider(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans at exit failed: {error}");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown_provider();
    }
}

/// Targets kept quiet whatever `RUST_LOG` says. The exporter's HTTP/gRPC stack must not trace
/// itself, sqlx's per-statement logs would double the db spans, and the SDK's own diagnostics
/// repeat on every failed batch ([`ReportOnce`] says it once instead).
const QUIET: [(&str, LevelFilter); 11] = [
    ("h2", LevelFilter::WARN),
    ("hyper", LevelFilter::WARN),
    ("hyper_util", LevelFilter::WARN),
    ("tonic", LevelFilter::WARN),
    ("tower", LevelFilter::WARN),
    ("reqwest", LevelFilter::WARN),
    ("sqlx", LevelFilter::WARN),
    ("opentelemetry", LevelFilter::OFF),
    ("opentelemetry_sdk", LevelFilter::OFF),
    ("opentelemetry_otlp", LevelFilter::OFF),
    ("opentelemetry_http", LevelFilter::OFF),
];

/// The one global filter: `RUST_LOG` raised to at least INFO everywhere (spans are INFO, and
/// a quieter log level must not switch tracing off), with [`QUIET`] on top.
///
/// It is global on purpose: per-layer filters keep a thread-local decision that a library's
/// `enabled!` check (sqlx does one per statement) can leave stale, after which the next spans
/// and log lines on that thread are silently dropped. The log level itself is applied by the
/// log formatter ([`JsonWithTraceIds`]), which simply writes nothing for quieter events.
fn global_filter(logs: &Targets) -> Targets {
    let default = logs
        .default_level()
        .unwrap_or(LevelFilter::INFO)
        .max(LevelFilter::INFO);
    let mut global = Targets::new().with_default(default);
    for (target, level) in logs.iter() {
        global = global.with_target(target, level.max(LevelFilter::INFO));
    }
    global.with_targets(QUIET)
}

/// Installs the propagator, the tracer provider and the subscriber for this process.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    install_propagator();
    let logs: Targets = config
        .log_filter
        .parse()
        .map_err(|source| TelemetryError::LogFilter {
            filter: config.log_filter.clone(),
            source,
        })?;
    let filter = global_filter(&logs);
    let formatter = JsonWithTraceIds::new(&config.service_name, logs);
    let log_layer = tracing_subscriber::fmt::layer()
        .event_format(formatter.clone())
        .with_writer(std::io::stdout);

    let (provider, otel_layer) = if config.tracing_enabled {
        let provider = provider(config)?;
        let tracer = provider.tracer("dojo");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_target(false)
            .with_context_activation(false);
        opentelemetry::global::set_tracer_provider(provider.clone());
        (Some(provider), Some(layer))
    } else {
        (None, None)
    };

    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(log_layer)
        .with(otel_layer);
    let dispatch = tracing::Dispatch::new(subscriber);
    formatter.attach(&dispatch);
    dispatch.try_init()?;
    Ok(TelemetryGuard { provider })
}

fn provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let build_error = |source| TelemetryError::Exporter {
        endpoint: config.endpoint.clone(),
        source,
    };
    let exporter = match config.protocol {
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.endpoint.clone())
            .with_timeout(config.export_timeout)
            .build()
            .map_err(build_error)?,
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let protocol = if config.protocol == Protocol::HttpJson {
                opentelemetry_otlp::Protocol::HttpJson
            } else {
                opentelemetry_otlp::Protocol::HttpBinary
            };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(config.endpoint.clone())
                .with_timeout(config.export_timeout)
                .build()
                .map_err(build_error)?
        }
    };
    let exporter = Scrubbed::new(ReportOnce::new(exporter, config.endpoint.clone()));
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(DojoSampler::new(config.sampler))
        .with_resource(resource(config))
        .build())
}

fn resource(config: &TelemetryConfig) -> Resource {
    let mut attributes: Vec<KeyValue> = config
        .resource_attributes
        .iter()
        .map(|(key, value)| KeyValue::new(key.clone(), value.clone()))
        .collect();
    attributes.push(KeyValue::new(
        "service.version",
        config.service_version.clone(),
    ));
    if let Some(environment) = &config.environment {
        attributes.push(KeyValue::new("deployment.environment", environment.clone()));
        attributes.push(KeyValue::new(
            "deployment.environment.name",
            environment.clone(),
        ));
    }
    if let Some(cluster) = &config.cluster_name {
        attributes.push(KeyValue::new("k8s.cluster.name", cluster.clone()));
    }
    Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes(attributes)
        .build()
}
