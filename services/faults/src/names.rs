//! The names people use for each fault — the lessons' words, Tempo's and OpenTelemetry's
//! terms — so a root-cause report may say "connection-pool exhaustion" or "trace context not
//! propagated" instead of the catalogue id, and an unknown name gets the valid ones listed,
//! closest first.
//!
//! Matching ignores case, spaces and punctuation (`Slow_Query`, `slow query`, `slow-query`
//! agree) and a final plural `s`. No name belongs to two faults (a test checks it): a name
//! that could mean either ("latency", "errors") is left out, so it is answered with the list.

use crate::catalogue::FaultId;

/// What kind of problem a fault is, which decides how a learner should look for its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// A span is slow in its own work or waiting on something below it.
    Latency,
    /// The time goes between two services: a client span is long over a short server span.
    Network,
    /// Requests fail.
    Errors,
    /// The trace context is not passed on: traces are cut in two.
    Propagation,
    /// Traces go missing because of how they are sampled.
    Sampling,
}

impl FaultId {
    /// The fault's names in plain words, the main one first (the id itself always matches).
    pub fn names(self) -> &'static [&'static str] {
        match self {
            FaultId::SlowQuery => &[
                "slow database query",
                "slow query",
                "slow SQL query",
                "slow DB query",
                "slow database",
                "database slow",
                "missing index",
                "slow SELECT",
            ],
            FaultId::NPlusOne => &[
                "N+1 queries",
                "N+1",
                "N plus one",
                "N+1 query",
                "N+1 problem",
                "query per item",
                "repeated queries",
            ],
            FaultId::IntermittentLatency => &[
                "intermittent latency",
                "intermittent slowness",
                "intermittent stall",
                "random stalls",
                "latency spikes",
                "sporadic latency",
            ],
            FaultId::ErrorRate => &[
                "error rate",
                "elevated error rate",
                "intermittent errors",
                "intermittent 500s",
                "HTTP 500 errors",
                "server errors",
                "failing route",
            ],
            FaultId::BadProduct => &[
                "bad product",
                "corrupt record",
                "corrupt data",
                "bad data",
                "data-dependent failure",
                "poison record",
            ],
            FaultId::PaymentsSlow => &[
                "slow dependency",
                "slow external dependency",
                "slow downstream dependency",
                "slow downstream service",
                "slow third-party service",
                "slow payments",
                "slow payment provider",
                "dependency latency",
            ],
            FaultId::PaymentsFailing => &[
                "failing dependency",
                "dependency failure",
                "dependency down",
                "dependency unavailable",
                "dependency timeout",
                "payments failing",
                "payment provider down",
                "timeouts with retries",
                "retry storm",
            ],
            FaultId::PaymentsNetwork => &[
                "network latency",
                "network delay",
                "slow network",
                "network fault",
                "network problem",
                "network issue",
                "connection resets",
                "packet loss",
            ],
            FaultId::BrokenPropagation => &[
                "broken context propagation",
                "broken propagation",
                "trace context not propagated",
                "context not propagated",
                "context propagation failure",
                "missing traceparent",
                "dropped traceparent",
                "traceparent not forwarded",
                "lost trace context",
                "broken trace",
                "orphan traces",
                "orphaned spans",
            ],
            FaultId::PoolExhaustion => &[
                "connection-pool exhaustion",
                "pool exhaustion",
                "connection pool exhausted",
                "database connection pool exhaustion",
                "pool starvation",
                "connection starvation",
                "waiting for a connection",
                "pool contention",
            ],
            FaultId::CpuHeavy => &[
                "CPU-heavy step",
                "CPU heavy",
                "CPU-bound work",
                "CPU bound",
                "CPU saturation",
                "expensive computation",
                "busy loop",
                "hot loop",
            ],
            FaultId::SamplingMisconfig => &[
                "sampling misconfiguration",
                "misconfigured sampling",
                "wrong sampling",
                "sampling ratio too low",
                "sampler misconfigured",
            ],
        }
    }

    /// The fault's main name in plain words.
    pub fn plain_name(self) -> &'static str {
        self.names()[0]
    }

    /// How a learner should look for this kind of fault.
    pub fn class(self) -> FaultClass {
        match self {
            FaultId::SlowQuery
            | FaultId::NPlusOne
            | FaultId::IntermittentLatency
            | FaultId::PaymentsSlow
            | FaultId::PoolExhaustion
            | FaultId::CpuHeavy => FaultClass::Latency,
            FaultId::PaymentsNetwork => FaultClass::Network,
            FaultId::ErrorRate | FaultId::BadProduct | FaultId::PaymentsFailing => {
                FaultClass::Errors
            }
            FaultId::BrokenPropagation => FaultClass::Propagation,
            FaultId::SamplingMisconfig => FaultClass::Sampling,
        }
    }

    /// The fault a person's words name: its id or one of its names, ignoring case, spacing,
    /// punctuation and a final plural `s`.
    pub fn from_words(text: &str) -> Option<FaultId> {
        let wanted = normalize(text);
        if wanted.is_empty() {
            return None;
        }
        let singular = wanted.strip_suffix('s').unwrap_or(&wanted);
        FaultId::ALL.into_iter().find(|id| {
            std::iter::once(id.as_str())
                .chain(id.names().iter().copied())
                .map(normalize)
                .any(|name| {
                    name == wanted || name == singular || name.strip_suffix('s') == Some(singular)
                })
        })
    }

    /// Every fault, the ones whose id or names are closest to `text` first.
    pub fn closest_to(text: &str) -> Vec<FaultId> {
        let wanted = normalize(text);
        let mut ranked: Vec<(usize, FaultId)> = FaultId::ALL
            .into_iter()
            .map(|id| {
                let distance = std::iter::once(id.as_str())
                    .chain(id.names().iter().copied())
                    .map(|name| distance(&wanted, &normalize(name)))
                    .min()
                    .unwrap_or(usize::MAX);
                (distance, id)
            })
            .collect();
        // Stable: equally close faults keep catalogue order.
        ranked.sort_by_key(|(distance, _)| *distance);
        ranked.into_iter().map(|(_, id)| id).collect()
    }
}

/// Lower-case letters and digits only.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Edit distance (insertions, deletions, substitutions), with a name that contains the
/// whole text — or is contained in it — counted as close as the length difference allows.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lessons_words_name_their_faults_whatever_the_case_and_punctuation() {
        let cases = [
            ("slow dependency", FaultId::PaymentsSlow),
            ("Connection-pool exhaustion", FaultId::PoolExhaustion),
            ("CPU-heavy step", FaultId::CpuHeavy),
            ("slow database query", FaultId::SlowQuery),
            ("Trace context not propagated", FaultId::BrokenPropagation),
            ("slow_query", FaultId::SlowQuery),
            ("SLOW-QUERY", FaultId::SlowQuery),
            ("n+1 queries", FaultId::NPlusOne),
            ("network latency", FaultId::PaymentsNetwork),
            ("missing traceparents", FaultId::BrokenPropagation),
            ("  pool_exhaustion ", FaultId::PoolExhaustion),
        ];
        for (words, id) in cases {
            assert_eq!(FaultId::from_words(words), Some(id), "{words:?}");
        }
        for words in ["", "latency", "errors", "slow", "it is broken", "cpu"] {
            assert_eq!(
                FaultId::from_words(words),
                None,
                "{words:?} names no one fault"
            );
        }
    }

    #[test]
    fn no_name_belongs_to_two_faults() {
        let mut seen: std::collections::BTreeMap<String, FaultId> = Default::default();
        for id in FaultId::ALL {
            for name in std::iter::once(id.as_str()).chain(id.names().iter().copied()) {
                let key = normalize(name);
                let key = key.strip_suffix('s').unwrap_or(&key).to_string();
                if let Some(other) = seen.insert(key.clone(), id) {
                    assert_eq!(other, id, "{name:?} names both {other} and {id}");
                }
            }
        }
    }

    #[test]
    fn an_unknown_name_ranks_the_closest_faults_first() {
        assert_eq!(FaultId::closest_to("slow querry")[0], FaultId::SlowQuery);
        assert_eq!(
            FaultId::closest_to("pool exhausted")[0],
            FaultId::PoolExhaustion
        );
        assert_eq!(
            FaultId::closest_to("propagaton broken")[0],
            FaultId::BrokenPropagation
        );
        assert_eq!(FaultId::closest_to("anything").len(), FaultId::ALL.len());
    }
}
