//! The compose file, read with `docker-compose-types` (which refuses unknown service keys), and
//! the facts the agreement checks need from it: commands, environment, ports, health checks.

use docker_compose_types::{Command, Compose, Environment, HealthcheckTest, Ports, Service};

use crate::DeployError;

/// Reads a compose `.env` file: `KEY=value` lines; blank lines and `#` comments skipped.
pub fn dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// Substitutes variables in a compose file as docker compose does: `${VAR}`, `$VAR`,
/// `${VAR:-default}` (default when unset or empty), `${VAR-default}` (when unset),
/// `${VAR:?message}` / `${VAR?message}` (an error when unset), and `$$` for a literal `$`.
/// An unset variable without a default becomes empty, as in compose.
pub fn interpolate(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("an unclosed ${{ in {:?}", &rest[..rest.len().min(40)]))?;
            out.push_str(&expand(&braced[..end], &lookup)?);
            rest = &braced[end + 1..];
        } else {
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if name_len == 0 {
                out.push('$');
            } else {
                out.push_str(&lookup(&after[..name_len]).unwrap_or_default());
            }
            rest = &after[name_len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// One `${…}` expression.
fn expand(expression: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let name_len = expression
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expression.len());
    let (name, operator) = expression.split_at(name_len);
    let value = lookup(name);
    let set_and_not_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    Ok(match operator {
        "" => value.unwrap_or_default(),
        _ if operator.starts_with(":-") => {
            if set_and_not_empty {
                value.unwrap_or_default()
            } else {
                operator[2..].to_owned()
            }
        }
        _ if operator.starts_with('-') => value.unwrap_or_else(|| operator[1..].to_owned()),
        _ if operator.starts_with(":?") || operator.starts_with('?') => {
            let required = if operator.starts_with(':') {
                set_and_not_empty
            } else {
                value.is_some()
            };
            if !required {
                let message = operator.trim_start_matches(':').trim_start_matches('?');
                return Err(format!("{name} is required: {message}"));
            }
            value.unwrap_or_default()
        }
        _ => return Err(format!("${{{expression}}} is not a compose substitution")),
    })
}

/// Parses a compose file.
pub fn parse(text: &str, place: &str) -> Result<Compose, DeployError> {
    serde_yaml::from_str(text).map_err(|source| DeployError::Yaml {
        place: place.to_owned(),
        what: "a docker compose file",
        source,
    })
}

/// Parses a compose file after substituting its variables from the `.env` beside it (and only
/// from there, so that the result does not depend on the shell running the check).
pub fn load(text: &str, dotenv_text: &str, place: &str) -> Result<Compose, DeployError> {
    let vars = dotenv(dotenv_text);
    let lookup = |name: &str| {
        vars.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let text = interpolate(text, lookup).map_err(|message| DeployError::Interpolation {
        place: place.to_owned(),
        message,
    })?;
    parse(&text, place)
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

/// A service's `entrypoint:` as arguments, when it replaces the image's.
pub fn entrypoint(service: &Service) -> Option<Vec<String>> {
    match &service.entrypoint {
        Some(docker_compose_types::Entrypoint::List(args)) => Some(args.clone()),
        Some(docker_compose_types::Entrypoint::Simple(line)) => {
            Some(line.split_whitespace().map(str::to_owned).collect())
        }
        None => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutions_follow_compose() {
        let cases = [
            ("${SET}", "value"),
            ("$SET/x", "value/x"),
            ("${UNSET:-fallback}", "fallback"),
            ("${EMPTY:-fallback}", "fallback"),
            ("${EMPTY-fallback}", ""),
            ("${UNSET-fallback}", "fallback"),
            ("${SET:?needed}", "value"),
            ("cost: $$5", "cost: $5"),
            ("${UNSET}", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(interpolate(text, vars).as_deref(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn a_required_variable_that_is_missing_is_an_error_with_its_message() {
        let error = interpolate("image: x:${TAG:?set in .env}", vars).expect_err("TAG is unset");
        assert_eq!(error, "TAG is required: set in .env");
    }
}
