//! The agreement between the code's defaults (`dojo-defaults`) and the deployment files: every
//! place a port of the lab is written — a command's `--port`, a published port, a Service, a
//! URL in an environment variable, the collector's and Tempo's listeners — is an
//! [`Observation`] of what the defaults say it must be. One port changed in one place only shows
//! up as one disagreement that names the place.

use docker_compose_types::Compose;
use dojo_defaults as defaults;
use dojo_defaults::env;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::kube::{Manifest, Object};
use crate::{collector, compose, tempo};

/// One place where a port is written, and what it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Where, for the message: `compose api command --port`.
    pub place: String,
    /// What the defaults say.
    pub expected: u16,
    /// What the file says (`None`: not a port at all).
    pub found: Option<u16>,
}

/// The observations that disagree, as messages.
pub fn disagreements(observations: &[Observation]) -> Vec<String> {
    observations
        .iter()
        .filter(|o| o.found != Some(o.expected))
        .map(|o| match o.found {
            Some(found) => format!(
                "{}: {found}, but dojo-defaults says {}",
                o.place, o.expected
            ),
            None => format!(
                "{}: no port found, dojo-defaults says {}",
                o.place, o.expected
            ),
        })
        .collect()
}

/// The role a service of the lab runs, by its name in compose and Kubernetes: its own name,
/// except a canary, which is another release of the role it is named after.
pub fn role_of(name: &str) -> &str {
    name.strip_suffix("-canary").unwrap_or(name)
}

/// The port a service of the lab listens on, by its name in compose and Kubernetes.
pub fn role_port(name: &str) -> Option<u16> {
    match role_of(name) {
        "dojo" => Some(defaults::DOJO_PORT),
        "frontend" => Some(defaults::FRONTEND_PORT),
        "api" => Some(defaults::API_PORT),
        "payments" => Some(defaults::PAYMENTS_PORT),
        _ => None,
    }
}

/// The port of a URL or `host:port` endpoint; `None` when it has none or is a `$(VAR)` reference.
pub fn port_of(endpoint: &str) -> Option<u16> {
    let without_scheme = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = without_scheme.split('/').next()?;
    let (_, port) = authority.rsplit_once(':')?;
    port.parse().ok()
}

/// Which default port an environment variable holding a URL must use, given the OTLP protocol.
fn url_variable_port(name: &str, otlp_protocol: Option<&str>) -> Option<u16> {
    match name {
        env::API_URL => Some(defaults::API_PORT),
        env::PAYMENTS_URL | env::PAYMENTS_CANARY_URL => Some(defaults::PAYMENTS_PORT),
        env::FRONTEND_URL => Some(defaults::FRONTEND_PORT),
        env::TEMPO_URL => Some(defaults::TEMPO_HTTP_PORT),
        env::TEMPO_OTLP_GRPC_ENDPOINT => Some(defaults::OTLP_GRPC_PORT),
        env::TEMPO_OTLP_HTTP_ENDPOINT => Some(defaults::OTLP_HTTP_PORT),
        env::CONTROL_URLS => Some(defaults::CONTROL_PORT),
        // A canary follows its stable release's faults; payments is the one with a canary.
        env::FAULT_FOLLOW => Some(defaults::PAYMENTS_PORT),
        env::OTEL_EXPORTER_OTLP_ENDPOINT => match otlp_protocol {
            Some("grpc") => Some(defaults::OTLP_GRPC_PORT),
            _ => Some(defaults::OTLP_HTTP_PORT),
        },
        _ => None,
    }
}

/// Observations for `NAME=value` environment variables that hold a URL of the lab (or, for
/// `DOJO_CONTROL_URLS`, a list of `service=URL` pairs: one observation per URL).
pub fn env_observations<'a>(
    place: &str,
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    otlp_protocol: Option<&str>,
) -> Vec<Observation> {
    vars.into_iter()
        .filter(|(_, value)| !value.starts_with("$("))
        .flat_map(|(name, value)| {
            let urls: Vec<&str> = if name == env::CONTROL_URLS {
                value
                    .split(',')
                    .map(|pair| pair.split_once('=').map_or(pair, |(_, url)| url))
                    .collect()
            } else {
                vec![value]
            };
            let expected = url_variable_port(name, otlp_protocol);
            urls.into_iter().filter_map(move |url| {
                Some(Observation {
                    place: format!("{place} {name}={url}"),
                    expected: expected?,
                    found: port_of(url),
                })
            })
        })
        .collect()
}

/// The `--control-port` of a command line, when it has one: always the lab's control port.
fn control_port_observation(place: &str, args: &[String]) -> Option<Observation> {
    let value = compose::flag_value(args, "--control-port")?;
    Some(Observation {
        place: format!("{place} --control-port"),
        expected: defaults::CONTROL_PORT,
        found: value.parse().ok(),
    })
}

/// The collector's OTLP listeners and its OTLP exporters to Tempo.
pub fn collector_observations(place: &str, config: &collector::Config) -> Vec<Observation> {
    let receivers = config
        .otlp_receiver_endpoints()
        .into_iter()
        .map(|(protocol, endpoint)| Observation {
            expected: otlp_port(&protocol),
            found: port_of(&endpoint),
            place: format!("{place} receivers.otlp.{protocol}.endpoint"),
        });
    let exporters = config
        .otlp_exporter_endpoints()
        .into_iter()
        .filter(|(_, endpoint)| endpoint.starts_with("tempo"))
        .map(|(id, endpoint)| Observation {
            expected: defaults::OTLP_GRPC_PORT,
            found: port_of(&endpoint),
            place: format!("{place} exporters.{id}.endpoint"),
        });
    receivers.chain(exporters).collect()
}

fn otlp_port(protocol: &str) -> u16 {
    if protocol == "grpc" {
        defaults::OTLP_GRPC_PORT
    } else {
        defaults::OTLP_HTTP_PORT
    }
}

/// Tempo's HTTP API and OTLP listeners.
pub fn tempo_observations(place: &str, config: &tempo::Config) -> Vec<Observation> {
    let http = Observation {
        place: format!("{place} server.http_listen_port"),
        expected: defaults::TEMPO_HTTP_PORT,
        found: config.http_port().and_then(|p| u16::try_from(p).ok()),
    };
    let receivers = config
        .otlp_endpoints()
        .into_iter()
        .map(|(protocol, endpoint)| Observation {
            expected: otlp_port(&protocol),
            found: port_of(&endpoint),
            place: format!("{place} distributor.receivers.otlp.{protocol}.endpoint"),
        });
    std::iter::once(http).chain(receivers).collect()
}

/// Everything the compose file says about ports.
pub fn compose_observations(file: &Compose) -> Vec<Observation> {
    let mut observations = Vec::new();
    for (name, service) in compose::services(file) {
        let args = compose::command(service);
        let place = format!("compose {name}");
        if let Some(expected) = role_port(name) {
            observations.push(Observation {
                place: format!("{place} command --port"),
                expected,
                found: compose::flag_value(&args, "--port").and_then(|p| p.parse().ok()),
            });
            for published in compose::published(service) {
                observations.push(Observation {
                    place: format!("{place} ports (container side)"),
                    expected,
                    found: published.container_port,
                });
                observations.push(Observation {
                    place: format!("{place} ports (host side)"),
                    expected,
                    found: published.host_port,
                });
            }
            if let Some(check) = compose::healthcheck(service) {
                observations.push(Observation {
                    place: format!("{place} healthcheck"),
                    expected,
                    found: check
                        .iter()
                        .find_map(|arg| arg.starts_with("http").then(|| port_of(arg)).flatten()),
                });
            }
        }
        observations.extend(control_port_observation(&format!("{place} command"), &args));
        if let Some(target) = compose::flag_value(&args, "--target") {
            observations.push(Observation {
                place: format!("{place} command --target"),
                expected: defaults::FRONTEND_PORT,
                found: port_of(target),
            });
        }
        if let Some(tempo_url) = compose::flag_value(&args, "--tempo-url") {
            observations.push(Observation {
                place: format!("{place} command --tempo-url"),
                expected: defaults::TEMPO_HTTP_PORT,
                found: port_of(tempo_url),
            });
        }
        let vars = compose::environment(service);
        let protocol = compose::env(service, env::OTEL_EXPORTER_OTLP_PROTOCOL);
        observations.extend(env_observations(
            &place,
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            protocol.as_deref(),
        ));
        let published: Vec<u16> = compose::published(service)
            .iter()
            .filter_map(|p| p.container_port)
            .collect();
        let must_publish: &[u16] = match name {
            "otel-collector" => &[defaults::OTLP_GRPC_PORT, defaults::OTLP_HTTP_PORT],
            "tempo" => &[defaults::TEMPO_HTTP_PORT],
            _ => &[],
        };
        for &port in must_publish {
            observations.push(Observation {
                place: format!("{place} publishes {port}"),
                expected: port,
                found: published.contains(&port).then_some(port),
            });
        }
    }
    observations
}

/// Everything a set of Kubernetes manifests says about ports.
pub fn kube_observations(manifests: &[Manifest]) -> Vec<Observation> {
    let mut observations = Vec::new();
    for manifest in manifests {
        let place = format!("{} {} {}", manifest.place, manifest.kind, manifest.name);
        // A container's port named `http` is the role's port; OTLP ports are OTLP's.
        let named_port = |port_name: &str| match port_name {
            "otlp-grpc" => Some(defaults::OTLP_GRPC_PORT),
            "otlp-http" => Some(defaults::OTLP_HTTP_PORT),
            "control" => Some(defaults::CONTROL_PORT),
            "http" if manifest.name == "tempo" => Some(defaults::TEMPO_HTTP_PORT),
            "http" => role_port(&manifest.name),
            _ => None,
        };
        for container in manifest.containers() {
            let args = container.args.clone().unwrap_or_default();
            if let Some(expected) = role_port(&manifest.name) {
                observations.push(Observation {
                    place: format!("{place} args --port"),
                    expected,
                    found: compose::flag_value(&args, "--port").and_then(|p| p.parse().ok()),
                });
            }
            observations.extend(control_port_observation(&format!("{place} args"), &args));
            if let Some(target) = compose::flag_value(&args, "--target") {
                observations.push(Observation {
                    place: format!("{place} args --target"),
                    expected: defaults::FRONTEND_PORT,
                    found: port_of(target),
                });
            }
            for port in container.ports.iter().flatten() {
                if let Some(expected) = port.name.as_deref().and_then(named_port) {
                    observations.push(Observation {
                        place: format!(
                            "{place} containerPort {}",
                            port.name.as_deref().unwrap_or("")
                        ),
                        expected,
                        found: u16::try_from(port.container_port).ok(),
                    });
                }
            }
            let vars: Vec<(&str, &str)> = container
                .env
                .iter()
                .flatten()
                .filter_map(|var| Some((var.name.as_str(), var.value.as_deref()?)))
                .collect();
            let protocol = crate::kube::env_value(container, env::OTEL_EXPORTER_OTLP_PROTOCOL);
            observations.extend(env_observations(&place, vars, protocol));
        }
        if let Object::Service(service) = &manifest.object {
            for port in service
                .spec
                .iter()
                .flat_map(|spec| spec.ports.iter().flatten())
            {
                if let Some(expected) = port.name.as_deref().and_then(named_port) {
                    observations.push(Observation {
                        place: format!("{place} port {}", port.name.as_deref().unwrap_or("")),
                        expected,
                        found: u16::try_from(port.port).ok(),
                    });
                    if let Some(IntOrString::Int(target)) = &port.target_port {
                        observations.push(Observation {
                            place: format!("{place} targetPort"),
                            expected,
                            found: u16::try_from(*target).ok(),
                        });
                    }
                }
            }
        }
    }
    observations
}

/// The environment variable names the lab's processes read (from `dojo-defaults`), plus the
/// helpers the Kubernetes manifests define to compose them (the downward API's pod identity and
/// the database password that goes into `DATABASE_URL`).
pub fn known_env_names() -> Vec<&'static str> {
    vec![
        env::OTEL_SERVICE_NAME,
        env::OTEL_EXPORTER_OTLP_ENDPOINT,
        env::OTEL_EXPORTER_OTLP_PROTOCOL,
        env::OTEL_RESOURCE_ATTRIBUTES,
        env::OTEL_TRACES_SAMPLER,
        env::OTEL_TRACES_SAMPLER_ARG,
        env::TEMPO_URL,
        env::TEMPO_TENANT,
        env::TEMPO_OTLP_GRPC_ENDPOINT,
        env::TEMPO_OTLP_HTTP_ENDPOINT,
        env::TRACE_SAMPLING_PERCENTAGE,
        env::TRACE_CLUSTER_NAME,
        env::TRACE_ENVIRONMENT,
        env::DATABASE_URL,
        env::API_URL,
        env::PAYMENTS_URL,
        env::PAYMENTS_CANARY_URL,
        env::FRONTEND_URL,
        env::ADMIN_TOKEN,
        env::FAULT_SCENARIO,
        env::FAULT_FOLLOW,
        env::INSTRUCTOR_TOKEN,
        env::CONTROL_TOKEN,
        env::CONTROL_URLS,
        env::DATA_DIR,
        "POD_NAME",
        "POD_NAMESPACE",
        "POD_UID",
        "POD_IP",
        "POSTGRES_PASSWORD",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_port_is_read_past_scheme_and_path() {
        assert_eq!(port_of("http://api:8082/orders"), Some(8082));
        assert_eq!(port_of("tempo:4317"), Some(4317));
        assert_eq!(port_of("0.0.0.0:4318"), Some(4318));
        assert_eq!(port_of("http://api"), None);
        assert_eq!(port_of("$(TEMPO_URL)"), None);
    }

    #[test]
    fn the_otlp_endpoint_port_follows_the_protocol() {
        let grpc = env_observations(
            "t",
            [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")],
            Some("grpc"),
        );
        assert_eq!(
            disagreements(&grpc).len(),
            1,
            "gRPC on the HTTP port must disagree"
        );
        let http = env_observations(
            "t",
            [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")],
            Some("http/protobuf"),
        );
        assert!(disagreements(&http).is_empty());
    }
}
