//! Every fault's signature is in the traces while it is on (for its learners), and gone
//! when it is off or for learners outside its scope. One case per catalogue entry.

use std::collections::BTreeMap;
use std::time::Duration;

use dojo_testkit::otlp::CapturedSpan;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Shop, ShopOptions, describe, learner};

type Traces = BTreeMap<String, Vec<CapturedSpan>>;

/// One fault, how to trigger it, and how its signature looks in a learner's traces.
struct Case {
    fault: &'static str,
    tier: &'static str,
    activation: Value,
    /// What a learner's load does: one or more frontend requests.
    trigger: Trigger,
    /// True when the traces show the fault.
    signature: fn(&Traces) -> bool,
}

#[derive(Clone, Copy)]
enum Trigger {
    Get(&'static str),
    Checkout,
    /// This many concurrent GETs.
    Burst(&'static str, usize),
}

fn spans(traces: &Traces) -> impl Iterator<Item = &CapturedSpan> {
    traces.values().flatten()
}

fn long(span: &CapturedSpan, millis: u64) -> bool {
    span.duration() >= Duration::from_millis(millis)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            fault: "slow_query",
            tier: "api",
            activation: json!({"params": {"delay_ms": 400}}),
            trigger: Trigger::Get("/api/products/3"),
            signature: |t| {
                spans(t).any(|s| {
                    s.attr_str("db.collection.name") == Some("products")
                        && s.attr_str("db.operation.name") == Some("SELECT")
                        && long(s, 400)
                })
            },
        },
        Case {
            fault: "n_plus_one",
            tier: "api",
            activation: json!({}),
            trigger: Trigger::Get("/api/products"),
            signature: |t| {
                t.values().any(|trace| {
                    trace
                        .iter()
                        .filter(|s| s.attr_str("db.collection.name") == Some("products"))
                        .count()
                        > 5
                })
            },
        },
        Case {
            fault: "intermittent_latency",
            tier: "api",
            activation: json!({"fraction": 1.0, "params": {"delay_ms": 400}}),
            trigger: Trigger::Get("/api/products"),
            signature: |t| {
                spans(t).any(|s| s.service == "api" && s.kind == "server" && long(s, 400))
            },
        },
        Case {
            fault: "error_rate",
            tier: "api",
            activation: json!({"fraction": 1.0, "params": {"route": "/products/{id}"}}),
            trigger: Trigger::Get("/api/products/2"),
            signature: |t| {
                spans(t).any(|s| {
                    s.service == "api"
                        && s.kind == "server"
                        && s.error
                        && s.attr_i64("http.response.status_code") == Some(500)
                        && s.events.iter().any(|e| e.name == "exception")
                })
            },
        },
        Case {
            fault: "bad_product",
            tier: "api",
            activation: json!({"params": {"product_id": 5}}),
            trigger: Trigger::Get("/api/products/5"),
            signature: |t| {
                spans(t)
                    .any(|s| s.service == "api" && s.error && s.attr_i64("product.id") == Some(5))
            },
        },
        Case {
            fault: "payments_slow",
            tier: "payments",
            activation: json!({"params": {"delay_ms": 400}}),
            trigger: Trigger::Checkout,
            signature: |t| {
                spans(t).any(|s| {
                    s.service == "payments"
                        && s.kind == "server"
                        && s.name == "POST /charge"
                        && long(s, 400)
                })
            },
        },
        Case {
            fault: "payments_failing",
            tier: "payments",
            activation: json!({"fraction": 1.0, "params": {"mode": "timeout", "hang_ms": 3000}}),
            trigger: Trigger::Checkout,
            signature: |t| {
                t.values().any(|trace| {
                    let attempts: Vec<&CapturedSpan> = trace
                        .iter()
                        .filter(|s| {
                            s.service == "api" && s.kind == "client" && s.name == "POST /charge"
                        })
                        .collect();
                    attempts.len() == 3
                        && attempts
                            .iter()
                            .all(|s| s.error && s.attr_str("error.type") == Some("timeout"))
                })
            },
        },
        Case {
            fault: "payments_network",
            tier: "payments",
            activation: json!({"fraction": 1.0, "params": {"mode": "latency", "delay_ms": 300}}),
            trigger: Trigger::Checkout,
            // The time is spent between the two services: a long api client span over a
            // short payments server span.
            signature: |t| {
                t.values().any(|trace| {
                    trace.iter().any(|client| {
                        client.service == "api"
                            && client.kind == "client"
                            && client.name == "POST /charge"
                            && long(client, 300)
                            && trace.iter().any(|server| {
                                server.service == "payments"
                                    && server.kind == "server"
                                    && server.parent_span_id.as_ref() == Some(&client.span_id)
                                    && server.duration() < Duration::from_millis(150)
                            })
                    })
                })
            },
        },
        Case {
            fault: "broken_propagation",
            tier: "frontend",
            activation: json!({}),
            trigger: Trigger::Get("/api/products"),
            signature: |t| {
                spans(t)
                    .any(|s| s.service == "api" && s.kind == "server" && s.parent_span_id.is_none())
            },
        },
        Case {
            fault: "pool_exhaustion",
            tier: "api",
            activation: json!({"params": {"hold_ms": 400}}),
            trigger: Trigger::Burst("/api/products", 6),
            signature: |t| spans(t).any(|s| s.name == "db.pool.acquire" && long(s, 200)),
        },
        Case {
            fault: "cpu_heavy",
            tier: "frontend",
            activation: json!({"params": {"work_ms": 400}}),
            trigger: Trigger::Get("/api/products/3"),
            signature: |t| {
                t.values().any(|trace| {
                    let Some(server) = trace
                        .iter()
                        .find(|s| s.service == "frontend" && s.kind == "server")
                    else {
                        return false;
                    };
                    let children: Duration = trace
                        .iter()
                        .filter(|s| s.parent_span_id.as_ref() == Some(&server.span_id))
                        .map(CapturedSpan::duration)
                        .sum();
                    long(server, 400)
                        && server.duration().saturating_sub(children) >= Duration::from_millis(350)
                })
            },
        },
        Case {
            fault: "sampling_misconfig",
            tier: "api",
            activation: json!({"params": {"ratio": 0.0}}),
            trigger: Trigger::Get("/api/products"),
            signature: |t| {
                t.values().any(|trace| {
                    trace
                        .iter()
                        .any(|s| s.service == "frontend" && s.kind == "client")
                        && !trace.iter().any(|s| s.service == "api")
                })
            },
        },
    ]
}

async fn run(shop: &Shop, who: &str, trigger: Trigger) {
    match trigger {
        Trigger::Get(path) => {
            shop.call(who, Method::GET, path, None).await;
        }
        Trigger::Checkout => {
            shop.checkout(who, "4242424242424242").await;
        }
        Trigger::Burst(path, count) => {
            let mut calls = tokio::task::JoinSet::new();
            for _ in 0..count {
                let request = shop
                    .http
                    .get(format!("{}{path}", shop.frontend.url))
                    .header("baggage", format!("learner.id={who},user.id=u-{who}"));
                calls.spawn(async move { request.send().await.map(|r| r.status()) });
            }
            while calls.join_next().await.is_some() {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_shows_its_signature_only_while_on_and_only_for_its_learners() {
    let shop = Shop::start(ShopOptions {
        env: vec![("DOJO_DB_POOL_SIZE".into(), "2".into())],
        ..ShopOptions::default()
    })
    .await;
    let cases = cases();
    let catalogue_ids: Vec<&str> = dojo_faults::catalogue()
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    let tested: Vec<&str> = cases.iter().map(|c| c.fault).collect();
    assert_eq!(
        tested, catalogue_ids,
        "every catalogue entry has a case, in order"
    );

    for case in cases {
        let on = learner(&format!("{}-on", case.fault));
        let outside = learner(&format!("{}-outside", case.fault));
        let off = learner(&format!("{}-off", case.fault));
        let mut activation = case.activation.clone();
        activation["learners"] = json!([on]);
        shop.enable(case.tier, case.fault, activation).await;
        run(&shop, &on, case.trigger).await;
        run(&shop, &outside, case.trigger).await;
        shop.disable(case.tier, case.fault).await;
        run(&shop, &off, case.trigger).await;

        let with_fault = shop.traces_of(&on).await;
        assert!(
            (case.signature)(&with_fault),
            "{}: signature missing while on:\n  {}",
            case.fault,
            describe(&with_fault.values().flatten().cloned().collect::<Vec<_>>())
        );
        for (label, who) in [
            ("outside its learners", &outside),
            ("after switching off", &off),
        ] {
            let traces = shop.traces_of(who).await;
            assert!(
                !(case.signature)(&traces),
                "{}: signature present {label}:\n  {}",
                case.fault,
                describe(&traces.values().flatten().cloned().collect::<Vec<_>>())
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_propagation_splits_one_request_into_two_traces_that_share_the_learner() {
    let shop = Shop::start(ShopOptions::default()).await;
    shop.enable("frontend", "broken_propagation", json!({}))
        .await;
    let who = learner("split");
    let (status, _) = shop.call(&who, Method::GET, "/api/products/4", None).await;
    assert_eq!(status, 200, "the shop still works; only the traces break");
    let traces = shop.traces_of(&who).await;
    assert_eq!(
        traces.len(),
        2,
        "two traces for one request:\n  {}",
        describe(&traces.values().flatten().cloned().collect::<Vec<_>>())
    );
    let roots: Vec<(String, String)> = traces
        .values()
        .flat_map(|trace| {
            trace
                .iter()
                .filter(|s| s.parent_span_id.is_none())
                .map(|s| (s.service.clone(), s.name.clone()))
        })
        .collect();
    assert!(
        roots.contains(&("frontend".into(), "GET /api/products/{id}".into())),
        "{roots:?}"
    );
    assert!(
        roots.contains(&("api".into(), "GET /products/{id}".into())),
        "{roots:?}"
    );
    let orphaned_client = traces
        .values()
        .flatten()
        .find(|s| s.service == "frontend" && s.kind == "client")
        .expect("client span");
    let has_child = traces
        .values()
        .flatten()
        .any(|s| s.parent_span_id.as_ref() == Some(&orphaned_client.span_id));
    assert!(
        !has_child,
        "the frontend's client span has no child in any trace"
    );
}

/// A request that never arrives leaves a failed client span with no server span beneath it:
/// what a reset connection and a swallowed request look like, as opposed to a failing payments
/// service (whose own server span is there, and failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_that_resets_or_swallows_requests_leaves_client_errors_with_no_server_span() {
    let shop = Shop::start(ShopOptions::default()).await;
    for mode in ["reset", "timeout"] {
        let who = learner(&format!("network-{mode}"));
        shop.enable(
            "payments",
            "payments_network",
            json!({"fraction": 1.0, "learners": [who], "params": {"mode": mode}}),
        )
        .await;
        run(&shop, &who, Trigger::Checkout).await;
        shop.disable("payments", "payments_network").await;

        let traces = shop.traces_of(&who).await;
        let all: Vec<CapturedSpan> = traces.values().flatten().cloned().collect();
        let attempts: Vec<&CapturedSpan> = all
            .iter()
            .filter(|s| s.service == "api" && s.kind == "client" && s.name == "POST /charge")
            .collect();
        assert!(
            !attempts.is_empty() && attempts.iter().all(|s| s.error),
            "{mode}: every charge attempt fails:\n  {}",
            describe(&all)
        );
        assert!(
            !all.iter().any(|s| s.service == "payments"),
            "{mode}: payments never saw the requests, so it has no span:\n  {}",
            describe(&all)
        );
    }
}
