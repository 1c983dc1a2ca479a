//! Probabilistic sampling by trace id, like the collector's `probabilistic_sampler`.
//!
//! The decision is a hash of the trace id (and a seed), so every span of a trace gets the same
//! answer no matter which service or batch it came in: a sampled trace is never half stored.

use dojo_traceql::model::TraceId;
use serde::{Deserialize, Serialize};

use super::PipelineError;

/// `pipeline.probabilistic_sampler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbabilisticConfig {
    /// The share of traces kept, 0 to 100.
    pub sampling_percentage: f64,
    /// Changes which traces are kept; use the same seed everywhere a trace is sampled.
    #[serde(default)]
    pub hash_seed: u32,
}

/// 14 bits of hash, as the collector uses: 16384 buckets.
const BUCKETS: u32 = 1 << 14;

/// The compiled sampler.
#[derive(Debug, Clone)]
pub struct ProbabilisticSampler {
    seed: u32,
    /// Buckets below this are kept.
    threshold: u32,
}

impl ProbabilisticSampler {
    pub fn new(config: &ProbabilisticConfig) -> Result<Self, PipelineError> {
        let pct = config.sampling_percentage;
        if !(0.0..=100.0).contains(&pct) {
            return Err(PipelineError::Percentage(pct));
        }
        Ok(ProbabilisticSampler {
            seed: config.hash_seed,
            threshold: (pct / 100.0 * BUCKETS as f64).round() as u32,
        })
    }

    /// Whether the trace is kept.
    pub fn keeps(&self, trace_id: &TraceId) -> bool {
        trace_bucket(self.seed, trace_id) < self.threshold
    }
}

/// The bucket (0..16384) of a trace id: FNV-1a over the seed and the id's bytes.
pub fn trace_bucket(seed: u32, trace_id: &TraceId) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in seed.to_le_bytes().iter().chain(trace_id.0.iter()) {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash & (BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> impl Iterator<Item = TraceId> {
        (0..n).map(|i| {
            let mut bytes = [7u8; 16];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            bytes[8..12].copy_from_slice(&(i.wrapping_mul(2_654_435_761)).to_le_bytes());
            TraceId(bytes)
        })
    }

    #[test]
    fn about_the_configured_share_of_traces_is_kept() {
        let sampler = ProbabilisticSampler::new(&ProbabilisticConfig {
            sampling_percentage: 25.0,
            hash_seed: 0,
        })
        .unwrap();
        let kept = ids(20_000).filter(|id| sampler.keeps(id)).count();
        assert!(
            (4_400..=5_600).contains(&kept),
            "kept {kept} of 20000 at 25%"
        );
    }

    #[test]
    fn zero_keeps_nothing_and_a_hundred_keeps_everything() {
        let none = ProbabilisticSampler::new(&ProbabilisticConfig {
            sampling_percentage: 0.0,
            hash_seed: 1,
        })
        .unwrap();
        let all = ProbabilisticSampler::new(&ProbabilisticConfig {
            sampling_percentage: 100.0,
            hash_seed: 1,
        })
        .unwrap();
        assert!(ids(1000).all(|id| !none.keeps(&id) && all.keeps(&id)));
    }

    #[test]
    fn percentages_outside_zero_to_a_hundred_are_refused() {
        assert!(
            ProbabilisticSampler::new(&ProbabilisticConfig {
                sampling_percentage: 101.0,
                hash_seed: 0
            })
            .is_err()
        );
    }
}
