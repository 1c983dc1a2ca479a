//! Tail sampling, like the collector's `tail_sampling` processor: wait `decision_wait` after a
//! trace's first span, then keep the whole trace if any policy says so.
//!
//! This module owns the policies and the decision; the buffer of waiting spans lives in the
//! store (`storage::tail`), which calls [`TailSampler::keeps`] when a trace's wait is over.

use std::time::Duration;

use dojo_traceql::model::{Span, StatusCode, TraceId};
use serde::{Deserialize, Serialize};

use super::PipelineError;
use super::sampling::trace_bucket;

/// `pipeline.tail_sampling`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSamplingConfig {
    /// How long after a trace's first span the decision is taken.
    #[serde(with = "crate::duration::serde_go", default = "default_wait")]
    pub decision_wait: Duration,
    /// A trace is kept when any policy keeps it.
    pub policies: Vec<TailPolicy>,
}

fn default_wait() -> Duration {
    Duration::from_secs(10)
}

/// One policy, written as the collector writes it: `{name, type, <type>: {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailPolicy {
    pub name: String,
    #[serde(flatten)]
    pub rule: PolicyRule,
}

/// What a policy looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PolicyRule {
    /// Keep traces with a span whose status is one of these (`OK`, `ERROR`, `UNSET`).
    StatusCode { status_code: StatusCodePolicy },
    /// Keep traces lasting at least `threshold_ms` (first start to last end).
    Latency { latency: LatencyPolicy },
    /// Keep this share of traces, by trace id.
    Probabilistic { probabilistic: ProbabilisticPolicy },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCodePolicy {
    pub status_codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyPolicy {
    pub threshold_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbabilisticPolicy {
    pub sampling_percentage: f64,
    #[serde(default)]
    pub hash_salt: u32,
}

#[derive(Debug, Clone)]
enum Rule {
    Status(Vec<StatusCode>),
    Latency(u64),
    Probabilistic { seed: u32, threshold: u32 },
}

/// The compiled policies.
#[derive(Debug, Clone)]
pub struct TailSampler {
    wait: Duration,
    rules: Vec<(String, Rule)>,
}

impl TailSampler {
    pub fn new(config: &TailSamplingConfig) -> Result<Self, PipelineError> {
        if config.policies.is_empty() {
            return Err(PipelineError::Tail("give at least one policy".into()));
        }
        let mut rules = Vec::new();
        for policy in &config.policies {
            let fail = |m: String| PipelineError::Tail(format!("policy {:?}: {m}", policy.name));
            let rule = match &policy.rule {
                PolicyRule::StatusCode { status_code } => {
                    let mut codes = Vec::new();
                    for code in &status_code.status_codes {
                        codes.push(match code.to_ascii_uppercase().as_str() {
                            "OK" => StatusCode::Ok,
                            "ERROR" => StatusCode::Error,
                            "UNSET" => StatusCode::Unset,
                            other => {
                                return Err(fail(format!(
                                    "unknown status code {other:?}; use OK, ERROR or UNSET"
                                )));
                            }
                        });
                    }
                    Rule::Status(codes)
                }
                PolicyRule::Latency { latency } => {
                    Rule::Latency(latency.threshold_ms.saturating_mul(1_000_000))
                }
                PolicyRule::Probabilistic { probabilistic } => {
                    let pct = probabilistic.sampling_percentage;
                    if !(0.0..=100.0).contains(&pct) {
                        return Err(fail(format!(
                            "sampling_percentage must be between 0 and 100, found {pct}"
                        )));
                    }
                    Rule::Probabilistic {
                        seed: probabilistic.hash_salt,
                        threshold: (pct / 100.0 * 16384.0).round() as u32,
                    }
                }
            };
            rules.push((policy.name.clone(), rule));
        }
        Ok(TailSampler {
            wait: config.decision_wait,
            rules,
        })
    }

    /// How long a trace waits for its spans before the decision.
    pub fn decision_wait(&self) -> Duration {
        self.wait
    }

    /// The name of the first policy that keeps the trace, or `None` to drop it.
    pub fn keeps<'a>(&'a self, trace_id: &TraceId, spans: &[Span]) -> Option<&'a str> {
        let start = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0);
        self.rules
            .iter()
            .find(|(_, rule)| match rule {
                Rule::Status(codes) => spans.iter().any(|s| codes.contains(&s.status)),
                Rule::Latency(threshold) => end.saturating_sub(start) >= *threshold,
                Rule::Probabilistic { seed, threshold } => {
                    trace_bucket(*seed, trace_id) < *threshold
                }
            })
            .map(|(name, _)| name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(yaml: &str) -> TailSampler {
        TailSampler::new(&serde_yaml::from_str(yaml).unwrap()).unwrap()
    }

    fn span(status: StatusCode, start_ms: u64, end_ms: u64) -> Span {
        Span {
            status,
            start_unix_nanos: start_ms * 1_000_000,
            end_unix_nanos: end_ms * 1_000_000,
            ..Default::default()
        }
    }

    const POLICIES: &str = "decision_wait: 2s\npolicies:\n  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n  - {name: slow, type: latency, latency: {threshold_ms: 500}}\n";

    #[test]
    fn a_trace_with_an_error_span_is_kept_by_the_status_policy() {
        let s = sampler(POLICIES);
        assert_eq!(s.decision_wait(), Duration::from_secs(2));
        let spans = [span(StatusCode::Ok, 0, 10), span(StatusCode::Error, 1, 5)];
        assert_eq!(s.keeps(&TraceId([1; 16]), &spans), Some("errors"));
    }

    #[test]
    fn a_slow_trace_is_kept_by_the_latency_policy_over_all_its_spans() {
        let s = sampler(POLICIES);
        let spans = [
            span(StatusCode::Ok, 0, 300),
            span(StatusCode::Unset, 200, 600),
        ];
        assert_eq!(s.keeps(&TraceId([1; 16]), &spans), Some("slow"));
    }

    #[test]
    fn a_fast_healthy_trace_is_dropped() {
        let s = sampler(POLICIES);
        assert_eq!(
            s.keeps(&TraceId([1; 16]), &[span(StatusCode::Ok, 0, 20)]),
            None
        );
    }

    #[test]
    fn the_probabilistic_policy_keeps_all_or_nothing_at_its_bounds() {
        let all = sampler(
            "policies: [{name: all, type: probabilistic, probabilistic: {sampling_percentage: 100}}]",
        );
        let none = sampler(
            "policies: [{name: none, type: probabilistic, probabilistic: {sampling_percentage: 0}}]",
        );
        let spans = [span(StatusCode::Ok, 0, 1)];
        assert_eq!(all.keeps(&TraceId([3; 16]), &spans), Some("all"));
        assert_eq!(none.keeps(&TraceId([3; 16]), &spans), None);
    }

    #[test]
    fn unknown_status_codes_and_empty_policy_lists_are_refused() {
        let bad: TailSamplingConfig = serde_yaml::from_str(
            "policies: [{name: e, type: status_code, status_code: {status_codes: [BROKEN]}}]",
        )
        .unwrap();
        assert!(
            TailSampler::new(&bad)
                .unwrap_err()
                .to_string()
                .contains("BROKEN")
        );
        let empty: TailSamplingConfig = serde_yaml::from_str("policies: []").unwrap();
        assert!(TailSampler::new(&empty).is_err());
    }
}
