//! Pipeline settings (the sampling and scrubbing exercise), checked by their effect on live
//! traces: the learner's settings become their tenant's ingest pipeline, a probe of traffic
//! whose every trace the grader knows — failed requests, slow ones, ordinary ones, each
//! carrying authentication headers and a card number — is sent through it, and once the
//! store has decided on every trace, what was stored is compared with the brief: every error
//! kept, every slow trace kept, about the asked share of the rest, and no secret stored.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dojo_store::pipeline::settings::parse_settings;
use dojo_traceql::model::{KeyValue, Trace, TraceId, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

use super::describe::human_duration;
use super::feedback::{Evidence, Feedback, Item, ItemStatus, SyntaxError, Verdict};
use super::{GradeError, Settings};
use crate::backend::TraceBackend;
use crate::spec::types::PipelineCheck;

/// The longest tail-sampling wait the exercise accepts: the grader waits that long.
pub const MAX_DECISION_WAIT: Duration = Duration::from_secs(10);

/// How many traces of each kind the probe sends. 300 ordinary traces tell 10 % from 20 %
/// (30 ± 5 against 60 ± 7) with room to spare.
const ERRORS: usize = 30;
const SLOW: usize = 30;
const ORDINARY: usize = 300;

/// Everything the check needs besides the spec.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub backend: &'a dyn TraceBackend,
    /// The learner's tenant: the one their settings apply to.
    pub tenant: &'a str,
    pub settings: &'a Settings,
}

/// What one probe trace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Error,
    Slow,
    Ordinary,
}

/// One probe trace as sent.
struct Sent {
    trace_id: TraceId,
    kind: Kind,
    duration: Duration,
    name: &'static str,
}

/// Applies the settings, sends the probe, waits for the store's decisions and grades.
pub async fn grade(
    ctx: &Context<'_>,
    check: &PipelineCheck,
    text: &str,
) -> Result<Feedback, GradeError> {
    let Some(lab) = ctx.backend.pipeline_lab() else {
        return Ok(Feedback::not_ready(
            format!(
                "This exercise sets your tenant's pipeline in the lab's own trace store, and \
                 {} has none the grader can set. Run it with `dojo up` (the embedded store).",
                ctx.backend.describe()
            ),
            Vec::new(),
        ));
    };
    let config = match parse_settings(text, MAX_DECISION_WAIT) {
        Ok(config) => config,
        Err(error) => return Ok(settings_refused(&error)),
    };
    lab.set_pipeline(ctx.tenant, Some(&config))
        .map_err(GradeError::Input)?;
    let (probe, secrets) = probe(check);
    for request in requests(&probe, &secrets) {
        lab.send(ctx.tenant, request).map_err(|e| {
            GradeError::Input(format!(
                "the trace store did not take the exercise's traffic: {e}"
            ))
        })?;
    }
    // Wait for every tail-sampling decision (the store decides twice a second).
    let wait = config
        .tail_sampling
        .as_ref()
        .map_or(Duration::ZERO, |t| t.decision_wait);
    let deadline = Instant::now() + wait + Duration::from_secs(20);
    tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
    // Decided traces leave the buffer a moment before they are stored (the store decides a
    // tenant's due traces, then stores the kept ones): nothing pending twice in a row, a
    // grace apart, means every decision is stored.
    let mut settled = 0;
    while settled < 2 {
        settled = if lab.pending(ctx.tenant) == 0 {
            settled + 1
        } else {
            0
        };
        if settled == 2 {
            break;
        }
        if Instant::now() > deadline {
            return Ok(Feedback::not_ready(
                "The trace store has not decided on the exercise's traces yet; it is busy. \
                 Submit again in a minute.",
                Vec::new(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut stored: HashMap<TraceId, Trace> = HashMap::new();
    for sent in &probe {
        if let Some(trace) = ctx
            .backend
            .trace_by_id(Some(ctx.tenant), sent.trace_id)
            .await
            .map_err(GradeError::Backend)?
        {
            stored.insert(sent.trace_id, trace);
        }
    }
    Ok(judge(ctx, check, &probe, &secrets, &stored))
}

/// Feedback for settings that cannot be used: the field, the problem and the fix.
fn settings_refused(error: &dojo_store::pipeline::settings::SettingsError) -> Feedback {
    Feedback {
        verdict: Verdict::Fail,
        score: 0.0,
        headline: format!(
            "These settings cannot be used: `{}` {}. Nothing was changed.",
            error.field, error.problem
        ),
        items: vec![Item::fail(
            format!("`{}`", error.field),
            format!("{}: {}.", error.problem, error.fix),
        )],
        syntax_error: None::<SyntaxError>,
    }
}

/// The secret values the probe carries, to look for in what was stored.
struct Secrets {
    /// (attribute key, value) on every probe trace's server span.
    headers: Vec<(String, String)>,
    /// A card number on the checkout spans, as the services would never send it.
    card: String,
}

/// The probe: which traces, and the secrets they carry. Trace ids are fresh every time.
fn probe(check: &PipelineCheck) -> (Vec<Sent>, Secrets) {
    let mut ids = IdSource::new();
    let slow = check.keep_slower_than.0;
    let mut sent = Vec::with_capacity(ERRORS + SLOW + ORDINARY);
    for i in 0..ERRORS {
        sent.push(Sent {
            trace_id: ids.trace_id(),
            kind: Kind::Error,
            duration: Duration::from_millis(40 + (i as u64 * 7) % 200),
            name: "POST /checkout",
        });
    }
    for i in 0..SLOW {
        sent.push(Sent {
            trace_id: ids.trace_id(),
            kind: Kind::Slow,
            duration: slow + slow / 5 + Duration::from_millis((i as u64 * 37) % 900),
            name: "GET /products/{id}",
        });
    }
    for i in 0..ORDINARY {
        // Ordinary requests stay well under the slow threshold.
        let cap = (slow.as_millis() as u64 * 6 / 10).max(2);
        sent.push(Sent {
            trace_id: ids.trace_id(),
            kind: Kind::Ordinary,
            duration: Duration::from_millis(1 + (i as u64 * 13) % cap),
            name: if i % 3 == 0 {
                "GET /cart"
            } else {
                "GET /products/{id}"
            },
        });
    }
    let token = format!("{:016x}", ids.next());
    let secrets = Secrets {
        headers: check
            .never_store
            .iter()
            .map(|key| (key.clone(), format!("dojo-probe-secret-{token}")))
            .collect(),
        card: "4111 1111 1111 1111".into(),
    };
    (sent, secrets)
}

/// The probe as OTLP: one request per service, as the shop's services would export them.
fn requests(probe: &[Sent], secrets: &Secrets) -> Vec<ExportTraceServiceRequest> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut frontend = Vec::new();
    let mut api = Vec::new();
    for (n, sent) in probe.iter().enumerate() {
        let total = sent.duration.as_nanos() as u64;
        let start = now.saturating_sub(total + 1_000_000);
        let trace_id = sent.trace_id.0.to_vec();
        let id = |k: u8| {
            let mut bytes = (n as u64).to_be_bytes();
            bytes[0] = k;
            bytes.to_vec()
        };
        let failed = sent.kind == Kind::Error;
        let mut attributes = vec![
            kv(
                "http.request.method",
                sent.name.split(' ').next().unwrap_or("GET"),
            ),
            kv("http.route", sent.name.split(' ').nth(1).unwrap_or("/")),
            kv_int("http.response.status_code", if failed { 500 } else { 200 }),
        ];
        attributes.extend(secrets.headers.iter().map(|(k, v)| kv(k, v)));
        if sent.name == "POST /checkout" {
            attributes.push(kv("payment.card.number", &secrets.card));
        }
        frontend.push(Span {
            trace_id: trace_id.clone(),
            span_id: id(1),
            name: sent.name.into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + total,
            attributes,
            status: Some(status_of(failed)),
            ..Default::default()
        });
        api.push(Span {
            trace_id,
            span_id: id(2),
            parent_span_id: id(1),
            name: sent.name.into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: start + total / 10,
            end_time_unix_nano: start + total - total / 10,
            attributes: vec![kv_int(
                "http.response.status_code",
                if failed { 500 } else { 200 },
            )],
            status: Some(status_of(failed)),
            ..Default::default()
        });
    }
    vec![request("frontend", frontend), request("api", api)]
}

fn status_of(failed: bool) -> Status {
    Status {
        code: if failed {
            status::StatusCode::Error as i32
        } else {
            status::StatusCode::Unset as i32
        },
        message: if failed {
            "payment declined".into()
        } else {
            String::new()
        },
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", service),
                    kv("dojo.exercise", "sampling-and-scrubbing"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "dojo.grader.probe".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn kv(key: &str, value: &str) -> opentelemetry_proto::tonic::common::v1::KeyValue {
    opentelemetry_proto::tonic::common::v1::KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn kv_int(key: &str, value: i64) -> opentelemetry_proto::tonic::common::v1::KeyValue {
    opentelemetry_proto::tonic::common::v1::KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// Compares what was stored with the brief.
fn judge(
    ctx: &Context<'_>,
    check: &PipelineCheck,
    probe: &[Sent],
    secrets: &Secrets,
    stored: &HashMap<TraceId, Trace>,
) -> Feedback {
    let examples = ctx.settings.examples.max(1);
    let dropped = |kind: Kind| -> Vec<&Sent> {
        probe
            .iter()
            .filter(|s| s.kind == kind && !stored.contains_key(&s.trace_id))
            .collect()
    };
    let dropped_evidence = |list: &[&Sent], why: &str| -> Vec<Evidence> {
        list.iter()
            .take(examples)
            .map(|s| Evidence {
                trace_id: s.trace_id.to_string(),
                trace: format!(
                    "frontend: {} ({})",
                    s.name,
                    human_duration(s.duration.as_nanos() as u64)
                ),
                why: why.to_string(),
            })
            .collect()
    };
    let mut items = Vec::new();

    let errors = dropped(Kind::Error);
    items.push(if errors.is_empty() {
        Item::pass(
            "Every error is kept",
            format!("All {ERRORS} failed requests were stored."),
        )
    } else {
        Item::fail(
            "Every error is kept",
            format!(
                "{} of {ERRORS} failed requests were not stored. An error is what you will be \
                 asked about at 3 a.m.: keep every trace with an error status, whatever else \
                 you drop. A `status_code` tail policy keeps them; a probabilistic sampler \
                 (head, or before the tail policies) drops them like any other trace.",
                errors.len()
            ),
        )
        .with_evidence(dropped_evidence(
            &errors,
            "failed with status error; not stored",
        ))
    });

    let slow = dropped(Kind::Slow);
    let threshold = match check.keep_slower_than.0.as_millis() {
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        ms => format!("{ms} ms"),
    };
    items.push(if slow.is_empty() {
        Item::pass(
            format!("Every trace slower than {threshold} is kept"),
            format!("All {SLOW} slow requests were stored."),
        )
    } else {
        Item::fail(
            format!("Every trace slower than {threshold} is kept"),
            format!(
                "{} of {SLOW} requests slower than {threshold} were not stored. Keep them all \
                 with a `latency` tail policy whose `threshold_ms` is at most {}.",
                slow.len(),
                check.keep_slower_than.0.as_millis()
            ),
        )
        .with_evidence(dropped_evidence(
            &slow,
            "slower than the threshold; not stored",
        ))
    });

    let kept = probe
        .iter()
        .filter(|s| s.kind == Kind::Ordinary && stored.contains_key(&s.trace_id))
        .count();
    let share = check.keep_rest_percent / 100.0;
    let expected = ORDINARY as f64 * share;
    let spread = (ORDINARY as f64 * share * (1.0 - share)).sqrt() * 4.0;
    let (low, high) = (
        (expected - spread.max(3.0)).max(0.0),
        expected + spread.max(3.0),
    );
    let percent = kept as f64 * 100.0 / ORDINARY as f64;
    let asked = format_percent(check.keep_rest_percent);
    items.push(if (low..=high).contains(&(kept as f64)) {
        Item::pass(
            format!("About {asked} of the other traces are kept"),
            format!(
                "{kept} of {ORDINARY} ordinary requests were stored ({}), close to {asked}.",
                format_percent(percent)
            ),
        )
    } else if (kept as f64) > high {
        Item::fail(
            format!("About {asked} of the other traces are kept"),
            format!(
                "{kept} of {ORDINARY} ordinary requests were stored ({}); the brief asks for \
                 about {asked}. Add a `probabilistic` tail policy with `sampling_percentage: {}` \
                 for the traces no other policy keeps.",
                format_percent(percent),
                check.keep_rest_percent
            ),
        )
    } else {
        Item::fail(
            format!("About {asked} of the other traces are kept"),
            format!(
                "Only {kept} of {ORDINARY} ordinary requests were stored ({}); the brief asks for \
                 about {asked}, so the normal behaviour stays visible for comparison.",
                format_percent(percent)
            ),
        )
    });

    let mut leaks: Vec<Evidence> = Vec::new();
    let mut leaked_keys: Vec<String> = Vec::new();
    for sent in probe {
        let Some(trace) = stored.get(&sent.trace_id) else {
            continue;
        };
        for span in &trace.spans {
            for attribute in span.attributes.iter().chain(&span.resource.attributes) {
                let what = leaked(attribute, secrets);
                if let Some(what) = what {
                    if !leaked_keys.contains(&attribute.key.to_string()) {
                        leaked_keys.push(attribute.key.to_string());
                    }
                    if leaks.len() < examples {
                        leaks.push(Evidence {
                            trace_id: sent.trace_id.to_string(),
                            trace: super::describe::trace(trace),
                            why: format!("`{}` still holds {what}", attribute.key),
                        });
                    }
                }
            }
        }
    }
    let names: Vec<String> = check.never_store.iter().map(|k| format!("`{k}`")).collect();
    items.push(if leaked_keys.is_empty() {
        Item::pass(
            "No authentication header or card number is stored",
            format!(
                "None of {} nor any card number reached storage.",
                names.join(", ")
            ),
        )
    } else {
        Item::fail(
            "No authentication header or card number is stored",
            format!(
                "Stored traces still carry secrets in {}. Delete these attributes with an \
                 `attributes` action (`action: delete` with their `key`, or a `pattern` that \
                 matches them all); an `attributes:` list you write replaces the store's default \
                 actions, so list every one the brief names.",
                leaked_keys
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_evidence(leaks)
    });

    let passed = items
        .iter()
        .filter(|i| i.status == ItemStatus::Pass)
        .count();
    let total = items.len();
    Feedback {
        verdict: if passed == total {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        score: passed as f64 / total as f64,
        headline: if passed == total {
            format!(
                "Your pipeline meets the brief: every error and every slow trace kept, about \
                 {asked} of the rest, and no secrets stored. It stays on your tenant."
            )
        } else {
            format!(
                "{passed} of {total} parts of the brief are met. {} traces were sent through \
                 your settings; the items below show what went wrong, with the traces.",
                probe.len()
            )
        },
        items,
        syntax_error: None,
    }
}

/// What secret an attribute still holds, if any: a probe header value or the card number.
fn leaked(attribute: &KeyValue, secrets: &Secrets) -> Option<&'static str> {
    let Value::Str(text) = &attribute.value else {
        return None;
    };
    let digits: String = secrets.card.chars().filter(char::is_ascii_digit).collect();
    let text_digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if secrets
        .headers
        .iter()
        .any(|(_, v)| text.contains(v.as_str()))
    {
        Some("the secret value sent with the request")
    } else if text_digits.contains(&digits) {
        Some("a card number")
    } else {
        None
    }
}

fn format_percent(value: f64) -> String {
    if (value - value.round()).abs() < 0.05 {
        format!("{} %", value.round())
    } else {
        format!("{value:.1} %")
    }
}

/// Fresh ids for one probe: the seeded SplitMix64, seeded from the clock. Not secret; only
/// distinct from every other probe's.
struct IdSource(crate::seeded::SplitMix);

impl IdSource {
    fn new() -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        IdSource(crate::seeded::SplitMix(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn trace_id(&mut self) -> TraceId {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next().to_be_bytes());
        bytes[8..].copy_from_slice(&self.next().to_be_bytes());
        TraceId(bytes)
    }
}
