//! Instrumentation changes, checked by TraceQL assertions on the learner's live traces.
//!
//! Each assertion is a query with an expectation (`present`, `absent`, or `every` trace of a
//! selection also matching); the feedback lists every one with pass or fail, the lab author's
//! message on failure, and example traces.
//!
//! Only the learner's own run is graded: the shop's services (instrumented already) are
//! refused by name, and every assertion reads only spans whose resource carries the
//! learner's id as `learner.id` — what the lab page tells the learner to set with
//! `OTEL_RESOURCE_ATTRIBUTES`, and `dojo run --learner` sets — and that come from the
//! service's newest running instance ([`own_run`]).

use std::collections::BTreeSet;

use dojo_traceql::model::{Trace, TraceId, Value, attribute};

use super::describe;
use super::feedback::{Evidence, Feedback, Item, Verdict};
use super::traceql::search_all;
use super::{GradeError, Settings};
use crate::backend::{SearchHit, TraceBackend, Window};
use crate::query::{self, Vars};
use crate::spec::types::{Expect, InstrumentationCheck};

/// Everything the check needs besides the spec.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub backend: &'a dyn TraceBackend,
    pub tenant: Option<&'a str>,
    /// `service` is the learner's service under test.
    pub vars: Vars<'a>,
    pub window: Window,
    pub settings: &'a Settings,
}

/// How many of the service's newest traces are looked at to find when its running instance
/// started.
const INSTANCE_SAMPLE: usize = 200;

/// The `service.instance.id` of the service's newest trace, and the start (unix seconds) of
/// the oldest sampled trace from that same instance. `None` when the service does not set
/// `service.instance.id`, in which case the whole window counts.
async fn running_instance(
    ctx: &Context<'_>,
    service: &str,
    mut sample: Vec<SearchHit>,
) -> Result<Option<(String, u64)>, GradeError> {
    sample.sort_by_key(|h| std::cmp::Reverse(h.start_unix_nanos));
    let instance_of = |trace: &Trace| {
        trace
            .spans
            .iter()
            .filter(|s| s.service_name() == Some(service))
            .find_map(
                |s| match attribute(&s.resource.attributes, "service.instance.id") {
                    Some(Value::Str(id)) => Some(id.to_string()),
                    _ => None,
                },
            )
    };
    let fetch = |hit: &SearchHit| ctx.backend.trace_by_id(ctx.tenant, hit.trace_id);
    let Some(newest) = sample.first() else {
        return Ok(None);
    };
    let Some(trace) = fetch(newest).await.map_err(GradeError::Backend)? else {
        return Ok(None);
    };
    let Some(current) = instance_of(&trace) else {
        return Ok(None);
    };
    // Newest first, instances only ever change from older to newer: binary search for the
    // oldest sampled trace of the current instance.
    let (mut good, mut bad) = (0usize, sample.len());
    while bad - good > 1 {
        let mid = (good + bad) / 2;
        let same = match fetch(&sample[mid]).await.map_err(GradeError::Backend)? {
            Some(trace) => instance_of(&trace).as_deref() == Some(current.as_str()),
            None => false,
        };
        if same {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(Some((
        current,
        sample[good].start_unix_nanos / 1_000_000_000,
    )))
}

/// The condition every assertion uses to select the service under test. The grader narrows
/// it to the learner's own run ([`own_run`]), so no other run of a same-named service —
/// and none of the shop's services — can satisfy an assertion.
pub const SERVICE_CONDITION: &str = r#"resource.service.name = "$service""#;

/// An assertion's template filled in and narrowed to the learner's run: each
/// [`SERVICE_CONDITION`] also requires the learner's mark (`resource.learner.id`) and, when
/// the running instance is known, its `service.instance.id`.
pub fn own_run(template: &str, vars: &Vars<'_>, instance: Option<&str>) -> String {
    let service = query::render(SERVICE_CONDITION, vars);
    let mut run = query::render(
        &format!(r#"({SERVICE_CONDITION} && resource.learner.id = "$learner""#),
        vars,
    );
    if let Some(instance) = instance {
        run.push_str(&format!(
            r#" && resource.service.instance.id = "{}""#,
            query::escape(instance)
        ));
    }
    run.push(')');
    query::render(template, vars).replace(&service, &run)
}

/// The sample shop's own services: already instrumented, so grading one of them would pass
/// without any work from the learner.
pub const SHOP_SERVICES: [&str; 4] = ["frontend", "api", "payments", "loadgen"];

/// The environment setting that marks a run as the learner's.
pub fn run_marker(learner: &str) -> String {
    format!("OTEL_RESOURCE_ATTRIBUTES=learner.id={learner}")
}

/// True for a service name that can be put in a query safely.
pub fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

/// Runs every assertion.
pub async fn grade(
    ctx: &Context<'_>,
    check: &InstrumentationCheck,
) -> Result<Feedback, GradeError> {
    let service = ctx.vars.service;
    if !valid_service_name(service) {
        return Err(GradeError::Input(format!(
            "`{service}` is not a service name: use the value of OTEL_SERVICE_NAME (letters, digits, '.', '_', '-')"
        )));
    }
    if SHOP_SERVICES.contains(&service) {
        return Ok(Feedback {
            verdict: Verdict::Fail,
            score: 0.0,
            headline: format!(
                "`{service}` is one of the shop's own services: it was instrumented for you, so it \
                 says nothing about your work. Submit the name of the service you ran (its \
                 OTEL_SERVICE_NAME{})",
                match &check.default_service {
                    Some(default) => format!(", `{default}` unless you changed it"),
                    None => String::new(),
                }
            ),
            items: Vec::new(),
            syntax_error: None,
        });
    }
    let any = query::render(r#"{ resource.service.name = "$service" }"#, &ctx.vars);
    let mine = query::render(
        r#"{ resource.service.name = "$service" && resource.learner.id = "$learner" }"#,
        &ctx.vars,
    );
    let seen = search_all(ctx.backend, ctx.tenant, &mine, ctx.window, INSTANCE_SAMPLE).await?;
    if seen.is_empty()
        && !search_all(ctx.backend, ctx.tenant, &any, ctx.window, 1)
            .await?
            .is_empty()
    {
        return Ok(Feedback::not_ready(
            format!(
                "Traces from `{service}` arrived, but none from your run: start it with `{}` (in \
                 front of the command, or exported in that terminal), send it some requests and \
                 submit again. That attribute is how the grader tells your run from anyone \
                 else's.",
                run_marker(ctx.vars.learner)
            ),
            vec![],
        ));
    }
    if seen.is_empty() {
        return Ok(Feedback::not_ready(
            format!(
                "No traces from a service named `{service}` arrived in the window. Is it running \
                 with `{}`, is OTEL_SERVICE_NAME set to `{service}`, does \
                 OTEL_EXPORTER_OTLP_ENDPOINT point at the lab's trace store, and has it served \
                 some requests since it started?",
                run_marker(ctx.vars.learner)
            ),
            vec![],
        ));
    }

    let mut items = Vec::new();
    // Only the running process counts: traces from before the learner's last restart would
    // otherwise fail the assertions the fix just made true.
    let running = running_instance(ctx, service, seen).await?;
    let instance = running.as_ref().map(|(instance, _)| instance.clone());
    let window = match running {
        Some((instance, since_s)) => {
            items.push(Item::info(
                "Which traces were checked",
                format!(
                    "Those of the running instance of `{service}` (service.instance.id {instance}), \
                     from unix second {since_s} on; traces of earlier runs are ignored."
                ),
            ));
            Window {
                start_s: ctx.window.start_s.max(since_s),
                end_s: ctx.window.end_s,
            }
        }
        None => ctx.window,
    };
    let ctx = &Context { window, ..*ctx };
    let mut passed = 0;
    for assertion in &check.assertions {
        let q = own_run(&assertion.query, &ctx.vars, instance.as_deref());
        let limit = match assertion.expect {
            Expect::Present => 1,
            Expect::Absent => ctx.settings.examples.max(1),
            Expect::Every => ctx.settings.search_limit,
        };
        let hits = search_all(ctx.backend, ctx.tenant, &q, ctx.window, limit).await?;
        let item = match assertion.expect {
            Expect::Present => match hits.first() {
                Some(hit) => Item::pass(
                    &assertion.describe,
                    format!("Found, for example in {}.", describe::hit(hit)),
                )
                .with_evidence(vec![Evidence {
                    trace_id: hit.trace_id.to_string(),
                    trace: describe::hit(hit),
                    why: format!("matches `{q}`"),
                }]),
                None => Item::fail(
                    &assertion.describe,
                    format!(
                        "{}\n(No trace in the window matches `{q}`.)",
                        assertion.fail
                    ),
                ),
            },
            Expect::Absent => {
                if hits.is_empty() {
                    Item::pass(&assertion.describe, "None found.")
                } else {
                    Item::fail(
                        &assertion.describe,
                        format!(
                            "{}\n(These traces match `{q}`, and none should.)",
                            assertion.fail
                        ),
                    )
                    .with_evidence(
                        hits.iter()
                            .take(ctx.settings.examples)
                            .map(|hit| Evidence {
                                trace_id: hit.trace_id.to_string(),
                                trace: describe::hit(hit),
                                why: format!("offending span: {}", describe::hit_spans(hit, 2)),
                            })
                            .collect(),
                    )
                }
            }
            Expect::Every => {
                let of = own_run(
                    assertion.of.as_deref().unwrap_or("{}"),
                    &ctx.vars,
                    instance.as_deref(),
                );
                let selection = search_all(
                    ctx.backend,
                    ctx.tenant,
                    &of,
                    ctx.window,
                    ctx.settings.search_limit,
                )
                .await?;
                let matching: BTreeSet<TraceId> = hits.iter().map(|h| h.trace_id).collect();
                let lacking: Vec<_> = selection
                    .iter()
                    .filter(|h| !matching.contains(&h.trace_id))
                    .collect();
                if selection.is_empty() {
                    Item::fail(
                        &assertion.describe,
                        format!(
                            "{}\n(There is nothing to check yet: no trace matches `{of}`.)",
                            assertion.fail
                        ),
                    )
                } else if lacking.is_empty() {
                    Item::pass(
                        &assertion.describe,
                        format!(
                            "All {} trace{} checked.",
                            selection.len(),
                            if selection.len() == 1 { "" } else { "s" }
                        ),
                    )
                } else {
                    Item::fail(
                        &assertion.describe,
                        format!(
                            "{}\n({} of {} traces matching `{of}` do not match `{q}`.)",
                            assertion.fail,
                            lacking.len(),
                            selection.len()
                        ),
                    )
                    .with_evidence(
                        lacking
                            .iter()
                            .take(ctx.settings.examples)
                            .map(|hit| Evidence {
                                trace_id: hit.trace_id.to_string(),
                                trace: describe::hit(hit),
                                why: format!("does not match `{q}`"),
                            })
                            .collect(),
                    )
                }
            }
        };
        if item.status == super::feedback::ItemStatus::Pass {
            passed += 1;
        }
        items.push(item);
    }
    let total = check.assertions.len();
    let all = passed == total;
    Ok(Feedback {
        verdict: if all { Verdict::Pass } else { Verdict::Fail },
        score: if total == 0 {
            0.0
        } else {
            passed as f64 / total as f64
        },
        headline: if all {
            format!("All {total} checks pass: `{service}`'s traces tell the truth.")
        } else {
            format!(
                "{passed} of {total} checks pass. Fix the failing ones below, restart `{service}`, send it traffic and submit again."
            )
        },
        items,
        syntax_error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_on_the_service_is_narrowed_to_the_learners_running_instance() {
        let vars = Vars {
            learner: "ada-1",
            service: "stock",
        };
        assert_eq!(
            own_run(
                r#"{ resource.service.name = "$service" && kind = client } > { resource.service.name = "api" }"#,
                &vars,
                Some("i\"1"),
            ),
            r#"{ (resource.service.name = "stock" && resource.learner.id = "ada-1" && resource.service.instance.id = "i\"1") && kind = client } > { resource.service.name = "api" }"#
        );
        assert_eq!(
            own_run(r#"{ resource.service.name = "$service" }"#, &vars, None),
            r#"{ (resource.service.name = "stock" && resource.learner.id = "ada-1") }"#
        );
    }
}
