//! Typed telemetry settings, read once from the OpenTelemetry and platform environment
//! variables (names in `dojo_defaults::env`), so no other module reads the environment.

use std::time::Duration;

use dojo_defaults::OTLP_HTTP_PORT;
use dojo_defaults::env;

/// How spans leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over HTTP with protobuf bodies (`http/protobuf`), the default.
    HttpProtobuf,
    /// OTLP over HTTP with JSON bodies (`http/json`).
    HttpJson,
    /// OTLP over gRPC (`grpc`).
    Grpc,
}

/// Which traces are recorded, as named by `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerSetting {
    /// Record every trace.
    AlwaysOn,
    /// Record nothing.
    AlwaysOff,
    /// Record this fraction of traces, chosen by trace id, ignoring the caller's decision.
    TraceIdRatio(f64),
    /// Follow the caller's decision; for new traces record everything.
    ParentBasedAlwaysOn,
    /// Follow the caller's decision; for new traces record nothing.
    ParentBasedAlwaysOff,
    /// Follow the caller's decision; for new traces record this fraction by trace id.
    ParentBasedTraceIdRatio(f64),
}

/// Everything [`crate::setup::init`] needs to know.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` of every span (`frontend`, `api`, `payments`).
    pub service_name: String,
    /// `service.version`; the crate version unless the caller sets another.
    pub service_version: String,
    /// `deployment.environment`, from `TRACE_ENVIRONMENT`.
    pub environment: Option<String>,
    /// `k8s.cluster.name`, from `TRACE_CLUSTER_NAME`.
    pub cluster_name: Option<String>,
    /// Extra resource attributes from `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key=value`).
    pub resource_attributes: Vec<(String, String)>,
    /// Whether spans are exported at all (`OTEL_SDK_DISABLED=true` switches them off; logs stay).
    pub tracing_enabled: bool,
    /// Where spans go: the full URL for HTTP (ending in `/v1/traces`), the base URL for gRPC.
    pub endpoint: String,
    /// How spans go there.
    pub protocol: Protocol,
    /// The sampling policy for traces this service starts or continues.
    pub sampler: SamplerSetting,
    /// How long one export may take before it is abandoned.
    pub export_timeout: Duration,
    /// The default log filter (`RUST_LOG` syntax), overridden by `RUST_LOG`.
    pub log_filter: String,
}

/// A setting that could not be understood; the message names the variable and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not valid: {reason}")]
pub struct InvalidSetting {
    /// The environment variable.
    pub name: &'static str,
    /// What it held.
    pub value: String,
    /// What was expected.
    pub reason: String,
}

impl TelemetryConfig {
    /// Reads the configuration of `service_name` from the process environment.
    pub fn from_env(service_name: &str) -> Result<TelemetryConfig, InvalidSetting> {
        TelemetryConfig::from_lookup(service_name, |name| std::env::var(name).ok())
    }

    /// Reads the configuration from any source of variables (the environment in production, a
    /// map in tests). `OTEL_SERVICE_NAME` wins over `service_name` when set.
    pub fn from_lookup(
        service_name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<TelemetryConfig, InvalidSetting> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let protocol = match get(env::OTEL_EXPORTER_OTLP_PROTOCOL).as_deref() {
            None | Some("http/protobuf") => Protocol::HttpProtobuf,
            Some("http/json") => Protocol::HttpJson,
            Some("grpc") => Protocol::Grpc,
            Some(other) => {
                return Err(InvalidSetting {
                    name: env::OTEL_EXPORTER_OTLP_PROTOCOL,
                    value: other.to_owned(),
                    reason: "expected http/protobuf, http/json or grpc".to_owned(),
                });
            }
        };
        let base = get(env::OTEL_EXPORTER_OTLP_ENDPOINT).or_else(|| match protocol {
            Protocol::Grpc => get(env::TEMPO_OTLP_GRPC_ENDPOINT),
            Protocol::HttpProtobuf | Protocol::HttpJson => get(env::TEMPO_OTLP_HTTP_ENDPOINT),
        });
        let base = base.unwrap_or_else(|| match protocol {
            Protocol::Grpc => format!("http://127.0.0.1:{}", dojo_defaults::OTLP_GRPC_PORT),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                format!("http://127.0.0.1:{OTLP_HTTP_PORT}")
            }
        });
        let base = with_scheme(base.trim_end_matches('/'));
        let endpoint = match protocol {
            Protocol::Grpc => base,
            Protocol::HttpProtobuf | Protocol::HttpJson if base.ends_with("/v1/traces") => base,
            Protocol::HttpProtobuf | Protocol::HttpJson => format!("{base}/v1/traces"),
        };
        let sampler = sampler_from(
            get(env::OTEL_TRACES_SAMPLER),
            get(env::OTEL_TRACES_SAMPLER_ARG),
            get(env::TRACE_SAMPLING_PERCENTAGE),
        )?;
        let tracing_enabled = !matches!(
            get(env::OTEL_SDK_DISABLED)
                .map(|v| v.to_ascii_lowercase())
                .as_deref(),
            Some("true")
        );
        let resource_attributes = get(env::OTEL_RESOURCE_ATTRIBUTES)
            .map(|raw| parse_resource_attributes(&raw))
            .unwrap_or_default();
        Ok(TelemetryConfig {
            service_name: get(env::OTEL_SERVICE_NAME).unwrap_or_else(|| service_name.to_owned()),
            // A release rolled out by `dojo deploy` names its version here.
            service_version: resource_attributes
                .iter()
                .find(|(key, _)| key == "service.version")
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            environment: get(env::TRACE_ENVIRONMENT),
            cluster_name: get(env::TRACE_CLUSTER_NAME),
            resource_attributes,
            tracing_enabled,
            endpoint,
            protocol,
            sampler,
            export_timeout: Duration::from_secs(5),
            log_filter: get("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
        })
    }
}

/// `localhost:4318` is accepted as `http://localhost:4318`.
fn with_scheme(base: &str) -> String {
    if base.starts_with("http://") || base.starts_with("https://") {
        base.to_owned()
    } else {
        format!("http://{base}")
    }
}

/// The OpenTelemetry sampler variables, then the platform's percentage (1-100) as a
/// parent-based ratio when no sampler is named.
fn sampler_from(
    name: Option<String>,
    arg: Option<String>,
    percentage: Option<String>,
) -> Result<SamplerSetting, InvalidSetting> {
    let ratio = |raw: Option<String>| -> Result<f64, InvalidSetting> {
        match raw {
            None => Ok(1.0),
            Some(raw) => match raw.trim().parse::<f64>() {
                Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
                _ => Err(InvalidSetting {
                    name: env::OTEL_TRACES_SAMPLER_ARG,
                    value: raw,
                    reason: "expected a number from 0 to 1".to_owned(),
                }),
            },
        }
    };
    match name.as_deref() {
        Some("always_on") => Ok(SamplerSetting::AlwaysOn),
        Some("always_off") => Ok(SamplerSetting::AlwaysOff),
        Some("traceidratio") => Ok(SamplerSetting::TraceIdRatio(ratio(arg)?)),
        Some("parentbased_always_on") => Ok(SamplerSetting::ParentBasedAlwaysOn),
        Some("parentbased_always_off") => Ok(SamplerSetting::ParentBasedAlwaysOff),
        Some("parentbased_traceidratio") => {
            Ok(SamplerSetting::ParentBasedTraceIdRatio(ratio(arg)?))
        }
        Some(other) => Err(InvalidSetting {
            name: env::OTEL_TRACES_SAMPLER,
            value: other.to_owned(),
            reason: "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio"
                .to_owned(),
        }),
        None => match percentage {
            None => Ok(SamplerSetting::ParentBasedAlwaysOn),
            Some(raw) => match raw.trim().parse::<f64>() {
                Ok(value) if (1.0..=100.0).contains(&value) => {
                    Ok(SamplerSetting::ParentBasedTraceIdRatio(value / 100.0))
                }
                _ => Err(InvalidSetting {
                    name: env::TRACE_SAMPLING_PERCENTAGE,
                    value: raw,
                    reason: "expected a percentage from 1 to 100".to_owned(),
                }),
            },
        },
    }
}

/// `key=value,key2=value2` as in the OpenTelemetry specification; malformed pairs are skipped.
fn parse_resource_attributes(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<TelemetryConfig, InvalidSetting> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TelemetryConfig::from_lookup("api", |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_export_http_protobuf_to_the_local_collector_with_parent_based_sampling() {
        let config = config(&[]).expect("defaults are valid");
        assert_eq!(config.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(config.protocol, Protocol::HttpProtobuf);
        assert_eq!(config.sampler, SamplerSetting::ParentBasedAlwaysOn);
        assert_eq!(config.service_name, "api");
        assert!(config.tracing_enabled);
    }

    #[test]
    fn the_otel_endpoint_wins_over_the_platform_endpoint_and_gets_the_traces_path() {
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("TEMPO_OTLP_HTTP_ENDPOINT", "http://tempo:4318"),
        ])
        .expect("valid");
        assert_eq!(config.endpoint, "http://collector:4318/v1/traces");
    }

    #[test]
    fn grpc_uses_the_platform_grpc_endpoint_as_is() {
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("TEMPO_OTLP_GRPC_ENDPOINT", "tempo:4317"),
        ])
        .expect("valid");
        assert_eq!(config.endpoint, "http://tempo:4317");
        assert_eq!(config.protocol, Protocol::Grpc);
    }

    #[test]
    fn sampling_percentage_becomes_a_parent_based_ratio() {
        let config = config(&[("TRACE_SAMPLING_PERCENTAGE", "25")]).expect("valid");
        assert_eq!(
            config.sampler,
            SamplerSetting::ParentBasedTraceIdRatio(0.25)
        );
    }

    #[test]
    fn invalid_settings_name_the_variable_and_the_expected_values() {
        let cases = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp", "http/protobuf"),
            ("OTEL_TRACES_SAMPLER", "sometimes", "always_on"),
            ("TRACE_SAMPLING_PERCENTAGE", "250", "1 to 100"),
        ];
        for (name, value, hint) in cases {
            let error = config(&[(name, value)]).expect_err(name);
            let message = error.to_string();
            assert!(
                message.contains(name) && message.contains(hint),
                "{name}: {message}"
            );
        }
        let error = config(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .expect_err("ratio above 1");
        assert!(
            error.to_string().contains("OTEL_TRACES_SAMPLER_ARG"),
            "{error}"
        );
    }

    #[test]
    fn resource_attributes_are_parsed_as_pairs() {
        let config = config(&[("OTEL_RESOURCE_ATTRIBUTES", "team=dojo, region = eu ,broken")])
            .expect("valid");
        assert_eq!(
            config.resource_attributes,
            vec![
                ("team".to_owned(), "dojo".to_owned()),
                ("region".to_owned(), "eu".to_owned())
            ]
        );
    }

    #[test]
    fn a_service_version_in_the_resource_attributes_is_the_release_version() {
        assert_eq!(
            config(&[]).expect("valid").service_version,
            env!("CARGO_PKG_VERSION")
        );
        let config = config(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.version=1.4.0,deployment.id=d-1",
        )])
        .expect("valid");
        assert_eq!(config.service_version, "1.4.0");
    }

    #[test]
    fn the_sdk_can_be_disabled() {
        let config = config(&[("OTEL_SDK_DISABLED", "TRUE")]).expect("valid");
        assert!(!config.tracing_enabled);
    }
}
