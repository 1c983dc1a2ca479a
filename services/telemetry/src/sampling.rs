//! The sampler every service uses: the configured policy (parent-based by default), plus a
//! hook through which the `sampling_misconfig` fault makes a service ignore the caller's
//! decision.
//!
//! The hook is process-wide because the tracer provider is: a service installs it once at start
//! with [`install_override`]. The sampler sees the caller's baggage in the parent context, so an
//! override can be limited to some learners.

use std::sync::{Arc, RwLock};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};

use crate::config::SamplerSetting;
use crate::propagation::LEARNER_BAGGAGE_KEY;

/// Decides, for one span, whether this service ignores its caller's sampling decision.
pub trait ParentOverride: Send + Sync + std::fmt::Debug {
    /// `Some(ratio)` to sample by trace id at `ratio` regardless of the parent; `None` to
    /// follow the configured policy. `learner` is the `learner.id` baggage of the request.
    fn ignore_parent(&self, learner: Option<&str>) -> Option<f64>;
}

static OVERRIDE: RwLock<Option<Arc<dyn ParentOverride>>> = RwLock::new(None);

/// Installs the hook consulted for every span of this process (replacing any earlier one).
pub fn install_override(hook: Arc<dyn ParentOverride>) {
    let mut slot = OVERRIDE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *slot = Some(hook);
}

fn current_override() -> Option<Arc<dyn ParentOverride>> {
    OVERRIDE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// The configured sampler with the override hook in front of it.
#[derive(Debug, Clone)]
pub struct DojoSampler {
    configured: Sampler,
}

impl DojoSampler {
    /// The sampler for a setting from the environment.
    pub fn new(setting: SamplerSetting) -> DojoSampler {
        let configured = match setting {
            SamplerSetting::AlwaysOn => Sampler::AlwaysOn,
            SamplerSetting::AlwaysOff => Sampler::AlwaysOff,
            SamplerSetting::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(ratio),
            SamplerSetting::ParentBasedAlwaysOn => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
            }
            SamplerSetting::ParentBasedAlwaysOff => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff))
            }
            SamplerSetting::ParentBasedTraceIdRatio(ratio) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
            }
        };
        DojoSampler { configured }
    }
}

impl ShouldSample for DojoSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        // Only the first span of this service in a trace takes the decision; its children
        // follow it, as they would in a real misconfigured service.
        let parent_is_remote = parent_context
            .map(|cx| cx.has_active_span() && cx.span().span_context().is_remote())
            .unwrap_or(true);
        if parent_is_remote && let Some(hook) = current_override() {
            let learner = parent_context.and_then(|cx| {
                cx.baggage()
                    .get(LEARNER_BAGGAGE_KEY)
                    .map(|value| value.as_str().to_owned())
            });
            if let Some(ratio) = hook.ignore_parent(learner.as_deref()) {
                return Sampler::TraceIdRatioBased(ratio)
                    .should_sample(None, trace_id, name, span_kind, attributes, links);
            }
        }
        self.configured
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}
