//! The ingest pipeline: the collector processors the platform teaches, applied to every span
//! before it is stored.
//!
//! Order, as in the platform's collector: card numbers masked everywhere ([`scrub`]) and
//! attribute actions first (so nothing secret is ever stored, sampled or not), then probabilistic sampling by trace id, then tail sampling (which
//! waits for a trace's spans before deciding; its buffer lives in the store, see
//! `storage::tail`). Configured in YAML under `pipeline:`; the defaults scrub authorization
//! and cookie headers and hash database statements.

pub mod attributes;
mod error;
pub mod sampling;
pub mod scrub;
pub mod settings;
pub mod tail;

use serde::{Deserialize, Serialize};

use crate::otlp::convert::IncomingSpan;
pub use attributes::{ActionKind, AttributeAction, AttributeActions};
pub use error::PipelineError;
pub use sampling::{ProbabilisticConfig, ProbabilisticSampler};
pub use tail::{TailPolicy, TailSampler, TailSamplingConfig};

/// The `pipeline:` section of the store configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Attribute actions, applied in order to every span's attributes.
    pub attributes: Vec<AttributeAction>,
    /// Keep this share of traces, decided by trace id; absent keeps all.
    pub probabilistic_sampler: Option<ProbabilisticConfig>,
    /// Decide per trace after a wait; absent stores spans as they arrive.
    pub tail_sampling: Option<TailSamplingConfig>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            attributes: attributes::default_actions(),
            probabilistic_sampler: None,
            tail_sampling: None,
        }
    }
}

/// The compiled pipeline: regexes built once, ready to run on every batch.
#[derive(Debug)]
pub struct Pipeline {
    attributes: AttributeActions,
    probabilistic: Option<ProbabilisticSampler>,
    tail: Option<TailSampler>,
}

impl Pipeline {
    /// Compiles a configuration, refusing bad regexes and out-of-range percentages.
    pub fn new(config: &PipelineConfig) -> Result<Self, PipelineError> {
        Ok(Pipeline {
            attributes: AttributeActions::new(&config.attributes)?,
            probabilistic: config
                .probabilistic_sampler
                .as_ref()
                .map(ProbabilisticSampler::new)
                .transpose()?,
            tail: config
                .tail_sampling
                .as_ref()
                .map(TailSampler::new)
                .transpose()?,
        })
    }

    /// Runs the attribute actions and probabilistic sampling in place; returns how many spans
    /// sampling dropped.
    pub fn process(&self, spans: &mut Vec<IncomingSpan>) -> usize {
        scrub::scrub_card_numbers(spans);
        self.attributes.apply(spans);
        match &self.probabilistic {
            Some(sampler) => {
                let before = spans.len();
                spans.retain(|s| sampler.keeps(&s.trace_id));
                before - spans.len()
            }
            None => 0,
        }
    }

    /// The tail sampler, when the configuration has one.
    pub fn tail(&self) -> Option<&TailSampler> {
        self.tail.as_ref()
    }
}
