//! No Authorization header, cookie, password or card number reaches a span attribute, an
//! event or a log line, even when a client sends them on every request.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Shop, ShopOptions, learner};

const BEARER: &str = "sk_live_TOPSECRET_91c2";
const COOKIE: &str = "session=COOKIESECRET_77ab";
const CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";
const PASSWORD: &str = "hunter2-PASSWORD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_an_attribute_or_a_log_line() {
    let shop = Shop::start(ShopOptions::default()).await;
    let who = learner("secrets");
    let baggage = format!("learner.id={who},user.id=u-{who}");
    // JSON journey with credentials on every request.
    let cart: serde_json::Value = shop
        .http
        .post(format!("{}/api/carts", shop.frontend.url))
        .header("authorization", format!("Bearer {BEARER}"))
        .header("cookie", COOKIE)
        .header("baggage", &baggage)
        .send()
        .await
        .expect("cart")
        .json()
        .await
        .expect("JSON");
    let cart_id = cart["cart_id"].as_i64().expect("cart id");
    shop.call(
        &who,
        Method::POST,
        &format!("/api/carts/{cart_id}/items"),
        Some(json!({"product_id": 1, "quantity": 1})),
    )
    .await;
    for card in [CARD, DECLINED_CARD] {
        let response = shop
            .http
            .post(format!("{}/api/checkout", shop.frontend.url))
            .header("authorization", format!("Bearer {BEARER}"))
            .header("cookie", COOKIE)
            .header("baggage", &baggage)
            .json(&json!({"cart_id": cart_id, "card_number": card, "password": PASSWORD}))
            .send()
            .await
            .expect("checkout answers");
        assert!(response.status().is_client_error() || response.status().is_success());
    }
    // The HTML form path too, with the card in a form body and a cart cookie.
    let form = shop
        .http
        .post(format!("{}/cart", shop.frontend.url))
        .header("baggage", &baggage)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("product_id=2&quantity=1")
        .send()
        .await
        .expect("add to cart");
    let cart_cookie = form
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    shop.http
        .post(format!("{}/checkout", shop.frontend.url))
        .header("baggage", &baggage)
        .header("cookie", format!("{cart_cookie}; {COOKIE}"))
        .header("authorization", format!("Bearer {BEARER}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("card_number=4242+4242+4242+4242")
        .send()
        .await
        .expect("form checkout");

    let traces = shop.traces_of(&who).await;
    let secrets = [
        BEARER,
        "COOKIESECRET",
        CARD,
        DECLINED_CARD,
        "4242 4242 4242 4242",
        PASSWORD,
    ];
    let spans: Vec<_> = traces.values().flatten().collect();
    assert!(spans.len() > 10, "the journey was traced");
    for span in spans {
        let text = span.all_text();
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {} {}: {text}",
                span.service,
                span.name
            );
        }
        for key in span.attributes.keys() {
            assert!(
                !dojo_telemetry::redact::is_sensitive_key(key),
                "attribute {key} on {}",
                span.name
            );
        }
    }
    for tier in ["frontend", "api", "payments"] {
        for line in shop.tier(tier).lines() {
            for secret in secrets {
                assert!(
                    !line.contains(secret),
                    "{secret} leaked into a {tier} log line: {line}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_in_a_url_is_masked_in_every_span_of_every_tier() {
    let shop = Shop::start(ShopOptions::default()).await;
    let who = learner("card-in-url");
    // A card number as a product id: in the path of the frontend's page and JSON routes, and
    // so in the path and full URL of the frontend's call to the api; with dashes; in a query.
    let paths = [
        "/products/4111111111111111",
        "/api/products/4111111111111111",
        "/api/products/4111-1111-1111-1111",
        "/api/products/1?ref=5555555555554444",
    ];
    for path in paths {
        let (status, _) = shop.call(&who, Method::GET, path, None).await;
        assert!(status < 500, "GET {path} answers ({status})");
    }
    let traces = shop.traces_of(&who).await;
    let spans: Vec<_> = traces.values().flatten().collect();
    assert!(
        spans.iter().any(|s| s.service == "api"),
        "the api was called: {spans:?}"
    );
    let mut masked_paths = 0;
    for span in &spans {
        let text = span.all_text();
        for number in [
            "4111111111111111",
            "4111-1111-1111-1111",
            "5555555555554444",
        ] {
            assert!(
                !text.contains(number),
                "{number} leaked into {} {}: {text}",
                span.service,
                span.name
            );
        }
        if span.attr_str("url.path") == Some("/products/[redacted]") {
            masked_paths += 1;
        }
    }
    assert!(
        masked_paths >= 2,
        "url.path keeps its shape with the number masked, in the frontend and the api: {spans:?}"
    );
}
