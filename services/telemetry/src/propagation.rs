//! W3C trace-context and baggage: one composite propagator for the process, and the two
//! baggage entries the lab relies on (`learner.id` to scope faults and find a learner's
//! traces, `user.id` for the shop's business attribute).

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// The baggage key that carries the learner's id through every hop.
pub const LEARNER_BAGGAGE_KEY: &str = "learner.id";
/// The baggage key that carries the shop user's id.
pub const USER_BAGGAGE_KEY: &str = "user.id";
/// Longest accepted learner or user id; longer values are ignored as noise.
const MAX_ID_LEN: usize = 64;

/// Installs trace-context + baggage as the process's propagator (done by [`crate::init`]).
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
}

/// The caller's context (parent span and baggage) from inbound headers.
pub fn extract(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

/// Writes `traceparent`, `tracestate` and `baggage` for `cx` into outbound headers.
pub fn inject(cx: &Context, headers: &mut http::HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut HeaderInjector(headers));
    });
}

/// Writes only `baggage`, leaving the trace context out (what a service that "forgot" to
/// propagate does; the learner id still travels so the lab can find the split halves).
pub fn inject_baggage_only(cx: &Context, headers: &mut http::HeaderMap) {
    use opentelemetry::propagation::TextMapPropagator;
    BaggagePropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}

/// Who is behind a request, from its baggage. Inserted into every request's extensions by
/// [`crate::server::trace_requests`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The learner whose load generator sent the request, when known.
    pub learner_id: Option<String>,
    /// The shop user, when known.
    pub user_id: Option<String>,
}

impl Caller {
    /// Reads the caller from a context's baggage, ignoring malformed ids.
    pub fn from_context(cx: &Context) -> Caller {
        let read = |key: &str| {
            cx.baggage()
                .get(key)
                .map(|value| value.as_str().to_owned())
                .filter(|value| is_valid_id(value))
        };
        Caller {
            learner_id: read(LEARNER_BAGGAGE_KEY),
            user_id: read(USER_BAGGAGE_KEY),
        }
    }
}

/// Ids are short and made of letters, digits and `._@-`, so they are safe in attributes.
pub fn is_valid_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

/// The `baggage` header value a client sends to identify a learner and user.
pub fn baggage_header(learner_id: Option<&str>, user_id: Option<&str>) -> Option<String> {
    let entries: Vec<String> = [
        (LEARNER_BAGGAGE_KEY, learner_id),
        (USER_BAGGAGE_KEY, user_id),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        value
            .filter(|v| is_valid_id(v))
            .map(|v| format!("{key}={v}"))
    })
    .collect();
    (!entries.is_empty()).then(|| entries.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_is_read_from_the_baggage_header() {
        install_propagator();
        let mut headers = http::HeaderMap::new();
        let baggage = baggage_header(Some("ada"), Some("u-7")).expect("two valid ids");
        headers.insert("baggage", baggage.parse().expect("ascii"));
        let caller = Caller::from_context(&extract(&headers));
        assert_eq!(caller.learner_id.as_deref(), Some("ada"));
        assert_eq!(caller.user_id.as_deref(), Some("u-7"));
    }

    #[test]
    fn malformed_ids_are_ignored() {
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert_eq!(baggage_header(Some("bad id"), None), None);
    }
}
