//! Pipeline settings written by hand: the `pipeline:` section of the YAML `--store-config`
//! takes, read on its own — what a learner submits in the sampling exercise, applied to their
//! tenant only. Every mistake is named by its field, with a fix, in words a learner can act on.

use std::time::Duration;

use serde::Deserialize;

use super::{Pipeline, PipelineConfig};

/// What is wrong with submitted settings: the field, the problem and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem} — {fix}")]
pub struct SettingsError {
    /// The YAML path of the field (`pipeline.tail_sampling.policies[0]`).
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl SettingsError {
    fn new(field: &str, problem: impl Into<String>, fix: impl Into<String>) -> SettingsError {
        SettingsError {
            field: field.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// The document: only `pipeline:` (the rest of a store configuration is the operator's).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    pipeline: PipelineConfig,
}

/// Reads pipeline settings and checks they compile; a tail-sampling `decision_wait` above
/// `max_decision_wait` is refused (a grader waits that long for the decisions).
pub fn parse_settings(
    text: &str,
    max_decision_wait: Duration,
) -> Result<PipelineConfig, SettingsError> {
    if text.trim().is_empty() {
        return Err(SettingsError::new(
            "pipeline",
            "nothing was given",
            "paste a `pipeline:` section, as in the store's configuration file",
        ));
    }
    let document: Document = serde_yaml::from_str(text).map_err(|e| yaml_error(&e))?;
    let config = document.pipeline;
    if let Some(tail) = &config.tail_sampling
        && tail.decision_wait > max_decision_wait
    {
        return Err(SettingsError::new(
            "pipeline.tail_sampling.decision_wait",
            format!(
                "is {}, longer than this exercise waits",
                crate::duration::format_go_duration(tail.decision_wait)
            ),
            format!(
                "use at most {} (a few seconds is enough for the lab's traces)",
                crate::duration::format_go_duration(max_decision_wait)
            ),
        ));
    }
    Pipeline::new(&config).map_err(|e| {
        let text = e.to_string();
        match text.split_once(": ") {
            Some((field, problem)) if field.starts_with("pipeline") => SettingsError::new(
                field,
                problem,
                "correct it as the message says; the store's example configuration shows each setting",
            ),
            _ => SettingsError::new("pipeline", text, "correct the settings"),
        }
    })?;
    Ok(config)
}

/// A YAML or shape error as a field, a problem and a fix.
fn yaml_error(error: &serde_yaml::Error) -> SettingsError {
    let message = error.to_string();
    // serde_yaml writes `path.to.field: problem at line L column C`.
    let (field, problem) = match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => {
            (format!("pipeline{}", path_after(path)), rest)
        }
        _ => ("pipeline".to_string(), message.as_str()),
    };
    let field = field.replace("pipeline.pipeline", "pipeline");
    let fix = if problem.contains("unknown field `")
        && field == "pipeline"
        && !problem.contains("expected `pipeline`")
    {
        "the allowed keys are listed in the message: check the spelling and the indentation"
            .to_string()
    } else if problem.contains("expected `pipeline`")
        && ["attributes", "probabilistic_sampler", "tail_sampling"]
            .iter()
            .any(|key| problem.contains(&format!("`{key}`")))
    {
        "put your settings under a top-level `pipeline:` key, indented below it".to_string()
    } else if problem.contains("expected `pipeline`") {
        "only the `pipeline:` section applies to your tenant; leave the other sections out"
            .to_string()
    } else if problem.contains("missing field `pipeline`") {
        "put your settings under a top-level `pipeline:` key".to_string()
    } else if problem.contains("unknown field") || problem.contains("unknown variant") {
        "the allowed names are listed in the message: check the spelling and the indentation"
            .to_string()
    } else if problem.contains("invalid type") {
        "give the value the type the message names (a number, a list, a mapping…)".to_string()
    } else {
        "check the YAML at that place: indentation with spaces, `key: value`, lists with `- `"
            .to_string()
    };
    SettingsError {
        field,
        problem: problem.to_string(),
        fix,
    }
}

/// The part of serde_yaml's path below the document (`pipeline.x` → `.x`; `.` → ``).
fn path_after(path: &str) -> String {
    let path = path.trim_start_matches('.');
    match path.strip_prefix("pipeline") {
        Some(rest) => rest.to_string(),
        None if path.is_empty() => String::new(),
        None => format!(".{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    fn error(text: &str) -> SettingsError {
        parse_settings(text, WAIT).expect_err(text)
    }

    #[test]
    fn the_reference_settings_parse() {
        let config = parse_settings(
            "pipeline:\n  tail_sampling:\n    decision_wait: 5s\n    policies:\n      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n",
            WAIT,
        )
        .unwrap();
        assert!(config.tail_sampling.is_some());
    }

    #[test]
    fn each_mistake_names_its_field_and_a_fix() {
        let cases = [
            ("", "pipeline", "paste"),
            (
                "limits: {}\npipeline: {}\n",
                "pipeline",
                "only the `pipeline:` section",
            ),
            ("tail_sampling: {}\n", "pipeline", "top-level `pipeline:`"),
            (
                "pipeline:\n  tail_sampling:\n    polices: []\n",
                "pipeline.tail_sampling",
                "spelling",
            ),
            (
                "pipeline:\n  probabilistic_sampler:\n    sampling_percentage: ten\n",
                "pipeline.probabilistic_sampler.sampling_percentage",
                "type",
            ),
            (
                "pipeline:\n  probabilistic_sampler:\n    sampling_percentage: 150\n",
                "pipeline.probabilistic_sampler",
                "correct",
            ),
            (
                "pipeline:\n  tail_sampling:\n    decision_wait: 1m\n    policies:\n      - {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n",
                "pipeline.tail_sampling.decision_wait",
                "at most 10s",
            ),
            (
                "pipeline:\n  attributes:\n    - {action: delete, pattern: '('}\n",
                "pipeline.attributes[0]",
                "correct",
            ),
            ("pipeline:\n  attributes: [\n", "pipeline", "YAML"),
        ];
        for (text, field, fix) in cases {
            let e = error(text);
            assert_eq!(e.field, field, "{text:?}: {e}");
            assert!(e.fix.contains(fix), "{text:?}: {e}");
            assert!(!e.problem.is_empty(), "{text:?}");
        }
    }
}
