//! The compose file, read with `docker-compose-types` (which refuses unknown service keys), and
//! the facts the agreement checks need from it: commands, environment, ports, health checks.

use docker_compose_types::{Command, Compose, Environment, HealthcheckTest, Ports, Service};

use crate::DeployError;

/// Parses a compose file.
pub fn parse(text: &str, place: &str) -> Result<Compose, DeployError> {
    serde_yaml::from_str(text).map_err(|source| DeployError::Yaml {
        place: place.to_owned(),
        what: "a docker compose file",
        source,
    })
}

/// The services by name (a service written as `name:` with no body is skipped).
pub fn services(compose: &Compose) -> impl Iterator<Item = (&str, &Service)> {
    compose
        .services
        .0
        .iter()
        .filter_map(|(name, service)| Some((name.as_str(), service.as_ref()?)))
}

/// A service's command as arguments.
pub fn command(service: &Service) -> Vec<String> {
    match &service.command {
        Some(Command::Args(args)) => args.clone(),
        Some(Command::Simple(line)) => line.split_whitespace().map(str::to_owned).collect(),
        None => Vec::new(),
    }
}

/// The value following `flag` in a command line (`--port 8081` → `8081`).
pub fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|pair| pair[0] == flag)
        .map(|pair| pair[1].as_str())
}

/// A service's environment as `(name, value)` pairs.
pub fn environment(service: &Service) -> Vec<(String, String)> {
    match &service.environment {
        Environment::List(items) => items
            .iter()
            .map(|item| match item.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (item.clone(), String::new()),
            })
            .collect(),
        Environment::KvPair(pairs) => pairs
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    value.as_ref().map(ToString::to_string).unwrap_or_default(),
                )
            })
            .collect(),
    }
}

/// One environment variable's value.
pub fn env(service: &Service, name: &str) -> Option<String> {
    environment(service)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// A published port: host address (if any), host port, container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
    pub container_port: Option<u16>,
}

/// The published ports of a service (short syntax `[ip:]host:container[/proto]`).
pub fn published(service: &Service) -> Vec<Published> {
    match &service.ports {
        Ports::Short(entries) => entries
            .iter()
            .map(|entry| {
                let entry = entry.split('/').next().unwrap_or(entry);
                let parts: Vec<&str> = entry.split(':').collect();
                let port = |s: &str| s.parse::<u16>().ok();
                match parts.as_slice() {
                    [ip, host, container] => Published {
                        host_ip: Some((*ip).to_owned()),
                        host_port: port(host),
                        container_port: port(container),
                    },
                    [host, container] => Published {
                        host_ip: None,
                        host_port: port(host),
                        container_port: port(container),
                    },
                    _ => Published {
                        host_ip: None,
                        host_port: None,
                        container_port: port(entry),
                    },
                }
            })
            .collect(),
        Ports::Long(ports) => ports
            .iter()
            .map(|port| Published {
                host_ip: port.host_ip.clone(),
                host_port: None,
                container_port: Some(port.target),
            })
            .collect(),
    }
}

/// The health check command, if any.
pub fn healthcheck(service: &Service) -> Option<Vec<String>> {
    match service.healthcheck.as_ref()?.test.as_ref()? {
        HealthcheckTest::Multiple(args) => Some(args.clone()),
        HealthcheckTest::Single(line) => Some(vec![line.clone()]),
    }
}
