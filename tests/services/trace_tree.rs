//! One checkout is one trace across frontend → api → payments, with correct parents, kinds
//! and attributes.

use dojo_testkit::otlp::CapturedSpan;

use crate::helpers::{Shop, ShopOptions, describe, learner};

fn find<'a>(spans: &'a [CapturedSpan], service: &str, kind: &str, name: &str) -> &'a CapturedSpan {
    spans
        .iter()
        .find(|s| s.service == service && s.kind == kind && s.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no {service} {kind} span {name:?} in:\n  {}",
                describe(spans)
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_is_one_trace_across_the_three_services_with_correct_parents() {
    let shop = Shop::start(ShopOptions::default()).await;
    let who = learner("tree");
    let (status, order) = shop.checkout(&who, "4242424242424242").await;
    assert_eq!(status, 201, "checkout: {order}");
    let traces = shop.traces_of(&who).await;
    let checkout = traces
        .values()
        .find(|spans| {
            spans
                .iter()
                .any(|s| s.service == "frontend" && s.name == "POST /api/checkout")
        })
        .expect("the checkout trace");
    let payments_server = shop
        .receiver
        .wait_for(
            "the payments server span",
            crate::helpers::SPAN_WAIT,
            |spans| {
                spans
                    .iter()
                    .any(|s| s.trace_id == checkout[0].trace_id && s.service == "payments")
            },
        )
        .await
        .expect("payments spans arrive");
    let spans: Vec<CapturedSpan> = payments_server
        .into_iter()
        .filter(|s| s.trace_id == checkout[0].trace_id)
        .collect();

    let root = find(&spans, "frontend", "server", "POST /api/checkout");
    assert_eq!(
        root.parent_span_id, None,
        "the frontend server span is the root"
    );
    let to_api = find(&spans, "frontend", "client", "POST /orders");
    assert_eq!(to_api.parent_span_id.as_ref(), Some(&root.span_id));
    let api = find(&spans, "api", "server", "POST /orders");
    assert_eq!(
        api.parent_span_id.as_ref(),
        Some(&to_api.span_id),
        "the api continues the frontend's trace"
    );
    let charge = find(&spans, "api", "internal", "payments.charge");
    let to_payments = find(&spans, "api", "client", "POST /charge");
    assert_eq!(to_payments.parent_span_id.as_ref(), Some(&charge.span_id));
    let payments = find(&spans, "payments", "server", "POST /charge");
    assert_eq!(
        payments.parent_span_id.as_ref(),
        Some(&to_payments.span_id),
        "payments continues the api's trace"
    );

    // Semantic-convention attributes on the server spans.
    for server in [root, api, payments] {
        assert_eq!(
            server.attr_str("http.request.method"),
            Some("POST"),
            "{}",
            server.name
        );
        assert!(
            server.attr_str("http.route").is_some() && server.attr_str("url.path").is_some(),
            "{}",
            server.name
        );
        assert!(
            server.attr_i64("http.response.status_code").is_some(),
            "{}",
            server.name
        );
        assert_eq!(
            server.attr_str("server.address"),
            Some("127.0.0.1"),
            "{}",
            server.name
        );
        assert_eq!(
            server.attr_str("learner.id"),
            Some(who.as_str()),
            "learner.id on {}",
            server.name
        );
        assert_eq!(
            server.attr_str("user.id"),
            Some(format!("u-{who}").as_str()),
            "user.id on {}",
            server.name
        );
        assert_eq!(
            server
                .resource
                .get("deployment.environment")
                .map(ToString::to_string)
                .as_deref(),
            Some("test")
        );
        assert_eq!(
            server
                .resource
                .get("k8s.cluster.name")
                .map(ToString::to_string)
                .as_deref(),
            Some("ci")
        );
        assert!(server.resource.contains_key("service.version"));
    }
    assert_eq!(root.attr_i64("http.response.status_code"), Some(201));
    assert_eq!(
        api.attr_i64("order.id"),
        order["order_id"].as_i64(),
        "order.id on the api span"
    );
    assert_eq!(api.attr_i64("cart.items"), Some(2));
    assert_eq!(to_payments.attr_str("server.address"), Some("127.0.0.1"));
    assert!(
        to_payments
            .attr_str("url.full")
            .is_some_and(|u| u.ends_with("/charge"))
    );

    // Database spans: client kind, children of the api server span, placeholders only.
    let db: Vec<&CapturedSpan> = spans
        .iter()
        .filter(|s| s.attr_str("db.operation.name").is_some())
        .collect();
    assert!(
        db.len() >= 3,
        "cart read, order insert and update; got:\n  {}",
        describe(&spans)
    );
    for span in &db {
        assert_eq!(span.kind, "client", "{}", span.name);
        assert_eq!(span.attr_str("db.system"), Some("sqlite"));
        let operation = span
            .attr_str("db.operation.name")
            .expect("db.operation.name");
        let collection = span
            .attr_str("db.collection.name")
            .expect("db.collection.name");
        assert_eq!(span.name, format!("{operation} {collection}"));
        let text = span.attr_str("db.query.text").expect("db.query.text");
        assert!(text.contains("$1"), "placeholders, not values: {text}");
        assert!(
            !text.contains("'paid'") && !text.contains("4242"),
            "no literal values: {text}"
        );
        assert_eq!(
            span.parent_span_id.as_ref(),
            Some(&api.span_id),
            "{} is a child of the api span",
            span.name
        );
    }
    assert!(
        db.iter()
            .any(|s| s.attr_str("db.operation.name") == Some("INSERT")
                && s.attr_str("db.collection.name") == Some("orders"))
    );
    let acquire = find(&spans, "api", "internal", "db.pool.acquire");
    assert_eq!(acquire.parent_span_id.as_ref(), Some(&api.span_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_payment_marks_the_spans_as_errors_with_an_exception_event() {
    let shop = Shop::start(ShopOptions::default()).await;
    shop.enable(
        "payments",
        "payments_failing",
        serde_json::json!({"params": {"mode": "error"}, "fraction": 1.0}),
    )
    .await;
    let who = learner("failed");
    let (status, body) = shop.checkout(&who, "4242424242424242").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "payments_unavailable");
    let traces = shop.traces_of(&who).await;
    let spans: Vec<&CapturedSpan> = traces.values().flatten().collect();
    let api = spans
        .iter()
        .find(|s| s.service == "api" && s.kind == "server" && s.name == "POST /orders")
        .expect("api server span");
    assert!(api.error, "a 502 is an error on the api span");
    assert!(
        api.events
            .iter()
            .any(|e| e.name == "exception" && e.attributes.contains_key("exception.message"))
    );
    let frontend = spans
        .iter()
        .find(|s| s.service == "frontend" && s.name == "POST /api/checkout")
        .expect("the frontend's checkout span");
    assert!(frontend.error && frontend.attr_i64("http.response.status_code") == Some(502));
}
