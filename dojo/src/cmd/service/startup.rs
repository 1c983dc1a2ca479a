//! The startup span of a release that `dojo deploy` rolled out.
//!
//! `dojo up` starts the new version with the rollout span's context in `TRACEPARENT` (the
//! environment-variable carrier of W3C trace context) and `service.version` and
//! `deployment.id` in `OTEL_RESOURCE_ATTRIBUTES`. The new process then records one span,
//! `start <service>`, as a child of the rollout span: the deployment's trace shows the new
//! version coming up, and TraceQL can walk from the deploy to the service
//! (`{ name = "rollout" } >> { resource.service.name = "api" }`). A release shipped broken on
//! purpose (`--fail-at rollout`) records the span with an error and stops here.

use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue};

use crate::control::{BROKEN_RELEASE, TRACEPARENT};

/// Records the startup span when this process was started by a rollout; fails for a release
/// shipped broken on purpose.
pub fn record(service: &str, started_at: SystemTime) -> anyhow::Result<()> {
    let broken = std::env::var(BROKEN_RELEASE).ok();
    let Some(parent) = std::env::var(TRACEPARENT)
        .ok()
        .as_deref()
        .and_then(parse_traceparent)
    else {
        return match broken {
            Some(version) => Err(broken_release(&version)),
            None => Ok(()),
        };
    };
    let tracer = opentelemetry::global::tracer("dojo");
    let cx = Context::new().with_remote_span_context(parent);
    let mut span = tracer
        .span_builder(format!("start {service}"))
        .with_kind(SpanKind::Internal)
        .with_start_time(started_at)
        .with_attributes([KeyValue::new("deployment.name", service.to_owned())])
        .start_with_context(&tracer, &cx);
    let outcome = match broken {
        Some(version) => {
            let error = broken_release(&version);
            span.set_status(Status::error(error.to_string()));
            span.set_attribute(KeyValue::new("error.type", "crash_at_start"));
            Err(error)
        }
        None => {
            span.set_status(Status::Ok);
            Ok(())
        }
    };
    span.end();
    outcome
}

fn broken_release(version: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "release {version} is broken on purpose (dojo deploy --fail-at rollout): it stops at start"
    )
}

/// `00-<trace id>-<span id>-<flags>`; anything else is ignored.
fn parse_traceparent(text: &str) -> Option<SpanContext> {
    let mut parts = text.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = SpanId::from_hex(span).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_read_and_garbage_is_ignored() {
        let parsed = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .expect("a valid traceparent");
        assert_eq!(
            parsed.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert!(parsed.is_sampled());
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-zzf7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?}");
        }
    }
}
