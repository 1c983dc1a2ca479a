//! The catalogue: every fault the lab can inject, with its home service, parameters and the
//! signature a learner looks for. The grader and the lessons read this data, so ids and
//! parameter names are stable.

use serde::Serialize;

/// A stable fault id, as used in the admin API, scenario files and lab specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultId {
    SlowQuery,
    NPlusOne,
    IntermittentLatency,
    ErrorRate,
    BadProduct,
    PaymentsSlow,
    PaymentsFailing,
    PaymentsNetwork,
    BrokenPropagation,
    PoolExhaustion,
    CpuHeavy,
    SamplingMisconfig,
}

impl FaultId {
    /// Every id, in catalogue order.
    pub const ALL: [FaultId; 12] = [
        FaultId::SlowQuery,
        FaultId::NPlusOne,
        FaultId::IntermittentLatency,
        FaultId::ErrorRate,
        FaultId::BadProduct,
        FaultId::PaymentsSlow,
        FaultId::PaymentsFailing,
        FaultId::PaymentsNetwork,
        FaultId::BrokenPropagation,
        FaultId::PoolExhaustion,
        FaultId::CpuHeavy,
        FaultId::SamplingMisconfig,
    ];

    /// The id as written in URLs and files.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultId::SlowQuery => "slow_query",
            FaultId::NPlusOne => "n_plus_one",
            FaultId::IntermittentLatency => "intermittent_latency",
            FaultId::ErrorRate => "error_rate",
            FaultId::BadProduct => "bad_product",
            FaultId::PaymentsSlow => "payments_slow",
            FaultId::PaymentsFailing => "payments_failing",
            FaultId::PaymentsNetwork => "payments_network",
            FaultId::BrokenPropagation => "broken_propagation",
            FaultId::PoolExhaustion => "pool_exhaustion",
            FaultId::CpuHeavy => "cpu_heavy",
            FaultId::SamplingMisconfig => "sampling_misconfig",
        }
    }

    /// The id for its written form, if it is one.
    pub fn parse(text: &str) -> Option<FaultId> {
        FaultId::ALL.into_iter().find(|id| id.as_str() == text)
    }

    /// This fault's catalogue entry.
    pub fn spec(self) -> &'static FaultSpec {
        // Every id has exactly one entry; the catalogue test checks it.
        catalogue()
            .iter()
            .find(|spec| spec.id == self)
            .unwrap_or(&CATALOGUE[0])
    }
}

impl std::fmt::Display for FaultId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three services of the sample app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Frontend,
    Api,
    Payments,
}

impl Service {
    /// The `service.name` in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Frontend => "frontend",
            Service::Api => "api",
            Service::Payments => "payments",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// A whole number within bounds (milliseconds, ids).
    Integer { min: i64, max: i64 },
    /// A number within bounds (ratios).
    Number { min: f64, max: f64 },
    /// One of a few words.
    Choice { choices: &'static [&'static str] },
}

/// A parameter's value, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Integer(i64),
    Number(f64),
    Choice(&'static str),
}

/// One parameter of a fault.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamSpec {
    /// Its name in the admin API and scenario files.
    pub name: &'static str,
    /// What it changes.
    pub description: &'static str,
    /// Accepted values.
    pub kind: ParamKind,
    /// The value when none is given.
    pub default: ParamValue,
}

/// One fault of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FaultSpec {
    /// The stable id.
    pub id: FaultId,
    /// The service that injects it (enable it through that service's admin API).
    pub service: Service,
    /// One line saying what breaks.
    pub summary: &'static str,
    /// Its own parameters (besides `fraction`, `seed` and `learners`, which every fault has).
    pub params: &'static [ParamSpec],
    /// The share of eligible requests hit when `fraction` is not given.
    pub default_fraction: f64,
    /// A TraceQL query that finds traces showing the fault.
    pub signature: &'static str,
    /// How a learner recognises it in a trace, in words.
    pub how_to_find: &'static str,
}

const fn millis(name: &'static str, description: &'static str, default: i64) -> ParamSpec {
    ParamSpec {
        name,
        description,
        kind: ParamKind::Integer {
            min: 1,
            max: 60_000,
        },
        default: ParamValue::Integer(default),
    }
}

/// The API routes `error_rate` can target.
pub const ERROR_RATE_ROUTES: &[&str] = &[
    "/products/{id}",
    "/catalogue",
    "/orders",
    "/carts/{id}/items",
];

static CATALOGUE: [FaultSpec; 12] = [
    FaultSpec {
        id: FaultId::SlowQuery,
        service: Service::Api,
        summary: "The product-by-id query becomes slow (a missing index, in effect).",
        params: &[
            millis("delay_ms", "Extra time the query takes.", 800),
            ParamSpec {
                name: "spread_ms",
                description: "How much shorter than delay_ms a hit may be, at random (0: always delay_ms).",
                kind: ParamKind::Integer {
                    min: 0,
                    max: 60_000,
                },
                default: ParamValue::Integer(0),
            },
        ],
        default_fraction: 1.0,
        signature: r#"{ resource.service.name = "api" && span.db.operation.name = "SELECT" && span.db.collection.name = "products" && duration > 500ms }"#,
        how_to_find: "One database span under GET /products/{id} takes most of the request's time; other queries stay fast.",
    },
    FaultSpec {
        id: FaultId::NPlusOne,
        service: Service::Api,
        summary: "The catalogue page loads the product list, then queries each product one by one.",
        params: &[],
        default_fraction: 1.0,
        signature: r#"{ resource.service.name = "api" && span.db.collection.name = "products" && span.db.operation.name = "SELECT" } | count() > 5"#,
        how_to_find: "Under GET /catalogue, a ladder of identical SELECT spans on products, one after another, instead of one query.",
    },
    FaultSpec {
        id: FaultId::IntermittentLatency,
        service: Service::Api,
        summary: "A fraction of api requests stall before doing any work.",
        params: &[millis("delay_ms", "How long a hit request stalls.", 1500)],
        default_fraction: 0.2,
        signature: r#"{ resource.service.name = "api" && kind = server && duration > 1s }"#,
        how_to_find: "Some api server spans are long while their children are short: the time is the span's own, and only a fraction of requests show it.",
    },
    FaultSpec {
        id: FaultId::ErrorRate,
        service: Service::Api,
        summary: "One api route fails with 500 on a fraction of requests.",
        params: &[ParamSpec {
            name: "route",
            description: "The api route that fails.",
            kind: ParamKind::Choice {
                choices: ERROR_RATE_ROUTES,
            },
            default: ParamValue::Choice("/products/{id}"),
        }],
        default_fraction: 0.3,
        signature: r#"{ resource.service.name = "api" && kind = server && status = error && span.http.response.status_code = 500 }"#,
        how_to_find: "Error-status server spans concentrate on one api route; the frontend's client span above each one is an error too.",
    },
    FaultSpec {
        id: FaultId::BadProduct,
        service: Service::Api,
        summary: "One product's record is corrupt: every request for it fails.",
        params: &[ParamSpec {
            name: "product_id",
            description: "The product whose requests fail.",
            kind: ParamKind::Integer {
                min: 1,
                max: 1_000_000,
            },
            default: ParamValue::Integer(7),
        }],
        default_fraction: 1.0,
        signature: r#"{ resource.service.name = "api" && status = error } | select(span.product.id)"#,
        how_to_find: "Errors correlate with one value of product.id; other products never fail.",
    },
    FaultSpec {
        id: FaultId::PaymentsSlow,
        service: Service::Payments,
        summary: "The external payments provider answers slowly.",
        params: &[millis("delay_ms", "Extra time each charge takes.", 1500)],
        default_fraction: 1.0,
        signature: r#"{ resource.service.name = "payments" && kind = server && span.http.route = "/charge" && duration > 1s }"#,
        how_to_find: "Checkout traces are slow, and the time sits in the payments server span under the api's POST /charge client span.",
    },
    FaultSpec {
        id: FaultId::PaymentsFailing,
        service: Service::Payments,
        summary: "The payments provider fails: it hangs past the api's timeout, or answers 503; the api retries.",
        params: &[
            ParamSpec {
                name: "mode",
                description: "timeout: hang until the caller gives up; error: answer 503 at once.",
                kind: ParamKind::Choice {
                    choices: &["timeout", "error"],
                },
                default: ParamValue::Choice("timeout"),
            },
            millis(
                "hang_ms",
                "How long a hanging charge hangs (longer than the api's timeout).",
                10_000,
            ),
        ],
        default_fraction: 0.5,
        signature: r#"{ resource.service.name = "api" && kind = client && name = "POST /charge" && status = error }"#,
        how_to_find: "Under POST /orders, several POST /charge client spans in a row: the failed attempts are errors (timeout or 503) and the retries follow them.",
    },
    FaultSpec {
        id: FaultId::PaymentsNetwork,
        service: Service::Payments,
        summary: "The network between the api and payments misbehaves: it delays requests, resets connections, or swallows requests until the caller times out. Payments itself stays healthy.",
        params: &[
            ParamSpec {
                name: "mode",
                description: "latency: delay each hit request on the way to payments; reset: cut the connection; timeout: never deliver the request.",
                kind: ParamKind::Choice {
                    choices: &["latency", "reset", "timeout"],
                },
                default: ParamValue::Choice("latency"),
            },
            millis(
                "delay_ms",
                "How long a delayed request spends in the network (latency mode).",
                1500,
            ),
        ],
        default_fraction: 0.5,
        signature: r#"{ resource.service.name = "api" && kind = client && name = "POST /charge" && status = error && span:childCount = 0 } || ({ resource.service.name = "api" && kind = client && name = "POST /charge" && duration > 1s } > { resource.service.name = "payments" && kind = server && duration < 200ms })"#,
        how_to_find: "A long POST /charge client span in the api over a short payments server span (the time went between them), or a failed POST /charge client span with no payments span beneath it at all (the request never arrived).",
    },
    FaultSpec {
        id: FaultId::BrokenPropagation,
        service: Service::Frontend,
        summary: "The frontend stops sending traceparent to the api, so each request splits into two traces.",
        params: &[],
        default_fraction: 1.0,
        signature: r#"{ trace:rootService = "api" }"#,
        how_to_find: "Traces whose root is an api server span (no frontend parent), and frontend client spans with no child.",
    },
    FaultSpec {
        id: FaultId::PoolExhaustion,
        service: Service::Api,
        summary: "Requests hold their database connection too long, so the small connection pool runs dry.",
        params: &[millis(
            "hold_ms",
            "How long a hit request keeps its connection.",
            1500,
        )],
        default_fraction: 1.0,
        signature: r#"{ resource.service.name = "api" && name = "db.pool.acquire" && duration > 100ms }"#,
        how_to_find: "db.pool.acquire spans wait a long time before any query runs; the waits line up with other requests holding connections.",
    },
    FaultSpec {
        id: FaultId::CpuHeavy,
        service: Service::Frontend,
        summary: "The product page does an expensive computation in the request handler.",
        params: &[millis("work_ms", "CPU time burned per product page.", 300)],
        default_fraction: 1.0,
        signature: r#"{ resource.service.name = "frontend" && kind = server && span.http.route = "/products/{id}" && duration > 250ms }"#,
        how_to_find: "The frontend's product-page span is slow but its api child is fast: the time is the span's own (self time).",
    },
    FaultSpec {
        id: FaultId::SamplingMisconfig,
        service: Service::Api,
        summary: "The api ignores the caller's sampling decision and samples on its own, so traces arrive with holes.",
        params: &[ParamSpec {
            name: "ratio",
            description: "The share of traces the api keeps by its own decision.",
            kind: ParamKind::Number { min: 0.0, max: 1.0 },
            default: ParamValue::Number(0.5),
        }],
        default_fraction: 1.0,
        signature: r#"{ resource.service.name = "frontend" && kind = client && span:childCount = 0 }"#,
        how_to_find: "Frontend client spans to the api with no api span beneath them, in traces that are otherwise complete.",
    },
];

/// The whole catalogue, in a fixed order.
pub fn catalogue() -> &'static [FaultSpec] {
    &CATALOGUE
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_id_has_exactly_one_entry_and_round_trips() {
        let ids: HashSet<FaultId> = catalogue().iter().map(|spec| spec.id).collect();
        assert_eq!(ids.len(), catalogue().len(), "duplicate entries");
        for id in FaultId::ALL {
            assert!(ids.contains(&id), "{id} has no entry");
            assert_eq!(FaultId::parse(id.as_str()), Some(id));
            assert_eq!(id.spec().id, id);
        }
    }

    #[test]
    fn every_entry_is_documented_and_its_defaults_are_valid() {
        assert!(catalogue().len() >= 10);
        for spec in catalogue() {
            assert!(
                !spec.summary.is_empty() && !spec.how_to_find.is_empty(),
                "{}",
                spec.id
            );
            assert!(
                spec.signature.starts_with('{'),
                "{}: signature is TraceQL",
                spec.id
            );
            assert!((0.0..=1.0).contains(&spec.default_fraction), "{}", spec.id);
            for param in spec.params {
                let ok = match (param.kind, param.default) {
                    (ParamKind::Integer { min, max }, ParamValue::Integer(v)) => {
                        (min..=max).contains(&v)
                    }
                    (ParamKind::Number { min, max }, ParamValue::Number(v)) => {
                        (min..=max).contains(&v)
                    }
                    (ParamKind::Choice { choices }, ParamValue::Choice(v)) => choices.contains(&v),
                    _ => false,
                };
                assert!(
                    ok,
                    "{}.{} default does not fit its kind",
                    spec.id, param.name
                );
            }
        }
    }
}
